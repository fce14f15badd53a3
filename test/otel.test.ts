import { SpanStatusCode, trace } from '@opentelemetry/api'
import { beforeEach, describe, expect, it } from 'vitest'
import { chain, ChainRunError, Run, type Middleware } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'
import { memoryTracer, ns, shape } from './otel-helpers.js'

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
    expect(mwError.attributes).toMatchObject({ 'shadowchain.middleware.name': 'noisy', 'shadowchain.middleware.position': 'chain-after', 'shadowchain.middleware.index': 1, 'exception.message': 'noisy broke' })
    const charge = spans.find((s) => s.name === 'link charge')!
    expect(charge.status.message).toBe('card declined')
    expect(charge.events.find((e) => e.name === 'exception')?.attributes).toMatchObject({ 'exception.message': 'card declined', 'exception.type': 'Error' })
    expect(charge.attributes['shadowchain.link.duration_ns']).toBe(Number(run.timeline.links()[1]!.durationNs))
    // Recorded times: the run span starts and ends exactly when the run did.
    expect(ns(runSpan.startTime)).toBe(run.startedAt)
    expect(ns(runSpan.endTime)).toBe(run.endedAt)
  })

  it('emits nothing without a tracer', async () => {
    await failedShopRun()
    await failedShopRun({ capture: 'off' })
    expect(exporter.getFinishedSpans()).toEqual([])
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
    expect(replaySpan!.links[0]?.context.traceId).toBe(originalSpan.spanContext().traceId)
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
    const links = run.timeline.links()
    for (const record of links) {
      const span = post.find((s) => s.name === `link ${record.name}`)!
      const steps = run.timeline.filter({ link: record.name })
      expect(ns(span.startTime)).toBe(steps[0]!.t)
      const last = steps.at(-1)!
      expect(ns(span.endTime)).toBe(last.t + ('durationNs' in last && last.type.startsWith('middleware') ? last.durationNs : 0n))
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
    expect(hrTime(0n)).toBeUndefined()
  })
})
