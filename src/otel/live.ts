// Live tracing: the runner reports to a LiveTrace as it goes; spans carry the recorded times.
import { context, createContextKey, diag, ROOT_CONTEXT, trace, type Attributes, type Context, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api'
import { describeError } from '../errors.js'
import type { MiddlewareCallInfo } from '../events.js'
import type { Failure } from '../runner.js'
import type { LinkInfo, RunInfo, RunStatus } from '../types.js'
import { ATTR, hrTime, runSpanOptions, linkSpanName, middlewareAttributes, nsAttribute, recordFailure, runSpanName, setMetricAttributes } from './names.js'

// Link attributes never change: built once per link (the SDK copies what it is given).
const linkAttributesCache = new WeakMap<LinkInfo, Attributes>()
function linkAttributes(link: LinkInfo): Attributes {
  let attributes = linkAttributesCache.get(link)
  if (attributes === undefined) {
    attributes = Object.freeze({ [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index })
    linkAttributesCache.set(link, attributes)
  }
  return attributes
}

/** A tracer or SDK that throws is reported through OTel's diag logger and ignored. */
function skipped(what: string, error: unknown): void {
  diag.warn(`shadowchain: OpenTelemetry ${what} failed and was skipped: ${describeError(error)}`)
}

// Whether a context manager is registered: without one, entering a link's context does nothing.
// Asked once per run (one can be registered at any time), with a context made once: no allocation.
const PROBE = ROOT_CONTEXT.setValue(createContextKey('shadowchain.probe'), true)
function probeIsActive(): boolean {
  return context.active() === PROBE
}
function contextPropagates(): boolean {
  return context.with(PROBE, probeIsActive)
}

/**
 * Live tracing of one run. Every call into the tracer is guarded: observability never throws
 * into a run. (try/catch inline, not a closure per call: this runs for every link.)
 */
export class LiveTrace {
  private readonly tracer: Tracer
  readonly runSpan: Span
  private readonly runContext: Context
  private readonly propagates: boolean
  private linkSpan: Span | undefined = undefined
  private linkContext: Context | undefined = undefined

  /**
   * @param parent - the context active when `run()` was called: a run started inside a span
   *   becomes its child
   */
  constructor(tracer: Tracer, info: RunInfo, parent: Context, lineage: Parameters<typeof runSpanOptions>[3]) {
    this.tracer = tracer
    this.runSpan = tracer.startSpan(runSpanName(info.chainName), runSpanOptions(info.chainName, info.id, info.startedAt, lineage), parent)
    this.runContext = trace.setSpan(parent, this.runSpan)
    this.propagates = contextPropagates()
  }

  linkBegin(link: LinkInfo, t: bigint): void {
    this.linkSpan = this.linkContext = undefined
    try {
      const options: SpanOptions = { attributes: linkAttributes(link) }
      const startTime = hrTime(t)
      if (startTime !== undefined) options.startTime = startTime
      this.linkSpan = this.tracer.startSpan(linkSpanName(link.name), options, this.runContext)
      if (this.propagates) this.linkContext = trace.setSpan(this.runContext, this.linkSpan)
    } catch (error) {
      skipped('startSpan', error)
    }
  }

  /**
   * Calls the link function inside its span's context, so spans it starts nest under it. (Its
   * arguments are passed through rather than closed over: no closure per link.)
   */
  runInLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    return this.linkContext === undefined ? fn(a, b) : context.with(this.linkContext, fn, undefined, a, b)
  }

  /**
   * One middleware call as a span event.
   *
   * @param name - the event type: `middleware.before`, `middleware.after` or `middleware.error`
   * @param error - the call's error (for `middleware.error`)
   */
  middleware(name: string, call: MiddlewareCallInfo, link: LinkInfo | undefined, t: bigint, durationNs: bigint, error: unknown): void {
    const span = link === undefined ? this.runSpan : (this.linkSpan ?? this.runSpan)
    // A span that is not recorded (no SDK, or sampled out) is not worth building events for.
    if (!span.isRecording()) return
    try {
      span.addEvent(name, middlewareAttributes(call, durationNs, error), hrTime(t))
    } catch (caught) {
      skipped('addEvent', caught)
    }
  }

  /** The link threw or rejected: recorded when it happens, before its after-middleware. */
  linkFailed(error: unknown, t: bigint): void {
    if (this.linkSpan === undefined) return
    try {
      recordFailure(this.linkSpan, error, hrTime(t))
    } catch (caught) {
      skipped('recordException', caught)
    }
  }

  linkEnd(durationNs: bigint, metrics: object | undefined, t: bigint): void {
    const span = this.linkSpan
    this.linkSpan = this.linkContext = undefined
    if (span === undefined) return
    try {
      if (span.isRecording()) {
        span.setAttribute(ATTR.linkDuration, nsAttribute(durationNs))
        setMetricAttributes(span, metrics)
      }
      span.end(hrTime(t))
    } catch (error) {
      skipped('end', error)
    }
  }

  runEnd(status: RunStatus, failure: Failure | undefined, t: bigint): void {
    try {
      this.runSpan.setAttribute(ATTR.runStatus, status)
      if (failure !== undefined) {
        this.runSpan.setAttribute(ATTR.errorCode, failure.code)
        recordFailure(this.runSpan, { name: 'ChainRunError', message: failure.message }, hrTime(t))
      }
      this.runSpan.end(hrTime(t))
    } catch (error) {
      skipped('end', error)
    }
  }
}
