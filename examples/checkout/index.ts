/**
 * The main example (`npm start`): a checkout chain with chain-level and link-level middleware,
 * run once successfully and once with a failing payment, each printed as a terminal waterfall.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { chain, ChainRunError, formatWaterfall, type Middleware } from 'shadowchain'

interface Item {
  sku: string
  price: number
  qty: number
}
interface Order {
  customer: { id: string; email: string }
  items: Item[]
  total?: number
  discount?: number
  receipt?: { id: string; chargedAt: number }
  notified?: boolean
}

/** Chain-level: counts links in the shared mwctx and keeps per-link timing in metrics. */
const timing: Middleware = {
  name: 'timing',
  before(e) {
    e.mwctx.links = ((e.mwctx.links as number | undefined) ?? 0) + 1
  },
  after(e) {
    e.metrics.linkMs = Number(e.durationNs) / 1e6
  },
}

/** Chain-level: a structured log line per link, into mwctx (no console noise). */
const logger: Middleware = {
  name: 'logger',
  after(e) {
    const log = (e.mwctx.log as string[] | undefined) ?? []
    e.mwctx.log = [...log, `${e.link.name}: ${e.error === undefined ? `${e.patches.length} change(s)` : 'failed'}`]
  },
}

/** Link-level, on `charge` only: an audit trail of what was charged. */
const audit: Middleware<Order> = {
  name: 'audit',
  after(e) {
    e.metrics.charged = e.result.total ?? 0
  },
}

async function pay(amount: number, signal: AbortSignal): Promise<string> {
  await sleep(2, undefined, { signal })
  if (amount > 1_000) throw new Error(`card declined for ${amount.toFixed(2)}`)
  return `rcpt-${Math.round(amount * 100)}`
}

const checkout = chain<Order>('checkout')
  .link('validate', (ctx) => {
    if (ctx.items.length === 0) throw new Error('empty cart')
  })
  .link('price', (ctx) => {
    ctx.total = ctx.items.reduce((sum, item) => sum + item.price * item.qty, 0)
  })
  .link('discount', (ctx) => {
    ctx.discount = (ctx.total ?? 0) > 100 ? 10 : 0
    ctx.total = (ctx.total ?? 0) - ctx.discount
  })
  .link(
    'charge',
    async (ctx, io) => {
      ctx.receipt = { id: await pay(ctx.total ?? 0, io.signal), chargedAt: io.now() }
    },
    { use: [audit] },
  )
  .link('notify', (ctx) => {
    ctx.notified = true
  })
  .use(timing, logger)

const order: Order = {
  customer: { id: 'c-42', email: 'ada@example.com' },
  items: [
    { sku: 'book', price: 42, qty: 2 },
    { sku: 'pen', price: 3.5, qty: 4 },
  ],
}
// The first run of a process pays for loading and JIT-compiling everything; show the second.
await checkout.run(order)
const run = await checkout.run(order)
console.log(formatWaterfall(run, { color: process.stdout.isTTY }))
console.log(`\ntotal ${run.ctx.total}, receipt ${run.ctx.receipt?.id}; ${run.timeline.length} events recorded`)
console.log(`who changed 'total'? ${run.timeline.links().filter((l) => l.patches.some((p) => p.path[0] === 'total')).map((l) => l.name).join(', ')}`)

try {
  await checkout.run({ customer: { id: 'c-7', email: 'big@example.com' }, items: [{ sku: 'tv', price: 2_000, qty: 1 }] })
} catch (error) {
  if (!(error instanceof ChainRunError)) throw error
  console.log(`\n${error.code} at link '${error.link?.name}': the failed run is still recorded:\n`)
  console.log(formatWaterfall(error.run, { color: process.stdout.isTTY }))
}
