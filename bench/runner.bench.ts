// Benchmark of the shadowchain runner against baselines measured in the same process.
//
//   cd bench && npm install && npm run bench
//
// Environment: BENCH_ROUNDS (default 50), BENCH_BATCH_MS (default 40), BENCH_OUT (default
// results/runner.md; "-" writes nothing). See README.md for what each case means.
import { cpus, loadavg } from 'node:os'
import compose from 'koa-compose'
import { applyPatches, createDraft, enableMapSet, enablePatches, finishDraft, setAutoFreeze, type Objectish, type Patch } from 'immer'
import { chain, type Chain, type ChainOptions, type Middleware } from '../src/index.ts'
import { canCollect, measure, median, pairedRatio, quantile, retainedAfterGc, type Case, type Samples } from './lib/harness.ts'
import { fmt, log, publish, sourceRevision, times, us } from './lib/report.ts'
import { counter, flatLinks, immerLoop, immerStates, longOrderLinks, makeFlat, makeOrder, makeRecords, orderLinks, recordLinks, timing } from './lib/workload.ts'
import type { Flat, Order, Records, Step } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 50)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const LINKS = orderLinks.length
const WIDE = 1_000
/** The 1,000-link chain: the order ctx, link i making the change of order link i % 10. */
const LONG = 1_000
const TARGETS = { off: 1, timeline: 1.2, long: 1.3, wide: 1.3 } as const
/** A recorded step's memory × the immer state it records; 1,000 record states: structuredClone ÷ timeline. */
const MEMORY_TARGET = 2
const CLONE_TARGET = 40

enablePatches()
enableMapSet()
setAutoFreeze(true)

// ---- baselines ----------------------------------------------------------------------------

/** 1. A plain async loop: await each link on a mutable object. */
function plainLoop<C>(steps: readonly Step<C>[]): (ctx: C) => Promise<C> {
  return async (ctx) => {
    for (const step of steps) await step(ctx)
    return ctx
  }
}

// 2. The hand-written immer loop (the baseline the targets refer to): immerLoop in lib/workload.ts.

/** 3. koa-compose with the same steps, on a mutable object. */
function koaLoop<C>(steps: readonly Step<C>[]): (ctx: C) => Promise<unknown> {
  return compose<C>(steps.map((step) => (ctx: C, next: () => Promise<unknown>) => {
    step(ctx)
    return next()
  }))
}

function build<C>(name: string, links: readonly (readonly [string, Step<C>])[], options: ChainOptions<C>, retry?: { attempts: number }): Chain<C> {
  let c = chain<C>(name, options)
  for (const [linkName, fn] of links) c = c.link(linkName, fn as never, retry === undefined ? undefined : { retry })
  return c.use(counter as never, timing as never)
}

/** The 10 links with one middleware only: `mw` (an around hook, or a before+after pair). */
function wrapped(options: ChainOptions<Order>, mw: Middleware<Order>): Chain<Order> {
  let c = chain<Order>('order', options)
  for (const [linkName, fn] of orderLinks) c = c.link(linkName, fn as never)
  return c.use(mw)
}
/** 8 of the order links, which write disjoint paths: the branches of one parallel step. */
const branchLinks = orderLinks.slice(0, 8)

/**
 * The hand-written baseline of a parallel step: 8 immer drafts of one state, each finished with
 * its patches, the patches merged onto the state in order.
 */
function parallelLoop<C>(steps: readonly Step<C>[]): (input: C) => Promise<C> {
  return async (input: C): Promise<C> => {
    const merged: Patch[] = []
    for (const step of steps) {
      const draft = createDraft(input as Objectish)
      step(draft as C)
      finishDraft(draft, (patches) => void merged.push(...patches))
    }
    return applyPatches(input as Objectish, merged) as C
  }
}

/** One parallel step of the 8 branches (no middleware), at a capture level. */
function parallelChain(options: ChainOptions<Order>): Chain<Order> {
  return chain<Order>('order', options).parallel('all', Object.fromEntries(branchLinks.map(([name, fn]) => [name, fn as never])))
}

const aroundOnly: Middleware<Order> = { name: 'around', around: (_e, next) => next() }
const beforeAfter: Middleware<Order> = { name: 'pair', before: () => {}, after: () => {} }

// ---- sanity checks: the cases compute the same thing, and share one immer -----------------

async function check(): Promise<void> {
  // One immer instance: shadowchain's finishDraft obeys our setAutoFreeze (see resolve-from-bench.mjs).
  setAutoFreeze(false)
  const probe = await chain<{ a: number }>('probe').link('inc', (ctx) => { ctx.a++ }).run({ a: 1 })
  setAutoFreeze(true)
  if (Object.isFrozen(probe.ctx)) throw new Error('shadowchain and the bench load different copies of immer')

  const steps = orderLinks.map(([, fn]) => fn)
  const expected = JSON.stringify(await immerLoop(steps)(makeOrder()))
  const mutable = structuredClone(makeOrder())
  const got: Record<string, string> = {
    plain: JSON.stringify(await plainLoop(steps)(structuredClone(mutable))),
    koa: JSON.stringify(await koaLoop(steps)(mutable).then(() => mutable)),
  }
  for (const [name, options] of Object.entries({ off: { capture: 'off' }, timeline: {}, nots: { timestamps: false } })) {
    const run = await build<Order>('order', orderLinks, options as ChainOptions<Order>).run(makeOrder())
    got[name] = JSON.stringify(run.ctx)
    const events = run.timeline.events
    const wanted = name === 'off' ? 2 : 2 + 4 * LINKS // run.start/end + per link: before, start, end, after
    if (events.length !== wanted) log(`warning: ${name} recorded ${events.length} events, the bench expects ${wanted}`)
    if (name !== 'off') {
      const last = events.at(-1)
      if (last?.mwctx['links'] !== LINKS) throw new Error(`${name}: counter middleware did not count ${LINKS} links`)
      if (typeof events.at(-2)?.metrics?.['ms'] !== 'number') throw new Error(`${name}: timing middleware wrote no metrics`)
      if ((name === 'nots') !== events.every((e) => e.t === 0n)) throw new Error(`${name}: unexpected timestamps`)
    }
  }
  const long = longOrderLinks(LONG)
  const longExpected = JSON.stringify(await immerLoop(long.map(([, fn]) => fn))(makeOrder()))
  for (const options of [{ capture: 'off' }, {}] as ChainOptions<Order>[]) {
    const run = await build<Order>('long', long, options).run(makeOrder())
    if (JSON.stringify(run.ctx) !== longExpected) throw new Error('the 1,000-link chain computes a different ctx than its immer loop')
    if (options.capture === undefined && run.timeline.filter({ type: 'link.end' }).some((e) => e.type === 'link.end' && e.patches.length !== 1)) {
      throw new Error('a link of the 1,000-link chain changed nothing')
    }
  }
  const branchSteps = branchLinks.map(([, fn]) => fn)
  const sequential = JSON.stringify(await immerLoop(branchSteps)(makeOrder()))
  got['parallel-loop'] = JSON.stringify(await parallelLoop(branchSteps)(makeOrder()))
  got['parallel-off'] = JSON.stringify((await parallelChain({ capture: 'off' }).run(makeOrder())).ctx)
  for (const name of ['parallel-loop', 'parallel-off']) {
    if (got[name] !== sequential) throw new Error(`case ${name} computes a different ctx than the 8 links in sequence`)
    delete got[name]
  }
  for (const [name, json] of Object.entries(got)) {
    if (json !== expected) throw new Error(`case ${name} computes a different ctx:\n${json}\n!==\n${expected}`)
  }
}

// ---- the timed cases ---------------------------------------------------------------------

/** The narrow cases (the targets), the flat 1,000-key ones, the 1,000-link ones: three phases. */
function cases(): [Case[], Case[], Case[]] {
  const steps = orderLinks.map(([, fn]) => fn)
  const input = makeOrder()
  const plain = plainLoop(steps)
  const plainCtx = structuredClone(input)
  const koa = koaLoop(steps)
  const koaCtx = structuredClone(input)
  const immer = immerLoop(steps)
  const off = build<Order>('order', orderLinks, { capture: 'off' })
  const timeline = build<Order>('order', orderLinks, {})
  const nots = build<Order>('order', orderLinks, { timestamps: false })
  // Every link with `retry` whose first attempt succeeds: it must cost what a plain link costs.
  const retryOff = build<Order>('order', orderLinks, { capture: 'off' }, { attempts: 3 })
  const retryTimeline = build<Order>('order', orderLinks, {}, { attempts: 3 })
  // One sync around hook that only calls next(), against a before+after pair.
  const aroundOff = wrapped({ capture: 'off' }, aroundOnly)
  const aroundTimeline = wrapped({}, aroundOnly)
  const pairOff = wrapped({ capture: 'off' }, beforeAfter)
  const pairTimeline = wrapped({}, beforeAfter)
  // One parallel step of 8 synchronous branches, against the hand-written 8-draft merge.
  const branchSteps = branchLinks.map(([, fn]) => fn)
  const parLoop = parallelLoop(branchSteps)
  const parOff = parallelChain({ capture: 'off' })
  const parTimeline = parallelChain({})

  const wideInput = makeFlat(WIDE)
  const wideLinks = flatLinks(LINKS, WIDE)
  const wideImmer = immerLoop(wideLinks.map(([, fn]) => fn))
  const wideOff = build<Flat>('flat', wideLinks, { capture: 'off' })
  const wideTimeline = build<Flat>('flat', wideLinks, {})

  const longLinks = longOrderLinks(LONG)
  const longImmer = immerLoop(longLinks.map(([, fn]) => fn))
  const longOff = build<Order>('long', longLinks, { capture: 'off' })
  const longTimeline = build<Order>('long', longLinks, {})

  return [[
    { id: 'plain', run: () => plain(plainCtx) },
    { id: 'koa', run: () => koa(koaCtx) },
    { id: 'immer', run: () => immer(input) },
    { id: 'off', run: () => off.run(input) },
    { id: 'timeline', run: () => timeline.run(input) },
    { id: 'nots', run: () => nots.run(input) },
    // The run, then its events built (every link's patches made from its two states, then).
    { id: 'timeline-read', run: () => timeline.run(input).then((run) => run.timeline.events.length) },
    { id: 'retry-off', run: () => retryOff.run(input) },
    { id: 'retry-timeline', run: () => retryTimeline.run(input) },
    { id: 'around-off', run: () => aroundOff.run(input) },
    { id: 'around-timeline', run: () => aroundTimeline.run(input) },
    { id: 'pair-off', run: () => pairOff.run(input) },
    { id: 'pair-timeline', run: () => pairTimeline.run(input) },
    { id: 'parallel-loop', run: () => parLoop(input) },
    { id: 'parallel-off', run: () => parOff.run(input) },
    { id: 'parallel-timeline', run: () => parTimeline.run(input) },
  ], [
    { id: 'wide-immer', run: () => wideImmer(wideInput) },
    { id: 'wide-off', run: () => wideOff.run(wideInput) },
    { id: 'wide-timeline', run: () => wideTimeline.run(wideInput) },
  ], [
    { id: 'long-immer', run: () => longImmer(input) },
    { id: 'long-off', run: () => longOff.run(input) },
    { id: 'long-timeline', run: () => longTimeline.run(input) },
  ]]
}

// ---- retained heap of one long run ---------------------------------------------------------

interface HeapResult {
  readonly timelineBytes: number
  readonly cloneBytes: number
  /** The hand-written immer loop keeping its 1,000 states: what any recording of them keeps at least. */
  readonly statesBytes: number
  readonly events: number
  readonly states: number
}

/**
 * Heap retained by ONE 1,000-link run that keeps its timeline (each link changes one key of a
 * 1,000-key ctx), against keeping 1,000 structuredClone snapshots of the same states.
 */
async function retainedHeap<C>(name: string, input: C, links: readonly (readonly [string, Step<C>])[]): Promise<HeapResult> {
  // Runs are awaited in helper functions: a top-level or same-frame `await` keeps its last value
  // in a suspended frame's register, which silently retains a whole run (measured: 9 MiB).
  const runOnce = async (c: Chain<C>): Promise<number> => (await c.run(input)).timeline.length
  const runKept = async (c: Chain<C>) => c.run(input)
  await runOnce(build<C>(name, links, {})) // warm-up on a throwaway chain value
  const long = build<C>(name, links, {})
  void long.links // compiled before the measurement starts

  const before = retainedAfterGc()
  const run = await runKept(long)
  const timelineBytes = retainedAfterGc() - before

  // The same states (ctx after each link), kept as structuredClone snapshots instead.
  const states = run.timeline.events.filter((e) => e.type === 'link.end').map((e) => e.ctx)
  const before2 = retainedAfterGc()
  const clones = states.map((state) => structuredClone(state))
  const cloneBytes = retainedAfterGc() - before2
  if (clones.length !== links.length || JSON.stringify(clones.at(-1)) !== JSON.stringify(run.ctx)) {
    throw new Error('heap: unexpected states')
  }
  const loop = immerStates(links.map(([, fn]) => fn))
  const keepStates = async (): Promise<number> => {
    const before3 = retainedAfterGc()
    const kept = loop(input)
    const used = retainedAfterGc() - before3
    if (kept.length !== links.length) throw new Error('heap: unexpected states')
    return used
  }
  await keepStates()
  const statesBytes = await keepStates()
  return { timelineBytes, cloneBytes, statesBytes, events: run.timeline.length, states: states.length }
}

// ---- memory of a recorded step --------------------------------------------------------------

interface StepMemory {
  /** Bytes a step of the 1,000-link chain keeps: in the run's timeline, and in the immer loop keeping its states. */
  readonly timeline: number
  readonly states: number
  /** The immer loop keeping its states and each step's patches and inverse patches (for information). */
  readonly statesPatches: number
  /** The per-measurement ratios timeline ÷ states (median, p25, p75). */
  readonly ratio: { median: number; p25: number; p75: number }
}

/**
 * What one recorded step keeps, against the immer state it records: KEPT runs of the 1,000-link
 * chain (timelines kept, never read) against KEPT runs of the immer loop keeping its 1,000 states
 * (an array of them), on the same input; memory in use after full GCs, heap and ArrayBuffers,
 * ÷ (KEPT × 1,000). Repeated, alternating; medians.
 */
async function stepMemory(): Promise<StepMemory> {
  const KEPT = 8
  const links = longOrderLinks(LONG)
  const steps = links.map(([, fn]) => fn)
  const input = makeOrder()
  const loop = immerStates(steps)
  const withPatches = (state: Order): unknown[] => {
    const kept: unknown[] = []
    for (const step of steps) {
      const draft = createDraft(state as Objectish)
      step(draft as Order)
      state = finishDraft(draft, (patches, inversePatches) => void kept.push(patches, inversePatches)) as Order
      kept.push(state)
    }
    return kept
  }
  const c = build<Order>('long', links, {})
  void c.links // compiled before anything is measured
  const keepRuns = async (): Promise<unknown[]> => {
    const kept: unknown[] = []
    for (let i = 0; i < KEPT; i++) kept.push(await c.run(input))
    return kept
  }
  const keepStates = async (make: () => unknown): Promise<unknown[]> => Array.from({ length: KEPT }, make)
  // Measured in helpers (see retainedHeap: a same-frame `await` keeps its last value alive).
  const bytes = async (keep: () => Promise<unknown[]>): Promise<number> => {
    const before = retainedAfterGc()
    const kept = await keep()
    const used = retainedAfterGc() - before
    if (kept.length !== KEPT) throw new Error('memory: unexpected count')
    return used / (KEPT * LONG)
  }
  await bytes(keepRuns)
  await bytes(() => keepStates(() => loop(input)))
  const timeline: number[] = []
  const states: number[] = []
  const statesPatches: number[] = []
  for (let r = 0; r < 5; r++) {
    states.push(await bytes(() => keepStates(() => loop(input))))
    timeline.push(await bytes(keepRuns))
    statesPatches.push(await bytes(() => keepStates(() => withPatches(input))))
  }
  const ratios = timeline.map((t, i) => t / (states[i] as number))
  return {
    timeline: median(timeline),
    states: median(states),
    statesPatches: median(statesPatches),
    ratio: { median: median(ratios), p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75) },
  }
}

// ---- report --------------------------------------------------------------------------------

const mib = (bytes: number): string => fmt(bytes / 2 ** 20, 1)

const heapCell = (bytes: number, states: number): string => `${mib(bytes)} MiB (${fmt(bytes / states / 1024, 1)} KiB a state)`

function report(samples: Map<string, Samples>, flat: HeapResult, records: HeapResult, memory: StepMemory, loadAverage: string): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  interface RowOptions {
    /** The immer loop this row is compared with (the narrow or the flat 1,000-key one). */
    readonly vs: string
    /** A shadowchain case (not a baseline): show the spread and the overhead per link. */
    readonly shadow?: boolean
    readonly target?: keyof typeof TARGETS
    /** Links a run makes (10; the 1,000-link chain's 1,000). */
    readonly links?: number
  }
  const row = (label: string, id: string, { vs, shadow = false, target, links = LINKS }: RowOptions): string => {
    const ns = median(s(id).ns)
    const immer = pairedRatio(s(id), s(vs))
    const overhead = (ns - median(s(vs).ns)) / links
    const perLink = `${fmt(ns / links, 0)}${shadow ? ` (${overhead < 0 ? '−' : '+'}${fmt(Math.abs(overhead), 0)})` : ''}`
    const narrow = vs === 'immer'
    let verdict = ''
    if (target !== undefined) {
      const limit = TARGETS[target]
      const close = immer.p25 <= limit && limit <= immer.p75 // the spread straddles the target
      verdict = `≤ ${limit}× ${immer.median <= limit ? 'PASS' : 'FAIL'}${close ? ' (borderline)' : ''}`
    }
    return `| ${label} | ${us(ns)} | ${perLink} | ${times(immer, shadow)} | ${narrow ? times(pairedRatio(s(id), s('plain'))) : ''} | ${
      narrow ? times(pairedRatio(s(id), s('koa'))) : ''
    } | ${verdict} |`
  }
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  const wall = (id: string, vs: string): string => times(pairedRatio(s(id), s(vs), 'wallNs'), true)
  return [
    '### Runner benchmark',
    '',
    `10 synchronous links (one small change each) on a 10-key ctx, 2 synchronous chain-level middleware`,
    `(a counter in \`mwctx\` before each link, \`metrics.ms\` after). src at ${sourceRevision()}, Node ${process.version},`,
    `${cpus().length} × ${cpu}, ${new Date().toISOString().slice(0, 10)}, load average ${loadAverage}. Process CPU time, medians of ${ROUNDS} interleaved rounds;`,
    `ratios are medians of per-round ratios, (p25–p75) in brackets; (+n) is the overhead per link over the immer loop, in ns.`,
    '',
    '| case | µs / run | ns / link | × immer loop | × plain async loop | × koa-compose | target |',
    '|---|--:|--:|--:|--:|--:|---|',
    row('plain async loop (baseline)', 'plain', { vs: 'immer' }),
    row('koa-compose (baseline)', 'koa', { vs: 'immer' }),
    row('hand-written immer loop (baseline)', 'immer', { vs: 'immer' }),
    row("shadowchain `capture: 'off'`", 'off', { vs: 'immer', shadow: true, target: 'off' }),
    row("shadowchain `capture: 'timeline'` (default)", 'timeline', { vs: 'immer', shadow: true, target: 'timeline' }),
    row("shadowchain `'timeline'`, `timestamps: false`", 'nots', { vs: 'immer', shadow: true }),
    row("shadowchain `'timeline'`, then its events read (`run.timeline.events`: information)", 'timeline-read', { vs: 'immer', shadow: true }),
    row('flat 1,000-key ctx: immer loop', 'wide-immer', { vs: 'wide-immer' }),
    row("flat 1,000-key ctx: shadowchain `'off'`", 'wide-off', { vs: 'wide-immer', shadow: true }),
    row("flat 1,000-key ctx: shadowchain `'timeline'`", 'wide-timeline', { vs: 'wide-immer', shadow: true, target: 'wide' }),
    row('1,000 links (10-key ctx): immer loop', 'long-immer', { vs: 'long-immer', links: LONG }),
    row("1,000 links: shadowchain `'off'`", 'long-off', { vs: 'long-immer', shadow: true, target: 'off', links: LONG }),
    row("1,000 links: shadowchain `'timeline'`", 'long-timeline', { vs: 'long-immer', shadow: true, target: 'long', links: LONG }),
    '',
    `Every link with \`retry: { attempts: 3 }\`, never failing, × the same chain without it: ${times(pairedRatio(s('retry-off'), s('off')), true)} \`'off'\` (${times(pairedRatio(s('retry-off'), s('immer')), true)} the immer loop), ${times(pairedRatio(s('retry-timeline'), s('timeline')), true)} \`'timeline'\`.`,
    '',
    `One sync around hook that calls next(), × the same chain with a before+after pair instead: ${times(pairedRatio(s('around-off'), s('pair-off')), true)} \`'off'\` (${us(median(s('around-off').ns))} vs ${us(median(s('pair-off').ns))}), ${times(pairedRatio(s('around-timeline'), s('pair-timeline')), true)} \`'timeline'\` (${us(median(s('around-timeline').ns))} vs ${us(median(s('pair-timeline').ns))}).`,
    '',
    `One parallel step of 8 synchronous branches (disjoint writes, \`merge: 'strict'\`), × a hand-written loop that makes 8 immer drafts of one state and merges their patches: ${times(pairedRatio(s('parallel-off'), s('parallel-loop')), true)} \`'off'\` (${us(median(s('parallel-off').ns))} vs ${us(median(s('parallel-loop').ns))}; target ≤ 1.5×), ${times(pairedRatio(s('parallel-timeline'), s('parallel-loop')), true)} \`'timeline'\`.`,
    '',
    `Wall-clock × immer loop (less robust under load): ${wall('off', 'immer')} \`'off'\`, ${wall('timeline', 'immer')} \`'timeline'\`, ${wall('nots', 'immer')} \`timestamps: false\`.`,
    '',
    '| memory kept (heap + ArrayBuffers, after full GCs) by ONE 1,000-link run (1,000-key ctx, each link changes one key) | flat ctx (numbers, strings) | ctx of 1,000 small records |',
    '|---|--:|--:|',
    `| shadowchain \`run.timeline\` (${fmt(flat.events, 0)} events, ${fmt(flat.states, 0)} ctx states) | ${heapCell(flat.timelineBytes, flat.states)} | ${heapCell(records.timelineBytes, records.states)} |`,
    `| ${fmt(flat.states, 0)} \`structuredClone\` snapshots of the same states | ${heapCell(flat.cloneBytes, flat.states)} | ${heapCell(records.cloneBytes, records.states)} |`,
    `| the hand-written immer loop keeping its ${fmt(flat.states, 0)} states (the floor of any recording of them) | ${heapCell(flat.statesBytes, flat.states)} | ${heapCell(records.statesBytes, records.states)} |`,
    `| structuredClone ÷ the immer loop's states (the most a recording can reach) | ${fmt(flat.cloneBytes / flat.statesBytes, 1)}× | ${fmt(records.cloneBytes / records.statesBytes, 1)}× |`,
    `| structuredClone ÷ timeline | ${fmt(flat.cloneBytes / flat.timelineBytes, 1)}× | ${fmt(records.cloneBytes / records.timelineBytes, 1)}× (target ≥ ${CLONE_TARGET}×: ${records.cloneBytes / records.timelineBytes >= CLONE_TARGET ? 'PASS' : 'FAIL'}) |`,
    '',
    `Memory of a recorded step, against the immer state it records: the 1,000-link chain (10-key ctx, the 2 middleware), ${8} runs kept with their timelines (never read, so never built into event objects), against ${8} runs of the hand-written immer loop keeping every state it makes (an array of 1,000 states a run); heap + ArrayBuffers in use after full GCs, ÷ 8,000 steps; medians of 5 alternating measurements.`,
    '',
    '| a step of the 1,000-link chain | bytes | × the immer state |',
    '|---|--:|--:|',
    `| the immer loop's state (baseline) | ${fmt(memory.states, 0)} | 1.00× |`,
    `| the immer loop's state, its patches and inverse patches (information) | ${fmt(memory.statesPatches, 0)} | ${fmt(memory.statesPatches / memory.states, 2)}× |`,
    `| shadowchain \`'timeline'\`: the state, mwctx, metrics, patches, times, the event log | ${fmt(memory.timeline, 0)} | ${times(memory.ratio, true)} ≤ ${MEMORY_TARGET}× ${memory.ratio.median <= MEMORY_TARGET ? 'PASS' : 'FAIL'} |`,
    '',
  ].join('\n')
}

// ---- main ----------------------------------------------------------------------------------

if (!canCollect) log('warning: run with node --expose-gc (npm run bench does): heap figures are meaningless without it')
const started = Date.now()
await check()
log(`checks passed (one immer instance, identical results); ${ROUNDS} rounds × ${BATCH_MS} ms batches`)
const loadAverage = loadavg().map((l) => l.toFixed(1)).join(' ')
// Two phases in this one process: the flat 1,000-key cases come second, so that their shapes
// (1,000-slot objects) do not reach the shared code (immer, the runner, the immer loop) while the
// targets are measured; interleaved with the narrow cases they moved the flat ratios by ~10%.
const [narrow, wide, long] = cases()
const options = { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 3 }
const samples = await measure(narrow, { ...options, progress: (text) => log(`10-key ctx: ${text}`) })
for (const [id, sampled] of await measure(wide, { ...options, progress: (text) => log(`1,000-key ctx: ${text}`) })) {
  samples.set(id, sampled)
}
// Last: 1,000-link runs keep ~0.4 MB each until the next one, which changes the GC's sizing.
for (const [id, sampled] of await measure(long, { ...options, progress: (text) => log(`1,000 links: ${text}`) })) {
  samples.set(id, sampled)
}
log('measuring retained heap of one 1,000-link run…')
const flat = await retainedHeap<Flat>('flat', makeFlat(WIDE), flatLinks(1_000, WIDE))
const records = await retainedHeap<Records>('records', makeRecords(WIDE), recordLinks(1_000, WIDE))
log('measuring the memory of a recorded step…')
const memory = await stepMemory()
const table = report(samples, flat, records, memory, loadAverage)
publish('runner', table, started)
