// Load over loopback (issue #14): requests at a fixed concurrency through `shadowchain/http`'s
// handler served by `nodeListener`, every run recorded by a flight recorder into SQLite, against
// the same chain called by a bare `node:http` handler (read the body, JSON.parse, chain.run
// without a recorder, JSON response). Both servers live in this process and are loaded in
// alternating batches, so both see the same machine. Counts failed requests and lost runs (every
// run id a response named must be in the store after `rec.flush()`).
//
//   cd bench && node --import ./register.mjs http.bench.ts
//
// Environment: BENCH_RECORDER_BATCH (the recorder's batch size, default 64: the recorder's own), BENCH_REQUESTS (per server, default 10,000), BENCH_CONCURRENCY (default 100),
// BENCH_BATCH (requests per batch, default 1,000), BENCH_OUT (default results/http.md; "-"
// writes nothing).
import { createServer, request, Agent, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { monitorEventLoopDelay } from 'node:perf_hooks'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { enableMapSet, enablePatches, setAutoFreeze } from 'immer'
import { chain, recorder, type Chain, type ChainOptions } from '../src/index.ts'
import { handler, nodeListener, RUN_ID_HEADER } from '../src/http/index.ts'
import { sqliteStore } from '../src/store/sqlite/index.ts'
import { fmt, log, machineLine, publish } from './lib/report.ts'
import { counter, makeOrder, orderLinks, timing, type Order } from './lib/workload.ts'

const REQUESTS = Number(process.env['BENCH_REQUESTS'] ?? 10_000)
const CONCURRENCY = Number(process.env['BENCH_CONCURRENCY'] ?? 100)
const BATCH = Number(process.env['BENCH_BATCH'] ?? 1_000)
const WARMUP = 1_000
/** The recorder's batch size (its default: 64). */
const RECORDER_BATCH = Number(process.env['BENCH_RECORDER_BATCH'] ?? 64)

enablePatches()
enableMapSet()
setAutoFreeze(true)

const started = Date.now()
const dir = mkdtempSync(join(tmpdir(), 'shadowchain-bench-http-'))
const dbPath = join(dir, 'runs.db')
const threadDbPath = join(dir, 'runs-thread.db')
const body = JSON.stringify(makeOrder())

function build(options: ChainOptions<Order> = {}): Chain<Order> {
  let c = chain<Order>('order', options)
  for (const [name, fn] of orderLinks) c = c.link(name, fn as never)
  return c.use(counter as never, timing as never)
}

// ---- the two servers ------------------------------------------------------------------------
const warnings: string[] = []
const rec = recorder({ store: sqliteStore(dbPath), keep: { last: 2 * (REQUESTS + WARMUP), failed: 1_000 }, batch: { size: RECORDER_BATCH }, flushOnExit: false, onWarning: (w) => void warnings.push(w.message) })
const recorded = createServer(nodeListener(handler(build(), { runOptions: { recorder: rec } })))
// The same recorder, its SQLite store writing on a thread of its own.
const threadRec = recorder({ store: sqliteStore(threadDbPath, { thread: true }), keep: { last: 2 * (REQUESTS + WARMUP), failed: 1_000 }, batch: { size: RECORDER_BATCH }, flushOnExit: false, onWarning: (w) => void warnings.push(w.message) })
const threaded = createServer(nodeListener(handler(build(), { runOptions: { recorder: threadRec } })))
// The same handler without a recorder: what the handler and nodeListener cost, apart from recording.
const unrecorded = createServer(nodeListener(handler(build())))

const plain = build()
const bare = createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => {
    let input: Order
    try {
      input = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Order
    } catch {
      res.writeHead(400).end()
      return
    }
    plain.run(input).then(
      (run) => {
        const text = JSON.stringify(run.ctx)
        res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) }).end(text)
      },
      () => res.writeHead(500).end(),
    )
  })
})

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return (server.address() as AddressInfo).port
}
const ports = { recorded: await listen(recorded), threaded: await listen(threaded), unrecorded: await listen(unrecorded), bare: await listen(bare) }
const agent = () => new Agent({ keepAlive: true, maxSockets: CONCURRENCY })
const agents = { recorded: agent(), threaded: agent(), unrecorded: agent(), bare: agent() }
type Which = keyof typeof ports

// ---- the client -------------------------------------------------------------------------------
interface Tally {
  latencies: number[] // ns
  failed: number
  ids: string[]
}
const tally = (): Tally => ({ latencies: [], failed: 0, ids: [] })
const tallies: Record<Which, Tally> = { recorded: tally(), threaded: tally(), unrecorded: tally(), bare: tally() }

function once(which: Which, tally: Tally | undefined): Promise<void> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint()
    const req = request(
      { host: '127.0.0.1', port: ports[which], method: 'POST', path: '/order', agent: agents[which], headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } },
      (res: IncomingMessage) => {
        res.on('data', () => {})
        res.on('end', () => {
          if (tally !== undefined) {
            tally.latencies.push(Number(process.hrtime.bigint() - t0))
            if (res.statusCode !== 200) tally.failed++
            const id = res.headers[RUN_ID_HEADER]
            if (typeof id === 'string') tally.ids.push(id)
          }
          resolve()
        })
      },
    )
    req.on('error', () => {
      if (tally !== undefined) tally.failed++
      resolve()
    })
    req.end(body)
  })
}

/** `n` requests to one server, `CONCURRENCY` in flight at a time. */
async function batch(which: Which, n: number, tally: Tally | undefined): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < n) {
      next++
      await once(which, tally)
    }
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker))
}

log(`http: ${REQUESTS} requests per server at concurrency ${CONCURRENCY}, batches of ${BATCH}, alternating`)
const ORDER: Which[] = ['recorded', 'threaded', 'unrecorded', 'bare']
const recorders: Partial<Record<Which, typeof rec>> = { recorded: rec, threaded: threadRec }
for (const which of ORDER) await batch(which, WARMUP, undefined)
await rec.flush()
await threadRec.flush()
const wall: Record<Which, number> = { recorded: 0, threaded: 0, unrecorded: 0, bare: 0 }
/** The longest the event loop was blocked during each server's batches (ms). */
const stall: Record<Which, number> = { recorded: 0, threaded: 0, unrecorded: 0, bare: 0 }
for (let done = 0, round = 0; done < REQUESTS; done += BATCH, round++) {
  const n = Math.min(BATCH, REQUESTS - done)
  // Alternate which goes first, so neither always follows the other's garbage.
  for (const which of round % 2 === 0 ? ORDER : [...ORDER].reverse()) {
    const loop = monitorEventLoopDelay({ resolution: 1 })
    loop.enable()
    const t0 = process.hrtime.bigint()
    await batch(which, n, tallies[which])
    loop.disable()
    stall[which] = Math.max(stall[which], loop.max / 1e6)
    // The recorder's last batch written now, counted in its own time, not in the next server's.
    await recorders[which]?.flush()
    wall[which] += Number(process.hrtime.bigint() - t0)
  }
}
const flushT0 = process.hrtime.bigint()
await rec.flush()
await threadRec.flush()
const flushMs = Number(process.hrtime.bigint() - flushT0) / 1e6
const health = rec.health
const threadHealth = threadRec.health
await rec.close()
await threadRec.close()
for (const agent of Object.values(agents)) agent.destroy()
await Promise.all([recorded, threaded, unrecorded, bare].map((server) => new Promise<void>((resolve) => server.close(() => resolve()))))

// ---- lost runs: every id a response named, looked for in the store --------------------------
function storedIds(path: string): Set<string> {
  const db = new Database(path, { readonly: true })
  try {
    return new Set((db.prepare('SELECT id FROM shadowchain_runs').all() as { id: string }[]).map((row) => row.id))
  } finally {
    db.close()
  }
}
const stored = storedIds(dbPath)
const threadStored = storedIds(threadDbPath)
const inStore = stored.size + threadStored.size
rmSync(dir, { recursive: true, force: true })
const named = [...tallies.recorded.ids, ...tallies.threaded.ids]
const lost = tallies.recorded.ids.filter((id) => !stored.has(id)).length + tallies.threaded.ids.filter((id) => !threadStored.has(id)).length
const unnamed = 2 * REQUESTS - named.length

// ---- the table --------------------------------------------------------------------------------
const pct = (values: number[], q: number): number => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
}
const msOf = (ns: number) => fmt(ns / 1e6, 2)
const row = (label: string, t: Tally, which: Which) =>
  `| ${label} | ${t.latencies.length.toLocaleString('en-US')} | ${t.failed} | ${msOf(pct(t.latencies, 0.5))} | ${msOf(pct(t.latencies, 0.99))} | ${msOf(Math.max(...t.latencies))} | ${fmt(t.latencies.length / (wall[which] / 1e9), 0)} |`
const ratio = (which: Which, q: number) => fmt(pct(tallies[which].latencies, q) / pct(tallies.bare.latencies, q), 2)
const perRequest = (a: Which, b: Which) => fmt((wall[a] / tallies[a].latencies.length - wall[b] / tallies[b].latencies.length) / 1e3, 0)
const failed = ORDER.reduce((sum, which) => sum + tallies[which].failed, 0)
const table = [
  '# HTTP: shadowchain/http under load (issue #14)',
  '',
  machineLine(),
  '',
  `${REQUESTS.toLocaleString('en-US')} POST requests to each of four servers over loopback (keep-alive, ${CONCURRENCY} in flight), in alternating batches of ${BATCH.toLocaleString('en-US')} (the recorder flushed at the end of each of its batches, in its time) after ${WARMUP.toLocaleString('en-US')} warm-up requests each, one process. The chain: the runner suite's 10 synchronous links on a 10-key order with 2 chain middleware, \`capture: 'timeline'\`. Latency: from the client's request to the end of its response (the client runs in the same process, so queueing at concurrency ${CONCURRENCY} is in it).`,
  '',
  '| server | requests | failed | p50 ms | p99 ms | max ms | requests/s (in its batches) |',
  '|---|--:|--:|--:|--:|--:|--:|',
  row(`\`nodeListener(handler(chain))\`, flight recorder on SQLite (batches of ${RECORDER_BATCH})`, tallies.recorded, 'recorded'),
  row(`the same, the SQLite store on a writer thread (\`sqliteStore(file, { thread: true })\`)`, tallies.threaded, 'threaded'),
  row('`nodeListener(handler(chain))`, no recorder', tallies.unrecorded, 'unrecorded'),
  row('bare `node:http`: JSON.parse, `chain.run` (no recorder), JSON response', tallies.bare, 'bare'),
  '',
  `Recorded handler vs bare: **p50 ${ratio('recorded', 0.5)}×, p99 ${ratio('recorded', 0.99)}×**; with the writer thread: **p50 ${ratio('threaded', 0.5)}×, p99 ${ratio('threaded', 0.99)}×**; the handler without a recorder vs bare: p50 ${ratio('unrecorded', 0.5)}×, p99 ${ratio('unrecorded', 0.99)}×.`,
  '',
  `Per request, from the throughputs (one process, the client included): the handler and \`nodeListener\` add ${perRequest('unrecorded', 'bare')} µs to the bare handler (a fetch \`Request\` and \`Response\` per request, the body read through a web stream, trace context extracted: undici's \`Request\` constructor alone is ~16 µs on this machine); the flight recorder adds ${perRequest('recorded', 'unrecorded')} µs (${perRequest('threaded', 'unrecorded')} µs with the writer thread, whose SQLite work runs on the other core) (writing the run's document to SQLite on the event loop, in batches: the figure of \`bench/results/recorder.md\`'s sustained SQLite writes). At concurrency ${CONCURRENCY} latency is mostly queueing: p50 ratios follow the throughput ratios; p99 moves with garbage-collection pauses and the shared machine's load (±2× between runs).`,
  '',
  `The longest the event loop was blocked during each server's batches: ${ORDER.map((which) => `${which} ${fmt(stall[which], 0)} ms`).join(', ')}. The recorder writes a batch of up to ${RECORDER_BATCH} runs to SQLite synchronously (better-sqlite3), yielding to the event loop between batches: every request in flight waits for one batch (a smaller \`batch.size\` gives shorter stalls; BENCH_RECORDER_BATCH). With \`thread: true\` the event loop only encodes each run (its document and JSON text) and posts each batch to the writer thread. The stalls of the two servers that do not record show what the host itself adds (scheduling on a loaded 2-core machine, garbage collection): p99 and max are the host's as much as the code's.`,
  '',
  `Runs: ${named.length.toLocaleString('en-US')} responses named a run (${unnamed} did not); **lost runs: ${lost}** (ids named by a response and not in the SQLite store after \`rec.flush()\`, ${fmt(flushMs, 0)} ms); ${inStore.toLocaleString('en-US')} runs in the store (warm-up included, keep.last ${(2 * (REQUESTS + WARMUP)).toLocaleString('en-US')}); recorder health: seen ${health.seen.toLocaleString('en-US')}, written ${health.written.toLocaleString('en-US')}, dropped ${health.dropped}, store failures ${health.storeFailures} (writer thread: seen ${threadHealth.seen.toLocaleString('en-US')}, written ${threadHealth.written.toLocaleString('en-US')}, dropped ${threadHealth.dropped}, store failures ${threadHealth.storeFailures}).${warnings.length > 0 ? ` Warnings: ${warnings.join('; ')}.` : ''}`,
  '',
  `Verdict: failed requests ${failed === 0 ? '0 ✓' : `${failed} ✗`}, lost runs ${lost === 0 && unnamed === 0 ? '0 ✓' : `${lost + unnamed} ✗`}.`,
  '',
].join('\n')
publish('http', table, started)
if (failed > 0 || lost > 0 || unnamed > 0) process.exitCode = 1
