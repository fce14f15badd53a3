import { expect } from 'vitest'
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

/** One span of a {@link spanTree}: what must match, and its children. */
export interface SpanNode {
  readonly name: string
  readonly attributes: Record<string, unknown>
  readonly events: readonly { readonly name: string; readonly attributes: unknown; readonly time: bigint }[]
  readonly status: { readonly code: number; readonly message: string | undefined }
  readonly start: bigint
  readonly end: bigint
  readonly children: readonly SpanNode[]
}

/**
 * Spans as trees: each span with its attributes, events (names, attributes, times), status,
 * times and its child spans (by start time, then name), from the spans whose parent is not among
 * them. Unlike {@link shape} and {@link spanTimes} it holds when names repeat (a nested chain run
 * once per attempt, or the same chain nested twice).
 */
export function spanTree(spans: readonly ReadableSpan[], ignore: readonly string[] = []): SpanNode[] {
  const ids = new Set(spans.map((span) => span.spanContext().spanId))
  const node = (span: ReadableSpan): SpanNode => ({
    name: span.name,
    attributes: Object.fromEntries(Object.entries(span.attributes).filter(([key]) => !ignore.includes(key))),
    events: span.events.map((event) => ({ name: event.name, attributes: event.attributes, time: ns(event.time) })),
    status: { code: span.status.code, message: span.status.message },
    start: ns(span.startTime),
    end: ns(span.endTime),
    children: level(spans.filter((child) => child.parentSpanContext?.spanId === span.spanContext().spanId)),
  })
  const level = (of: readonly ReadableSpan[]): SpanNode[] =>
    of.map(node).sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.name.localeCompare(b.name)))
  return level(spans.filter((span) => span.parentSpanContext === undefined || !ids.has(span.parentSpanContext.spanId)))
}

/** A {@link spanTree} as `name` lines indented by depth: the structure alone, for readable checks. */
export function outline(nodes: readonly SpanNode[], depth = 0): string[] {
  return nodes.flatMap((n) => [`${'  '.repeat(depth)}${n.name}`, ...outline(n.children, depth + 1)])
}

/**
 * Runs `check` on the tree of the spans traced live, then on the tree `exportRun` gives for the
 * same run (forced), and expects the two trees equal; returns the live tree.
 */
export function expectSameTree<C>(exporter: InMemorySpanExporter, tracer: Tracer, run: Run<C>): SpanNode[] {
  const live = spanTree(exporter.getFinishedSpans())
  exporter.reset()
  exportRun(run, { tracer, force: true })
  expect(spanTree(exporter.getFinishedSpans())).toEqual(live)
  return live
}
