/**
 * Keeping runs in production: a flight recorder on SQLite, a burst of traffic with some failures,
 * statistics, the failed runs found again, and a durable run that survives a crash.
 *   npx tsx examples/production/index.ts [dir]
 *
 * 1. 2,000 checkouts, 50 at a time, through a chain whose recorder keeps the last 200 runs and
 *    the last 100 failed ones of the chain, and one in two of the successful ones, in
 *    `<dir>/runs.db`, written in batches off the runs' path.
 * 2. Statistics (count, errors, p50 / p95 / p99 / max per chain, link and middleware call) and
 *    the last failures, from the recorder; one failed run loaded back in full and replayed.
 * 3. A durable run in a child process that is killed in its third step (a simulated crash): the
 *    run is left 'interrupted' with its first two steps, and this process resumes it from there.
 *    A second crashed run that nobody resumes is let go by retention's `interruptedMs`.
 * 4. The same store from the command line: `shadowchain runs`, `stats` and `view`.
 */
import { spawnSync } from 'node:child_process'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { chain, recorder, resume, shortRunId, type Middleware, type RunRecorder } from 'shadowchain'
import { sqliteStore } from 'shadowchain/store/sqlite'

export interface Checkout {
  order: number
  items: number
  total?: number
  charged?: boolean
  shipped?: string
  log: string[]
}

const timing: Middleware = { name: 'timing', before() {}, after(e) { e.metrics.us = Number(e.durationNs) / 1e3 } }

/** A card network that declines one order in 25 (deterministic: by order number). */
async function charge(ctx: Checkout): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  if (ctx.order % 25 === 7) throw new Error(`card declined for order ${ctx.order}`)
  ctx.charged = true
}

/** The checkout chain; `crash` is called in `ship` (the child process dies there). */
export function checkoutChain(rec: RunRecorder, crash: () => void = () => {}) {
  return chain<Checkout>('checkout', { recorder: rec })
    .link('validate', (ctx) => {
      if (ctx.items < 1) throw new Error('empty order')
    })
    .link('price', (ctx) => void (ctx.total = ctx.items * 12.5))
    .link('charge', charge)
    .link('ship', (ctx) => {
      crash()
      ctx.shipped = `parcel-${ctx.order}`
    })
    .link('notify', (ctx) => void ctx.log.push(`mailed order ${ctx.order}`))
    .use(timing)
}

const CLI = fileURLToPath(new URL('../../devtools/cli.js', import.meta.url))
const SELF = fileURLToPath(import.meta.url)

/** The crash: a durable run killed by its own process in `ship`, after three steps are stored. */
async function crashingProcess(db: string): Promise<void> {
  const rec = recorder({ store: sqliteStore(db, { thread: true }) })
  await checkoutChain(rec, () => process.kill(process.pid, 'SIGKILL')).run({ order: 9_001, items: 3, log: [] }, { durable: true })
}

async function main(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true })
  const db = join(dir, 'runs.db')
  const rec = recorder({ keep: { last: 200, failed: 100 }, sample: 0.5, store: sqliteStore(db, { thread: true }) })
  const checkout = checkoutChain(rec)

  // 1. A burst of traffic: 2,000 checkouts, 50 at a time.
  const started = performance.now()
  let failed = 0
  for (let batch = 0; batch < 40; batch++) {
    const runs = Array.from({ length: 50 }, (_, i) => checkout.run({ order: batch * 50 + i, items: 1 + ((batch + i) % 4), log: [] }).catch(() => void failed++))
    await Promise.all(runs)
  }
  await rec.flush()
  const ms = performance.now() - started
  console.log(`2,000 checkouts (${failed} declined) in ${ms.toFixed(0)} ms, recorded into ${db}`)
  console.log(`recorder: ${JSON.stringify(rec.health)}`)

  // 2. Statistics, and the failures found again.
  const [stats] = rec.stats({ chain: 'checkout' })
  const µs = (ns: bigint | undefined) => `${(Number(ns ?? 0n) / 1e3).toFixed(1)} µs`
  if (stats !== undefined) {
    console.log(`\nchain checkout: ${stats.count} runs, ${stats.errors} errors, p50 ${µs(stats.p50)}, p99 ${µs(stats.p99)}, max ${µs(stats.max)}`)
    for (const [name, link] of Object.entries(stats.links)) console.log(`  link ${name.padEnd(9)} ${String(link.count).padStart(5)} calls ${String(link.errors).padStart(3)} errors  p50 ${µs(link.p50)}  p99 ${µs(link.p99)}`)
  }
  const failures = await rec.runs({ status: 'error', link: 'charge', limit: 3 })
  console.log(`\nlast failures: ${failures.map((s) => `${shortRunId(s.id)} (${s.code} at ${s.failedLink})`).join(', ')}`)
  const one = await rec.get((failures[0] as { id: string }).id)
  const replay = await one?.replay()
  console.log(`loaded run ${shortRunId(one?.id ?? '')}: ${one?.error?.message}; replay identical: ${String(replay?.identical)}`)
  await rec.close()

  // 3. A durable run, killed mid-run in another process, resumed here.
  spawnSync(process.execPath, ['--import', 'tsx', SELF, '--crash', db], { stdio: 'inherit' })
  const store = sqliteStore(db)
  const [interrupted] = await store.list({ status: 'interrupted' })
  if (interrupted === undefined) throw new Error('the crashed run was not found')
  console.log(`\ncrashed run ${shortRunId(interrupted.id)}: ${interrupted.status}, ${interrupted.links} steps stored`)
  const resumed = await resume(interrupted.id, { chain: checkoutChain(recorder({ store })), store })
  console.log(`resumed as run ${shortRunId(resumed.id)} (parent ${shortRunId(resumed.parent?.runId ?? '')}): ${resumed.status}, shipped ${resumed.ctx.shipped}; links run again: ${resumed.timeline.links().slice(-2).map((l) => l.name).join(', ')}`)
  // Another crash, which nobody resumes: it would stay 'interrupted' for ever. keep.interruptedMs
  // (in the recorder's keep too) lets such runs go once they began longer ago than that: a day
  // in production, 0 here. The resumed run's original stays while its continuation does.
  spawnSync(process.execPath, ['--import', 'tsx', SELF, '--crash', db], { stdio: 'inherit' })
  const [abandoned] = (await store.list({ status: 'interrupted' })).filter((s) => s.id !== interrupted.id)
  if (abandoned === undefined) throw new Error('the second crashed run was not found')
  await store.retain(interrupted.chain, { last: 200, failed: 100, interruptedMs: 0 })
  const [gone, kept] = [(await store.read(abandoned.id)) === undefined, (await store.read(interrupted.id)) !== undefined]
  console.log(`crashed run ${shortRunId(abandoned.id)}, never resumed: let go by retain({ interruptedMs }): ${gone}; the resumed run's original kept: ${kept}`)
  await store.close()

  // 4. The same store from the command line.
  for (const args of [['runs', db, '--status', 'error', '--limit', '5'], ['stats', db]]) {
    console.log(`\n$ shadowchain ${args.join(' ')}`)
    const out = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' })
    process.stdout.write(out.stdout + out.stderr)
  }
  console.log(`\nlook at a failed run in the viewer:\n  npx shadowchain view ${db} ${failures[0]?.id}`)
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  if (process.argv[2] === '--crash') await crashingProcess(process.argv[3] as string)
  else await main(process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'shadowchain-production-'))))
}
