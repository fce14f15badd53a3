// Live tracing asks whether a context manager is registered once for each manager it meets, not
// once a run: a manager registered or removed between runs must still be seen at the next run.
// (It registers and removes the global context manager: a file of its own.)
import { context, trace, type Tracer } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { afterAll, describe, expect, it } from 'vitest'
import { chain } from '../src/index.js'

const exporter = new InMemorySpanExporter()
const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
const tracer: Tracer = provider.getTracer('probe')
afterAll(async () => {
  await provider.shutdown()
  trace.disable()
  context.disable()
})

/** A link that starts a span in the active context, as an instrumented client would. */
const nesting = chain<{ n: number }>('nesting').link('work', (ctx) => {
  tracer.startSpan('inner').end()
  ctx.n += 1
})

/** The name of the span `inner` was started under, after one traced run (null: a root). */
async function innerParent(): Promise<string | null> {
  exporter.reset()
  await nesting.run({ n: 0 }, { tracer, capture: 'off' })
  const spans = exporter.getFinishedSpans()
  const inner = spans.find((s) => s.name === 'inner') as ReadableSpan
  const parentId = inner.parentSpanContext?.spanId
  return parentId === undefined ? null : (spans.find((s) => s.spanContext().spanId === parentId)?.name ?? 'unknown')
}

describe('the context manager, registered and removed between runs', () => {
  it('is seen at the next run each time', async () => {
    // None registered: entering a context does nothing, the inner span is a root.
    expect(await innerParent()).toBeNull()
    expect(await innerParent()).toBeNull()
    // Registered (AsyncLocalStorage): the link runs in its span's context.
    provider.register()
    expect(await innerParent()).toBe('link work')
    expect(await innerParent()).toBe('link work')
    // Removed again.
    context.disable()
    expect(await innerParent()).toBeNull()
  })
})
