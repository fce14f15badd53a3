import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import type { Tracer } from '@opentelemetry/api'
import type { Run } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'

/** A provider that keeps finished spans in memory. */
export function memoryTracer(name = 'test') {
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  return { exporter, provider, tracer: provider.getTracer(name) }
}

/** Span trees compared by what must match: names, parentage, attributes, event names, status. */
export function shape(spans: readonly ReadableSpan[], ignore: readonly string[] = []) {
  const byId = new Map(spans.map((span) => [span.spanContext().spanId, span]))
  const parentName = (span: ReadableSpan) => {
    const id = span.parentSpanContext?.spanId
    return id === undefined ? null : (byId.get(id)?.name ?? 'external')
  }
  return spans
    .map((span) => ({
      name: span.name,
      parent: parentName(span),
      attributes: Object.fromEntries(Object.entries(span.attributes).filter(([key]) => !ignore.includes(key))),
      events: span.events.map((event) => event.name),
      status: span.status.code,
    }))
    .sort((a, b) => a.name.localeCompare(b.name))
}

/** Epoch ns of an OTel HrTime. */
export const ns = (time: readonly [number, number]): bigint => BigInt(time[0]) * 1_000_000_000n + BigInt(time[1])

/** Every span's and event's times, by span name (names are unique in the runs compared). */
export function spanTimes(spans: readonly ReadableSpan[]) {
  return Object.fromEntries(spans.map((s) => [s.name, { start: ns(s.startTime), end: ns(s.endTime), events: s.events.map((e) => `${e.name}@${ns(e.time)}`) }]))
}

/**
 * Runs `check` on the spans traced live, then again on the spans `exportRun` gives for the same
 * run (the exporter reset between): what a live trace shows, an export must show too.
 */
export function checkLiveAndExported<C>(exporter: InMemorySpanExporter, tracer: Tracer, run: Run<C>, check: () => void): void {
  check()
  exporter.reset()
  exportRun(run, { tracer, force: true })
  check()
}
