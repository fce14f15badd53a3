// W3C trace context across services (DESIGN §11): a run takes its parent from extracted headers
// (`traceContext`), records `run.trace`, and `io.inject` writes the current link's context into
// an outbound request; the run file keeps both (version 9).
import { propagation, ROOT_CONTEXT } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, memoryStore, recorder, Run, type RunDocument } from '../src/index.js'
import { memoryTracer } from './otel-helpers.js'

const CALLER_TRACE = '0af7651916cd43dd8448eb211c80319c'
const CALLER_SPAN = 'b7ad6b7169203331'
const incoming = () => propagation.extract(ROOT_CONTEXT, { traceparent: `00-${CALLER_TRACE}-${CALLER_SPAN}-01`, tracestate: 'vendor=x', baggage: 'tenant=acme' })
const parse = (traceparent: string | undefined) => /^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$/.exec(traceparent ?? '')

beforeAll(() => {
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }))
})
afterAll(() => propagation.disable())

interface Call {
  sent: Record<string, string>[]
}

describe('a run in a distributed trace', () => {
  it('continues the caller\'s trace without a tracer: run.trace names the remote parent, io.inject the link\'s own span', async () => {
    const headers = new Headers()
    const pairs: [string, string][] = []
    const sent: Record<string, string> = {}
    const c = chain<Call>('orders').link('charge', (ctx, io) => {
      io.inject(sent)
      io.inject(headers)
      io.inject(pairs)
      ctx.sent.push(sent)
    })
    const run = await c.run({ sent: [] }, { traceContext: incoming() })
    expect(run.trace).toMatchObject({ traceId: CALLER_TRACE, remoteParent: CALLER_SPAN })
    expect(run.trace?.spanId).toMatch(/^[0-9a-f]{16}$/)
    const [, traceId, spanId] = parse(sent['traceparent'])!
    expect(traceId).toBe(CALLER_TRACE)
    // One span id per link call, whatever the carrier; the tracestate and baggage travel on.
    expect(headers.get('traceparent')).toBe(sent['traceparent'])
    expect(pairs).toContainEqual(['traceparent', sent['traceparent']])
    expect(sent['tracestate']).toBe('vendor=x')
    expect(sent['baggage']).toBe('tenant=acme')
    expect(spanId).not.toBe(CALLER_SPAN)
    expect(run.timeline.filter({ type: 'link.end' })[0]).toMatchObject({ span: spanId })
  })

  it('has no trace when nothing gives it one, and starts its own when a link injects', async () => {
    expect((await chain<Call>('plain').link('a', () => {}).run({ sent: [] })).trace).toBeUndefined()
    const sent: Record<string, string> = {}
    const run = await chain<Call>('origin').link('call', (_ctx, io) => io.inject(sent)).run({ sent: [] })
    const [, traceId, spanId] = parse(sent['traceparent'])!
    expect(run.trace).toEqual({ traceId, spanId: run.trace?.spanId })
    expect(run.trace?.remoteParent).toBeUndefined()
    expect(spanId).not.toBe(run.trace?.spanId)
  })

  it('with a tracer: the run span is the remote caller\'s child, and io.inject carries the link span (or the branch span)', async () => {
    const { tracer, exporter } = memoryTracer()
    const sent: Record<string, Record<string, string>> = {}
    const c = chain<Call>('orders')
      .link('charge', (_ctx, io) => io.inject((sent['charge'] = {})))
      .parallel('notify', { mail: (_ctx, io) => io.inject((sent['mail'] = {})), sms: () => {} })
    const run = await c.run({ sent: [] }, { tracer, traceContext: incoming() })
    const spans = exporter.getFinishedSpans()
    const runSpan = spans.find((s) => s.name === 'chain orders')!
    expect(runSpan.spanContext().traceId).toBe(CALLER_TRACE)
    expect(runSpan.parentSpanContext?.spanId).toBe(CALLER_SPAN)
    expect(run.trace).toEqual({ traceId: CALLER_TRACE, spanId: runSpan.spanContext().spanId, remoteParent: CALLER_SPAN })
    const link = spans.find((s) => s.name === 'link charge')!
    const branch = spans.find((s) => s.name.startsWith('branch') && s.name.endsWith('mail'))!
    expect(parse(sent['charge']?.['traceparent'])?.[2]).toBe(link.spanContext().spanId)
    expect(parse(sent['mail']?.['traceparent'])?.[2]).toBe(branch.spanContext().spanId)
    expect(run.timeline.filter({ type: 'branch.end' }).find((e) => (e as { branch: string }).branch === 'mail')).toMatchObject({ span: branch.spanContext().spanId })
  })

  it('fails the link when io.inject is given no carrier', async () => {
    const c = chain<Call>('bad').link('call', (_ctx, io) => io.inject(undefined as never))
    await expect(c.run({ sent: [] })).rejects.toThrow('io.inject(carrier): carrier must be headers (a Headers, an object or an array of pairs), got undefined')
  })

  it('is refused as a traceContext that is not a Context', () => {
    expect(() => chain<Call>('c', { traceContext: { traceparent: 'x' } as never })).toThrow("chain 'c': options: traceContext must be an OpenTelemetry Context")
  })
})

describe('the run file (version 9)', () => {
  const traced = async () => chain<Call>('orders').link('charge', (_ctx, io) => io.inject({})).run({ sent: [] }, { traceContext: incoming() })

  it('keeps run.trace and each injected span, and loads them back', async () => {
    const run = await traced()
    const doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
    expect(doc.version).toBe(9)
    expect(doc.run.trace).toEqual(run.trace)
    const loaded = Run.fromJSON(doc)
    expect(loaded.trace).toEqual(run.trace)
    expect(loaded.timeline.filter({ type: 'link.end' })[0]).toMatchObject({ span: (run.timeline.filter({ type: 'link.end' })[0] as { span: string }).span })
    // A run without a trace keeps its old version.
    expect((await chain<Call>('plain').link('a', () => {}).run({ sent: [] })).toJSON().version).toBe(1)
  })

  it('rejects hostile trace fields with their path', async () => {
    const doc = JSON.parse(JSON.stringify((await traced()).toJSON())) as RunDocument
    const at = doc.events.findIndex((e) => 'span' in e && e.span !== undefined)
    const bad = (change: (d: RunDocument) => void): RunDocument => {
      const copy = JSON.parse(JSON.stringify(doc)) as RunDocument
      change(copy)
      return copy
    }
    expect(() => Run.fromJSON(bad((d) => void (d.version = 8)))).toThrow('$.run.trace: this field exists from version 9 on; the document says version 8')
    expect(() => Run.fromJSON(bad((d) => void (d.run.trace!.traceId = '0'.repeat(32))))).toThrow(/\$\.run\.trace\.traceId: a trace id is 32 lowercase hex digits/)
    expect(() => Run.fromJSON(bad((d) => void (d.run.trace!.remoteParent = 'XYZ')))).toThrow(/\$\.run\.trace\.remoteParent: a span id is 16 lowercase hex digits/)
    expect(() => Run.fromJSON(bad((d) => void ((d.events[at] as { span?: string }).span = 'not-a-span')))).toThrow(new RegExp(`\\$\\.events\\[${at}\\]\\.span: a span id is 16 lowercase hex digits`))
    const older = bad((d) => {
      delete d.run.trace
      d.version = 8
    })
    expect(() => Run.fromJSON(older)).toThrow(`$.events[${at}].span: this field exists from version 9 on; the document says version 8`)
  })
})

describe('a durable run in a distributed trace', () => {
  it('is stored with its trace from its start: an unfinished run is listed by its trace id', async () => {
    const store = memoryStore()
    const rec = recorder({ store })
    let whileRunning: { listed: string[]; trace: unknown; version: number } | undefined
    const c = chain<Call>('orders', { recorder: rec }).link('charge', async (_ctx, io) => {
      const doc = (await store.read(io.run.id))!
      whileRunning = { listed: (await store.list({ trace: CALLER_TRACE })).map((s) => `${s.id} ${s.status}`), trace: doc.run.trace, version: doc.version }
    })
    const run = await c.run({ sent: [] }, { traceContext: incoming(), durable: true })
    expect(whileRunning).toEqual({ listed: [`${run.id} interrupted`], trace: run.trace, version: 9 })
    await rec.close()
  })
})

