// A short-lived process that records runs into SQLite and then ends by itself (`exit`) or waits
// for SIGTERM (`term`, printing READY): the recorder must flush either way (test/recorder-exit.test.ts).
// A fourth argument `thread` writes through the store's writer thread.
import { chain, memoryStore, recorder, type RunStore } from '../src/index.js'
import { sqliteStore } from '../src/store/sqlite/index.js'

const [mode, path, count, thread] = process.argv.slice(2) as [string, string, string, string | undefined]
// A long batch delay: without the flush on exit, the runs would still be waiting.
// `failing`: a store whose writes always fail (after a turn of the event loop): the process must still end.
const failing: RunStore = { ...memoryStore(), write: () => new Promise((_, reject) => setTimeout(() => reject(new Error('disk full')), 5)) }
const rec = recorder({ store: thread === 'failing' ? failing : sqliteStore(path, { thread: thread === 'thread' }), keep: { last: 1_000 }, batch: { size: 100_000, delayMs: 60_000 } })
const c = chain<{ n: number }>('short', { recorder: rec }).link('inc', (ctx) => void ctx.n++)
for (let n = 0; n < Number(count); n++) await c.run({ n })
if (mode === 'term') {
  process.stdout.write('READY\n')
  setInterval(() => {}, 1_000)
}
