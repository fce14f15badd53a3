// Benchmark of start-up: what `import 'shadowchain'` costs a process (a CLI call, a serverless
// cold start, a test worker), against bare Node, the libraries it builds on and LangGraph.
//
//   npm run build   (at the repository root: the built package is what users import)
//   cd bench && npm install && npm run bench:startup
//
// Each case is a fresh `node` process; rounds run every case once, in a rotated order, and each
// process reports its own CPU time (user + system, from its start) and its wall time is taken
// around it. Environment: BENCH_ROUNDS (default 30), BENCH_BEFORE (the dist/index.js of another
// build, measured as one more case: the figure before a change), BENCH_OUT (default
// results/startup.md; "-" writes nothing).
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { median, quantile, type Ratio } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, publish } from './lib/report.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 30)
const DIST = fileURLToPath(new URL('../dist/index.js', import.meta.url))
const BEFORE = process.env['BENCH_BEFORE']
const BENCH = fileURLToPath(new URL('./', import.meta.url))

if (!existsSync(DIST)) throw new Error(`${DIST} is missing: run \`npm run build\` at the repository root first`)

interface StartCase {
  readonly id: string
  readonly label: string
  /** The module body a fresh process runs (ESM); it ends by printing its CPU time. */
  readonly body: string
}

const url = (path: string): string => JSON.stringify(new URL(`file://${path}`).href)
const RUN_ONE = `const c = m.chain('start').link('a', (ctx) => { ctx.n = 1 }); await c.run({ n: 0 })`

const cases: StartCase[] = [
  { id: 'node', label: 'bare `node` (an empty module)', body: '' },
  { id: 'shadowchain', label: "`import 'shadowchain'` (the built package)", body: `const m = await import(${url(DIST)})` },
  { id: 'shadowchain-run', label: '… and one run of a 1-link chain (recorded)', body: `const m = await import(${url(DIST)}); ${RUN_ONE}` },
  {
    id: 'shadowchain-stats',
    label: '… and one run through `recorder()` (statistics: loads hdr-histogram-js)',
    body: `const m = await import(${url(DIST)}); const rec = m.recorder(); const c = m.chain('start', { recorder: rec }).link('a', (ctx) => { ctx.n = 1 }); await c.run({ n: 0 }); rec.stats(); await rec.close()`,
  },
  { id: 'immer', label: "`import 'immer'`", body: `await import('immer')` },
  { id: 'zod', label: "`import 'zod'`", body: `await import('zod')` },
  { id: 'hdr', label: "`import 'hdr-histogram-js'`", body: `await import('hdr-histogram-js')` },
  { id: 'otel', label: "`import '@opentelemetry/api'`", body: `await import('@opentelemetry/api')` },
  { id: 'langgraph', label: "`import '@langchain/langgraph'` (StateGraph) and `MemorySaver`", body: `await import('@langchain/langgraph'); await import('@langchain/langgraph-checkpoint')` },
]
if (BEFORE !== undefined) cases.push({ id: 'before', label: `\`import 'shadowchain'\`, the build in BENCH_BEFORE`, body: `const m = await import(${url(BEFORE)})` })

/** Runs one case in a fresh process: its CPU ms (its own reading) and wall ms. */
function once(c: StartCase): { cpu: number; wall: number } {
  const script = `${c.body}\nconst u = process.cpuUsage(); process.stdout.write(String((u.user + u.system) / 1000))`
  const t0 = process.hrtime.bigint()
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: BENCH, encoding: 'utf8' })
  const wall = Number(process.hrtime.bigint() - t0) / 1e6
  return { cpu: Number(out), wall }
}

const started = Date.now()
const load = currentLoad()
const samples = new Map(cases.map((c) => [c.id, { cpu: [] as number[], wall: [] as number[] }]))
for (const c of cases) once(c) // warm the file cache
for (let round = 0; round < ROUNDS; round++) {
  for (let k = 0; k < cases.length; k++) {
    const c = cases[(round + k) % cases.length] as StartCase
    const { cpu, wall } = once(c)
    const s = samples.get(c.id) as { cpu: number[]; wall: number[] }
    s.cpu.push(cpu)
    s.wall.push(wall)
  }
  if (round % 10 === 9) log(`round ${round + 1}/${ROUNDS}`)
}

const get = (id: string): { cpu: number[]; wall: number[] } => samples.get(id) as { cpu: number[]; wall: number[] }
/** Per round: the case's figure less bare node's, summarised. */
const over = (id: string, clock: 'cpu' | 'wall'): Ratio => {
  const d = get(id)[clock].map((v, r) => v - (get('node')[clock][r] as number))
  return { median: median(d), p25: quantile(d, 0.25), p75: quantile(d, 0.75) }
}
const spread = (r: Ratio): string => `${fmt(r.median, 0)} (${fmt(r.p25, 0)}–${fmt(r.p75, 0)})`
const row = (c: StartCase): string =>
  `| ${c.label} | ${fmt(median(get(c.id).wall), 0)} | ${fmt(median(get(c.id).cpu), 0)} | ${c.id === 'node' ? '' : spread(over(c.id, 'wall'))} | ${c.id === 'node' ? '' : spread(over(c.id, 'cpu'))} |`

publish(
  'startup',
  [
    '### Start-up benchmark',
    '',
    `Each case is a fresh \`node --input-type=module -e …\` process, run from bench/ (so bare imports resolve as a program's would). ${machineLine(load)}.`,
    `Medians of ${ROUNDS} rounds, every case once a round in a rotated order; "over bare node" is the median of per-round differences, (p25–p75) in brackets.`,
    'CPU is the process\'s own reading at its end (user + system, all threads, from its start); wall is taken around the process.',
    '',
    '| process | wall ms | CPU ms | wall ms over bare node | CPU ms over bare node |',
    '|---|--:|--:|--:|--:|',
    ...cases.map(row),
    '',
  ].join('\n'),
  started,
)
