/**
 * OpenTelemetry: trace a run live, and export a recorded run after the fact, to an OTLP/HTTP
 * endpoint (Jaeger, Grafana Tempo, an OpenTelemetry Collector):
 *
 *   OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318 npx tsx examples/otel/index.ts
 *
 * Without OTEL_EXPORTER_OTLP_ENDPOINT it starts a small receiver on 127.0.0.1 and prints what
 * arrived there.
 */
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http'
import { resourceFromAttributes } from '@opentelemetry/resources'
import { BatchSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { chain, Run } from 'shadowchain'
import { exportRun } from 'shadowchain/otel'
import { startReceiver } from './otlp-receiver.js'

const configured = process.env.OTEL_EXPORTER_OTLP_ENDPOINT ?? process.env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT
const local = configured === undefined ? await startReceiver() : undefined
// Given no URL, the exporter reads the standard variables itself (OTEL_EXPORTER_OTLP_ENDPOINT
// plus /v1/traces, or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT as it is, and the _HEADERS ones).
const exporter = local === undefined ? new OTLPTraceExporter() : new OTLPTraceExporter({ url: `${local.endpoint}/v1/traces` })
const endpoint = configured ?? local!.endpoint
const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({ 'service.name': 'shadowchain-example' }),
  spanProcessors: [new BatchSpanProcessor(exporter)],
})
provider.register()
const tracer = provider.getTracer('shadowchain-example')

const checkout = chain<{ items: number[]; total?: number; receipt?: string }>('checkout')
  .link('price', (ctx) => {
    ctx.total = ctx.items.reduce((sum, price) => sum + price, 0)
  })
  .link('charge', async (ctx, io) => {
    // Spans started in here (by an instrumented HTTP client, say) nest under 'link charge'.
    await tracer.startActiveSpan('POST /payments', async (span) => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      span.end()
    })
    ctx.receipt = `r-${Math.round(io.random() * 1e6)}`
  })
  .use({ name: 'timing', after: (e) => void (e.metrics.ms = Number(e.durationNs) / 1e6) })

// Live: spans are made while the run executes.
const live = await checkout.run({ items: [12, 30] }, { tracer })

// Post-hoc: a run recorded without tracing (or loaded from a file) becomes the same span tree,
// with its recorded nanosecond times.
const recorded = Run.fromJSON((await checkout.run({ items: [5] })).toJSON())
const exported = exportRun(recorded, { tracer })

await provider.forceFlush()
console.log(`sent run ${live.id} (live) and ${recorded.id} (exported, trace ${exported.spanContext.traceId}) to ${endpoint}`)
if (local !== undefined) {
  const spans = await local.waitFor(6)
  for (const span of spans) console.log(`  ${span.name.padEnd(16)} trace ${span.traceId.slice(0, 8)}  parent ${span.parentSpanId?.slice(0, 8) ?? '(root)  '}`)
  await local.close()
}
await provider.shutdown()
