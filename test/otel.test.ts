import { SpanStatusCode, trace, type Tracer } from '@opentelemetry/api'
import { AlwaysOffSampler, BasicTracerProvider } from '@opentelemetry/sdk-trace-base'
import { beforeEach, describe, expect, it } from 'vitest'
import { chain, ChainRunError, Run, type Middleware, type TimelineEvent } from '../src/index.js'
import { describeSpanTable, exportRun } from '../src/otel/index.js'
import { steppingClock } from './helpers.js'
import { memoryTracer, ns, shape, spanTimes } from './otel-helpers.js'

const { exporter, tracer } = memoryTracer()
beforeEach(() => exporter.reset())

const audit: Middleware = {
  name: 'audit',
  before: (e) => void (e.metrics.checked = true),
  after: (e) => void (e.metrics.size = e.link.index * 10),
  runStart: () => {},
}
const noisy: Middleware = { name: 'noisy', after: (e) => { if (e.link.name === 'price') throw new Error('noisy broke') } }

const shop = chain<{ total: number; note?: string }>('shop')
  .link('price', (ctx, io) => {
    ctx.total = 10
    io.metrics.items = 2
    io.metrics.big = 5n
    io.metrics.nested = { not: 'an attribute' }
  })
  .link('charge', (ctx) => {
    if (ctx.note === 'decline') throw new Error('card declined')
  })
  .use(audit, noisy)

async function failedShopRun(options = {}): Promise<Run<{ total: number; note?: string }>> {
  return shop.run({ total: 0, note: 'decline' }, options).catch((e: ChainRunError<{ total: number }>) => e.run as Run<{ total: number; note?: string }>)
}

describe('live tracing', () => {
  it('emits a run span with one child span per link, middleware calls as events, errors as exceptions', async () => {
    const run = await failedShopRun({ tracer })
    const spans = exporter.getFinishedSpans()
    expect(shape(spans, ['shadowchain.run.id', 'shadowchain.link.duration_ns'])).toEqual([
      {
        name: 'chain shop',
        parent: null,
        attributes: { 'shadowchain.chain.name': 'shop', 'shadowchain.run.status': 'error', 'shadowchain.error.code': 'LINK_FAILED' },
        events: ['middleware.before', 'exception'],
        status: SpanStatusCode.ERROR,
      },
      {
        name: 'link charge',
        parent: 'chain shop',
        attributes: { 'shadowchain.link.name': 'charge', 'shadowchain.link.index': 1, 'shadowchain.metrics.checked': true, 'shadowchain.metrics.size': 10 },
        events: ['middleware.before', 'exception', 'middleware.after', 'middleware.after'],
        status: SpanStatusCode.ERROR,
      },
      {
        name: 'link price',
        parent: 'chain shop',
        attributes: { 'shadowchain.link.name': 'price', 'shadowchain.link.index': 0, 'shadowchain.metrics.checked': true, 'shadowchain.metrics.size': 0, 'shadowchain.metrics.items': 2, 'shadowchain.metrics.big': '5' },
        events: ['middleware.before', 'middleware.after', 'middleware.error'],
        status: SpanStatusCode.UNSET,
      },
    ])
    const runSpan = spans.find((s) => s.name === 'chain shop')!
    expect(runSpan.attributes['shadowchain.run.id']).toBe(run.id)
    const price = spans.find((s) => s.name === 'link price')!
    const mwError = price.events.find((e) => e.name === 'middleware.error')!
    expect(mwError.attributes).toMatchObject({
      'shadowchain.middleware.name': 'noisy',
      'shadowchain.middleware.position': 'chain-after',
      'shadowchain.middleware.index': 1,
      'shadowchain.middleware.error.type': 'Error',
      'shadowchain.middleware.error.message': 'noisy broke',
    })
    // A middleware's error is not the span's exception: no exception.* keys on its event.
    expect(Object.keys(mwError.attributes ?? {}).filter((key) => key.startsWith('exception.'))).toEqual([])
    const charge = spans.find((s) => s.name === 'link charge')!
    expect(charge.status.message).toBe('card declined')
    expect(charge.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({ 'exception.message': 'card declined', 'exception.type': 'Error' })
    expect(charge.events.find((e) => e.name === 'exception')?.attributes?.['exception.stacktrace']).toMatch(/^Error: card declined\n\s+at /)
    expect(charge.attributes['shadowchain.link.duration_ns']).toBe(Number(run.timeline.links()[1]!.durationNs))
    // Recorded times: the run span starts and ends exactly when the run did.
    expect(ns(runSpan.startTime)).toBe(run.startedAt)
    expect(ns(runSpan.endTime)).toBe(run.endedAt)
  })

  it('traces with capture off and timestamps off too (the SDK clock stamps the spans then)', async () => {
    await failedShopRun({ tracer, capture: 'off' })
    const off = shape(exporter.getFinishedSpans(), ['shadowchain.run.id', 'shadowchain.link.duration_ns'])
    exporter.reset()
    await failedShopRun({ tracer })
    expect(off).toEqual(shape(exporter.getFinishedSpans(), ['shadowchain.run.id', 'shadowchain.link.duration_ns']))
    exporter.reset()
    await failedShopRun({ tracer, timestamps: false })
    const spans = exporter.getFinishedSpans()
    expect(spans).toHaveLength(3)
    expect(spans.every((span) => span.startTime[0] > 1_600_000_000)).toBe(true)
  })

  it("links a fork's and a replay's run span to the original's and says which", async () => {
    const original = await shop.run({ total: 1 }, { tracer })
    const originalSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    exporter.reset()
    await original.fork({ at: 'price', tracer })
    await original.replay({ tracer })
    const runSpans = exporter.getFinishedSpans().filter((s) => s.name === 'chain shop')
    expect(runSpans).toHaveLength(2)
    const [forkSpan, replaySpan] = runSpans
    expect(forkSpan!.links.map((l) => l.context.spanId)).toEqual([originalSpan.spanContext().spanId])
    expect(forkSpan!.attributes).toMatchObject({ 'shadowchain.run.relation': 'fork', 'shadowchain.run.related_id': original.id })
    expect(replaySpan!.links.map((l) => l.context.spanId)).toEqual([originalSpan.spanContext().spanId])
    expect(replaySpan!.attributes).toMatchObject({ 'shadowchain.run.relation': 'replay' })
    // The fork's spans cover only the links it ran.
    expect(exporter.getFinishedSpans().filter((s) => s.name.startsWith('link ')).map((s) => s.name)).toEqual(['link charge', 'link price', 'link charge'])
  })

  it('rejects a tracer that is not one', async () => {
    await expect(shop.run({ total: 0 }, { tracer: {} as never })).rejects.toThrow(/tracer must be an OpenTelemetry Tracer/)
  })
})

describe('post-hoc export', () => {
  it('emits the same tree as live tracing, with exactly the recorded nanoseconds', async () => {
    const run = await failedShopRun({ tracer })
    const live = exporter.getFinishedSpans()
    exporter.reset()
    const result = exportRun(run, { tracer, force: true })
    const post = exporter.getFinishedSpans()
    expect(result).toMatchObject({ spans: 3, skipped: false })
    expect(shape(post)).toEqual(shape(live))
    const runSpan = post.find((s) => s.name === 'chain shop')!
    expect(ns(runSpan.startTime)).toBe(run.startedAt)
    expect(ns(runSpan.endTime)).toBe(run.endedAt)
    // Live and post-hoc spans carry the same times, span by span and event by event.
    expect(spanTimes(post)).toEqual(spanTimes(live))
    // A link span starts where the previous step ended (here: the runStart hook, then the link
    // span before it) and ends with its step's last reading; its events are stamped when each
    // middleware call began.
    const end = (e: TimelineEvent) => e.t + ('durationNs' in e && e.type.startsWith('middleware') ? e.durationNs : 0n)
    const runStartHook = run.timeline.filter({ type: 'middleware.before' }).find((e) => e.type === 'middleware.before' && e.link === undefined)!
    let previousEnd = end(runStartHook)
    for (const record of run.timeline.links()) {
      const span = post.find((s) => s.name === `link ${record.name}`)!
      const steps = run.timeline.filter({ link: record.name })
      expect(ns(span.startTime)).toBe(previousEnd)
      expect(ns(span.endTime)).toBe(end(steps.at(-1)!))
      previousEnd = ns(span.endTime)
      const mwEvents = steps.filter((e) => e.type.startsWith('middleware'))
      expect(span.events.filter((e) => e.name.startsWith('middleware')).map((e) => ns(e.time))).toEqual(mwEvents.map((e) => e.t))
    }
  })

  it('exports an imported run, nested under a given parent span', async () => {
    const run = await failedShopRun()
    const imported = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    const parent = tracer.startSpan('batch import')
    exportRun(imported, { tracer, parent })
    parent.end()
    const spans = exporter.getFinishedSpans()
    const runSpan = spans.find((s) => s.name === 'chain shop')!
    expect(runSpan.parentSpanContext?.spanId).toBe(parent.spanContext().spanId)
    expect(ns(runSpan.startTime)).toBe(run.startedAt)
    expect(spans.filter((s) => s.name.startsWith('link '))).toHaveLength(2)
    // The imported run is the same tree as the original, errors included.
    exporter.reset()
    // The original is the same run (same id): exporting it again is a repeat unless forced.
    expect(exportRun(run, { tracer, parent }).skipped).toBe(true)
    exportRun(run, { tracer, parent, force: true })
    const original = exporter.getFinishedSpans()
    expect(shape(spans.filter((s) => s.name !== 'batch import'))).toEqual(shape(original))
    const charge = spans.find((s) => s.name === 'link charge')!
    expect(charge.status).toEqual({ code: SpanStatusCode.ERROR, message: 'card declined' })
    expect(charge.events.find((e) => e.name === 'exception')?.attributes?.['exception.message']).toBe('card declined')
  })

  it('exports a run once per process unless forced: a second export is deliberate', async () => {
    const run = await shop.run({ total: 1 })
    const first = exportRun(run, { tracer })
    const second = exportRun(run, { tracer })
    expect(second).toEqual({ spanContext: first.spanContext, spans: 0, skipped: true })
    expect(exporter.getFinishedSpans()).toHaveLength(3)
    const forced = exportRun(run, { tracer, force: true })
    expect(forced.spans).toBe(3)
    expect(forced.spanContext.spanId).not.toBe(first.spanContext.spanId)
    const traced = await shop.run({ total: 1 }, { tracer })
    expect(exportRun(traced, { tracer }).skipped).toBe(true)
  })

  it('exports only the own links of a fork, linked to its exported parent', async () => {
    const parent = await shop.run({ total: 1 })
    const daughter = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.total = 2) })
    const parentExport = exportRun(parent, { tracer })
    exporter.reset()
    exportRun(daughter, { tracer })
    const spans = exporter.getFinishedSpans()
    expect(spans.map((s) => s.name).sort()).toEqual(['chain shop', 'link charge'])
    const runSpan = spans.find((s) => s.name === 'chain shop')!
    expect(runSpan.links[0]?.context.spanId).toBe(parentExport.spanContext.spanId)
    expect(runSpan.attributes['shadowchain.fork.seq']).toBe(daughter.parent?.seq)
    expect(trace.getActiveSpan()).toBeUndefined()
  })
})

describe('times', () => {
  it('converts epoch nanoseconds to HrTime exactly, now, long ago and far ahead', async () => {
    const { hrTime } = await import('../src/otel/names.js')
    for (const ns of [BigInt(Date.now()) * 1_000_000n + 123_456_789n, 1_000_000_000_000_000_001n, 2_500_000_000_999_999_999n, 5n]) {
      const [s, n] = hrTime(ns)!
      expect(BigInt(s) * 1_000_000_000n + BigInt(n)).toBe(ns)
      expect(n >= 0 && n < 1e9).toBe(true)
    }
    expect(hrTime(0n)).toEqual([0, 0])
  })

  it('keeps the times of a clock that starts at 0 (a test clock), live and exported alike', async () => {
    let t = 0n
    const counter = { now: () => t++ }
    const run = await shop.run({ total: 1 }, { tracer, clock: counter })
    const live = exporter.getFinishedSpans()
    const runSpan = live.find((s) => s.name === 'chain shop')!
    expect(runSpan.startTime).toEqual([0, 0])
    expect(ns(runSpan.endTime)).toBe(run.endedAt)
    expect(live.every((s) => s.startTime[0] === 0 && s.endTime[0] === 0)).toBe(true)
    exporter.reset()
    exportRun(run, { tracer, force: true })
    expect(spanTimes(exporter.getFinishedSpans())).toEqual(spanTimes(live))
    // Without timestamps there are no times to keep: the SDK stamps the exported spans.
    exporter.reset()
    exportRun(await shop.run({ total: 1 }, { timestamps: false }), { tracer })
    expect(exporter.getFinishedSpans().every((s) => s.startTime[0] > 1_600_000_000)).toBe(true)
  })
})

describe('live and post-hoc alike', () => {
  const abortAt = new AbortController()
  const failingHooks: Middleware = { name: 'hooks', runStart: () => { throw new Error('start broke') }, runEnd: () => { throw new Error('end broke') } }
  const cases: [string, () => Promise<Run<{ total: number; note?: string }>>][] = [
    ['a failed run', () => failedShopRun({ tracer })],
    ['an aborted run', () => shop.run({ total: 1 }, { tracer, signal: abortAt.signal }).catch((e: ChainRunError<{ total: number; note?: string }>) => e.run)],
    ['failing runStart and runEnd hooks', () => shop.use(failingHooks).run({ total: 1 }, { tracer })],
    ['failing hooks with safe: false', () => shop.use(failingHooks).run({ total: 1 }, { tracer, safe: false }).catch((e: ChainRunError<{ total: number; note?: string }>) => e.run)],
    ['a fork', async () => (await shop.run({ total: 1 })).fork({ at: 'price', tracer })],
    ['a fork of a fork', async () => (await (await shop.run({ total: 1 })).fork({ at: 'price' })).fork({ at: 'price', edit: (ctx) => void (ctx.total = 3), tracer })],
    ['a replay of a fork', async () => (await (await shop.run({ total: 1 })).fork({ at: 'price' })).replay({ tracer }).then((r) => r.run)],
  ]
  abortAt.abort(new Error('stop'))

  it.each(cases)('give the same spans for %s: names, parentage, attributes, events, times', async (_, make) => {
    const run = await make()
    // Only the last run of each case is traced.
    const live = exporter.getFinishedSpans()
    expect(live.length).toBeGreaterThan(0)
    exporter.reset()
    exportRun(run, { tracer, force: true })
    const post = exporter.getFinishedSpans()
    expect(shape(post)).toEqual(shape(live))
    expect(spanTimes(post)).toEqual(spanTimes(live))
  })

  it('a tracer changes no recorded time: a traced run under a step clock has the untraced timeline', async () => {
    const stamps = <C,>(run: Run<C>) => run.timeline.events.map((e) => `${e.type}@${e.t}`)
    const plain = await failedShopRun({ clock: steppingClock() })
    const traced = await failedShopRun({ clock: steppingClock(), tracer })
    expect(stamps(traced)).toEqual(stamps(plain))
    expect(traced.endedAt).toBe(plain.endedAt)
  })

  it("times middleware calls alone: their durations never include the tracer's own work", async () => {
    // A clock that moves 1 ns a reading, and a tracer whose every call takes 1 ms of it.
    let t = 1_800_000_000_000_000_000n
    const clock = { now: () => (t += 1n) }
    const slow = new Proxy(tracer, {
      get: (target, key) =>
        key !== 'startSpan'
          ? Reflect.get(target, key)
          : (...args: Parameters<Tracer['startSpan']>) => {
              t += 1_000_000n
              const span = target.startSpan(...args)
              return new Proxy(span, {
                get: (s, k) => {
                  const value = Reflect.get(s, k)
                  return typeof value !== 'function' ? value : (...a: unknown[]) => ((t += 1_000_000n), value.apply(s, a))
                },
              })
            },
    })
    const quiet = (name: string): Middleware => ({ name, before: () => {}, after: () => {} })
    const timed = chain<{ n: number }>('timed').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1)).use(quiet('one'), quiet('two'))
    for (const capture of ['off', 'timeline'] as const) {
      exporter.reset()
      await timed.run({ n: 0 }, { tracer: slow, clock, capture })
      const events = exporter.getFinishedSpans().flatMap((s) => s.events)
      expect(events).toHaveLength(8)
      expect(events.map((e) => e.attributes?.['shadowchain.middleware.duration_ns'])).toEqual(Array(8).fill(1))
    }
  })

  it('gives one event, at one reading, for a middleware call that throws after writing a cycle into mwctx', async () => {
    const cyclic: Middleware = {
      name: 'cyclic',
      after: (e) => {
        const loop: Record<string, unknown> = {}
        loop['self'] = loop
        e.mwctx.loop = loop
        throw new Error('and it threw')
      },
    }
    const c = chain<{ n: number }>('cycle').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1)).use(cyclic)
    const run = await c.run({ n: 0 }, { tracer, clock: steppingClock() })
    const errors = run.timeline.filter({ type: 'middleware.error' })
    expect(errors.map((e) => e.type === 'middleware.error' && (e.error as Error).message)).toEqual(['and it threw', 'and it threw'])
    expect(run.timeline.stateAt(run.timeline.length - 1).mwctx).toEqual({})
    const live = exporter.getFinishedSpans()
    exporter.reset()
    exportRun(run, { tracer, force: true })
    expect(spanTimes(exporter.getFinishedSpans())).toEqual(spanTimes(live))
    await expect(c.run({ n: 0 }, { safe: false })).rejects.toMatchObject({ code: 'MIDDLEWARE_FAILED', message: expect.stringContaining('(and 1 more middleware error)') })
  })

  it('fails the link (not the runner) when its draft cannot be finished, traced like any failure', async () => {
    const c = chain<Record<string, unknown>>('unfinishable')
      .link('a', (ctx) => {
        ctx.x = { get boom(): never { throw new Error('getter') } }
      })
      .link('b', () => {})
      .use({ name: 'mw', after: () => {} })
    const run = await c.run({ n: 1 }, { tracer, clock: steppingClock() }).catch((e: ChainRunError<Record<string, unknown>>) => e.run)
    expect(run.error).toMatchObject({ code: 'LINK_FAILED', link: { name: 'a' } })
    expect(run.timeline.filter({ type: 'link.error' })).toHaveLength(1)
    expect(run.timeline.filter({ type: 'middleware.after' })).toHaveLength(1)
    const live = exporter.getFinishedSpans()
    expect(live.find((s) => s.name === 'link a')?.status.code).toBe(SpanStatusCode.ERROR)
    exporter.reset()
    exportRun(run, { tracer, force: true })
    expect(shape(exporter.getFinishedSpans())).toEqual(shape(live))
    expect(spanTimes(exporter.getFinishedSpans())).toEqual(spanTimes(live))
  })

  it('traces a run whose input the schema rejects, as exportRun exports it', async () => {
    const { z } = await import('zod')
    const strict = chain<{ total: number }>('strict', { input: z.object({ total: z.number() }) }).link('noop', () => {})
    const run = await strict.run({ total: 'ten' } as never, { tracer }).catch((e: ChainRunError<{ total: number }>) => e.run)
    const live = exporter.getFinishedSpans()
    expect(live.map((s) => s.name)).toEqual(['chain strict'])
    expect(live[0]!.status.code).toBe(SpanStatusCode.ERROR)
    expect(live[0]!.attributes['shadowchain.error.code']).toBe('INVALID_INPUT')
    exporter.reset()
    exportRun(run, { tracer, force: true })
    expect(shape(exporter.getFinishedSpans())).toEqual(shape(live))
  })
})

describe('runs loaded from files', () => {
  const load = <C,>(run: Run<C>) => Run.fromJSON<C>(JSON.parse(JSON.stringify(run.toJSON())))

  it('link an imported fork to its imported parent exported first', async () => {
    const parent = await shop.run({ total: 1 })
    const fork = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.total = 2) })
    const [parentCopy, forkCopy] = [load(parent), load(fork)]
    expect(forkCopy.parent?.run).toBeUndefined()
    const parentExport = exportRun(parentCopy, { tracer })
    exporter.reset()
    exportRun(forkCopy, { tracer })
    const forkSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    expect(forkSpan.links.map((l) => l.context.spanId)).toEqual([parentExport.spanContext.spanId])
  })

  it('are repeats of the run they copy: a copy of a run traced live or exported is not exported again', async () => {
    const traced = await shop.run({ total: 1 }, { tracer })
    const liveSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    exporter.reset()
    expect(exportRun(load(traced), { tracer })).toMatchObject({ skipped: true, spans: 0, spanContext: { spanId: liveSpan.spanContext().spanId } })
    const plain = await shop.run({ total: 1 })
    const first = exportRun(plain, { tracer })
    expect(exportRun(load(plain), { tracer })).toMatchObject({ skipped: true, spanContext: { spanId: first.spanContext.spanId } })
    expect(exportRun(load(plain), { tracer, force: true }).skipped).toBe(false)
  })

  it("link an imported fork to its parent's live span when the parent was traced in this process", async () => {
    const parent = await shop.run({ total: 1 }, { tracer })
    const liveSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    const fork = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.total = 2) })
    const forkCopy = load(fork)
    exporter.reset()
    exportRun(forkCopy, { tracer })
    const forkSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    expect(forkSpan.links.map((l) => l.context.spanId)).toEqual([liveSpan.spanContext().spanId])
  })

  it('have no span to link to when their parent was neither traced nor exported in this process', async () => {
    const parent = await shop.run({ total: 1 })
    const fork = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.total = 2) })
    // Written and read back, the parent too: a document carries no spans.
    const [parentCopy, forkCopy] = [load(parent), load(fork)]
    exportRun(forkCopy, { tracer })
    const forkSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    expect(forkSpan.links).toEqual([])
    expect(forkSpan.attributes['shadowchain.run.related_id']).toBe(parent.id)
    expect(exportRun(parentCopy, { tracer }).skipped).toBe(false)
  })

  it('saving a run has no tracing side effect: the table of run ids with spans is unchanged, a loaded copy is exported', async () => {
    // A traced run is in the table from the moment it is traced; writing it adds nothing.
    const traced = await shop.run({ total: 1 }, { tracer })
    const run = await shop.run({ total: 1 })
    const before = describeSpanTable()
    load(traced)
    const copy = load(run)
    load(copy)
    expect(describeSpanTable()).toEqual(before)
    const first = exportRun(copy, { tracer })
    expect(first).toMatchObject({ skipped: false, spans: 3 })
    expect(describeSpanTable().remembered).toBe(Math.min(before.remembered + 1, before.limit))
    // Now the original is known by its id: the export of its copy counts for it.
    expect(exportRun(run, { tracer })).toMatchObject({ skipped: true, spanContext: { spanId: first.spanContext.spanId } })
  })

  it('are remembered by id for the last EXPORTED_IDS runs only', async () => {
    const { EXPORTED_IDS, rememberSpanById, spanContextOf } = await import('../src/otel/registry.js')
    const context = trace.wrapSpanContext({ traceId: '1'.repeat(32), spanId: '2'.repeat(16), traceFlags: 1 }).spanContext()
    for (let i = 0; i <= EXPORTED_IDS; i++) rememberSpanById(`id-${i}`, context)
    expect(spanContextOf(undefined, 'id-0')).toBeUndefined()
    expect(spanContextOf(undefined, 'id-1')).toBe(context)
    expect(spanContextOf(undefined, `id-${EXPORTED_IDS}`)).toBe(context)
  })
})

describe('spans nobody records', () => {
  it('do not count as exported: a run traced with the no-op tracer or sampled out can still be exported, and forks do not link to it', async () => {
    const sampledOut = new BasicTracerProvider({ sampler: new AlwaysOffSampler() }).getTracer('off')
    for (const quiet of [trace.getTracer('no sdk registered'), sampledOut]) {
      exporter.reset()
      const run = await shop.run({ total: 1 }, { tracer: quiet })
      expect(exporter.getFinishedSpans()).toEqual([])
      const fork = await run.fork({ at: 'price', tracer })
      const forkSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
      expect(forkSpan.links).toEqual([])
      expect(forkSpan.attributes['shadowchain.run.relation']).toBe('fork')
      expect(fork.parent?.runId).toBe(run.id)
      exporter.reset()
      const result = exportRun(run, { tracer })
      expect(result).toMatchObject({ skipped: false, spans: 3 })
    }
  })
})

describe('exportRun edge cases', () => {
  it("exports the run span alone for a run recorded with capture 'off' (it recorded no link events), its errors on it", async () => {
    const run = await failedShopRun({ capture: 'off' })
    const result = exportRun(run, { tracer })
    expect(result.spans).toBe(1)
    const spans = exporter.getFinishedSpans()
    expect(spans.map((s) => s.name)).toEqual(['chain shop'])
    expect(spans[0]!.events.map((e) => e.name)).toEqual(['middleware.error', 'exception'])
    expect(spans[0]!.status.code).toBe(SpanStatusCode.ERROR)
  })

  it('never throws into the caller when the tracer throws: the spans begun are ended, the error returned', async () => {
    const run = await shop.run({ total: 1 })
    let started = 0
    const flaky = {
      startSpan(name: string, options: never, parent: never) {
        if (++started === 3) throw new Error('tracer broke')
        return tracer.startSpan(name, options, parent)
      },
      startActiveSpan() {
        throw new Error('not used')
      },
    } as unknown as Tracer
    const result = exportRun(run, { tracer: flaky })
    expect(result.error).toBeInstanceOf(Error)
    expect(result.spans).toBe(2)
    expect(exporter.getFinishedSpans().map((s) => s.name).sort()).toEqual(['chain shop', 'link price'])
    const none = exportRun(run, { tracer: { startSpan: () => { throw new Error('no spans at all') } } as unknown as Tracer, force: true })
    expect(none).toMatchObject({ spans: 0, skipped: false })
    expect(none.error).toBeInstanceOf(Error)
    // A span whose every method throws.
    const hostileSpan = new Proxy({}, { get: () => () => { throw new Error('span broke') } })
    const hostile = exportRun(run, { tracer: { startSpan: () => hostileSpan } as unknown as Tracer, force: true })
    expect(hostile.error).toBeInstanceOf(Error)
    expect(hostile.skipped).toBe(false)
  })

  it('keeps metrics that are not finite numbers or primitives out of the attributes', async () => {
    const odd = chain<{ n: number }>('odd').link('measure', (_ctx, io) => {
      io.metrics.nan = Number.NaN
      io.metrics.inf = Number.POSITIVE_INFINITY
      io.metrics.nothing = null
      io.metrics.list = [1, 2]
      io.metrics.zero = 0
      io.metrics.empty = ''
      io.metrics.no = false
    })
    await odd.run({ n: 1 }, { tracer })
    const span = exporter.getFinishedSpans().find((s) => s.name === 'link measure')!
    const metrics = Object.fromEntries(Object.entries(span.attributes).filter(([key]) => key.startsWith('shadowchain.metrics.')))
    expect(metrics).toEqual({ 'shadowchain.metrics.zero': 0, 'shadowchain.metrics.empty': '', 'shadowchain.metrics.no': false })
  })

  it('keeps the span slot of a run out of sight: not enumerable, runs compare as before', async () => {
    const run = await shop.run({ total: 1 }, { tracer })
    expect(Object.getOwnPropertySymbols(run).filter((symbol) => Object.prototype.propertyIsEnumerable.call(run, symbol))).toEqual([])
    expect(Object.keys(run)).not.toContain('undefined')
  })
})

