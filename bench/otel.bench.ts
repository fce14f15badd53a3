// Benchmark of OpenTelemetry tracing (issue "OpenTelemetry"): live tracing against the SDK's own
// cost of the same spans written by hand, a run without a tracer or with the API's no-op tracer,
// and the throughput of post-hoc `exportRun`.
//
//   cd bench && npm install && npm run bench:otel
//
// Environment: BENCH_ROUNDS (default 50), BENCH_BATCH_MS (default 40), BENCH_OUT (default
// results/otel.md; "-" writes nothing). See README.md for what each case means.
import { context, ROOT_CONTEXT, trace, type Context, type HrTime, type Span, type SpanContext, type Tracer } from '@opentelemetry/api'
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks'
import { BasicTracerProvider, BatchSpanProcessor, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace-base'
import { enableMapSet, enablePatches, setAutoFreeze } from 'immer'
import { chain, systemClock, type Chain, type ChainOptions, type MiddlewareCallInfo, type Run } from '../src/index.ts'
import { exportRun } from '../src/otel/index.ts'
import { hrTime, linkSpanParts, middlewareAttributes, nsAttribute, setMetricAttributes, ATTR } from '../src/otel/names.ts'
import { measure, median, quantile, type Case, type Ratio, type Samples } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, ms, publish, times, us, verdict } from './lib/report.ts'
import { counter, flatLinks, immerLoop, makeFlat, makeOrder, orderLinks, timing } from './lib/workload.ts'
import type { Flat, Order, Step } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 50)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const LINKS = orderLinks.length
const LONG = 1_000
/** Live tracing, per link span: at most this multiple of the SDK's own cost of the same span. */
const TARGET = 1.3
/** The same against the span by hand given ready-made times (no clock read by hand): the stricter target. */
const STRICT_TARGET = 1.2
/** Far above what the live runs leave queued (under 512); delivered() checks that nothing was dropped. */
const QUEUE = 1 << 16

enablePatches()
enableMapSet()
setAutoFreeze(true) // as in the runner suite (the immer loop row)

// ---- tracers -------------------------------------------------------------------------------

type ExportDone = Parameters<SpanExporter['export']>[1]

/** Exports nowhere and reports success at once; counts what it was given. */
class NoopExporter implements SpanExporter {
  spans = 0
  export(spans: ReadableSpan[], done: ExportDone): void {
    this.spans += spans.length
    done({ code: 0 }) // ExportResultCode.SUCCESS
  }
  shutdown(): Promise<void> {
    return Promise.resolve()
  }
}

interface Sdk {
  readonly tracer: Tracer
  readonly provider: BasicTracerProvider
  readonly exporter: NoopExporter
  /** Spans the cases ended with this tracer (warm-up included): all must reach the exporter. */
  ended: number
}

function sdk(kind: 'batch' | 'simple'): Sdk {
  const exporter = new NoopExporter()
  // The batch processor exports synchronously once 512 spans are queued and goes on in
  // microtasks, which run between the awaited runs of a batch; QUEUE keeps a stall from dropping
  // spans, and delivered() checks that none was.
  const processor = kind === 'batch' ? new BatchSpanProcessor(exporter, { maxQueueSize: QUEUE, maxExportBatchSize: 512 }) : new SimpleSpanProcessor(exporter)
  const provider = new BasicTracerProvider({ spanProcessors: [processor] })
  return { tracer: provider.getTracer('shadowchain-bench'), provider, exporter, ended: 0 }
}

/** Every span ended so far reached the exporter (after a forceFlush). */
async function delivered(s: Sdk, what: string): Promise<void> {
  await s.provider.forceFlush()
  if (s.exporter.spans !== s.ended) throw new Error(`${what}: ${s.ended} spans ended, ${s.exporter.spans} exported: spans were dropped`)
}

const batch = sdk('batch')
const simple = sdk('simple')
/** No SDK is registered globally: the API hands out its no-op (non-recording) tracer. */
const noop = trace.getTracer('shadowchain-bench')

/**
 * A tracer whose spans record (`isRecording()` is true, so live tracing builds every event and
 * attribute) and keep nothing: a run traced with it costs our tracing code and the runner's work
 * for a tracer, without an SDK's.
 */
const NULL_CONTEXT: SpanContext = { traceId: '4bf92f3577b34da6a3ce929d0e0e4736', spanId: '00f067aa0ba902b7', traceFlags: 1 }
const nullSpan: Span = {
  spanContext: () => NULL_CONTEXT,
  setAttribute: () => nullSpan,
  setAttributes: () => nullSpan,
  addEvent: () => nullSpan,
  addLink: () => nullSpan,
  addLinks: () => nullSpan,
  setStatus: () => nullSpan,
  updateName: () => nullSpan,
  end: () => undefined,
  isRecording: () => true,
  recordException: () => undefined,
}
const nullTracer: Tracer = {
  startSpan: () => nullSpan,
  startActiveSpan: (() => {
    throw new Error('not used')
  }) as Tracer['startActiveSpan'],
}

// ---- the same spans, by hand ---------------------------------------------------------------
//
// What live tracing emits per link (checked against it below): `link <name>` under the run
// span's context with 2 attributes and an explicit start time, one event per middleware call
// (here 2: `counter` before, `timing` after) with 4 attributes and an explicit time, 2 more
// attributes at the end (duration, `metrics.ms`), end with an explicit time. HrTimes are fresh
// `[seconds, nanoseconds]` tuples; attribute objects are literals, as instrumentation written by
// hand would pass them.

const EPOCH_S = Math.floor(Date.now() / 1000)
let tick = 0
const at = (): HrTime => [EPOCH_S, tick++]
const RUN_ID = '6f1c1a8e-0d1b-4b53-9b7e-3f5c2a9d8e01'
/** Keeps values the optimiser could otherwise drop. */
export let sink: unknown

interface LinkNames {
  readonly span: string
  readonly link: string
}
const orderNames: readonly LinkNames[] = orderLinks.map(([name]) => ({ span: `link ${name}`, link: name }))
const longNames: readonly LinkNames[] = flatLinks(LONG, LONG).map(([name]) => ({ span: `link ${name}`, link: name }))

function handRunStart(tracer: Tracer, chainName: string): Span {
  return tracer.startSpan(`chain ${chainName}`, { attributes: { 'shadowchain.chain.name': chainName, 'shadowchain.run.id': RUN_ID }, startTime: at() }, ROOT_CONTEXT)
}

function handRunEnd(span: Span): void {
  span.setAttribute('shadowchain.run.status', 'ok')
  span.end(at())
}

/** One link span as live tracing makes it. */
function handLink(tracer: Tracer, parent: Context, names: LinkNames, index: number): void {
  const span = tracer.startSpan(names.span, { attributes: { 'shadowchain.link.name': names.link, 'shadowchain.link.index': index }, startTime: at() }, parent)
  span.addEvent('middleware.before', { 'shadowchain.middleware.name': 'counter', 'shadowchain.middleware.position': 'chain-before', 'shadowchain.middleware.index': 0, 'shadowchain.middleware.duration_ns': 310 }, at())
  span.addEvent('middleware.after', { 'shadowchain.middleware.name': 'timing', 'shadowchain.middleware.position': 'chain-after', 'shadowchain.middleware.index': 1, 'shadowchain.middleware.duration_ns': 190 }, at())
  span.setAttributes({ 'shadowchain.link.duration_ns': 1_250, 'shadowchain.metrics.ms': 0.00125 })
  span.end(at())
}

/** One link span as exportRun makes it (the same content, calls in its order). */
function handExportLink(tracer: Tracer, parent: Context, names: LinkNames, index: number): void {
  const span = tracer.startSpan(names.span, { attributes: { 'shadowchain.link.name': names.link, 'shadowchain.link.index': index }, startTime: at() }, parent)
  span.addEvent('middleware.before', { 'shadowchain.middleware.name': 'counter', 'shadowchain.middleware.position': 'chain-before', 'shadowchain.middleware.index': 0, 'shadowchain.middleware.duration_ns': 310 }, at())
  span.setAttribute('shadowchain.link.duration_ns', 1_250)
  span.addEvent('middleware.after', { 'shadowchain.middleware.name': 'timing', 'shadowchain.middleware.position': 'chain-after', 'shadowchain.middleware.index': 1, 'shadowchain.middleware.duration_ns': 190 }, at())
  span.setAttributes({ 'shadowchain.metrics.ms': 0.00125 })
  span.end(at())
}

/** The run span alone, with the context its links would be started in. */
function handRunSpan(tracer: Tracer): void {
  tick = 0
  const span = handRunStart(tracer, 'order')
  sink = trace.setSpan(ROOT_CONTEXT, span)
  handRunEnd(span)
}

/** 10 link spans under a run context (of a run span started once, never ended). */
function handLinks(tracer: Tracer, parent: Context): void {
  tick = 0
  for (let i = 0; i < LINKS; i++) handLink(tracer, parent, orderNames[i] as LinkNames, i)
}

const work = (): void => {}

/**
 * One link span as instrumentation written by hand makes it while the work runs: the same
 * content, but the SDK reads the clock for the start, each event and the end (live tracing has to
 * read a clock too; the spans above are given ready-made times).
 *
 * @param inContext - as instrumentation written by hand does it with a context manager
 *   registered: the link's work (here nothing) runs inside the span's context,
 *   `context.with(trace.setSpan(...))`, so that spans started in it would nest under it
 */
function handLinkLive(tracer: Tracer, parent: Context, names: LinkNames, index: number, inContext: boolean): void {
  const span = tracer.startSpan(names.span, { attributes: { 'shadowchain.link.name': names.link, 'shadowchain.link.index': index } }, parent)
  span.addEvent('middleware.before', { 'shadowchain.middleware.name': 'counter', 'shadowchain.middleware.position': 'chain-before', 'shadowchain.middleware.index': 0, 'shadowchain.middleware.duration_ns': 310 })
  if (inContext) context.with(trace.setSpan(parent, span), work)
  span.addEvent('middleware.after', { 'shadowchain.middleware.name': 'timing', 'shadowchain.middleware.position': 'chain-after', 'shadowchain.middleware.index': 1, 'shadowchain.middleware.duration_ns': 190 })
  span.setAttributes({ 'shadowchain.link.duration_ns': 1_250, 'shadowchain.metrics.ms': 0.00125 })
  span.end()
}

function handLinksLive(tracer: Tracer, parent: Context, inContext = false): void {
  for (let i = 0; i < LINKS; i++) handLinkLive(tracer, parent, orderNames[i] as LinkNames, i, inContext)
}

/** The whole tree of one traced run: the run span and its 10 link spans. */
function handTree(tracer: Tracer): void {
  tick = 0
  const span = handRunStart(tracer, 'order')
  const parent = trace.setSpan(ROOT_CONTEXT, span)
  for (let i = 0; i < LINKS; i++) handLink(tracer, parent, orderNames[i] as LinkNames, i)
  handRunEnd(span)
}

/** The tree exportRun makes of the recorded 1,000-link run. */
function handExportTree(tracer: Tracer): void {
  tick = 0
  const span = handRunStart(tracer, 'flat')
  const parent = trace.setSpan(ROOT_CONTEXT, span)
  for (let i = 0; i < LONG; i++) handExportLink(tracer, parent, longNames[i] as LinkNames, i)
  handRunEnd(span)
}

// ---- chains --------------------------------------------------------------------------------

function build<C>(name: string, links: readonly (readonly [string, Step<C>])[], options: ChainOptions<C>): Chain<C> {
  let c = chain<C>(name, options)
  for (const [linkName, fn] of links) c = c.link(linkName, fn as never)
  return c.use(counter as never, timing as never)
}

const order = (options: ChainOptions<Order>): Chain<Order> => build<Order>('order', orderLinks, options)

// ---- sanity checks: we emit what the hand-written code emits, and nothing is lost ----------

/** name, place in the tree, attribute keys, events with their attribute keys: one line a span. */
function shape(spans: readonly ReadableSpan[]): string {
  const root = spans.find((s) => s.parentSpanContext === undefined)
  if (root === undefined) throw new Error('no root span')
  const rootId = root.spanContext().spanId
  return spans
    .map((s) => {
      const place = s === root ? 'root' : s.parentSpanContext?.spanId === rootId ? 'child' : 'elsewhere'
      const keys = (o: object | undefined): string => Object.keys(o ?? {}).sort().join(',')
      return `${s.name} (${place}) [${keys(s.attributes)}] ${s.events.map((e) => `${e.name}{${keys(e.attributes)}}`).join(' ')}`
    })
    .join('\n')
}

async function spansOf(emit: (tracer: Tracer) => unknown): Promise<readonly ReadableSpan[]> {
  const memory = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(memory)] })
  await emit(provider.getTracer('check'))
  await provider.forceFlush()
  return memory.getFinishedSpans()
}

function same(ours: readonly ReadableSpan[], hand: readonly ReadableSpan[], what: string, count: number): void {
  if (ours.length !== count) throw new Error(`${what}: ${ours.length} spans, expected ${count}`)
  const a = shape(ours)
  const b = shape(hand)
  if (a !== b) throw new Error(`${what}: the hand-written spans differ from ours:\n${a.slice(0, 2000)}\n!==\n${b.slice(0, 2000)}`)
}

async function checkLive(): Promise<void> {
  if (noop.startSpan('probe').isRecording()) throw new Error('a global tracer provider is registered: the no-op case would record')
  const expected = JSON.stringify((await order({ capture: 'off' }).run(makeOrder())).ctx)
  const hand = await spansOf(handTree)
  for (const capture of ['off', 'timeline'] as const) {
    let result = ''
    const ours = await spansOf(async (tracer) => {
      result = JSON.stringify((await order({ capture, tracer }).run(makeOrder())).ctx)
    })
    if (result !== expected) throw new Error(`'${capture}' traced: a different ctx`)
    same(ours, hand, `live tracing, '${capture}'`, LINKS + 1)
    const link = ours[0] as ReadableSpan
    if (link.events.length !== 2 || link.events.some((e) => e.time[0] < EPOCH_S - 60)) throw new Error('live tracing: unexpected middleware events')
  }
}

async function checkExport(long: Run<Flat>): Promise<void> {
  if (long.timeline.length !== 2 + 4 * LONG) throw new Error(`the long run recorded ${long.timeline.length} events`)
  same(await spansOf((tracer) => exportRun(long, { tracer, force: true })), await spansOf(handExportTree), 'exportRun', LONG + 1)
}

// ---- cases ---------------------------------------------------------------------------------

/**
 * The live-tracing groups, each measured on its own (interleaved inside): a traced run is always
 * paired with the untraced run of its own group. Case ids are `<group>:<case>`.
 */
function liveGroups(): [string, Case[]][] {
  const input = makeOrder()
  const immer = immerLoop(orderLinks.map(([, fn]) => fn))
  const off = order({ capture: 'off' })
  const offNoop = order({ capture: 'off', tracer: noop })
  const offNull = order({ capture: 'off', tracer: nullTracer })
  const offBatch = order({ capture: 'off', tracer: batch.tracer })
  const offSimple = order({ capture: 'off', tracer: simple.tracer })
  const timeline = order({})
  const timelineBatch = order({ tracer: batch.tracer })
  // The parent of the hand-written link spans: a run span started once (never ended, never exported).
  const runContext = trace.setSpan(ROOT_CONTEXT, batch.tracer.startSpan('chain order', {}, ROOT_CONTEXT))
  const spans = LINKS + 1
  const untraced = { id: 'off', run: () => off.run(input) }
  const handRun = { id: 'hand-run', run: async () => void ((batch.ended += 1), handRunSpan(batch.tracer)) }
  const handLinksCase = { id: 'hand-links', run: async () => void ((batch.ended += LINKS), handLinks(batch.tracer, runContext)) }
  const group = (name: string, cases: Case[]): [string, Case[]] => [name, cases.map((c) => ({ ...c, id: `${name}:${c.id}` }))]
  return [
    // Without a tracer, against the runner suite's baseline; the API's no-op tracer; a tracer that keeps nothing.
    group('branch', [{ id: 'immer', run: () => immer(input) }, untraced, { id: 'off-noop', run: () => offNoop.run(input) }, { id: 'off-null', run: () => offNull.run(input) }, { id: 'timeline', run: () => timeline.run(input) }]),
    // The target: 'off' with the batch processor against the same spans by hand.
    group('batch', [
      untraced,
      { id: 'off-batch', run: () => ((batch.ended += spans), offBatch.run(input)) },
      handRun,
      handLinksCase,
      { id: 'hand-links-live', run: async () => void ((batch.ended += LINKS), handLinksLive(batch.tracer, runContext)) },
      { id: 'hand-tree', run: async () => void ((batch.ended += spans), handTree(batch.tracer)) },
      // The untraced run, then the same tree by hand: the SDK's cost among the run's allocations.
      { id: 'off-hand-tree', run: async () => ((batch.ended += spans), await off.run(input), handTree(batch.tracer)) },
    ]),
    group('timeline', [
      { id: 'timeline', run: () => timeline.run(input) },
      { id: 'timeline-batch', run: () => ((batch.ended += spans), timelineBatch.run(input)) },
      handRun,
      handLinksCase,
      { id: 'hand-links-live', run: async () => void ((batch.ended += LINKS), handLinksLive(batch.tracer, runContext)) },
      { id: 'timeline-hand-tree', run: async () => ((batch.ended += spans), await timeline.run(input), handTree(batch.tracer)) },
    ]),
    group('simple', [
      untraced,
      { id: 'off-simple', run: () => ((simple.ended += spans), offSimple.run(input)) },
      { id: 'hand-tree-simple', run: async () => void ((simple.ended += spans), handTree(simple.tracer)) },
    ]),
  ]
}

/**
 * With a context manager registered (AsyncLocalStorage, as `NodeTracerProvider#register()` sets
 * up): live tracing now enters each link span's context around the link, and the hand-written
 * spans do the same around their (empty) work. Measured last: once AsyncLocalStorage has been
 * entered, every later \`await\` in the process is slower.
 */
function contextCases(): Case[] {
  const input = makeOrder()
  const off = order({ capture: 'off' })
  const offBatch = order({ capture: 'off', tracer: batch.tracer })
  const runContext = trace.setSpan(ROOT_CONTEXT, batch.tracer.startSpan('chain order', {}, ROOT_CONTEXT))
  return [
    { id: 'context:off', run: () => off.run(input) },
    { id: 'context:off-batch', run: () => ((batch.ended += LINKS + 1), offBatch.run(input)) },
    { id: 'context:hand-run', run: async () => void ((batch.ended += 1), handRunSpan(batch.tracer)) },
    { id: 'context:hand-links-context', run: async () => void ((batch.ended += LINKS), handLinksLive(batch.tracer, runContext, true)) },
  ]
}

/** With the context manager registered, a span started inside a link is its link span's child. */
async function checkContext(): Promise<void> {
  let inner: Span | undefined
  const nesting = chain<Order>('nesting').link('child', () => void (inner = batch.tracer.startSpan('inner')))
  await nesting.run(makeOrder(), { tracer: batch.tracer, capture: 'off' })
  batch.ended += 2
  const parent = (inner as unknown as ReadableSpan | undefined)?.parentSpanContext?.spanId
  inner?.end()
  batch.ended += 1
  if (parent === undefined) throw new Error('context group: a span started inside a link has no parent: the context manager is not in effect')
}

function exportCases(long: Run<Flat>): Case[] {
  const tracer = batch.tracer
  // 1,001 spans end in one synchronous call, and the batch processor exports one batch of 512 per
  // microtask turn: without a flush after each call its queue would grow until it drops spans
  // (it did, at 65,536). The flush is part of both cases.
  return [
    {
      id: 'export',
      run: async () => {
        batch.ended += LONG + 1
        exportRun(long, { tracer, force: true })
        await batch.provider.forceFlush()
      },
    },
    {
      id: 'hand-export',
      run: async () => {
        batch.ended += LONG + 1
        handExportTree(tracer)
        await batch.provider.forceFlush()
      },
    },
  ]
}

/**
 * What live tracing does per link on our side, each piece alone (1,000 times a call, reported per
 * time): the figures behind the hot spots of the report.
 */
function partCases(): Case[] {
  const N = 1_000
  const span = noop.startSpan('part')
  const runContext = trace.setSpan(ROOT_CONTEXT, span)
  const call: MiddlewareCallInfo = { name: 'counter', position: 'chain-before', index: 0 }
  const metrics = Object.freeze({ ms: 0.00125 })
  const infos = orderLinks.map(([name], index) => Object.freeze({ name, index, meta: Object.freeze({}) }))
  const loop = (body: (i: number) => unknown) => async () => {
    for (let i = 0; i < N; i++) sink = body(i)
  }
  return [
    { id: 'part-loop', run: loop((i) => i) },
    { id: 'part-clock', run: loop(() => systemClock.now()) },
    { id: 'part-hrtime', run: loop(() => hrTime(systemClock.now())) },
    { id: 'part-setspan', run: loop(() => trace.setSpan(runContext, span)) },
    { id: 'part-name', run: loop((i) => linkSpanParts(infos[i % LINKS] as (typeof infos)[number])) },
    { id: 'part-ns', run: loop((i) => nsAttribute(BigInt(i))) },
    { id: 'part-bigint', run: loop((i) => BigInt(i)) },
    { id: 'part-mw-attrs', run: loop((i) => middlewareAttributes(call, BigInt(i))) },
    { id: 'part-end-attrs', run: loop((i) => (span.setAttribute(ATTR.linkDuration, nsAttribute(BigInt(i))), setMetricAttributes(span, metrics))) },
    { id: 'part-noop-link', run: loop((i) => handLink(noop, runContext, orderNames[i % LINKS] as LinkNames, i % LINKS)) },
  ]
}

// ---- report --------------------------------------------------------------------------------

function report(samples: Map<string, Samples>, recordNs: number, loadAverage: string): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  const cpu = (id: string): number => median(s(id).ns)
  const rounds = (ids: readonly string[]): number => Math.min(...ids.map((id) => s(id).ns.length))
  /** A value computed from each round's samples of the cases named, summarised. */
  const perRound = (ids: readonly string[], f: (x: Record<string, number>) => number): Ratio => {
    const values: number[] = []
    for (let r = 0; r < rounds(ids); r++) values.push(f(Object.fromEntries(ids.map((id) => [id, s(id).ns[r] as number]))))
    return { median: median(values), p25: quantile(values, 0.25), p75: quantile(values, 0.75) }
  }
  const spread = (r: Ratio, digits = 0): string => `${fmt(r.median, digits)} (${fmt(r.p25, digits)}–${fmt(r.p75, digits)})`
  const signed = (r: Ratio): string => `${r.median < 0 ? '−' : '+'}${spread({ median: Math.abs(r.median), p25: r.p25, p75: r.p75 })}`

  // Table 1: the runs. A traced run is compared with the untraced run of its own group.
  const run = (label: string, id: string, untraced: string | undefined, immer: string | undefined): string => {
    const over = untraced === undefined ? undefined : perRound([id, untraced], (x) => ((x[id] as number) - (x[untraced] as number)) / LINKS)
    const vsUntraced = untraced === undefined ? '' : times(perRound([id, untraced], (x) => (x[id] as number) / (x[untraced] as number)), true)
    const vsImmer = immer === undefined ? '' : times(perRound([id, immer], (x) => (x[id] as number) / (x[immer] as number)), id !== immer)
    return `| ${label} | ${id.split(':')[0]} | ${us(cpu(id))} | ${fmt(cpu(id) / LINKS, 0)} | ${over === undefined ? '' : signed(over)} | ${vsUntraced} | ${vsImmer} |`
  }
  const hand = (label: string, id: string, spans: number): string => `| ${label} | ${id.split(':')[0]} | ${us(cpu(id))} | ${fmt(cpu(id) / spans, 0)} |`

  // Table 3: live tracing against the SDK's own cost of the same spans, measured in the same group.
  const perLink = (group: string, traced: string, untraced: string): Ratio => {
    const [t, u, r] = [`${group}:${traced}`, `${group}:${untraced}`, `${group}:hand-run`]
    return perRound([t, u, r], (x) => ((x[t] as number) - (x[u] as number) - (x[r] as number)) / LINKS)
  }
  const perLinkRatio = (group: string, traced: string, untraced: string, byHand = 'hand-links'): Ratio => {
    const [t, u, r, l] = [`${group}:${traced}`, `${group}:${untraced}`, `${group}:hand-run`, `${group}:${byHand}`]
    return perRound([t, u, r, l], (x) => ((x[t] as number) - (x[u] as number) - (x[r] as number)) / (x[l] as number))
  }
  const tree = (traced: string, untraced: string): Ratio => perRound([traced, untraced], (x) => ((x[traced] as number) - (x[untraced] as number)) / (LINKS + 1))
  const treeRatio = (traced: string, untraced: string, byHand: string): Ratio =>
    perRound([traced, untraced, byHand], (x) => ((x[traced] as number) - (x[untraced] as number)) / (x[byHand] as number))
  /** The SDK's cost of the tree among the run's own work: (run + tree by hand) − run, per span. */
  const inSitu = (withTree: string, untraced: string): Ratio => perRound([withTree, untraced], (x) => ((x[withTree] as number) - (x[untraced] as number)) / (LINKS + 1))
  const inSituRatio = (traced: string, withTree: string, untraced: string): Ratio =>
    perRound([traced, withTree, untraced], (x) => ((x[traced] as number) - (x[untraced] as number)) / ((x[withTree] as number) - (x[untraced] as number)))
  const main = perLinkRatio('batch', 'off-batch', 'off', 'hand-links-live')
  const strict = perLinkRatio('batch', 'off-batch', 'off')
  const target = (label: string, ours: Ratio, sdkNs: number, ratio: Ratio, limit?: number): string =>
    `| ${label} | ${spread(ours)} | ${fmt(sdkNs, 0)} | ${times(ratio, true)} | ${limit === undefined ? '' : verdict(ratio, limit)} |`

  // Table 4: export.
  const spansPerExport = LONG + 1
  const exportRow = (label: string, id: string, vs: string | undefined): string =>
    `| ${label} | ${ms(cpu(id))} | ${fmt(spansPerExport / (cpu(id) / 1e9), 0)} | ${us(cpu(id) / spansPerExport)} | ${
      vs === undefined ? '1.00×' : times(perRound([id, vs], (x) => (x[id] as number) / (x[vs] as number)), true)
    } |`

  // Table 5: the parts (1,000 a call), less the empty loop.
  const part = (id: string, less = 'part-loop'): number => (cpu(id) - cpu(less)) / 1_000
  const partRow = (label: string, id: string, perLinkCount: number, note: string, less?: string): string =>
    `| ${label} | ${fmt(part(id, less), 0)} | ${perLinkCount} | ${fmt(part(id, less) * perLinkCount, 0)} | ${note} |`
  const noopOver = perRound(['branch:off-noop', 'branch:off'], (x) => ((x['branch:off-noop'] as number) - (x['branch:off'] as number)) / LINKS)
  const nullOver = perRound(['branch:off-null', 'branch:off'], (x) => ((x['branch:off-null'] as number) - (x['branch:off'] as number)) / LINKS)

  return [
    '### OpenTelemetry benchmark',
    '',
    `The runner suite's workload: 10 synchronous links on a 10-key ctx, 2 synchronous chain-level middleware (\`counter\` before,`,
    `\`timing\` after each link), run with the chain option \`tracer\`. SDK: \`BasicTracerProvider\` of @opentelemetry/sdk-trace-base 2.12.0`,
    `(no context manager), an exporter that reports success at once; batch = \`BatchSpanProcessor\` (maxQueueSize ${fmt(QUEUE, 0)}),`,
    `simple = \`SimpleSpanProcessor\`. ${machineLine(loadAverage)}.`,
    `Process CPU time, medians of ${ROUNDS} interleaved rounds (batch group: ${2 * ROUNDS}); ratios and differences are medians of per-round values, (p25–p75) in brackets.`,
    'Live groups measured one after the other, cases interleaved inside: branch (no tracer, no-op tracer, a tracer that keeps nothing, the immer loop), batch, timeline, simple; then export and the parts; last, with a context manager registered (AsyncLocalStorage): context.',
    '',
    '| run of the 10-link chain | group | µs / run | ns / link | tracing, ns / link over the same run untraced | × untraced | × immer loop |',
    '|---|---|--:|--:|--:|--:|--:|',
    run("hand-written immer loop (the runner suite's baseline)", 'branch:immer', undefined, 'branch:immer'),
    run("`capture: 'off'`, no tracer", 'branch:off', undefined, 'branch:immer'),
    run("`'off'`, `trace.getTracer()` of @opentelemetry/api, no SDK registered (no-op)", 'branch:off-noop', 'branch:off', 'branch:immer'),
    run("`'off'`, a tracer whose spans record and keep nothing (every event and attribute built, no SDK)", 'branch:off-null', 'branch:off', 'branch:immer'),
    run("`capture: 'timeline'` (default), no tracer", 'branch:timeline', undefined, 'branch:immer'),
    run("`capture: 'off'`, no tracer", 'batch:off', undefined, undefined),
    run("`'off'`, SDK tracer, batch", 'batch:off-batch', 'batch:off', undefined),
    run("`capture: 'timeline'`, no tracer", 'timeline:timeline', undefined, undefined),
    run("`'timeline'`, SDK tracer, batch", 'timeline:timeline-batch', 'timeline:timeline', undefined),
    run("`capture: 'off'`, no tracer", 'simple:off', undefined, undefined),
    run("`'off'`, SDK tracer, simple", 'simple:off-simple', 'simple:off', undefined),
    run("`capture: 'off'`, no tracer, a context manager registered", 'context:off', undefined, undefined),
    run("`'off'`, SDK tracer, batch, a context manager registered (each link runs in its span's context)", 'context:off-batch', 'context:off', undefined),
    '',
    '| the same spans written by hand with the SDK tracer (batch unless said) | group | µs / call | ns / span |',
    '|---|---|--:|--:|',
    hand('run span: `startSpan` (2 attributes, start time, root), its context, `setAttribute`, `end(time)`', 'batch:hand-run', 1),
    hand('10 link spans under a run context: `startSpan` (2 attributes, start time), 2 × `addEvent` (4 attributes, time), `setAttributes` (2), `end(time)`', 'batch:hand-links', LINKS),
    hand('10 link spans as above, the SDK reading the clock for every time (instrumentation written by hand, live)', 'batch:hand-links-live', LINKS),
    hand('the tree of one run: run span + 10 link spans', 'batch:hand-tree', LINKS + 1),
    `| the untraced \`'off'\` run, then that tree by hand (ns / span: less the untraced run, per round) | batch | ${us(cpu('batch:off-hand-tree'))} | ${fmt(inSitu('batch:off-hand-tree', 'batch:off').median, 0)} |`,
    hand('run span (as above)', 'timeline:hand-run', 1),
    hand('10 link spans (as above)', 'timeline:hand-links', LINKS),
    hand('10 link spans, the SDK stamping (as above)', 'timeline:hand-links-live', LINKS),
    `| the untraced \`'timeline'\` run, then the tree by hand (as above) | timeline | ${us(cpu('timeline:timeline-hand-tree'))} | ${fmt(inSitu('timeline:timeline-hand-tree', 'timeline:timeline').median, 0)} |`,
    hand('the tree of one run, simple', 'simple:hand-tree-simple', LINKS + 1),
    hand('run span (as above), context manager registered', 'context:hand-run', 1),
    hand('10 link spans, the SDK stamping, each with `context.with(trace.setSpan(…), work)` around its (empty) work, context manager registered', 'context:hand-links-context', LINKS),
    '',
    "| live tracing ÷ the SDK's own cost of the same spans (same group) | ours, ns / span | SDK by hand, ns / span | ratio | target |",
    '|---|--:|--:|--:|---|',
    target("`'off'`, batch, per link span: (traced − untraced − hand-written run span) ÷ 10, against the span by hand with the SDK stamping the times", perLink('batch', 'off-batch', 'off'), cpu('batch:hand-links-live') / LINKS, main, TARGET),
    target('the same, against the span by hand given ready-made times (no clock read at all: stricter than any live tracing)', perLink('batch', 'off-batch', 'off'), cpu('batch:hand-links') / LINKS, strict, STRICT_TARGET),
    target("`'off'`, batch, whole run: (traced − untraced) ÷ 11, against the hand-written tree", tree('batch:off-batch', 'batch:off'), cpu('batch:hand-tree') / (LINKS + 1), treeRatio('batch:off-batch', 'batch:off', 'batch:hand-tree')),
    target("`'off'`, batch, whole run, against the untraced run followed by the hand-written tree, less that run", tree('batch:off-batch', 'batch:off'), inSitu('batch:off-hand-tree', 'batch:off').median, inSituRatio('batch:off-batch', 'batch:off-hand-tree', 'batch:off')),
    target("`'timeline'`, batch, per link span, against the span by hand with the SDK stamping the times", perLink('timeline', 'timeline-batch', 'timeline'), cpu('timeline:hand-links-live') / LINKS, perLinkRatio('timeline', 'timeline-batch', 'timeline', 'hand-links-live')),
    target("`'timeline'`, batch, whole run, against the untraced run followed by the hand-written tree, less that run", tree('timeline:timeline-batch', 'timeline:timeline'), inSitu('timeline:timeline-hand-tree', 'timeline:timeline').median, inSituRatio('timeline:timeline-batch', 'timeline:timeline-hand-tree', 'timeline:timeline')),
    target("`'off'`, simple, whole run against the hand-written tree (simple)", tree('simple:off-simple', 'simple:off'), cpu('simple:hand-tree-simple') / (LINKS + 1), treeRatio('simple:off-simple', 'simple:off', 'simple:hand-tree-simple')),
    target('context manager registered: `\'off\'`, batch, per link span, against the span by hand with its work run in the span\'s context (SDK stamping)', perLink('context', 'off-batch', 'off'), cpu('context:hand-links-context') / LINKS, perLinkRatio('context', 'off-batch', 'off', 'hand-links-context')),
    '',
    `Every span ended reached the exporter: ${fmt(batch.exporter.spans, 0)} (batch) and ${fmt(simple.exporter.spans, 0)} (simple), counted after a \`forceFlush\` at the end of each group; none dropped.`,
    '',
    `| post-hoc export of ONE recorded run of ${fmt(LONG, 0)} links (flat ${fmt(LONG, 0)}-key ctx, same 2 middleware): ${fmt(spansPerExport, 0)} spans, 2 events a link span, batch | ms / export | spans / s | µs / span | × by hand |`,
    '|---|--:|--:|--:|--:|',
    exportRow('`exportRun(run, { tracer, force: true })`', 'export', 'hand-export'),
    exportRow('the same spans written by hand', 'hand-export', undefined),
    '',
    `Recording the run took ${ms(recordNs)} ms (once, wall).`,
    '',
    `Where our side of a traced link goes: the no-op tracer run costs ${signed(noopOver)} ns a link over the untraced one (all of our tracing`,
    `code, the SDK doing nothing); less the API's own no-op work for the same link span (last row below), ≈ ${fmt(noopOver.median - part('part-noop-link'), 0)} ns a link is ours.`,
    `Each piece alone, 1,000 times a call less an empty loop, ${ROUNDS} interleaved rounds:`,
    '',
    '| piece | ns each | per link | ns / link | what for |',
    '|---|--:|--:|--:|---|',
    partRow('`systemClock.now()` (hrtime + anchor, a bigint)', 'part-clock', 4, "a tracer makes the runner time the 2 hook calls even with `'off'` (start and end each); the link span takes the step's readings, none of its own"),
    partRow('`hrTime(ns)`: the bigint stored into a 64-bit typed array, read back as two 32-bit halves less an anchor\'s, to `[s, ns]` (no bigint arithmetic), excluding the clock', 'part-hrtime', 3, '2 event times, link end (a link span starts at the previous one\'s end: the same tuple)', 'part-clock'),
    partRow('`nsAttribute(ns)`: a bigint duration to a number the same way (no `Number(bigint)`), excluding `BigInt(i)`', 'part-ns', 3, '2 event durations, link duration', 'part-bigint'),
    partRow('`trace.setSpan(runContext, span)`', 'part-setspan', 1, 'the link span\'s context, for `context.with` around the link: only with a context manager (context group)'),
    partRow('`linkSpanParts(link)`', 'part-name', 1, 'the link\'s span name and attributes, made once a link: one WeakMap lookup a span'),
    partRow('`middlewareAttributes(call, ns)`, `BigInt(i)` included', 'part-mw-attrs', 2, 'one object per event (literal keys)'),
    partRow('`setAttribute(duration)` + `setMetricAttributes(span, metrics)` on a no-op span', 'part-end-attrs', 1, 'link end: set straight onto the span, prefixed keys cached'),
    partRow('the API\'s own no-op work: the hand-written link span with the no-op tracer', 'part-noop-link', 1, 'not ours: with an SDK, the SDK\'s work replaces it'),
    '',
    `The first row is the runner's: the readings it takes for a tracer (${fmt(part('part-clock') * 4, 0)} ns a link), the largest piece left; the tracer's own pieces`,
    `(conversions, names, attribute objects, without a context manager) come to ${fmt(part('part-hrtime', 'part-clock') * 3 + part('part-ns', 'part-bigint') * 3 + part('part-name') + part('part-mw-attrs') * 2 + part('part-end-attrs'), 0)} ns a link.`,
    `With a tracer whose spans record and keep nothing, a run costs ${signed(nullOver)} ns a link more than untraced: all that tracing adds besides the SDK's`,
    `own work (the tracer's pieces, the runner's readings and its calls to the tracer); the rest of "ours" in the target rows is the SDK's work, done among the run's.`,
    '',
  ]
    .join('\n')
}

// ---- main ----------------------------------------------------------------------------------

const started = Date.now()
const loadAverage = currentLoad()
await checkLive()
log(`checks passed (live tracing emits the spans of the hand-written code); ${ROUNDS} rounds × ${BATCH_MS} ms batches`)

const options = { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 3 }
const samples = new Map<string, Samples>()
for (const [name, cases] of liveGroups()) {
  // The target's group gets twice the rounds: its figure is a difference of two runs.
  const rounds = name === 'batch' ? 2 * ROUNDS : ROUNDS
  for (const [id, sampled] of await measure(cases, { ...options, rounds, progress: (text) => log(`live tracing, ${name}: ${text}`) })) samples.set(id, sampled)
  await delivered(batch, `${name}, batch`)
  await delivered(simple, `${name}, simple`)
}

// The long run is recorded only now, so that its ~9 MiB timeline is not in the heap (old
// generation) while the live groups are measured.
const longChain = build<Flat>('flat', flatLinks(LONG, LONG), {})
void longChain.links // compiled before the clock starts
const t0 = process.hrtime.bigint()
const long = await longChain.run(makeFlat(LONG))
const recordNs = Number(process.hrtime.bigint() - t0)
await checkExport(long)
log('checks passed (exportRun emits the spans of the hand-written code)')
for (const [id, sampled] of await measure(exportCases(long), { ...options, rounds: Math.ceil(ROUNDS / 2), warmupRounds: 2, progress: (text) => log(`export: ${text}`) })) {
  samples.set(id, sampled)
}
await delivered(batch, 'export')
for (const [id, sampled] of await measure(partCases(), { ...options, batchMs: BATCH_MS / 2, progress: (text) => log(`parts: ${text}`) })) {
  samples.set(id, sampled)
}
// Last: a context manager (AsyncLocalStorage) registered globally, as in most production set-ups.
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable())
await checkContext()
for (const [id, sampled] of await measure(contextCases(), { ...options, progress: (text) => log(`context manager: ${text}`) })) samples.set(id, sampled)
await delivered(batch, 'context manager')
publish('otel', report(samples, recordNs, loadAverage), started)
await batch.provider.shutdown()
await simple.provider.shutdown()
