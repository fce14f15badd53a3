// Benchmark of run files (issue "Run files"): export, import, saveRun / loadRun of ONE long run
// over a 1,000-key ctx, the same at 10 keys and for a 25,000-link run at 10 keys (what a viewer
// loads), and the file's size against a naive document of full snapshots.
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
import { diffStates, diffStatesAlong } from '../src/core/diff-states.ts'
import { applyDocumentPatches } from '../src/files/patch-apply.ts'
import { measure, median, type Case, type Samples } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, ms, publish, us } from './lib/report.ts'
import { flatLinks, makeFlat, type Flat } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 12)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const LINKS = 1_000
const WIDTH = 1_000
/** The small ctx, and the long run over it. */
const SMALL = 10
const LONG = 25_000
/** The run file must be at most this share of the naive document of full snapshots. */
const SIZE_TARGET = 0.02
/** Issue #15: events / s of export and import, ONE run of 1,000 links over the 1,000-key ctx. */
const EXPORT_TARGET = 50_000
const IMPORT_TARGET = 25_000

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

function build(links: number, width: number): Chain<Flat> {
  let c = chain<Flat>('flat')
  // More links than keys: several links set one key, and link names must be unique.
  for (const [i, [name, fn]] of flatLinks(links, width).entries()) c = c.link(links > width ? `${name}.${i}` : name, fn as never)
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

/** Records one run of `links` links over a `width`-key ctx, checked; and how long recording took. */
async function record(links: number, width: number): Promise<{ run: Run<Flat>; ns: number }> {
  const flat = build(links, width)
  void flat.links // compiled before the clock starts
  const t0 = process.hrtime.bigint()
  const run = await flat.run(makeFlat(width))
  const ns = Number(process.hrtime.bigint() - t0)
  if (run.timeline.length !== 2 + 4 * links) throw new Error(`the run recorded ${run.timeline.length} events, the bench expects ${2 + 4 * links}`)
  if (run.timeline.events.at(-1)?.mwctx['links'] !== links) throw new Error('the middleware did not count every link')
  return { run, ns }
}

const started = Date.now()
const loadAverage = currentLoad()
const { run, ns: recordNs } = await record(LINKS, WIDTH)
const EVENTS = run.timeline.length
const { run: small } = await record(LINKS, SMALL)
const { run: long } = await record(LONG, SMALL)
const LONG_EVENTS = long.timeline.length

const dir = mkdtempSync(join(tmpdir(), 'shadowchain-bench-'))
const file = join(dir, 'flat.run.json')
try {
  // One of each, checked, before anything is timed.
  const doc = run.toJSON()
  const text = JSON.stringify(doc)
  checkSame(run, Run.fromJSON<Flat>(JSON.parse(text)), 'Run.fromJSON')
  await saveRun(run, file)
  checkSame(run, await loadRun<Flat>(file), 'loadRun')
  const smallText = JSON.stringify(small.toJSON())
  checkSame(small, Run.fromJSON<Flat>(JSON.parse(smallText)), 'Run.fromJSON (10 keys)')
  const longText = JSON.stringify(long.toJSON())
  checkSame(long, Run.fromJSON<Flat>(JSON.parse(longText)), 'Run.fromJSON (25,000 links)')
  const sizes: Sizes = {
    file: statSync(file).size,
    json: Buffer.byteLength(text),
    naive: naiveBytes(run, doc),
    initial: Buffer.byteLength(JSON.stringify(doc.initial)),
  }
  log(`checks passed (import and load rebuild the same ${EVENTS} events and states; 10 keys: ${small.timeline.length} and ${LONG_EVENTS} events); ${ROUNDS} rounds`)

  // Wall-clock splits inside the export and import cases (where the time goes).
  const splits: Splits = new Map()
  const now = (): number => Number(process.hrtime.bigint())
  const split = (id: string, part: string, ns: number): void => {
    const parts = splits.get(id) ?? new Map<string, number[]>()
    splits.set(id, parts)
    parts.set(part, [...(parts.get(part) ?? []), ns])
  }
  const exportCase = (id: string, source: Run<Flat>): Case => ({
    id,
    run: async () => {
      const a = now()
      const d = source.toJSON()
      const b = now()
      const s = JSON.stringify(d)
      split(id, 'toJSON', b - a)
      split(id, 'stringify', now() - b)
      return s.length
    },
  })
  const importCase = (id: string, source: string): Case => ({
    id,
    run: async () => {
      const a = now()
      const parsed: unknown = JSON.parse(source)
      const b = now()
      const r = Run.fromJSON<Flat>(parsed)
      split(id, 'parse', b - a)
      split(id, 'fromJSON', now() - b)
      return r.timeline.length
    },
  })
  const cases: Case[] = [
    exportCase('export', run),
    importCase('import', text),
    { id: 'save', run: () => saveRun(run, file) },
    { id: 'load', run: () => loadRun<Flat>(file) },
    exportCase('export-10', small),
    importCase('import-10', smallText),
  ]
  const samples = await measure(cases, { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 2, progress: (t) => log(`run files: ${t}`) })
  // The long run alone (half a second an operation): fewer rounds, one operation a batch.
  const longSamples = await measure([exportCase('export-long', long), importCase('import-long', longText)], {
    rounds: Math.max(3, Math.ceil(ROUNDS / 2)),
    batchMs: 1,
    warmupRounds: 1,
    progress: (t) => log(`25,000 links: ${t}`),
  })
  for (const [id, s] of longSamples) samples.set(id, s)

  // Per-link costs the export and import pay 1,000 times (once per link.end), on the 1,000-key
  // ctx: the diff back from after to before (whole, as before; along the link's patch, as now),
  // and applying the link's one-key patch (immer; the reader's copy-on-write, as now).
  const ends = run.timeline.events.filter((e) => e.type === 'link.end')
  const mid = ends[LINKS / 2] as TimelineEvent<Flat> & { patches: readonly Patch[] }
  const before = (run.timeline.events[mid.seq - 1] as TimelineEvent<Flat>).ctx
  const imported = Run.fromJSON<Flat>(JSON.parse(text)).timeline.events
  const importedBefore = (imported[mid.seq - 1] as TimelineEvent<Flat>).ctx
  const parts = await measure(
    [
      { id: 'diff', run: async () => diffStates(mid.ctx, before) },
      { id: 'diff-along', run: async () => diffStatesAlong(mid.ctx, before, mid.patches) },
      { id: 'apply', run: async () => applyPatches(before, mid.patches as Patch[]) },
      { id: 'apply-doc', run: async () => applyDocumentPatches(importedBefore, mid.patches) },
    ],
    { rounds: ROUNDS * 2, batchMs: 20, warmupRounds: 2, progress: (t) => log(`per-link parts: ${t}`) },
  )
  for (const [id, s] of parts) samples.set(id, s)

  publish('run-files', report(samples, splits, sizes, recordNs, loadAverage, Buffer.byteLength(longText)), started)
} finally {
  rmSync(dir, { recursive: true, force: true })
}

// ---- report ----------------------------------------------------------------------------------

type Splits = Map<string, Map<string, number[]>>

function report(samples: Map<string, Samples>, splits: Splits, sizes: Sizes, recordNs: number, loadAverage: string, longBytes: number): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  const cpu = (id: string): number => median(s(id).ns)
  const wall = (id: string): number => median(s(id).wallNs)
  const perSecond = (events: number, ns: number): number => events / (ns / 1e9)
  const rate = (ns: number, events = EVENTS): string => fmt(perSecond(events, ns), 0)
  const mb = (bytes: number, ns: number): string => fmt(bytes / 2 ** 20 / (ns / 1e9), 1)
  // Shares of the sum of the two splits' medians (the splits include the warm-up runs).
  const where = (id: string): string => {
    const parts = [...(splits.get(id) ?? new Map<string, number[]>())].map(([name, values]) => [name, median(values)] as const)
    const total = parts.reduce((sum, [, value]) => sum + value, 0)
    return parts.map(([name, value]) => `${name} ${ms(value)} ms (${fmt((100 * value) / total, 0)} %)`).join(', ')
  }
  const row = (label: string, id: string, note: string, events = EVENTS, bytes = sizes.file): string =>
    `| ${label} | ${ms(cpu(id))} | ${ms(wall(id))} | ${rate(cpu(id), events)} | ${mb(bytes, cpu(id))} | ${note} |`
  const perDoc = (id: string): number => cpu(id) * LINKS
  const ratio = sizes.file / sizes.naive
  const kib = (bytes: number): string => `${fmt(bytes / 1024, 1)} KiB`
  const target = (id: string, floor: number): string => `${rate(cpu(id))} events / s, target ≥ ${fmt(floor, 0)}: **${perSecond(EVENTS, cpu(id)) >= floor ? 'PASS' : 'FAIL'}**`
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
    row('export: `run.toJSON()` + `JSON.stringify`', 'export', where('export')),
    row('import: `JSON.parse` + `Run.fromJSON`', 'import', where('import')),
    row('`saveRun` to a temp file', 'save', 'streams the same encoder, one `JSON.stringify` an event'),
    row('`loadRun` from that file', 'load', 'readFile + parse + `Run.fromJSON`'),
    '',
    `Targets (issue #15): export ${target('export', EXPORT_TARGET)}; import ${target('import', IMPORT_TARGET)}.`,
    '',
    `Per link.end, paid ${fmt(LINKS, 0)} times a document, on the ${fmt(WIDTH, 0)}-key ctx: the diff from after back to before, once in export`,
    `(to decide whether inverse patches can be omitted) and once in import (to derive them): \`diffStates\` of the whole state ${us(cpu('diff'))} µs`,
    `(≈ ${ms(perDoc('diff'))} ms a document), \`diffStatesAlong\` the link's patch (what export and import use) ${us(cpu('diff-along'))} µs (≈ ${ms(perDoc('diff-along'))} ms).`,
    `Applying the link's one-key patch (import only: a new 1,000-slot state per link): immer \`applyPatches\` ${us(cpu('apply'))} µs,`,
    `\`applyDocumentPatches\` (what import uses) ${us(cpu('apply-doc'))} µs (≈ ${ms(perDoc('apply-doc'))} ms a document).`,
    '',
    `The same at ${SMALL} keys: ${fmt(LINKS, 0)} links (${fmt(EVENTS, 0)} events), interleaved with the cases above; and ONE run of ${fmt(LONG, 0)} links`,
    `(${fmt(LONG * 4 + 2, 0)} events, ${fmt(longBytes / 2 ** 20, 1)} MiB of JSON: what a viewer loads), measured after them, ${Math.max(3, Math.ceil(ROUNDS / 2))} rounds.`,
    '',
    '| operation | ms CPU | ms wall | events / s | MiB / s | where the time goes |',
    '|---|--:|--:|--:|--:|---|',
    row(`export, ${SMALL} keys, ${fmt(LINKS, 0)} links`, 'export-10', where('export-10')),
    row(`import, ${SMALL} keys, ${fmt(LINKS, 0)} links`, 'import-10', where('import-10')),
    row(`export, ${SMALL} keys, ${fmt(LONG, 0)} links`, 'export-long', where('export-long'), LONG * 4 + 2, longBytes),
    row(`import, ${SMALL} keys, ${fmt(LONG, 0)} links`, 'import-long', where('import-long'), LONG * 4 + 2, longBytes),
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
