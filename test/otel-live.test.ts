// Live nesting needs a registered provider with a context manager (AsyncLocalStorage), which is
// global: it gets a file of its own.
import { context, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { afterAll, describe, expect, it } from 'vitest'
import { chain } from '../src/index.js'

const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
provider.register()
const tracer = trace.getTracer('nesting')
afterAll(async () => {
  await provider.shutdown()
  trace.disable()
  context.disable()
})

/** Stands in for an instrumented client (HTTP, database): it starts spans in the active context. */
async function instrumentedFetch(url: string): Promise<string> {
  return tracer.startActiveSpan(`GET ${url}`, async (span) => {
    await new Promise((resolve) => setTimeout(resolve, 2))
    span.end()
    return 'ok'
  })
}

const fetching = chain<{ results: string[] }>('fetching')
  .link('sync', (ctx) => {
    const span = tracer.startSpan('sync work')
    span.end()
    ctx.results.push('sync')
  })
  .link('async', async (ctx) => {
    ctx.results.push(await instrumentedFetch('/a'))
    ctx.results.push(await instrumentedFetch('/b'))
  })

describe('live tracing in context', () => {
  it('nests spans started inside a link under its link span, across awaits', async () => {
    exporter.reset()
    await fetching.run({ results: [] }, { tracer })
    const spans = exporter.getFinishedSpans()
    const byName = new Map(spans.map((span) => [span.name, span]))
    const idOf = (name: string) => byName.get(name)!.spanContext().spanId
    expect(byName.get('sync work')!.parentSpanContext?.spanId).toBe(idOf('link sync'))
    expect(byName.get('GET /a')!.parentSpanContext?.spanId).toBe(idOf('link async'))
    expect(byName.get('GET /b')!.parentSpanContext?.spanId).toBe(idOf('link async'))
    expect(byName.get('link async')!.parentSpanContext?.spanId).toBe(idOf('chain fetching'))
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(1)
  })

  it('nests spans under the link span with redaction too, and scrubs what the link copied from a redacted path', async () => {
    exporter.reset()
    const secretive = chain<{ results: string[]; key: string }>('secretive', { redact: [['key']] }).link('async', async (ctx, io) => {
      ctx.results.push(await instrumentedFetch('/a'))
      io.metrics['used'] = `key ${ctx.key}`
    })
    await secretive.run({ results: [], key: 'sk-live-123456' }, { tracer })
    const spans = exporter.getFinishedSpans()
    const link = spans.find((span) => span.name === 'link async')!
    expect(spans.find((span) => span.name === 'GET /a')!.parentSpanContext?.spanId).toBe(link.spanContext().spanId)
    expect(link.attributes['shadowchain.metrics.used']).toBe('key [REDACTED]')
    expect(JSON.stringify(spans.map((span) => [span.attributes, span.events]))).not.toContain('sk-live-123456')
  })

  it('makes a run started inside an active span that span\'s child', async () => {
    exporter.reset()
    await tracer.startActiveSpan('http request', async (request) => {
      await fetching.run({ results: [] }, { tracer })
      request.end()
    })
    const spans = exporter.getFinishedSpans()
    const request = spans.find((span) => span.name === 'http request')!
    const run = spans.find((span) => span.name === 'chain fetching')!
    expect(run.parentSpanContext?.spanId).toBe(request.spanContext().spanId)
    expect(run.spanContext().traceId).toBe(request.spanContext().traceId)
  })

  it('keeps concurrent runs in separate traces', async () => {
    exporter.reset()
    await Promise.all([fetching.run({ results: [] }, { tracer }), fetching.run({ results: [] }, { tracer })])
    const spans = exporter.getFinishedSpans()
    const runs = spans.filter((span) => span.name === 'chain fetching')
    expect(runs).toHaveLength(2)
    for (const fetch of spans.filter((span) => span.name.startsWith('GET '))) {
      const link = spans.find((span) => span.spanContext().spanId === fetch.parentSpanContext?.spanId)!
      expect(link.name).toBe('link async')
      expect(link.spanContext().traceId).toBe(fetch.spanContext().traceId)
    }
    expect(new Set(runs.map((span) => span.spanContext().traceId)).size).toBe(2)
  })
})

describe('without a tracer, with a provider registered globally', () => {
  it('emits nothing: a run is traced only when given a tracer', async () => {
    exporter.reset()
    await fetching.run({ results: [] })
    await fetching.run({ results: [] }, { capture: 'off' })
    // The link's own instrumentation still reports, under no run span.
    const names = exporter.getFinishedSpans().map((span) => span.name)
    expect(names.filter((name) => name.startsWith('chain ') || name.startsWith('link '))).toEqual([])
    expect(names).toContain('GET /a')
  })

  it('nests a run started inside another traced run\'s link under that link span', async () => {
    exporter.reset()
    const inner = chain<{ n: number }>('inner').link('bump', (ctx) => void (ctx.n += 1))
    const outer = chain<{ n: number }>('outer').link('call inner', async (ctx) => {
      ctx.n = (await inner.run({ n: ctx.n }, { tracer })).ctx.n
    })
    await outer.run({ n: 1 }, { tracer })
    const spans = exporter.getFinishedSpans()
    const byName = new Map(spans.map((span) => [span.name, span]))
    expect(byName.get('chain inner')!.parentSpanContext?.spanId).toBe(byName.get('link call inner')!.spanContext().spanId)
    expect(new Set(spans.map((span) => span.spanContext().traceId)).size).toBe(1)
  })
})

