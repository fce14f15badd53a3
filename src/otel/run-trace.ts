// A run's place in a distributed trace (DESIGN §11): the trace it belongs to (the caller's, from
// W3C headers a handler extracted, or the active span's, or its own), its own span id, the
// caller's span when it came from another process; and `io.inject`, which writes the current
// link's context into an outbound request's headers, through OTel's propagation API, so the
// service called takes it as its parent. Without a recording tracer the ids are the run's own
// ("shadow" span ids, recorded in the run): services can still be stitched into one tree.
import { propagation, trace, TraceFlags, isSpanContextValid, type Context, type SpanContext, type TextMapSetter } from '@opentelemetry/api'
import type { RunTrace, TraceCarrier } from '../core/types.js'
import type { LiveTrace } from './live.js'

/** What a link call's io keeps of the context it injected (the recorder writes `span`). */
export interface InjectingIO {
  readonly link: { readonly name: string }
  /** The span id this call injected (its link's or branch's span, or a shadow one). */
  spanId: string | undefined
}

/** Writes into the carriers fetch, undici and node:http take: Headers (set), arrays of pairs, records. */
const setter: TextMapSetter<TraceCarrier> = {
  set(carrier, key, value) {
    if (Array.isArray(carrier)) (carrier as [string, string][]).push([key, value])
    else if (typeof (carrier as { set?: unknown }).set === 'function') (carrier as { set(k: string, v: string): unknown }).set(key, value)
    else (carrier as Record<string, unknown>)[key] = value
  },
}

/** Random lowercase hex of `bytes` bytes, never all zeros (an invalid id in W3C trace context). */
function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes)
  for (;;) {
    globalThis.crypto.getRandomValues(buf)
    if (buf.some((b) => b !== 0)) return Array.from(buf, (b) => b.toString(16).padStart(2, '0')).join('')
  }
}

/** The trace identity of one run, made when first asked. */
export class RunTraceContext {
  readonly #parent: Context
  readonly #parentSpan: SpanContext | undefined
  readonly #live: LiveTrace | undefined
  #own: SpanContext | undefined

  /**
   * @param parent - the run's parent context: the `traceContext` run option (a handler's extracted
   *   context), else the context active when the run started
   * @param live - the run's live trace, when it has a tracer
   */
  constructor(parent: Context, live: LiveTrace | undefined) {
    this.#parent = parent
    const span = trace.getSpanContext(parent)
    this.#parentSpan = span !== undefined && isSpanContextValid(span) ? span : undefined
    this.#live = live
  }

  /** The context of the live span of `io`'s call (its branch's or link's), when the run is traced live. */
  callContext(io: object): Context | undefined {
    return this.#live?.callContext(io)
  }

  /** The run's trace: undefined for a run with no tracer, no parent, and nothing injected. */
  trace(): RunTrace | undefined {
    const recorded = this.#live?.spanContext
    const own = recorded ?? (this.#parentSpan !== undefined ? this.#identity() : this.#own)
    if (own === undefined) return undefined
    const parent = this.#parentSpan
    return parent?.isRemote === true ? { traceId: own.traceId, spanId: own.spanId, remoteParent: parent.spanId } : { traceId: own.traceId, spanId: own.spanId }
  }

  /**
   * Writes the context of `io`'s call (its link's or branch's span; a shadow span id of its own
   * when the run has no recording tracer) into `carrier`, and keeps the span id on `io`.
   */
  inject(io: InjectingIO, carrier: TraceCarrier): void {
    let context: Context
    if (this.#live?.spanContext !== undefined) {
      context = this.#live.callContext(io)
      io.spanId = trace.getSpanContext(context)?.spanId
    } else {
      const run = this.#identity()
      io.spanId ??= randomHex(8)
      const span: SpanContext = { traceId: run.traceId, spanId: io.spanId, traceFlags: run.traceFlags, isRemote: false }
      // The caller's vendor state travels on, as a span of the caller's trace would carry it.
      if (this.#parentSpan?.traceState !== undefined) span.traceState = this.#parentSpan.traceState
      context = trace.setSpanContext(this.#parent, span)
    }
    propagation.inject(context, carrier, setter)
  }

  /**
   * The run's own span context when no recording tracer gives one (both callers ask only then):
   * the parent's trace, or a new one.
   */
  #identity(): SpanContext {
    return (this.#own ??= {
      traceId: this.#parentSpan?.traceId ?? randomHex(16),
      spanId: randomHex(8),
      traceFlags: this.#parentSpan?.traceFlags ?? TraceFlags.SAMPLED,
      isRemote: false,
    })
  }
}
