/**
 * Composition: a conditional link (`when`), stopping early (`io.stop`), middleware `priority`,
 * a parallel step, a link with `retry` and `timeoutMs`, an `around` hook (an
 * AsyncLocalStorage context), and a nested chain of another ctx type (`loyalty`).
 *   npx tsx examples/composition/index.ts [dir]
 *
 * A quote flow: `review` runs only for big orders, `cache` stops the run when a cached quote is
 * still fresh (the links after it are recorded as skipped), and the `audit` middleware has a
 * higher priority than `timing`, so it runs first in every queue; `price` is a parallel step:
 * tax, shipping (an async rate lookup) and a fraud check run concurrently, each on its own draft,
 * and their changes are merged (strictly: no two of them may write the same path); `charge` calls a payment gateway
 * that is busy on the first try: it is retried (the failed attempt is recorded, its draft
 * discarded) within a deadline per attempt, inside the `idempotency` around hook, which runs all its
 * attempts in an AsyncLocalStorage that carries one idempotency key for the gateway; `loyalty`
 * is a chain of its own (members and points), nested as a link: it runs as a child run with its
 * own id and timeline, from what `input` makes of the quote, and `output` writes its points
 * back. Two runs are printed as
 * waterfalls (skipped links greyed with their reason, the stop in the header) and saved as run
 * files for the viewer: `node devtools/cli.js view <dir>/*.run.json`.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { chain, formatWaterfall, saveRun, type Middleware, type Run } from 'shadowchain'

export interface Quote {
  customer: string
  items: { sku: string; price: number }[]
  total: number
  cached?: { total: number; ageMs: number }
  reviewed?: boolean
  tax?: number
  shipping?: number
  fraud?: 'ok' | 'review'
  charged?: number
  points?: number
  log: string[]
}

/** The loyalty programme's own ctx: a chain of its own, nested into the quote flow. */
export interface Loyalty {
  member: string
  spent: number
  tier?: 'silver' | 'gold'
  points: number
}

/** Tiers and points: a small chain that other flows (returns, referrals) nest too. */
export const loyaltyChain = chain<Loyalty>('loyalty')
  .link('tier', (ctx) => void (ctx.tier = ctx.spent >= 1_000 ? 'gold' : 'silver'))
  .link('points', (ctx) => void (ctx.points = Math.floor(ctx.spent / 10) * (ctx.tier === 'gold' ? 2 : 1)))

/** Added first, runs second: its priority is the default, 0. */
const timing: Middleware = {
  name: 'timing',
  before(e) {
    // True on every link: audit (priority 10) has already seen it.
    e.metrics.audited = ((e.mwctx.seen as string[] | undefined) ?? []).includes(e.link.name)
  },
  after(e) {
    e.metrics.us = Number(e.durationNs) / 1e3
  },
}

/** Added second, runs first: priority 10 puts it ahead of `timing` in every queue. */
const audit: Middleware = {
  name: 'audit',
  priority: 10,
  before(e) {
    e.mwctx.seen = [...((e.mwctx.seen as string[] | undefined) ?? []), e.link.name]
  },
}

/** The idempotency key the gateway sees, set by the `idempotency` around hook. */
const idempotencyKey = new AsyncLocalStorage<string>()

/**
 * Link-level on `charge`: every attempt of the charge runs inside one idempotency key (around
 * wraps all attempts), so a retry cannot charge twice. It cannot skip or repeat the charge.
 */
const idempotency: Middleware<Quote> = {
  name: 'idempotency',
  around: (e, next) => idempotencyKey.run(`${e.run.chainName}-${e.ctx.customer}-${e.ctx.total}`, next),
}

/** A payment gateway said "try again later". */
class GatewayBusy extends Error {
  override name = 'GatewayBusy'
}

/**
 * Charges the total through a (simulated) gateway that is busy on the first attempt. It is
 * deterministic (it depends on `io.attempt` only), so a replay of the run agrees with it.
 */
async function charge(ctx: { total: number; charged?: number; log: string[] }, io: { attempt: number; signal: AbortSignal }): Promise<void> {
  ctx.log.push(`charging ${ctx.total} (attempt ${io.attempt}, key ${idempotencyKey.getStore() ?? 'none'})`)
  await new Promise((resolve) => setImmediate(resolve))
  if (io.signal.aborted) return
  if (io.attempt === 1) throw new GatewayBusy('gateway busy (503)')
  ctx.charged = ctx.total
}

/** The flow. `bigOrder` is the threshold above which a human reviews the order. */
export function quoteChain(bigOrder = 1_000) {
  return chain<Quote>('quote')
    .link('validate', (ctx) => {
      if (ctx.items.length === 0) throw new Error('empty order')
    })
    .link('sum', (ctx) => {
      ctx.total = ctx.items.reduce((sum, item) => sum + item.price, 0)
    })
    .link('review', (ctx) => void (ctx.reviewed = true), { when: (ctx) => ctx.total > bigOrder })
    .link('cache', (ctx, io) => {
      // A fresh cached quote for the same total: nothing left to compute.
      if (ctx.cached !== undefined && ctx.cached.total === ctx.total && ctx.cached.ageMs < 60_000) {
        ctx.log.push('served from cache')
        io.stop('cached quote is fresh')
      }
    })
    .parallel('price', {
      tax: (ctx) => void (ctx.tax = Math.round(ctx.total * 0.2)),
      shipping: async (ctx) => {
        // A (simulated) carrier rate lookup.
        await new Promise((resolve) => setImmediate(resolve))
        ctx.shipping = ctx.total > 500 ? 0 : 9
      },
      fraud: (ctx) => void (ctx.fraud = ctx.total > 1_000 ? 'review' : 'ok'),
    })
    .link('charge', charge, {
      // Only a busy gateway is worth another try; 5 ms, then 10 ms, between attempts.
      retry: { attempts: 3, delayMs: 5, backoff: 2, retryIf: (error) => error instanceof GatewayBusy },
      // Each attempt may take 2 s: then io.signal aborts and the attempt counts as failed.
      timeoutMs: 2_000,
      use: [idempotency],
    })
    .link('loyalty', loyaltyChain, {
      input: (ctx) => ({ member: ctx.customer, spent: ctx.charged ?? 0, points: 0 }),
      output: (ctx, loyalty) => void (ctx.points = loyalty.points),
    })
    .link('notify', (ctx) => void ctx.log.push(`quoted ${ctx.total} to ${ctx.customer}`))
    .use(timing, audit)
}

export const bigInput = (): Quote => ({ customer: 'ada', items: [{ sku: 'desk', price: 900 }, { sku: 'lamp', price: 250 }], total: 0, log: [] })
export const cachedInput = (): Quote => ({ customer: 'bob', items: [{ sku: 'pen', price: 3 }], total: 0, cached: { total: 3, ageMs: 1_000 }, log: [] })

/** Runs the flow twice (a big order; a small one served from cache) and saves both runs into `dir`. */
export async function recordCompositionRuns(dir: string): Promise<{ runs: Run<Quote>[]; files: string[] }> {
  await mkdir(dir, { recursive: true })
  const runs = [await quoteChain().run(bigInput()), await quoteChain().run(cachedInput())]
  const files = [join(dir, 'quote-big.run.json'), join(dir, 'quote-cached.run.json')]
  await Promise.all(runs.map((run, i) => saveRun(run, files[i] as string)))
  return { runs, files }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'shadowchain-composition-')))
  const { runs, files } = await recordCompositionRuns(dir)
  for (const run of runs) console.log(`${formatWaterfall(run, { color: process.stdout.isTTY })}\n`)
  const [big, cached] = runs as [Run<Quote>, Run<Quote>]
  const order = big.timeline.filter({ link: 'validate', type: 'middleware.before' }).map((e) => ('middleware' in e ? e.middleware.name : ''))
  console.log(`big order: reviewed=${String(big.ctx.reviewed)}; before-middleware order: ${order.join(', ')}; audited before timing on every link: ${big.timeline.links().every((l) => l.metrics.audited === true)}`)
  const charged = big.timeline.links().find((l) => l.name === 'charge')
  const price = big.timeline.links().find((l) => l.name === 'price')
  console.log(`big order: price ran ${price?.branches?.map((b) => b.name).join(', ')} in parallel: tax ${big.ctx.tax}, shipping ${big.ctx.shipping}, fraud ${big.ctx.fraud}`)
  // Write capture names the branch of the parallel step that wrote a field.
  const captured = await quoteChain().run(bigInput(), { capture: 'writes' })
  const wrote = captured.timeline.writesTo('shipping').map((e) => (e.type === 'ctx.write' ? `${e.link.name} branch ${e.branch ?? '-'}: ${e.op} ${e.path.join('.')} = ${String(e.value)}` : e.type))
  console.log(`big order, capture 'writes': shipping was written by ${wrote.join('; ')}`)
  console.log(`big order: charge took ${charged?.attempts ?? 1} attempts; log: ${big.ctx.log.join('; ')}`)
  const loyalty = big.timeline.links().find((l) => l.name === 'loyalty')?.child
  console.log(`big order: loyalty ran as nested run ${loyalty?.id} (${loyalty?.timeline.links().map((l) => l.name).join(' → ')}): ${big.ctx.points} points`)
  console.log(`cached order: stopped by '${cached.stoppedBy?.name}' (${cached.stopReason}), skipped: ${cached.timeline.links().filter((l) => l.status === 'skipped').map((l) => `${l.name} (${l.reason})`).join(', ')}`)
  console.log(`\nsaved to ${dir}; look at them with:\n  node devtools/cli.js view ${files.join(' ')}`)
}
