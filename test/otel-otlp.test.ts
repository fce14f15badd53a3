// The real exporter, end to end: OTLP/HTTP to a receiver on 127.0.0.1.
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { BasicTracerProvider, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startReceiver, type Receiver } from '../examples/otel/otlp-receiver.js'
import { chain } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'

let receiver: Receiver
beforeAll(async () => {
  receiver = await startReceiver(20_000)
})
afterAll(async () => {
  await receiver.close()
})

describe('OTLP/HTTP export', () => {
  it('delivers the run and link spans with their parent ids and recorded nanosecond times', async () => {
    const provider = new BasicTracerProvider({
      spanProcessors: [new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${receiver.endpoint}/v1/traces` }))],
    })
    const run = await chain<{ n: number }>('otlp')
      .link('one', (ctx) => void (ctx.n += 1))
      .link('two', (ctx) => void (ctx.n *= 2))
      .use({ name: 'mw', before() {}, after() {} })
      .run({ n: 1 })
    exportRun(run, { tracer: provider.getTracer('otlp-test') })
    await provider.forceFlush()
    const spans = await receiver.waitFor(3)
    await provider.shutdown()

    const runSpan = spans.find((span) => span.name === 'chain otlp')!
    expect(runSpan.parentSpanId ?? '').toBe('')
    expect(runSpan.startTimeUnixNano).toBe(String(run.startedAt))
    expect(runSpan.endTimeUnixNano).toBe(String(run.endedAt))
    expect(runSpan.attributes).toContainEqual({ key: 'shadowchain.run.id', value: { stringValue: run.id } })
    // Link spans tile the run: each starts where the previous step ended.
    let previousEnd = String(run.startedAt)
    for (const record of run.timeline.links()) {
      const span = spans.find((candidate) => candidate.name === `link ${record.name}`)!
      expect(span.parentSpanId).toBe(runSpan.spanId)
      expect(span.traceId).toBe(runSpan.traceId)
      const step = run.timeline.filter({ link: record.name })
      const after = step.at(-1)!
      expect(span.startTimeUnixNano).toBe(previousEnd)
      expect(span.endTimeUnixNano).toBe(String(after.t + (after.type === 'middleware.after' ? after.durationNs : 0n)))
      previousEnd = span.endTimeUnixNano!
      expect(span.events?.map((event) => event.name)).toEqual(['middleware.before', 'middleware.after'])
      expect(span.events?.[0]?.timeUnixNano).toBe(String(step[0]!.t))
    }
  })
})
