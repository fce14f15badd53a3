// A process that begins a durable run and hangs in its third step, to be killed by the test
// (test/durable.test.ts): prints `READY <runId>` once the first two steps are stored.
import { recorder } from '../src/index.js'
import { openStore, orderChain } from './durable-chain.js'

const [kind, where, schema] = process.argv.slice(2) as [string, string, string | undefined]
const store = openStore(kind, where, schema)
const rec = recorder({ store })
const stall = async (): Promise<void> => {
  // The run's id is the one the store holds as interrupted: the only one.
  const [run] = await store.list({ status: 'interrupted' })
  process.stdout.write(`READY ${run?.id ?? 'none'} ${run?.links ?? 0}\n`)
  await new Promise<void>(() => {})
}
void orderChain(rec, () => {}, stall).run({ id: 'o-1', steps: [], total: 0 }, { durable: true })
setInterval(() => {}, 1_000)
