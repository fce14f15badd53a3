// Benchmark of the flight recorder, its statistics, the run stores and durable runs (issue #13),
// with LangGraph's SQLite / PostgreSQL checkpointers for comparison, all in one process.
//
//   cd bench && npm install && npm run bench:recorder
//
// Environment: BENCH_ROUNDS (default 40; the durable group uses half), BENCH_BATCH_MS (default
// 40), BENCH_RUNS (runs per sustained-write pass, default 20,000), BENCH_OUT (default
// results/recorder.md; "-" writes nothing), SHADOWCHAIN_BENCH_PG_URL (default
// postgres://shadow:shadow@127.0.0.1:5432/shadow_test; started as the tests do when it does not
// answer and we are root). See README.md for what each case means.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { isDeepStrictEqual } from 'node:util'
import Database from 'better-sqlite3'
import * as hdr from 'hdr-histogram-js'
import pg from 'pg'
import { enableMapSet, enablePatches, setAutoFreeze } from 'immer'
import { chain, memoryStore, recorder, type Chain, type ChainOptions, type FlightRecorder, type RunStore } from '../src/index.ts'
import { sqliteStore } from '../src/store/sqlite/index.ts'
import { postgresStore } from '../src/store/postgres/index.ts'
import { Series, Statistics } from '../src/store/statistics.ts'
import { measure, median, pairedDifference, pairedRatio, quantile, type Case, type Samples } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, publish, times, us, verdict } from './lib/report.ts'
import { counter, makeOrder, orderLinks, timing, type Order } from './lib/workload.ts'
import { answers, DEFAULT_URL, systemCluster } from '../test/postgres-server.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 40)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const RUNS = Number(process.env['BENCH_RUNS'] ?? 20_000)
const LINKS = orderLinks.length
/** Runs between two turns of the event loop in the sustained passes (as requests arriving would). */
const YIELD_EVERY = 100
/**
 * Runs in one call of a case in (1): then `flush()`, so that every sample holds the writes of its
 * own runs (the recorder's default batch size). Flushing whenever 256 runs waited made the samples
 * bimodal (cheap batches, and batches that paid for a write), and their median hid the writes.
 */
const UNIT = 256
/** The same in (4) and (5): a durable run on PostgreSQL takes milliseconds. */
const DURABLE_UNIT = 8

enablePatches()
enableMapSet()
setAutoFreeze(true)

const started = Date.now()
const dir = mkdtempSync(join(tmpdir(), 'shadowchain-bench-recorder-'))
const input = makeOrder()
const quiet = { onWarning: (w: { message: string }) => log(`recorder warning: ${w.message}`), flushOnExit: false } as const

function build(options: ChainOptions<Order> = {}): Chain<Order> {
  let c = chain<Order>('order', options)
  for (const [name, fn] of orderLinks) c = c.link(name, fn as never)
  return c.use(counter as never, timing as never)
}

/** `k` runs, then the recorder's waiting runs written: one call of a case. */
function recorded(k: number, c: Chain<Order>, rec: FlightRecorder | undefined, runOptions?: { durable: true }): () => Promise<unknown> {
  return async () => {
    for (let i = 0; i < k; i++) await c.run(input, runOptions)
    await rec?.flush()
  }
}

/** `k` calls of `fn`: one call of a case. */
function times_(k: number, fn: () => Promise<unknown>): () => Promise<unknown> {
  return async () => {
    for (let i = 0; i < k; i++) await fn()
  }
}

/** Samples of a case that ran `k` runs a call, per run. */
function perRun(samples: Map<string, Samples>, k: number): Map<string, Samples> {
  return new Map([...samples].map(([id, s]) => [id, { n: s.n * k, ns: s.ns.map((ns) => ns / k), wallNs: s.wallNs.map((ns) => ns / k) }]))
}

// ---- PostgreSQL ----------------------------------------------------------------------------

/** The server's URL, or why there is none (then the PostgreSQL rows are skipped). */
async function postgresUrl(): Promise<{ url?: string; why?: string }> {
  const given = process.env['SHADOWCHAIN_BENCH_PG_URL']
  const url = given ?? DEFAULT_URL
  const problem = await answers(url)
  if (problem === undefined) return { url }
  if (given !== undefined || process.getuid?.() !== 0) return { why: `PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} does not answer (${problem})` }
  // As the tests' global setup does as root: the system cluster, the role and the database.
  try {
    await systemCluster()
  } catch (error) {
    return { why: `could not start PostgreSQL: ${error instanceof Error ? error.message : String(error)}` }
  }
  const again = await answers(url)
  return again === undefined ? { url } : { why: `PostgreSQL started but does not answer (${again})` }
}

const pgUrl = await postgresUrl()
if (pgUrl.why !== undefined) log(`${pgUrl.why}: the PostgreSQL rows are skipped`)
const schemas: string[] = []
let schemaCount = 0
/** A fresh schema, dropped at the end. */
function freshSchema(): string {
  const schema = `bench_recorder_${process.pid}_${Date.now().toString(36)}_${schemaCount++}`
  schemas.push(schema)
  return schema
}
async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl.url })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

// ---- (1) the recorder on the run's path ------------------------------------------------------

async function onThePath(): Promise<Map<string, Samples>> {
  const plain = build()
  const recs = {
    mem: recorder({ ...quiet }),
    memNostats: recorder({ ...quiet, stats: false }),
    memKeep100: recorder({ ...quiet, keep: { last: 100, failed: 100 } }),
    store: recorder({ ...quiet, store: memoryStore() }),
    storeNostats: recorder({ ...quiet, store: memoryStore(), stats: false }),
  }
  const chains = Object.fromEntries(Object.entries(recs).map(([k, rec]) => [k, build({ recorder: rec })])) as Record<keyof typeof recs, Chain<Order>>
  // Checks: same ctx, the runs are kept, statistics counted (or not).
  const expected = JSON.stringify((await plain.run(input)).ctx)
  for (const [k, rec] of Object.entries(recs) as [keyof typeof recs, FlightRecorder][]) {
    const run = await chains[k].run(input)
    if (JSON.stringify(run.ctx) !== expected) throw new Error(`${k}: a different ctx`)
    await rec.flush()
    const [last] = await rec.runs({ limit: 1 })
    if (last?.id !== run.id || last.links !== LINKS) throw new Error(`${k}: the run was not kept`)
    const stats = rec.stats()
    if (k.endsWith('Nostats') ? stats.length !== 0 : stats[0]?.count !== 1 || Object.keys(stats[0].links).length !== LINKS || Object.keys(stats[0].middleware).length !== 2) {
      throw new Error(`${k}: unexpected statistics ${JSON.stringify(stats, (_k, v) => (typeof v === 'bigint' ? String(v) : v))}`)
    }
  }
  // Two groups, each against its own baseline: runs kept in memory make little garbage, runs
  // exported to a store much; interleaved in one group, the garbage of the store cases is
  // collected during whichever case runs next and blurs the in-memory ratio.
  const group = async (ids: readonly (keyof typeof recs)[], suffix: string): Promise<Map<string, Samples>> => {
    const cases: Case[] = [{ id: `none${suffix}`, run: recorded(UNIT, plain, undefined) }, ...ids.map((k) => ({ id: k, run: recorded(UNIT, chains[k], recs[k]) }))]
    return perRun(await measure(cases, { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 3, progress: (t) => log(`(1) recorder on the path${suffix}: ${t}`) }), UNIT)
  }
  const samples = new Map([...(await group(['mem', 'memNostats', 'memKeep100'], '')), ...(await group(['store', 'storeNostats'], 'Store'))])
  for (const rec of Object.values(recs)) {
    await rec.close()
    const h = rec.health
    if (h.dropped !== 0 || h.storeFailures !== 0) throw new Error(`(1): runs dropped or failed: ${JSON.stringify(h)}`)
  }
  return samples
}

// ---- (2) one statistics sample -------------------------------------------------------------

const SAMPLES_PER_CALL = 1_000

async function statsSample(): Promise<{ samples: Map<string, Samples>; wasm: boolean }> {
  let wasm = true
  try {
    hdr.initWebAssemblySync()
  } catch {
    wasm = false
  }
  // Durations as the observer gets them (bigint ns), spread over 1 µs .. 10 ms.
  const values: bigint[] = []
  let seed = 42
  for (let i = 0; i < 1024; i++) {
    seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31
    values.push(BigInt(1_000 + Math.floor((seed / 2 ** 31) ** 3 * 10_000_000)))
  }
  const series = new Series()
  const stats = new Statistics()
  const chainSeries = stats.chain('order')
  const linkNames = orderLinks.map(([name]) => name)
  let sink = 0n
  const cases: Case[] = [
    {
      id: 'empty',
      run: async () => {
        for (let i = 0; i < SAMPLES_PER_CALL; i++) sink += values[i & 1023] as bigint
      },
    },
    {
      id: 'series',
      run: async () => {
        for (let i = 0; i < SAMPLES_PER_CALL; i++) series.record(values[i & 1023] as bigint, false)
      },
    },
    {
      id: 'link',
      run: async () => {
        for (let i = 0; i < SAMPLES_PER_CALL; i++) stats.link(chainSeries, linkNames[i % LINKS] as string, values[i & 1023] as bigint, false)
      },
    },
  ]
  const samples = await measure(cases, { rounds: ROUNDS, batchMs: BATCH_MS / 2, warmupRounds: 3, progress: (t) => log(`(2) statistics sample: ${t}`) })
  if (series.summary().count === 0 || sink === 0n) throw new Error('(2): nothing recorded')
  series.destroy()
  stats.destroy()
  return { samples, wasm }
}

// ---- (3) sustained writes ------------------------------------------------------------------

interface Pass {
  readonly store: string
  readonly keep: 'all' | 100 | '-' | 'unthrottled'
  readonly wallNs: number
  readonly cpuNs: number
  /** CPU time of the main thread alone (the event loop's share), when the system tells it. */
  readonly mainCpuNs: number | undefined
  readonly held: number
  readonly written: number
  readonly lost: number
}

/** Summaries held by a store, counted by paging (never more than 10,000 a page). */
async function countHeld(store: RunStore): Promise<number> {
  let held = 0
  let before: string | undefined
  for (;;) {
    const page = await store.list({ limit: 10_000, ...(before !== undefined && { before }) })
    held += page.length
    if (page.length < 10_000) return held
    before = page.at(-1)?.id
  }
}

/** Runs waiting for the store above which a throttled driver waits (2 batches of the default size). */
const BACKLOG = 512

/**
 * RUNS runs one after another, the event loop turned every YIELD_EVERY runs. Throttled: while more
 * than BACKLOG runs wait for the store, the driver sleeps 1 ms at a time (as a service would shed or
 * queue load), so what is measured is the rate the store sustains. Unthrottled: runs are offered
 * as fast as they run, and past `maxPending` (10,000) the recorder drops the oldest.
 */
async function drive(c: Chain<Order>, rec?: FlightRecorder, throttled = true): Promise<void> {
  for (let i = 1; i <= RUNS; i++) {
    await c.run(input)
    if (i % YIELD_EVERY === 0) await new Promise((resolve) => setImmediate(resolve))
    if (throttled && rec !== undefined) while (rec.health.pending > BACKLOG) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

/**
 * CPU time (ns) the main thread has used, from /proc on Linux (its task id is the process id);
 * `undefined` elsewhere. `process.cpuUsage()` counts every thread, the writer thread's too.
 */
function mainThreadCpuNs(): number | undefined {
  try {
    const fields = readFileSync(`/proc/self/task/${process.pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
    // utime and stime (fields 14 and 15 of stat), in clock ticks of 10 ms.
    return (Number(fields[11]) + Number(fields[12])) * 1e7
  } catch {
    return undefined
  }
}

const since = (start: number | undefined): number | undefined => {
  const now = mainThreadCpuNs()
  return start === undefined || now === undefined ? undefined : now - start
}

/** The same loop without a recorder: the ceiling. */
async function unrecorded(): Promise<Pass> {
  const c = build()
  await c.run(input)
  const main0 = mainThreadCpuNs()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await drive(c)
  const wallNs = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  return { store: 'none', keep: '-', wallNs, cpuNs: (cpu.user + cpu.system) * 1e3, mainCpuNs: since(main0), held: 0, written: 0, lost: 0 }
}

/** RUNS runs through a chain whose recorder writes to `store`; from the first run to flush() done. */
async function sustained(kind: string, store: RunStore, keep: 'all' | 100 | 'unthrottled'): Promise<Pass> {
  // 'all': every run stays (so the store must hold RUNS + the first one); 100: the default keep,
  // so retention deletes as many runs as are written (a store in its steady state);
  // 'unthrottled': keep all, runs offered without waiting for the store.
  const rec = recorder({ ...quiet, store, keep: keep !== 100 ? { last: RUNS + 1, failed: RUNS + 1 } : { last: 100, failed: 100 } })
  const c = build({ recorder: rec })
  await c.run(input) // the store opened and its tables made before the clock starts
  await rec.flush()
  const first = rec.health.written
  const main0 = mainThreadCpuNs()
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await drive(c, rec, keep !== 'unthrottled')
  await rec.flush()
  const wallNs = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  const mainCpuNs = since(main0)
  const h = rec.health
  const written = h.written - first
  const held = await countHeld(store)
  const lost = keep !== 100 ? RUNS + 1 - held : RUNS - written + (held === 100 ? 0 : 100 - held)
  if (keep !== 'unthrottled' && (h.storeFailures !== 0 || h.dropped !== 0 || written !== RUNS || lost !== 0)) {
    log(`warning: ${kind} keep ${keep}: written ${written} of ${RUNS}, held ${held}, health ${JSON.stringify(h)}`)
  }
  await rec.close()
  return { store: kind, keep, wallNs, cpuNs: (cpu.user + cpu.system) * 1e3, mainCpuNs, held, written, lost: Math.max(lost, h.dropped) }
}

async function sustainedAll(): Promise<Pass[]> {
  const passes: Pass[] = []
  const stores: [string, () => Promise<RunStore>][] = [
    ['memory', async () => memoryStore()],
    ['sqlite', async () => sqliteStore(join(dir, `sustained-${passes.length}.db`))],
    ['sqlite-thread', async () => sqliteStore(join(dir, `sustained-${passes.length}.db`), { thread: true })],
  ]
  if (pgUrl.url !== undefined) {
    stores.push([
      'postgres',
      async () => {
        const s = postgresStore(pgUrl.url as string, { schema: freshSchema() })
        await s.ready()
        return s
      },
    ])
  }
  // Interleaved: each repetition writes to every store once, a fresh store (file, schema) each
  // time. Keep-all and keep-100 twice each, in turn: one pass of a row sat in whatever moment the
  // host had then (a keep-100 pass once read 20 % below both keep-all passes around it, and the
  // same code profiled at another moment was uniformly slower everywhere, not in retention).
  for (const keep of ['all', 100, 'all', 100, 'unthrottled'] as const) {
    if (keep === 'all') passes.push(await unrecorded())
    for (const [kind, open] of stores) {
      const pass = await sustained(kind, await open(), keep)
      passes.push(pass)
      log(`(3) ${kind} keep ${keep}: ${fmt(RUNS / (pass.wallNs / 1e9), 0)} runs/s, ${fmt(pass.cpuNs / RUNS / 1e3, 0)} µs CPU a run, ${pass.held} held, ${pass.lost} lost`)
    }
  }
  return passes
}

// ---- (4) durable runs, (5) LangGraph's checkpointers -----------------------------------------

type LgState = Order
interface LangGraph {
  readonly none: () => Promise<LgState>
  readonly sqlite: () => Promise<LgState>
  readonly postgres?: () => Promise<LgState>
  readonly sqliteSynchronous: string
  readonly close: () => Promise<void>
  readonly version: string
}

/** The same 10 steps as LangGraph nodes returning updates (a node may not share a state key's name). */
async function langGraph(): Promise<LangGraph | string> {
  try {
    const { orderGraph, langGraphVersion } = await import('./lib/langgraph.ts')
    const { SqliteSaver } = await import('@langchain/langgraph-checkpoint-sqlite')
    const { PostgresSaver } = await import('@langchain/langgraph-checkpoint-postgres')
    const version = langGraphVersion()
    const plain = orderGraph()
    const saver = SqliteSaver.fromConnString(join(dir, 'langgraph.db'))
    const onSqlite = orderGraph(saver)
    let pgSaver: InstanceType<typeof PostgresSaver> | undefined
    let onPostgres: typeof plain | undefined
    if (pgUrl.url !== undefined) {
      const schema = freshSchema()
      await admin((client) => client.query(`CREATE SCHEMA "${schema}"`))
      pgSaver = PostgresSaver.fromConnString(pgUrl.url, { schema })
      await pgSaver.setup()
      onPostgres = orderGraph(pgSaver)
    }
    let thread = 0
    const sync = (): { configurable: { thread_id: string }; durability: 'sync' } => ({ configurable: { thread_id: `t-${thread++}` }, durability: 'sync' })
    // The saver's connection, for its synchronous pragma (ours is NORMAL; see README).
    const db = (saver as unknown as { db: Database.Database }).db
    const lg: LangGraph = {
      none: () => plain.invoke(input),
      sqlite: () => onSqlite.invoke(input, sync()),
      ...(onPostgres !== undefined && { postgres: () => (onPostgres as typeof plain).invoke(input, sync()) }),
      get sqliteSynchronous() {
        return ['OFF', 'NORMAL', 'FULL', 'EXTRA'][db.pragma('synchronous', { simple: true }) as number] ?? 'unknown'
      },
      close: async () => {
        await pgSaver?.end()
        db.close()
      },
      version,
    }
    // Checks: the same final state as the chain, and a checkpoint per step.
    const expected = (await build().run(input)).ctx
    for (const [name, fn] of Object.entries({ none: lg.none, sqlite: lg.sqlite, postgres: lg.postgres })) {
      if (fn === undefined) continue
      const out = await fn()
      if (!isDeepStrictEqual(JSON.parse(JSON.stringify(out)), JSON.parse(JSON.stringify(expected)))) throw new Error(`LangGraph ${name}: a different final state: ${JSON.stringify(out)}`)
    }
    const checkpoints = [...(await (async () => {
      const out: unknown[] = []
      for await (const c of saver.list({ configurable: { thread_id: `t-${thread - 1 - (onPostgres !== undefined ? 1 : 0)}` } })) out.push(c)
      return out
    })())].length
    if (checkpoints < LINKS) throw new Error(`LangGraph SqliteSaver: ${checkpoints} checkpoints for a 10-node run`)
    log(`LangGraph ${version}: same final state; ${checkpoints} checkpoints a run`)
    return lg
  } catch (error) {
    return `LangGraph could not run here: ${error instanceof Error ? error.message : String(error)}`
  }
}

async function durable(lg: LangGraph | undefined): Promise<{ samples: Map<string, Samples>; sqliteSynchronous: string }> {
  const sqliteRec = recorder({ ...quiet, store: sqliteStore(join(dir, 'durable.db')) })
  const sqliteChain = build({ recorder: sqliteRec })
  const sqliteSync = new Database(join(dir, 'durable.db'))
  const sqliteSynchronous = ['OFF', 'NORMAL', 'FULL', 'EXTRA'][sqliteSync.pragma('synchronous', { simple: true }) as number] ?? 'unknown'
  sqliteSync.close()
  const cases: Case[] = [
    { id: 'none', run: recorded(DURABLE_UNIT, build(), undefined) },
    { id: 'sqlite', run: recorded(DURABLE_UNIT, sqliteChain, sqliteRec) },
    { id: 'sqlite-durable', run: recorded(DURABLE_UNIT, sqliteChain, sqliteRec, { durable: true }) },
  ]
  const threadRec = recorder({ ...quiet, store: sqliteStore(join(dir, 'durable-thread.db'), { thread: true }) })
  const threadChain = build({ recorder: threadRec })
  cases.push({ id: 'sqlite-thread', run: recorded(DURABLE_UNIT, threadChain, threadRec) }, { id: 'sqlite-thread-durable', run: recorded(DURABLE_UNIT, threadChain, threadRec, { durable: true }) })
  let pgRec: FlightRecorder | undefined
  if (pgUrl.url !== undefined) {
    const store = postgresStore(pgUrl.url, { schema: freshSchema() })
    await store.ready()
    pgRec = recorder({ ...quiet, store })
    const pgChain = build({ recorder: pgRec })
    cases.push({ id: 'postgres', run: recorded(DURABLE_UNIT, pgChain, pgRec) }, { id: 'postgres-durable', run: recorded(DURABLE_UNIT, pgChain, pgRec, { durable: true }) })
  }
  if (lg !== undefined) {
    cases.push({ id: 'lg-none', run: times_(DURABLE_UNIT, lg.none) }, { id: 'lg-sqlite', run: times_(DURABLE_UNIT, lg.sqlite) })
    if (lg.postgres !== undefined) cases.push({ id: 'lg-postgres', run: times_(DURABLE_UNIT, lg.postgres) })
  }
  // Check: a durable run is stored whole once it ended.
  const probe = await sqliteChain.run(input, { durable: true })
  await sqliteRec.flush()
  const [stored] = await sqliteRec.runs({ limit: 1 })
  if (stored?.id !== probe.id || stored.status !== 'ok' || stored.links !== LINKS) throw new Error('(4): the durable run was not stored whole')
  const samples = perRun(await measure(cases, { rounds: Math.max(10, Math.round(ROUNDS / 2)), batchMs: BATCH_MS, warmupRounds: 2, progress: (t) => log(`(4) durable runs: ${t}`) }), DURABLE_UNIT)
  for (const rec of [sqliteRec, threadRec, pgRec]) {
    if (rec === undefined) continue
    await rec.close()
    const h = rec.health
    if (h.dropped !== 0 || h.storeFailures !== 0) throw new Error(`(4): runs dropped or failed: ${JSON.stringify(h)}`)
  }
  return { samples, sqliteSynchronous }
}

// ---- report --------------------------------------------------------------------------------

function report(
  path: Map<string, Samples>,
  stats: { samples: Map<string, Samples>; wasm: boolean },
  passes: Pass[],
  dur: { samples: Map<string, Samples>; sqliteSynchronous: string },
  lg: LangGraph | string,
  loadAverage: string,
): string {
  const p = (id: string): Samples => path.get(id) as Samples
  const pathRow = (label: string, id: string, target: boolean): string => {
    const base = id.startsWith('store') || id === 'noneStore' ? 'noneStore' : 'none'
    const r = pairedRatio(p(id), p(base))
    const added = pairedDifference(p(id), p(base))
    return `| ${label} | ${us(median(p(id).ns))} | ${id === base ? '' : `${added.median < 0 ? '−' : '+'}${us(Math.abs(added.median))}`} | ${id === base ? '1.00×' : times(r, true)} | ${target ? verdict(r, 1.05) : ''} |`
  }
  const st = (id: string): Samples => stats.samples.get(id) as Samples
  const perSample = (id: string) => {
    const d = pairedDifference(st(id), st('empty'))
    return { median: d.median / SAMPLES_PER_CALL, p25: d.p25 / SAMPLES_PER_CALL, p75: d.p75 / SAMPLES_PER_CALL }
  }
  const series = perSample('series')
  const link = perSample('link')
  const statsShare = pairedRatio(p('mem'), p('memNostats'))
  const storeStatsShare = pairedRatio(p('store'), p('storeNostats'))

  const lines: string[] = [
    '### Flight recorder, stores and durable runs benchmark',
    '',
    `10 synchronous links on the runner suite's 10-key order ctx, 2 synchronous chain-level middleware, \`capture: 'timeline'\`.`,
    `${machineLine(loadAverage)}. Process CPU time unless said otherwise; medians of interleaved rounds; ratios and differences are medians of per-round values, (p25–p75) in brackets.`,
    '',
    `| (1) recorder on the run's path (${ROUNDS} rounds; a sample is ${UNIT} runs, then \`flush()\`, so it holds its own writes) | µs / run | added / run | × no recorder | target |`,
    '|---|--:|--:|--:|---|',
    pathRow('no recorder (baseline)', 'none', false),
    pathRow('`recorder()`: keeps `Run` objects in memory, statistics on', 'mem', true),
    pathRow('`recorder({ stats: false })`', 'memNostats', false),
    pathRow('`recorder({ keep: { last: 100, failed: 100 } })`', 'memKeep100', false),
    pathRow('no recorder (the baseline of the store group, measured with it)', 'noneStore', false),
    // The target is the default's (no store: DESIGN §10's in-memory recorder). A store, memoryStore()
    // too, is given documents: each run exported and made JSON text (a README decision).
    pathRow('`recorder({ store: memoryStore() })` (information): each run exported as a document, written in batches', 'store', false),
    pathRow('`recorder({ store: memoryStore(), stats: false })`', 'storeNostats', false),
    '',
    `Statistics' share: ${times(statsShare, true)} (\`recorder()\` ÷ \`stats: false\`), ${times(storeStatsShare, true)} with \`memoryStore()\`. A run records 31 samples (10 links, 20 middleware calls, the run).`,
    '',
    `| (2) one statistics sample (bigint ns, 1 µs–10 ms; less an empty loop) | ns / sample | × 31 a run | target |`,
    '|---|--:|--:|---|',
    `| \`Series.record\` (HDR \`recordValue\`, ${stats.wasm ? 'WebAssembly build' : 'plain JavaScript build: WebAssembly did not start'}) | ${fmt(series.median, 1)} (${fmt(series.p25, 1)}–${fmt(series.p75, 1)}) | ${us(series.median * 31)} µs | ${verdict(series, 1000, ' ns')} |`,
    `| \`Statistics.link\` (the series looked up by link name, then recorded) | ${fmt(link.median, 1)} (${fmt(link.p25, 1)}–${fmt(link.p75, 1)}) | ${us(link.median * 31)} µs | ${verdict(link, 1000, ' ns')} |`,
    '',
  ]

  // (3)
  const targets: Record<string, number> = { sqlite: 5_000, 'sqlite-thread': 5_000, postgres: 2_000 }
  lines.push(
    `| (3) sustained writes: ${fmt(RUNS, 0)} runs (10 links each), one after another, the event loop turned every ${YIELD_EVERY} runs, the driver sleeping 1 ms while more than ${BACKLOG} runs wait for the store (not in the unthrottled rows); from the first run to \`flush()\` done | keep | runs / s (wall) | CPU µs / run (this process, all its threads) | main thread's CPU µs / run (the event loop's share) | held in the store | lost | target |`,
    '|---|---|--:|--:|--:|--:|---|',
  )
  const label: Record<string, string> = {
    none: 'no recorder (the ceiling)',
    memory: '`memoryStore()`',
    sqlite: '`sqliteStore(file)`',
    'sqlite-thread': '`sqliteStore(file, { thread: true })` (writes on a thread of their own)',
    postgres: '`postgresStore(url)`',
  }
  for (const kind of ['none', 'memory', 'sqlite', 'sqlite-thread', 'postgres']) {
    for (const keep of ['-', 'all', 100, 'unthrottled'] as const) {
      const mine = passes.filter((x) => x.store === kind && x.keep === keep)
      if (mine.length === 0) continue
      const rates = mine.map((x) => RUNS / (x.wallNs / 1e9))
      const rate = median(rates)
      const cpu = median(mine.map((x) => x.cpuNs / RUNS))
      const mains = mine.flatMap((x) => (x.mainCpuNs === undefined ? [] : [x.mainCpuNs / RUNS]))
      const mainCpu = mains.length === 0 ? '–' : us(median(mains))
      const target = targets[kind]
      const lost = Math.max(...mine.map((x) => x.lost))
      lines.push(
        `| ${label[kind]} | ${keep === '-' ? '' : keep === 'all' ? 'all' : keep === 100 ? 'last 100 (deletes as it writes)' : 'all, **unthrottled** (information)'} | ${fmt(rate, 0)}${mine.length > 1 ? ` (${mine.map((_, i) => fmt(rates[i] as number, 0)).join(', ')})` : ''} | ${us(cpu)} | ${mainCpu} | ${kind === 'none' ? '' : mine.map((x) => fmt(x.held, 0)).join(', ')} | ${kind === 'none' ? '' : lost} | ${
          target === undefined || keep === 'unthrottled' ? '' : `≥ ${fmt(target, 0)}/s ${rate >= target && lost === 0 ? 'PASS' : 'FAIL'}`
        } |`,
      )
    }
  }
  if (pgUrl.why !== undefined) lines.push(`| PostgreSQL | | skipped: ${pgUrl.why} | | | | | |`)
  lines.push('', `Unthrottled rows: runs/s offered (RUNS ÷ time); "lost" are runs the recorder dropped past \`maxPending\` (10,000 waiting), reported through \`onWarning\` and \`health.dropped\`.`, '')

  // (4) + (5)
  const d = (id: string): Samples | undefined => dur.samples.get(id)
  const durRounds = (d('none') as Samples).ns.length
  lines.push(
    `| (4) durable runs (${durRounds} rounds, interleaved with (5); a sample is ${DURABLE_UNIT} runs, then \`flush()\`) | µs / run (wall) | µs / run (CPU) | added per step, wall | added per step, CPU |`,
    '|---|--:|--:|--:|--:|',
  )
  const perStep = (a: string, b: string, clock: 'ns' | 'wallNs'): string => {
    const diff = pairedDifference(d(a) as Samples, d(b) as Samples, clock)
    return `${us(diff.median / LINKS)} (${us(diff.p25 / LINKS)}–${us(diff.p75 / LINKS)})`
  }
  const durRow = (label: string, id: string, vs?: string): string =>
    d(id) === undefined ? '' : `| ${label} | ${us(median((d(id) as Samples).wallNs))} | ${us(median((d(id) as Samples).ns))} | ${vs === undefined ? '' : perStep(id, vs, 'wallNs')} | ${vs === undefined ? '' : perStep(id, vs, 'ns')} |`
  lines.push(
    durRow('no recorder', 'none'),
    durRow('recorder on SQLite, not durable', 'sqlite'),
    durRow('recorder on SQLite, `durable: true`', 'sqlite-durable', 'sqlite'),
    durRow('recorder on SQLite with the writer thread (`thread: true`), not durable', 'sqlite-thread'),
    durRow('recorder on SQLite with the writer thread, `durable: true` (each step a message to the thread and back)', 'sqlite-thread-durable', 'sqlite-thread'),
    durRow('recorder on PostgreSQL, not durable', 'postgres'),
    durRow('recorder on PostgreSQL, `durable: true`', 'postgres-durable', 'postgres'),
  )
  lines.push('', `A durable run waits for the store 11 times (\`begin\`, then one \`appendSteps\` a step); "added per step" = (durable − not durable, same chain, same recorder) ÷ 10. The not-durable rows write ${DURABLE_UNIT} runs a transaction (plus a retention query), so they cost more per run than in (3). Our SQLite store runs \`synchronous = ${dur.sqliteSynchronous}\` (WAL).`, '')

  if (typeof lg === 'string') {
    lines.push(`(5) LangGraph: skipped. ${lg}`, '')
  } else {
    const ratio = (a: string, b: string, clock: 'ns' | 'wallNs'): string => (d(a) === undefined || d(b) === undefined ? '' : times(pairedRatio(d(a) as Samples, d(b) as Samples, clock), true))
    const lgRow = (label: string, id: string, ours: string | undefined, base: string): string => {
      if (d(id) === undefined) return ''
      const s = d(id) as Samples
      return `| ${label} | ${us(median(s.wallNs) / LINKS)} | ${us(median(s.ns) / LINKS)} | ${id === base ? '' : perStep(id, base, 'wallNs')} | ${ours === undefined ? '' : ratio(id, ours, 'wallNs')} | ${ours === undefined ? '' : ratio(id, ours, 'ns')} |`
    }
    lines.push(
      `| (5) LangGraph ${lg.version}, the same 10 steps as a sequential \`StateGraph\` (10 nodes returning updates), \`durability: 'sync'\`, a new thread a run | µs / step (wall) | µs / step (CPU) | added per step over no checkpointer, wall | × shadowchain, wall | × shadowchain, CPU |`,
      '|---|--:|--:|--:|--:|--:|',
      lgRow('no checkpointer', 'lg-none', 'none', 'lg-none'),
      lgRow(`\`SqliteSaver\` (file; its connection: WAL, \`synchronous = ${lg.sqliteSynchronous}\`) × shadowchain durable on SQLite`, 'lg-sqlite', 'sqlite-durable', 'lg-none'),
      lgRow('`PostgresSaver` × shadowchain durable on PostgreSQL', 'lg-postgres', 'postgres-durable', 'lg-none'),
      '',
      'The first row is set against shadowchain with no recorder. × shadowchain > 1 means LangGraph takes longer per step.',
      '',
    )
  }
  return lines.filter((l, i, all) => !(l === '' && all[i - 1] === '') && l !== undefined).join('\n')
}

// ---- main ----------------------------------------------------------------------------------

const loadAverage = currentLoad()
let lg: LangGraph | string = 'not tried'
try {
  const path = await onThePath()
  const stats = await statsSample()
  const passes = await sustainedAll()
  lg = await langGraph()
  if (typeof lg === 'string') log(lg)
  const dur = await durable(typeof lg === 'string' ? undefined : lg)
  publish('recorder', report(path, stats, passes, dur, lg, loadAverage), started)
} finally {
  if (typeof lg !== 'string') await lg.close().catch(() => undefined)
  if (pgUrl.url !== undefined && schemas.length > 0) {
    await admin(async (client) => {
      for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
    }).catch((error: unknown) => log(`could not drop the bench schemas: ${String(error)}`))
  }
  rmSync(dir, { recursive: true, force: true })
}
void quantile
