/**
 * Run files: save a run (with a secret redacted), load it back, and compare it with a run of a
 * changed chain, as `shadowchain diff` would. Then try the command line on the files it wrote:
 *   node devtools/cli.js inspect <dir>/checkout.run.json --events
 *   node devtools/cli.js diff <dir>/checkout.run.json <dir>/checkout-v2.run.json
 */
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chain, compareRuns, loadRun, saveRun } from 'shadowchain'

interface Order {
  customer: { email: string; card: string }
  items: { sku: string; price: number }[]
  total?: number
  placedAt?: Date
  tags?: Set<string>
}

const v1 = chain<Order>('checkout')
  .link('price', (ctx) => {
    ctx.total = ctx.items.reduce((sum, item) => sum + item.price, 0)
  })
  .link('stamp', (ctx, io) => {
    ctx.placedAt = new Date(io.now())
    ctx.tags = new Set(['web'])
  })
  .use({ name: 'count', before: (e) => void (e.mwctx.calls = ((e.mwctx.calls as number) ?? 0) + 1) })

// v2 changes pricing: a 10% discount. `compareRuns` finds the first link that behaves differently.
const v2 = chain<Order>('checkout')
  .link('price', (ctx) => {
    ctx.total = ctx.items.reduce((sum, item) => sum + item.price, 0) * 0.9
  })
  .link('stamp', (ctx, io) => {
    ctx.placedAt = new Date(io.now())
    ctx.tags = new Set(['web'])
  })

const input: Order = { customer: { email: 'ada@example.com', card: '4242 4242 4242 4242' }, items: [{ sku: 'book', price: 40 }] }
const dir = await mkdtemp(join(tmpdir(), 'shadowchain-'))
const original = await v1.run(input)
const file = join(dir, 'checkout.run.json')
await saveRun(original, file, { redact: [['customer', 'card']] })
await saveRun(await v2.run(input), join(dir, 'checkout-v2.run.json'))

const loaded = await loadRun<Order>(file, { chain: v1 })
console.log(`saved and loaded ${loaded.timeline.length} events; card in the file: ${loaded.ctx.customer.card}`)
console.log(`placedAt survives as a Date: ${loaded.ctx.placedAt instanceof Date}, tags as a Set: ${loaded.ctx.tags instanceof Set}`)

const divergence = compareRuns(original, await loadRun(join(dir, 'checkout-v2.run.json')))
console.log(`v1 vs v2: diverge at link '${divergence?.link?.name}' (${divergence?.reason})`)
console.log(`files in ${dir}`)
