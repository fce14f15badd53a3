// Benchmark of run files (issue "Run files"): export, import, saveRun / loadRun of ONE long run,
// and the file's size against a naive document of full snapshots.
//
//   cd bench && npm install && npm run bench:files
//
// Environment: BENCH_ROUNDS (default 12), BENCH_BATCH_MS (default 40), BENCH_OUT (default
// results/run-files.md; "-" writes nothing). See README.md for what each case means.
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyPatches, enableMapSet, enablePatches, type Patch } from 'immer'
import { chain, loadRun, Run, saveRun, type Chain, type Middleware, type TimelineEvent } from '../src/index.ts'
import { encodeValue } from '../src/files/codec.ts'
import { diffStates } from '../src/core/diff-states.ts'
import { measure, median, type Case, type Samples } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, ms, publish, us } from './lib/report.ts'
import { flatLinks, makeFlat, type Flat } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 12)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const LINKS = 1_000
const WIDTH = 1_000
/** The run file must be at most this share of the naive document of full snapshots. */
const SIZE_TARGET = 0.02

enablePatches()
enableMapSet()

/** One chain-level middleware with both hooks, so that mwctx and metrics change on every link. */
const meter: Middleware = {
  name: 'meter',
  before(e) {
    e.mwctx['links'] = ((e.mwctx['links'] as number | undefined) ?? 0) + 1
  },
  after(e) {
    e.metrics['ms'] = Number(e.durationNs) / 1e6
  },
}

function build(): Chain<Flat> {
  let c = chain<Flat>('flat')
  for (const [name, fn] of flatLinks(LINKS, WIDTH)) c = c.link(name, fn as never)
  return c.use(meter as never)
}

// ---- sanity checks ---------------------------------------------------------------------------

const encoded = (value: unknown): string => JSON.stringify(encodeValue(value))

/** The imported run has the same events, times and states as the original (checked once). */
function checkSame(original: Run<Flat>, copy: Run<Flat>, what: string): void {
  const a = original.timeline.events
  const b = copy.timeline.events
  if (a.length !== b.length) throw new Error(`${what}: ${b.length} events, expected ${a.length}`)
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as TimelineEvent<Flat>
    const y = b[i] as TimelineEvent<Flat>
    if (x.type !== y.type || x.t !== y.t || x.seq !== y.seq) throw new Error(`${what}: event ${i} differs (${x.type} ${x.t} / ${y.type} ${y.t})`)
    const prev = a[i - 1]
    // Compare a state only where it changed: encoding 4,002 copies of the 1,000-key ctx is slow.
    if (prev === undefined || prev.ctx !== x.ctx) {
      if (encoded(x.ctx) !== encoded(y.ctx)) throw new Error(`${what}: ctx of event ${i} differs`)
    }
    if (encoded(x.mwctx) !== encoded(y.mwctx) || encoded(x.metrics) !== encoded(y.metrics)) {
      throw new Error(`${what}: mwctx or metrics of event ${i} differ`)
    }
  }
  if (copy.id !== original.id || copy.status !== original.status) throw new Error(`${what}: run metadata differs`)
}

// ---- sizes -----------------------------------------------------------------------------------

interface Sizes {
  readonly file: number
  readonly json: number
  readonly naive: number
  readonly initial: number
}

/**
 * The naive document: the same header and event fields, but every event carries full JSON copies
 * of ctx, mwctx and metrics instead of patches (and no inverse patches). Counted event by event
 * (the whole document would be ~60 MB as one string), laid out like saveRun's file.
 */
function naiveBytes(run: Run<Flat>, doc: ReturnType<Run<Flat>['toJSON']>): number {
  const { events: docs, ...header } = doc
  let bytes = Buffer.byteLength(JSON.stringify({ ...header, initial: undefined })) + '"events":[\n'.length + '\n]}\n'.length
  docs.forEach((d, i) => {
    const e = run.timeline.events[i] as TimelineEvent<Flat>
    const { ctx: _c, mwctx: _m, metrics: _x, ...fields } = d as unknown as Record<string, unknown>
    delete fields['inversePatches']
    const full = { ...fields, ctx: encodeValue(e.ctx), mwctx: encodeValue(e.mwctx), metrics: e.metrics === undefined ? null : encodeValue(e.metrics) }
    bytes += Buffer.byteLength(JSON.stringify(full)) + (i === 0 ? 0 : 2)
  })
  return bytes
}

// ---- main ------------------------------------------------------------------------------------

const started = Date.now()
const loadAverage = currentLoad()
const flat = build()
void flat.links // compiled before the clock starts
const t0 = process.hrtime.bigint()
const run = await flat.run(makeFlat(WIDTH))
const recordNs = Number(process.hrtime.bigint() - t0)
const EVENTS = run.timeline.length
if (EVENTS !== 2 + 4 * LINKS) throw new Error(`the run recorded ${EVENTS} events, the bench expects ${2 + 4 * LINKS}`)
if (run.timeline.events.at(-1)?.mwctx['links'] !== LINKS) throw new Error('the middleware did not count every link')

const dir = mkdtempSync(join(tmpdir(), 'shadowchain-bench-'))
const file = join(dir, 'flat.run.json')
try {
  // One of each, checked, before anything is timed.
  const doc = run.toJSON()
  const text = JSON.stringify(doc)
  checkSame(run, Run.fromJSON<Flat>(JSON.parse(text)), 'Run.fromJSON')
  await saveRun(run, file)
  checkSame(run, await loadRun<Flat>(file), 'loadRun')
  const sizes: Sizes = {
    file: statSync(file).size,
    json: Buffer.byteLength(text),
    naive: naiveBytes(run, doc),
    initial: Buffer.byteLength(JSON.stringify(doc.initial)),
  }
  log(`checks passed (import and load rebuild the same ${EVENTS} events and states); ${ROUNDS} rounds`)

  // Wall-clock splits inside the export and import cases (where the time goes).
  const splits = { toJSON: [] as number[], stringify: [] as number[], parse: [] as number[], fromJSON: [] as number[] }
  const now = (): number => Number(process.hrtime.bigint())
  const cases: Case[] = [
    {
      id: 'export',
      run: async () => {
        const a = now()
        const d = run.toJSON()
        const b = now()
        const s = JSON.stringify(d)
        splits.toJSON.push(b - a)
        splits.stringify.push(now() - b)
        return s.length
      },
    },
    {
      id: 'import',
      run: async () => {
        const a = now()
        const parsed: unknown = JSON.parse(text)
        const b = now()
        const r = Run.fromJSON<Flat>(parsed)
        splits.parse.push(b - a)
        splits.fromJSON.push(now() - b)
        return r.timeline.length
      },
    },
    { id: 'save', run: () => saveRun(run, file) },
    { id: 'load', run: () => loadRun<Flat>(file) },
  ]
  const samples = await measure(cases, { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 2, progress: (t) => log(`run files: ${t}`) })

  // Per-link costs the export and import pay 1,000 times (once per link.end): a structural diff
  // of the 1,000-key ctx, and (import) immer's applyPatches of the link's one-key patch.
  const ends = run.timeline.events.filter((e) => e.type === 'link.end')
  const mid = ends[LINKS / 2] as TimelineEvent<Flat> & { patches: readonly Patch[] }
  const before = (run.timeline.events[mid.seq - 1] as TimelineEvent<Flat>).ctx
  const parts = await measure(
    [
      { id: 'diff', run: async () => diffStates(mid.ctx, before) },
      { id: 'apply', run: async () => applyPatches(before, mid.patches as Patch[]) },
    ],
    { rounds: ROUNDS * 2, batchMs: 20, warmupRounds: 2, progress: (t) => log(`per-link parts: ${t}`) },
  )
  for (const [id, s] of parts) samples.set(id, s)

  publish('run-files', report(samples, splits, sizes, recordNs, loadAverage), started)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// ---- report ----------------------------------------------------------------------------------

function report(
  samples: Map<string, Samples>,
  splits: Record<'toJSON' | 'stringify' | 'parse' | 'fromJSON', number[]>,
  sizes: Sizes,
  recordNs: number,
  loadAverage: string,
): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  const cpu = (id: string): number => median(s(id).ns)
  const wall = (id: string): number => median(s(id).wallNs)
  const rate = (ns: number): string => fmt(EVENTS / (ns / 1e9), 0)
  const mb = (bytes: number, ns: number): string => fmt(bytes / 2 ** 20 / (ns / 1e9), 1)
  const row = (label: string, id: string, note: string): string =>
    `| ${label} | ${ms(cpu(id))} | ${ms(wall(id))} | ${rate(cpu(id))} | ${mb(sizes.file, cpu(id))} | ${note} |`
  // Shares of the sum of the two splits' medians (the splits include the warm-up runs).
  const share = (part: number[], other: number[]): string =>
    `${ms(median(part))} ms (${fmt((100 * median(part)) / (median(part) + median(other)), 0)} %)`
  const perDoc = (id: string): number => cpu(id) * LINKS
  const ratio = sizes.file / sizes.naive
  const kib = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`
  return [
    '### Run files benchmark',
    '',
    `ONE run of ${fmt(LINKS, 0)} links over a flat ${fmt(WIDTH, 0)}-key ctx (each link changes one key), one chain-level middleware`,
    `(\`before\`: a counter in \`mwctx\`; \`after\`: \`metrics.ms\`): ${fmt(EVENTS, 0)} events. Recording it took ${ms(recordNs)} ms (once, wall).`,
    `${machineLine(loadAverage)}. Process CPU time, medians of ${ROUNDS} interleaved rounds (one operation a batch);`,
    `events / s and MiB / s from the CPU-time median (MiB of the saved file).`,
    '',
    '| operation | ms CPU | ms wall | events / s | MiB / s | where the time goes (wall-clock splits, medians) |',
    '|---|--:|--:|--:|--:|---|',
    row('export: `run.toJSON()` + `JSON.stringify`', 'export', `toJSON ${share(splits.toJSON, splits.stringify)}, stringify ${share(splits.stringify, splits.toJSON)}`),
    row('import: `JSON.parse` + `Run.fromJSON`', 'import', `parse ${share(splits.parse, splits.fromJSON)}, fromJSON ${share(splits.fromJSON, splits.parse)}`),
    row('`saveRun` to a temp file', 'save', 'streams the same encoder, one `JSON.stringify` an event'),
    row('`loadRun` from that file', 'load', 'readFile + parse + `Run.fromJSON`'),
    '',
    `Per link.end, paid ${fmt(LINKS, 0)} times a document: \`diffStates\` of the ${fmt(WIDTH, 0)}-key ctx (after → before) ${us(cpu('diff'))} µs`,
    `(≈ ${ms(perDoc('diff'))} ms a document: once in export, to decide whether inverse patches can be omitted, once in import, to derive them);`,
    `immer \`applyPatches\` of the link's one-key patch ${us(cpu('apply'))} µs (≈ ${ms(perDoc('apply'))} ms a document, import only: a new 1,000-slot state per link).`,
    '',
    '| size | bytes | per event | vs naive |',
    '|---|--:|--:|--:|',
    `| run file (\`saveRun\`) | ${fmt(sizes.file, 0)} (${kib(sizes.file)}) | ${fmt(sizes.file / EVENTS, 0)} B | ${fmt(100 * ratio, 2)} % |`,
    `| of which \`initial\` (the ${fmt(WIDTH, 0)}-key ctx once) | ${fmt(sizes.initial, 0)} | | ${fmt((100 * sizes.initial) / sizes.naive, 2)} % |`,
    `| \`JSON.stringify(run.toJSON())\` | ${fmt(sizes.json, 0)} | ${fmt(sizes.json / EVENTS, 0)} B | ${fmt((100 * sizes.json) / sizes.naive, 2)} % |`,
    `| naive document: full ctx, mwctx and metrics in every event | ${fmt(sizes.naive, 0)} (${fmt(sizes.naive / 2 ** 20, 1)} MiB) | ${fmt(sizes.naive / EVENTS, 0)} B | 100 % |`,
    '',
    `Size target: run file ≤ ${fmt(100 * SIZE_TARGET, 0)} % of the naive document: ${fmt(100 * ratio, 2)} % **${ratio <= SIZE_TARGET ? 'PASS' : 'FAIL'}**.`,
    '',
  ].join('\n')
}
