// Live tracing: an observer of the runner (run/observer.ts); spans carry the runner's readings.
import { context, createContextKey, diag, ROOT_CONTEXT, trace, type Context, type HrTime, type Span, type SpanContext, type Tracer } from '@opentelemetry/api'
import { describeError } from '../core/errors.js'
import type { Immutable, Patch } from 'immer'
import type { Failure, Stop } from '../run/failures.js'
import type { LinkCallIO } from '../run/hook-events.js'
import type { HookCallType, HookName, ObservedStates, RunObserver } from '../run/observer.js'
import type { NestedRun } from '../core/nested.js'
import { rememberSpan } from './registry.js'
import { redactor, type Redactor, type StateCarrier } from '../files/redact.js'
import type { LinkInfo, MiddlewareCallInfo, RedactPath, RunInfo, RunStatus, SkipReason } from '../core/types.js'
import { ATTR, addAttemptEvent, branchSpanName, branchSpanOptions, endBranchSpan, addSkipEvent, endRunSpan, setStopAttributes, middlewareAttributes, nsAttribute, recordFailure, runSpanName, runSpanOptions, setChildAttribute, setMetricAttributes, startLinkSpan, timesOf, type Lineage } from './names.js'

/** A tracer or SDK that throws is reported through OTel's diag logger and ignored. */
function skipped(what: string, error: unknown): void {
  diag.warn(`shadowchain: OpenTelemetry ${what} failed and was skipped: ${describeError(error)}`)
}

// Whether a context manager is registered: without one, entering a link's context does nothing.
// Asked by entering a context made once (no allocation) and looking whether it is active. One can
// be registered (or removed) at any time, but `context.with` costs ~270 ns even with none (its
// rest arguments, twice): the answer is kept for the manager it was given for, found where every
// copy of @opentelemetry/api 1.x finds it (the global registry they share: its layout is what
// keeps two copies of the API in one process agreeing), and asked again when that changes.
const PROBE = ROOT_CONTEXT.setValue(createContextKey('shadowchain.probe'), true)
const API_REGISTRY = Symbol.for('opentelemetry.js.api.1')
const NOT_PROBED = Symbol('not probed')
let probedManager: unknown = NOT_PROBED
let probed = false
function probeIsActive(): boolean {
  return context.active() === PROBE
}
function contextPropagates(): boolean {
  const manager = (globalThis as { [API_REGISTRY]?: { readonly context?: unknown } })[API_REGISTRY]?.context
  if (manager !== probedManager) {
    probed = context.with(PROBE, probeIsActive)
    probedManager = manager
  }
  return probed
}

/**
 * Live tracing of one run, as an observer of its runner. Every call into the tracer is guarded:
 * observability never throws into a run. (try/catch inline, not a closure per call: this runs
 * for every link.)
 */
export class LiveTrace<C = unknown> implements RunObserver<C> {
  private readonly tracer: Tracer
  readonly runSpan: Span
  /**
   * The run span's context, when it records (an SDK is behind the tracer and sampled the run in):
   * only then does the run have spans a backend will show, for a fork to link to and for an
   * export to repeat. Read once, in the constructor, where a tracer that throws is caught.
   */
  readonly spanContext: SpanContext | undefined
  private readonly runContext: Context
  private readonly propagates: boolean
  private linkSpan: Span | undefined = undefined
  /** The open spans of the current parallel step's branches, by branch name. */
  private branchSpans: Map<string, Span> | undefined = undefined
  private linkContext: Context | undefined = undefined
  // The last step's end: a link span starts at the reading the previous step ended with, so
  // consecutive spans share one HrTime (the SDK keeps the tuples as they are, never mutates them).
  private lastNs: bigint
  private lastTime: HrTime | undefined
  /** Epoch ns to HrTime; with `timestamps: false`, nothing (the SDK stamps). */
  private readonly at: (ns: bigint) => HrTime | undefined
  /**
   * With `redact`: learns the values at redacted paths from the input, from each link's ctx
   * before and after it runs and from its metrics, and scrubs them from everything a span gets.
   * It cannot learn a value that reaches a redacted path only later in the run (spans already
   * ended keep copies made before); files and `exportRun` know the whole run.
   */
  private readonly redact: Redactor | undefined

  /**
   * @param parent - the context active when `run()` was called: a run started inside a span
   *   becomes its child
   * @param stamped - false with `timestamps: false` (every reading is `0n`)
   * @param redact - the run's redaction paths (none: nothing is paid for redaction)
   * @param input - the run's input, the first place redacted values are learnt from
   */
  constructor(tracer: Tracer, info: RunInfo, parent: Context, lineage: Lineage, stamped: boolean, redact?: readonly RedactPath[], input?: unknown) {
    this.tracer = tracer
    this.at = timesOf(stamped)
    this.redact = redact === undefined || redact.length === 0 ? undefined : learntRedactor(redact, input, lineage)
    this.lastNs = info.startedAt
    this.lastTime = this.at(info.startedAt)
    const options = runSpanOptions(info.chainName, info.id, this.lastTime, lineage)
    this.runSpan = tracer.startSpan(runSpanName(info.chainName), options, parent)
    try {
      this.runContext = trace.setSpan(parent, this.runSpan)
      this.propagates = contextPropagates()
      this.wrapsLinks = this.propagates || this.redact !== undefined
      this.spanContext = this.runSpan.isRecording() ? this.runSpan.spanContext() : undefined
    } catch (error) {
      // The run goes on untraced (the caller reports it): end the span begun, or it never ends.
      try {
        this.runSpan.end()
      } catch {
        // Nothing more can be done with this tracer.
      }
      throw error
    }
  }

  /** The HrTime of a step's end (or the run's start), kept for the next link span's start. */
  private endTime(ns: bigint): HrTime | undefined {
    this.lastNs = ns
    return (this.lastTime = this.at(ns))
  }

  /**
   * Tells the span registry the run `run` has this trace's spans (when they record): forks link
   * to them, and an export of the run is then a repeat.
   */
  remember(run: { readonly id: string }): void {
    if (this.spanContext !== undefined) rememberSpan(run, this.spanContext)
  }

  /** The run span began in the constructor (before the input was checked). */
  runStart(): void {}

  /** @param t - where the step begins: the end of the previous step, or of the run's start */
  linkBegin(link: LinkInfo, t: bigint): void {
    this.linkSpan = this.linkContext = undefined
    try {
      const startTime = t === this.lastNs ? this.lastTime : this.at(t)
      this.linkSpan = startLinkSpan(this.tracer, link, startTime, this.runContext)
      if (this.propagates) this.linkContext = trace.setSpan(this.runContext, this.linkSpan)
    } catch (error) {
      skipped('startSpan', error)
    }
  }

  /**
   * Links run inside their span's context (and, under redaction, are learnt from). With neither
   * a context manager nor redaction there is nothing to wrap: the runner calls links itself.
   */
  readonly wrapsLinks: boolean

  /**
   * Calls the link function inside its span's context, so spans it starts nest under it. (Its
   * arguments are passed through rather than closed over: no closure per link.)
   */
  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    // Without a context manager entering a context does nothing: the link is called as it is (a
    // nested chain's run is given its link's context by the engine, see callContext).
    if (!this.propagates) return this.redact !== undefined ? this.runRedacted(this.redact, fn, a, b, undefined) : fn(a, b)
    // A branch of a parallel step runs in its branch span's context (asked only while branches are open).
    const where = this.branchSpans === undefined || this.branchSpans.size === 0 ? this.linkContext : this.branchContext(b)
    if (this.redact !== undefined) return this.runRedacted(this.redact, fn, a, b, where)
    return where === undefined ? fn(a, b) : context.with(where, fn, undefined, a, b)
  }

  /**
   * @internal The context a run started inside the link call `io` nests in: the call's branch
   * span (a branch of a parallel step), else its link span, else the run span. The engine gives it
   * to a nested chain's run as its `traceContext`, with or without a context manager.
   */
  callContext(io: unknown): Context {
    const branch = this.branchSpans === undefined ? undefined : (io as { readonly branch?: unknown } | null)?.branch
    const span = (typeof branch === 'string' ? this.branchSpans?.get(branch) : undefined) ?? this.linkSpan
    return span === undefined ? this.runContext : trace.setSpan(this.runContext, span)
  }

  private branchContext(io: unknown): Context | undefined {
    const branch = (io as { readonly branch?: unknown } | null)?.branch
    const span = typeof branch === 'string' ? this.branchSpans?.get(branch) : undefined
    if (span === undefined || !this.propagates) return this.linkContext
    return trace.setSpan(this.linkContext ?? this.runContext, span)
  }

  /**
   * A link run under redaction: the ctx it received (`io.base`) and the one it leaves (its draft
   * or returned value, read before the runner finishes the draft) are learnt from.
   */
  private runRedacted<A, B, R>(redact: Redactor, fn: (a: A, b: B) => R, a: A, b: B, where: Context | undefined): R {
    redact.collect((b as { readonly base?: unknown } | null)?.base)
    let returned: R | undefined
    let settled = true
    try {
      returned = where === undefined ? fn(a, b) : context.with(where, fn, undefined, a, b)
      try {
        const then = (returned as { then?: unknown } | null | undefined)?.then
        if (typeof then === 'function') {
          settled = false
          // Registered before the runner's own reaction, so the draft is still readable here.
          ;(returned as PromiseLike<unknown>).then(
            (value) => redact.collect(value === undefined || value === a ? a : value),
            () => redact.collect(a),
          )
        }
      } catch {
        // A returned value whose `then` throws: the runner meets that itself.
      }
      return returned as R
    } finally {
      if (settled) redact.collect(returned === undefined || (returned as unknown) === a ? a : returned)
    }
  }

  hookDone(type: HookCallType, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint): undefined {
    this.middleware(type, call, link, t0, durationNs, undefined)
    return undefined
  }

  hookFailed(call: MiddlewareCallInfo, _hook: HookName, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown): void {
    this.middleware('middleware.error', call, link, t0, durationNs, error)
  }

  /** The link gets its draft as it is: the tracer reads it only through `runLink`. */
  linkStart(_link: LinkInfo, draft: unknown): unknown {
    return draft
  }

  linkSettling(_states: ObservedStates): void {}

  /**
   * A link that returned is ended with its step (`stepEnd`), after its after-middleware; a nested
   * chain's names its child run now.
   */
  linkEnd(_link: LinkInfo, _t0: bigint, _t1: bigint, _patches: readonly Patch[] | undefined, _inverse: readonly Patch[], io: LinkCallIO<C>): void {
    if (io.child !== undefined) this.nameChild(this.linkSpan, io.child)
  }

  /** A span (link or branch) that ran a nested chain names its child run. */
  private nameChild(span: Span | undefined, child: NestedRun | undefined): void {
    if (span === undefined || child === undefined) return
    try {
      setChildAttribute(span, child.id)
    } catch (error) {
      skipped('setAttribute', error)
    }
  }

  /** A branch of a parallel step: a span under the step's span, open until the branch settles. */
  branchStart(link: LinkInfo, branch: string, t0: bigint, draft: unknown): unknown {
    if (this.linkSpan === undefined) return draft
    try {
      const parent = this.linkContext ?? trace.setSpan(this.runContext, this.linkSpan)
      const span = this.tracer.startSpan(branchSpanName(link.name, branch), branchSpanOptions(link, branch, this.at(t0)), parent)
      ;(this.branchSpans ??= new Map()).set(branch, span)
    } catch (error) {
      skipped('startSpan', error)
    }
    return draft
  }

  branchEnd(_link: LinkInfo, branch: string, t0: bigint, t1: bigint, _patches: readonly Patch[], error: unknown, failed: boolean, _ctx: Immutable<C>, io: LinkCallIO<C>): void {
    const span = this.branchSpans?.get(branch)
    if (span === undefined) return
    this.branchSpans?.delete(branch)
    this.nameChild(span, io.child)
    try {
      endBranchSpan(span, t1 - t0, failed, error, this.at(t1), this.redact)
    } catch (caught) {
      skipped('end', caught)
    }
  }

  /** A failed attempt that is retried: an event on the link span. */
  linkAttempt(_link: LinkInfo, attempt: number, t0: bigint, t1: bigint, error: unknown, _ctx: Immutable<C>, io: LinkCallIO<C>): void {
    if (this.linkSpan === undefined) return
    try {
      addAttemptEvent(this.linkSpan, attempt, error, t1 - t0, this.at(t1), this.redact, io.child?.id)
    } catch (caught) {
      skipped('addEvent', caught)
    }
  }

  /** The link threw or rejected: recorded when it happens, before its after-middleware. */
  linkError(_link: LinkInfo, _t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>): void {
    if (io.child !== undefined) this.nameChild(this.linkSpan, io.child)
    this.linkFailed(error, t1)
  }

  /** @param t - the step's last reading: the link's end, or its last after-middleware's */
  stepEnd(durationNs: bigint, states: ObservedStates, t: bigint): void {
    this.endLinkSpan(durationNs, states.metricsWork, t)
  }

  /** A step cut before its link was called stays open: `runEnd` ends it. */
  stepCut(): void {}

  /** A skipped link has no span: it is an event on the run span, where the previous step ended. */
  linkSkip(link: LinkInfo, reason: SkipReason, t: bigint): void {
    try {
      addSkipEvent(this.runSpan, link, reason, this.at(t))
    } catch (error) {
      skipped('addEvent', error)
    }
  }

  /**
   * One middleware call as a span event, at the time the call began.
   *
   * @param name - the event type: `middleware.before`, `middleware.after` or `middleware.error`
   * @param error - the call's error (for `middleware.error`)
   */
  private middleware(name: string, call: MiddlewareCallInfo, link: LinkInfo | undefined, t: bigint, durationNs: bigint, error: unknown): void {
    const span = link === undefined ? this.runSpan : (this.linkSpan ?? this.runSpan)
    try {
      // A span that is not recorded (no SDK, or sampled out) is not worth building events for.
      if (span.isRecording()) span.addEvent(name, middlewareAttributes(call, durationNs, error, this.redact), this.at(t))
    } catch (caught) {
      skipped('addEvent', caught)
    }
  }

  private linkFailed(error: unknown, t: bigint): void {
    if (this.linkSpan === undefined) return
    try {
      recordFailure(this.linkSpan, error, this.at(t), this.redact)
    } catch (caught) {
      skipped('recordException', caught)
    }
  }

  private endLinkSpan(durationNs: bigint, metrics: object | undefined, t: bigint): void {
    const span = this.linkSpan
    this.linkSpan = this.linkContext = undefined
    if (span === undefined) return
    try {
      if (span.isRecording()) {
        span.setAttribute(ATTR.linkDuration, nsAttribute(durationNs))
        this.redact?.collect(metrics)
        setMetricAttributes(span, metrics, this.redact)
      }
      span.end(this.endTime(t))
    } catch (error) {
      skipped('end', error)
    }
  }

  /**
   * @param stepEnd - the runner's last reading, where a link span still open ends (a step cut
   *   short by an internal error)
   * @param t - the run's end
   */
  runEnd(status: RunStatus, failure: Failure | undefined, stepEnd: bigint, t: bigint, stop: Stop | undefined): void {
    const open = this.linkSpan
    this.linkSpan = this.linkContext = undefined
    try {
      open?.end(this.at(stepEnd))
    } catch (error) {
      skipped('end', error)
    }
    try {
      setStopAttributes(this.runSpan, stop, this.redact)
      endRunSpan(this.runSpan, status, failure, this.at(t), this.redact)
    } catch (error) {
      skipped('end', error)
    }
  }
}

/**
 * A redactor that knows the input's redacted values, and a fork's or replay's original's (its
 * prefix states are the same run's data).
 */
function learntRedactor(paths: readonly RedactPath[], input: unknown, lineage: Lineage): Redactor {
  const redact = redactor(paths)
  redact.collect(input)
  const related = (lineage.parent ?? lineage.replayOf)?.run as { readonly timeline?: { readonly events?: Iterable<StateCarrier> } } | undefined
  const events = related?.timeline?.events
  if (events !== undefined) redact.collectEvents(events)
  return redact
}
