// Benchmark of LangGraph against shadowchain on the runner suite's workload, per step: the same
// 10 steps on the same 10-key order, as a sequential LangGraph `StateGraph` with a `MemorySaver`
// checkpointer, as a shadowchain chain with `capture: 'timeline'` (and the runner suite's 2
// middleware), and as the hand-written immer loop, interleaved in one process.
//
//   cd bench && npm install && npm run bench:langgraph
//
// Environment: BENCH_ROUNDS (default 50), BENCH_BATCH_MS (default 200), BENCH_WARM_MS (default
// 1000), BENCH_OUT (default results/langgraph.md; "-" writes nothing). See README.md for what each case means.
import { isDeepStrictEqual } from 'node:util'
import { MemorySaver } from '@langchain/langgraph'
import { enableMapSet, enablePatches, setAutoFreeze } from 'immer'
import { chain, type Chain, type ChainOptions } from '../src/index.ts'
import { measure, median, pairedRatio, type Case, type Ratio, type Samples } from './lib/harness.ts'
import { langGraphVersion, orderGraph, orderNodes } from './lib/langgraph.ts'
import { atLeast, currentLoad, fmt, log, machineLine, publish, times, us } from './lib/report.ts'
import { counter, immerLoop, makeOrder, orderLinks, timing, type Order } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 50)
// 200 ms, not the other suites' 40: a LangGraph run takes ~5 ms, and a batch of 8 runs made
// per-round ratios swing by ±30 %; at 200 ms a LangGraph batch is ~40 runs.
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 200)
const STEPS = orderLinks.length
/** LangGraph with MemorySaver, per step: at least this multiple of shadowchain's `'timeline'`. */
const TARGET = 130
/** Each case runs this long (wall) before the interleaved warm-up rounds. */
const WARM_MS = Number(process.env['BENCH_WARM_MS'] ?? 1_000)

enablePatches()
enableMapSet()
setAutoFreeze(true) // as in the runner suite (the immer loop)

// ---- the cases -----------------------------------------------------------------------------

/** The runner suite's chain: the 10 links, then `counter` before and `timing` after each. */
function order(options: ChainOptions<Order>): Chain<Order> {
  let c = chain<Order>('order', options)
  for (const [name, fn] of orderLinks) c = c.link(name, fn as never)
  return c.use(counter as never, timing as never)
}

const input = makeOrder()
const immer = immerLoop(orderLinks.map(([, fn]) => fn))
const off = order({ capture: 'off' })
const timeline = order({})
/** The same 10 links and nothing around them: as the graph, which has no middleware. */
const bare = (() => {
  let c = chain<Order>('order')
  for (const [name, fn] of orderLinks) c = c.link(name, fn as never)
  return c
})()
const saver = new MemorySaver()
const plainGraph = orderGraph()
const savedGraph = orderGraph(saver)

let thread = 0
/**
 * One LangGraph run with the MemorySaver, on a thread of its own, which is deleted when the run
 * is over (a run of shadowchain drops its timeline with its `Run`: the saver would otherwise hold
 * every run's checkpoints, and the heap would grow through the whole bench).
 */
function saved(durability: 'async' | 'sync' | undefined): () => Promise<Order> {
  return async () => {
    const threadId = `t-${thread++}`
    const config = durability === undefined ? { configurable: { thread_id: threadId } } : { configurable: { thread_id: threadId }, durability }
    const out = await savedGraph.invoke(input, config)
    await saver.deleteThread(threadId)
    return out
  }
}

const cases: Case[] = [
  { id: 'immer', run: () => immer(input) },
  { id: 'off', run: () => off.run(input) },
  { id: 'timeline', run: () => timeline.run(input) },
  { id: 'bare', run: () => bare.run(input) },
  { id: 'lg-none', run: () => plainGraph.invoke(input) },
  { id: 'lg-memory', run: saved(undefined) },
  { id: 'lg-memory-sync', run: saved('sync') },
]

// ---- checks: every case computes the same final state; LangGraph checkpoints every step ------

/** Key order aside (JSON keeps it): the same plain data. */
const sameData = (a: unknown, b: unknown): boolean => isDeepStrictEqual(JSON.parse(JSON.stringify(a)), JSON.parse(JSON.stringify(b)))

async function check(): Promise<number> {
  // One immer instance: shadowchain's finishDraft obeys our setAutoFreeze (see resolve-from-bench.mjs).
  setAutoFreeze(false)
  const probe = await chain<{ a: number }>('probe').link('inc', (ctx) => { ctx.a++ }).run({ a: 1 })
  setAutoFreeze(true)
  if (Object.isFrozen(probe.ctx)) throw new Error('shadowchain and the bench load different copies of immer')
  if (orderNodes.map(([name]) => name).join() !== orderLinks.map(([name]) => name).join()) throw new Error('the nodes are not the links, in order')

  const expected = await immer(makeOrder())
  const timelineRun = await timeline.run(makeOrder())
  const events = timelineRun.timeline.events
  if (events.length !== 2 + 4 * STEPS) throw new Error(`'timeline' recorded ${events.length} events, expected ${2 + 4 * STEPS}`)
  if (events.at(-1)?.mwctx['links'] !== STEPS) throw new Error(`'timeline': the counter middleware did not count ${STEPS} links`)
  const bareRun = await bare.run(makeOrder())
  if (bareRun.timeline.length !== 2 + 2 * STEPS) throw new Error(`'timeline' without middleware recorded ${bareRun.timeline.length} events, expected ${2 + 2 * STEPS}`)
  const got: Record<string, unknown> = { off: (await off.run(makeOrder())).ctx, timeline: timelineRun.ctx, bare: bareRun.ctx, 'lg-none': await plainGraph.invoke(makeOrder()) }

  // One MemorySaver run, its thread kept until its checkpoints are counted.
  const threadId = 'check'
  got['lg-memory'] = await savedGraph.invoke(makeOrder(), { configurable: { thread_id: threadId } })
  let checkpoints = 0
  for await (const tuple of saver.list({ configurable: { thread_id: threadId } })) if (tuple.checkpoint !== undefined) checkpoints++
  if (checkpoints < STEPS) throw new Error(`MemorySaver: ${checkpoints} checkpoints for a run of ${STEPS} nodes`)
  const state = await savedGraph.getState({ configurable: { thread_id: threadId } })
  if (!sameData(state.values, expected)) throw new Error(`MemorySaver: the last checkpoint's state is not the final state: ${JSON.stringify(state.values)}`)
  await saver.deleteThread(threadId)
  got['lg-memory-sync'] = await saved('sync')()

  for (const [name, out] of Object.entries(got)) {
    if (!sameData(out, expected)) throw new Error(`case ${name} computes a different final state:\n${JSON.stringify(out)}\n!==\n${JSON.stringify(expected)}`)
  }
  return checkpoints
}

/** After the rounds: every thread the runs made was deleted (the saver holds nothing). */
function saverEmpty(): void {
  const held = Object.keys(saver.storage).length + Object.keys(saver.writes).length
  if (held !== 0) throw new Error(`MemorySaver still holds ${held} threads / write sets: a run's thread was not deleted`)
}

// ---- report --------------------------------------------------------------------------------

const LABELS: Record<string, string> = {
  immer: 'hand-written immer loop (the runner suite\'s baseline)',
  off: "shadowchain `capture: 'off'`",
  timeline: "shadowchain `capture: 'timeline'` (default)",
  bare: "shadowchain `'timeline'`, the 10 links without the 2 middleware (as the graph, which has none; information)",
  'lg-none': 'LangGraph, no checkpointer',
  'lg-memory': 'LangGraph + `MemorySaver` (default `durability`: `\'async\'`)',
  'lg-memory-sync': "LangGraph + `MemorySaver`, `durability: 'sync'`",
}

function report(samples: Map<string, Samples>, checkpoints: number, version: string, loadAverage: string): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  const ratio = (a: string, b: string, clock: 'ns' | 'wallNs' = 'ns'): Ratio => pairedRatio(s(a), s(b), clock)
  const row = (id: string): string =>
    `| ${LABELS[id]} | ${us(median(s(id).ns))} | ${us(median(s(id).ns) / STEPS)} | ${us(median(s(id).wallNs) / STEPS)} | ${times(ratio(id, 'immer'), id !== 'immer')} | ${times(ratio(id, 'timeline'), id !== 'timeline')} |`
  const headline = ratio('lg-memory', 'timeline')
  const target = (label: string, r: Ratio, limit?: number): string => `| ${label} | ${times(r, true)} | ${limit === undefined ? '' : atLeast(r, limit)} |`
  return [
    '### LangGraph benchmark',
    '',
    `The runner suite's workload, per step: 10 synchronous steps (one small change each) on the 10-key order. LangGraph ${version}: a sequential`,
    '`StateGraph` (START → 10 nodes → END, one last-value channel per key, each node returning its change as an update), invoked on a',
    'new thread a run, the thread deleted after it (`deleteThread`, in the time: the saver holds nothing between runs). shadowchain: the same 10 links',
    'and the runner suite\'s 2 synchronous chain-level middleware (`counter` before, `timing` after each link). Every case computes the same final',
    `state (checked before measuring); a MemorySaver run leaves ${checkpoints} checkpoints on its thread (step −1 for its input, then one a superstep: START's, then each node's).`,
    `${machineLine(loadAverage)}. Process CPU time, medians of ${ROUNDS} interleaved rounds (every case in every round);`,
    'ratios are medians of per-round ratios, (p25–p75) in brackets.',
    '',
    '| case | µs / run | µs / step | µs / step, wall | × immer loop | × shadowchain `\'timeline\'` |',
    '|---|--:|--:|--:|--:|--:|',
    ...cases.map((c) => row(c.id)),
    '',
    '| LangGraph per step ÷ … (CPU time) | ratio | target |',
    '|---|--:|---|',
    target("LangGraph + `MemorySaver` ÷ shadowchain `capture: 'timeline'`", headline, TARGET),
    target('LangGraph + `MemorySaver` ÷ the hand-written immer loop', ratio('lg-memory', 'immer')),
    target("LangGraph + `MemorySaver` ÷ shadowchain `'timeline'` without middleware, as the graph has none (information)", ratio('lg-memory', 'bare')),
    target("LangGraph + `MemorySaver`, `durability: 'sync'` ÷ shadowchain `'timeline'`", ratio('lg-memory-sync', 'timeline')),
    target("LangGraph, no checkpointer ÷ shadowchain `'timeline'`", ratio('lg-none', 'timeline')),
    target("LangGraph, no checkpointer ÷ shadowchain `capture: 'off'`", ratio('lg-none', 'off')),
    '',
    `Wall-clock cross-check (less robust under load): LangGraph + \`MemorySaver\` ÷ \`'timeline'\` ${times(ratio('lg-memory', 'timeline', 'wallNs'), true)}, ÷ the immer loop ${times(ratio('lg-memory', 'immer', 'wallNs'), true)}.`,
    `The target reads "LangGraph at least ${TARGET}× slower per step than shadowchain \`'timeline'\`": PASS when the median ratio is ≥ ${TARGET}.`,
    '',
  ].join('\n')
}

// ---- main ----------------------------------------------------------------------------------

const started = Date.now()
const loadAverage = currentLoad()
const version = langGraphVersion()
const checkpoints = await check()
log(`checks passed (LangGraph ${version}: same final state in every case, ${checkpoints} checkpoints a MemorySaver run); ${ROUNDS} rounds × ${BATCH_MS} ms batches`)
// LangGraph runs ~100 times fewer runs than shadowchain in a batch: the harness's warm-up rounds
// (3 × BENCH_BATCH_MS a case) would leave its code barely optimised. Every case runs for
// WARM_MS first, one after the other, then the interleaved warm-up rounds follow.
for (const c of cases) {
  const until = Date.now() + WARM_MS
  while (Date.now() < until) await c.run()
}
const samples = await measure(cases, { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 3, progress: (text) => log(`langgraph: ${text}`) })
saverEmpty()
log(`${fmt(thread, 0)} LangGraph runs with the MemorySaver, every thread deleted`)
publish('langgraph', report(samples, checkpoints, version, loadAverage), started)
