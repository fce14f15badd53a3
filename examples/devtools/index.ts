/**
 * Devtools: records a small family of runs to look at in the viewer, then prints the command.
 *   npx tsx examples/devtools/index.ts [dir]
 *   node devtools/cli.js view <dir>/*.run.json
 *
 * - checkout.run.json: a checkout with chain-level and link-level middleware, a middleware that
 *   fails (the run goes on), every ctx write captured with its call site, and a customer note
 *   that is hostile HTML: the viewer must show it as text, never run it;
 * - checkout-fork.run.json: a fork after `discount` with a coupon edited in;
 * - checkout-replay.run.json: a replay on a new version of the chain (a bigger discount), which
 *   diverges from the recording at `discount`.
 */
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { pathToFileURL } from 'node:url'
import { chain, saveRun, type Middleware } from 'shadowchain'

export interface Order {
  customer: { id: string; email: string; note: string }
  items: { sku: string; price: number; qty: number }[]
  tags: Set<string>
  stock: Map<string, number>
  total?: number
  discount?: number
  coupon?: string
  receipt?: { id: string; chargedAt: Date }
  points?: bigint
  notified?: boolean
}

/** What a hostile customer typed into a free-text field. */
export const HOSTILE_NOTE = '<img src=x onerror=alert(1)>'

/** Chain-level: counts links in mwctx and keeps each link's time in its metrics. */
const timing: Middleware = {
  name: 'timing',
  before(e) {
    e.mwctx.links = ((e.mwctx.links as number | undefined) ?? 0) + 1
  },
  after(e) {
    e.metrics.linkUs = Number(e.durationNs) / 1e3
  },
}

/** Chain-level: one log line per link in mwctx. */
const logger: Middleware = {
  name: 'logger',
  after(e) {
    e.mwctx.log = [...((e.mwctx.log as string[] | undefined) ?? []), `${e.link.name}: ${e.patches.length} change(s)`]
  },
}

/** Chain-level and broken: its sink is down after `discount`. The run goes on regardless. */
const flaky: Middleware = {
  name: 'flaky-sink',
  after(e) {
    if (e.link.name === 'discount') throw new Error('metrics sink unavailable')
  },
}

/** Link-level, on `charge` only: an audit entry in the link's metrics. */
const audit: Middleware<Order> = {
  name: 'audit',
  async before(e) {
    await sleep(1)
    e.metrics.audited = true
  },
  after(e) {
    e.metrics.charged = e.result.total ?? 0
  },
}

/** The checkout chain; `rate` is the discount on orders over 100 (v1: 10%, v2: 15%). */
export function checkoutChain(rate: number) {
  return chain<Order>('checkout')
    .link('validate', (ctx) => {
      if (ctx.items.length === 0) throw new Error('empty cart')
      ctx.tags.add('validated')
    })
    .link('price', (ctx) => {
      ctx.total = ctx.items.reduce((sum, item) => sum + item.price * item.qty, 0)
    })
    .link('discount', (ctx) => {
      ctx.discount = (ctx.total ?? 0) > 100 ? Math.round((ctx.total ?? 0) * rate) : 0
      ctx.total = (ctx.total ?? 0) - ctx.discount
    })
    .link('reserve', (ctx) => {
      for (const item of ctx.items) ctx.stock.set(item.sku, (ctx.stock.get(item.sku) ?? 0) - item.qty)
    })
    .link(
      'charge',
      async (ctx, io) => {
        await sleep(2)
        ctx.receipt = { id: `rcpt-${Math.round((ctx.total ?? 0) * 100)}`, chargedAt: new Date(io.now()) }
        ctx.points = BigInt(Math.floor(ctx.total ?? 0)) * 1_000_000_000_000n
      },
      { use: [audit], meta: { sideEffect: 'payment' } },
    )
    .link('notify', (ctx) => {
      ctx.notified = true
    })
    .use(timing, logger, flaky)
}

export const input = (): Order => ({
  customer: { id: 'c-42', email: 'ada@example.com', note: HOSTILE_NOTE },
  items: [
    { sku: 'book', price: 40, qty: 2 },
    { sku: 'lamp', price: 35, qty: 1 },
  ],
  tags: new Set(['web']),
  stock: new Map([
    ['book', 10],
    ['lamp', 3],
  ]),
})

/** Records the three runs into `dir` and returns their file paths (original, fork, replay). */
export async function recordExampleRuns(dir: string): Promise<{ original: string; fork: string; replay: string }> {
  await mkdir(dir, { recursive: true })
  const options = { capture: 'writes', stacks: true } as const
  const original = await checkoutChain(0.1).run(input(), options)
  const fork = await original.fork({
    at: 'discount',
    edit: (ctx) => {
      ctx.coupon = 'VIP20'
      ctx.total = (ctx.total ?? 0) - 20
    },
    ...options,
  })
  const replay = await original.replay({ chain: checkoutChain(0.15), ...options })
  const files = { original: join(dir, 'checkout.run.json'), fork: join(dir, 'checkout-fork.run.json'), replay: join(dir, 'checkout-replay.run.json') }
  // The original is saved last: its file then lists the fork among its children.
  await saveRun(fork, files.fork)
  await saveRun(replay.run, files.replay)
  await saveRun(original, files.original)
  return files
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'shadowchain-devtools-')))
  const files = await recordExampleRuns(dir)
  console.log(`recorded 3 runs in ${dir}; look at them with:`)
  console.log(`  node devtools/cli.js view ${Object.values(files).join(' ')}`)
}
