// The recorder: the observer that turns what the runner reports into the shadow timeline.
//
// It owns the recorded states of mwctx and metrics (frozen snapshots taken after each call
// that touched them), builds the events, and wraps a link's draft to report its writes. With
// `capture: 'off'` it keeps only what a failed run must show: the start, and every error.
import type { Immutable, Patch } from 'immer'
import type { Clock, LinkInfo, Metrics, MiddlewareCallInfo, MwCtx, RecordedIO, RunStatus, SkipReason } from '../core/types.js'
import type { Failure } from '../run/failures.js'
import type { LinkCallIO } from '../run/hook-events.js'
import type { HookCallType, HookName, ObservedStates, RunObserver } from '../run/observer.js'
import { captureThrown } from '../run/capture-thrown.js'
import { thaw } from '../run/working-states.js'
import type { TimelineEvent } from './events.js'
import type { NestedRun } from '../core/nested.js'
import type { DurationSink } from '../core/recording.js'
import { EventLog, type Times } from './event-log.js'
import { diffBothWays } from '../core/diff-states.js'
import { emptyState, snapshot, snapshotCarefully } from './snapshot.js'
import { callSite } from './call-site.js'
import { recordWrites, type WriteListener } from './write-capture.js'

/** Where a fork picks up: the shared prefix, the fork event, and the states to go on from. */
export interface ResumePoint<C> {
  /** The parent's events: the first `prefixLength` of them are shared (the same objects, not copied). */
  readonly prefix: readonly TimelineEvent<C>[]
  readonly prefixLength: number
  /** Index in the chain of the first link to run. */
  readonly linkIndex: number
  /** The mwctx state at the cut. */
  readonly mwctx: Immutable<MwCtx>
  /** Fields of the `fork` event (besides seq, t and the states). */
  readonly fork: Readonly<Record<string, unknown>>
}

/** What the recorder is asked to keep. */
export interface RecorderOptions<C> {
  /** Every moment (`capture` other than `'off'`); else only the start and the errors. */
  readonly full: boolean
  /** `capture: 'writes'`: every write a link makes, as a `ctx.write` event. */
  readonly writes: boolean
  /** With `writes`: the user call site of each write. */
  readonly stacks: boolean
  /** With `writes`: `ctx.write` events kept per link execution; later writes are only counted. */
  readonly maxWritesPerLink: number
  readonly clock: Clock
  /** How the clock's times can be kept (see {@link Times}). */
  readonly times: Times
  /** Fork: the shared prefix and the fork event. */
  readonly resume: ResumePoint<C> | undefined
  /** Slots the log makes room for at once: about what the run will use (see event-log.ts). */
  readonly size: number
  /** The chain's links, in order (the log names the next link without a slot). */
  readonly links: readonly LinkInfo[]
  /** Where the run's durations go (a flight recorder's statistics), at every capture level. */
  readonly durations?: DurationSink | undefined
}

// Events are built field by field here and frozen in type only (readonly) once pushed.
type MutableEvent = Record<string, unknown>

/** Records one run (see the file comment). */
export class Recorder<C> implements RunObserver<C> {
  /** Own events; a fork's shared prefix is not copied, its events' seqs start after it. */
  readonly log: EventLog<C>
  /** The runs nested chains made (by id), as events name them (`child`); made for the first. */
  children: Map<string, NestedRun> | undefined = undefined
  /** Replay: links that drew more io values than were recorded, with the seq of their end. */
  readonly ioOverruns: { link: LinkInfo; seq: number }[] = []
  private readonly seqBase: number
  private readonly full: boolean
  private readonly durations: DurationSink | undefined
  /** What the current link's metrics could not record (see `metricsError` on link events). */
  private metricsError: Error | undefined = undefined
  /** `ctx.write` events of the current link not recorded past `maxWritesPerLink`. */
  private writesDropped = 0
  /** `ctx.write` events the current link (all its branches together) may still record. */
  private writeRoom = 0

  constructor(private readonly options: RecorderOptions<C>) {
    this.full = options.full
    this.durations = options.durations
    const resume = options.resume
    this.seqBase = resume === undefined ? 0 : resume.prefixLength
    this.log = new EventLog<C>(this.seqBase, options.times, options.links, options.full ? options.size : 8)
    this.log.mw.set(resume === undefined ? emptyState() : resume.mwctx)
  }

  /** A fork's shared prefix: the first `length` events of the run's timeline. */
  get prefix(): { readonly events: readonly TimelineEvent<C>[]; readonly length: number } | undefined {
    const resume = this.options.resume
    return resume === undefined ? undefined : { events: resume.prefix, length: resume.prefixLength }
  }

  runStart(ctx: Immutable<C>, t: bigint, rejected: boolean): void {
    const resume = this.options.resume
    if (resume === undefined) this.push({ type: 'run.start', t, input: ctx }, ctx)
    else this.push({ ...(rejected ? (captureThrown(resume.fork) as object) : resume.fork), type: 'fork', t }, ctx)
  }

  linkBegin(): void {
    this.metricsError = undefined
    this.log.metrics.set(emptyState())
  }

  hookDone(type: HookCallType, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, ctx: Immutable<C>, states: ObservedStates): Error | undefined {
    if (this.full) {
      // A state that cannot be recorded in full turns the call into a middleware error that
      // says what was lost (the state is recorded with markers in its place): told as failed then.
      if (states.mwTouched || states.metricsTouched) {
        const lost = this.takeSnapshots(states, true)
        if (lost !== undefined) return lost
      }
      this.log.hook(type === 'middleware.after', call, link, t0, durationNs, ctx)
    }
    this.durations?.middleware(call, durationNs, false)
    return undefined
  }

  hookFailed(call: MiddlewareCallInfo, hook: HookName, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown, ctx: Immutable<C>, states: ObservedStates, settle: boolean): void {
    // The call's own error is what its event reports; a state it also left that cannot be
    // recorded in full (a cycle) is dropped with it, as a failed link's changes are: one call,
    // one event, one reading.
    if (settle && this.full) this.takeSnapshots(states, false)
    this.durations?.middleware(call, durationNs, true)
    const event: MutableEvent = { type: 'middleware.error', t: t0, middleware: call, hook }
    if (link !== undefined) event['link'] = link
    event['error'] = error
    event['durationNs'] = durationNs
    this.push(event, ctx)
  }

  linkStart(link: LinkInfo, draft: unknown, base: Immutable<C>, t0: bigint, attempt: number): unknown {
    this.writesDropped = 0
    this.writeRoom = this.options.maxWritesPerLink
    if (!this.full) return draft
    // A retry goes on with the step its first attempt started.
    if (attempt === 1) this.log.start(link, t0, base)
    // callLink drafts whatever it can: what is not the base is a draft.
    return this.options.writes && draft !== base ? recordWrites(draft as object, this.writeListener(link, base)) : draft
  }

  /** The recorder does not wrap link calls (its write capture wraps the draft instead). */
  readonly wrapsLinks = false

  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    return fn(a, b)
  }

  /**
   * The link's own writes to its metrics, taken while its draft lives. What cannot be recorded
   * as it is becomes a marker in the state and `metricsError` on the link's event: never a
   * silent loss.
   */
  linkSettling(states: ObservedStates): void {
    if (!states.metricsTouched) return
    states.metricsTouched = false
    const metrics = this.log.metrics
    try {
      if (!metrics.change(states.metricsWork)) metrics.set(snapshot(states.metricsWork, this.metricsObject()))
    } catch {
      const careful = snapshotCarefully(states.metricsWork, this.metricsObject(), 'metrics')
      metrics.set(careful.state)
      // Drafts resolved, markers in place: what the after-middleware see is what was recorded.
      states.metricsWork = thaw(careful.state) as Metrics
      this.metricsError = careful.error
    }
  }

  linkEnd(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], io: LinkCallIO<C>, ctx: Immutable<C>, base: Immutable<C>): void {
    this.durations?.link(link, t0, t1, false)
    if (!this.full) {
      if (io.overrun) this.ioOverruns.push({ link, seq: this.seqBase + this.log.length - 1 })
      return
    }
    // The usual end (nothing drawn, injected, nested or lost) is a few slots of the log: patches
    // immer did not make are the diff of `base` and `ctx`, found when the event is read.
    if (io.drawn === undefined && io.spanId === undefined && io.child === undefined && !io.overrun && this.metricsError === undefined && this.writesDropped === 0) {
      this.log.end(link, t0, t1, patches, inversePatches, ctx, base)
      return
    }
    const [forward, inverse] = patches === undefined ? diffBothWays(base, ctx) : [patches, inversePatches]
    this.pushLinkCall({ type: 'link.end', t: t1, link, patches: forward, inversePatches: inverse, durationNs: t1 - t0 }, io, ctx)
  }

  linkAttempt(link: LinkInfo, attempt: number, t0: bigint, t1: bigint, error: unknown, ctx: Immutable<C>, io: LinkCallIO<C>): void {
    if (!this.full) return
    const event: MutableEvent = { type: 'link.attempt', t: t1, link, attempt, error, durationNs: t1 - t0 }
    // What this attempt drew: replay gives it back to the same attempt.
    const drawn = recordedIO(io)
    if (drawn !== undefined) event['io'] = drawn
    this.adopt(event, io.child)
    this.push(event, ctx)
    if (io.overrun) this.ioOverruns.push({ link, seq: this.seqBase + this.log.length - 1 })
  }

  branchStart(link: LinkInfo, branch: string, t0: bigint, draft: unknown, ctx: Immutable<C>): unknown {
    if (!this.full) return draft
    this.push({ type: 'branch.start', t: t0, link, branch }, ctx)
    // A branch's writes are its step's, named by the branch (a draft is what is not the input).
    return this.options.writes && draft !== ctx ? recordWrites(draft as object, this.writeListener(link, ctx, branch)) : draft
  }

  branchEnd(link: LinkInfo, branch: string, t0: bigint, t1: bigint, patches: readonly Patch[], error: unknown, failed: boolean, ctx: Immutable<C>, io: LinkCallIO<C>): void {
    if (!this.full) return
    this.pushCall(failed ? { type: 'branch.error', t: t1, link, branch, error, durationNs: t1 - t0 } : { type: 'branch.end', t: t1, link, branch, patches, durationNs: t1 - t0 }, io, ctx)
  }

  linkError(link: LinkInfo, t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>, ctx: Immutable<C>): void {
    this.durations?.link(link, t0, t1, true)
    this.pushLinkCall({ type: 'link.error', t: t1, link, error, durationNs: t1 - t0 }, io, ctx)
  }

  stepEnd(): void {
    this.log.metrics.set(undefined)
  }

  stepCut(): void {
    this.log.metrics.set(undefined)
  }

  /** A skip is part of the timeline (not an error: `capture: 'off'` keeps none). */
  linkSkip(link: LinkInfo, reason: SkipReason, t: bigint, ctx: Immutable<C>): void {
    if (this.full) this.push({ type: 'link.skip', t, link, reason }, ctx)
  }

  runEnd(status: RunStatus, _failure: Failure | undefined, _stepEnd: bigint, t: bigint): void {
    // `Run` appends `run.end`: it knows the run's final shape (its error, its stop).
    this.durations?.run(t, status !== 'ok')
  }

  /**
   * Freezes what the call wrote to mwctx / metrics. What the fast snapshot refuses (a draft, a
   * cycle, a getter that throws) is recorded carefully: drafts by their current values, the
   * rest as markers (or, for a call that failed, `keepLosses` false: the state it left is
   * dropped, as a failed link's changes are). The working state is then reset to what was
   * recorded, so later middleware go on from it instead of all failing on the same value.
   * Returns what was lost, if anything. Recording never throws into the run.
   */
  private takeSnapshots(states: ObservedStates, keepLosses: boolean): Error | undefined {
    let lost: Error | undefined
    // The usual change (one key of a flat object) is kept as that key (`change`); anything
    // else is a snapshot sharing what did not change with the state before.
    if (states.mwTouched) {
      states.mwTouched = false
      const mw = this.log.mw
      try {
        if (!mw.change(states.mwWork)) mw.set(snapshot(states.mwWork, this.mwObject()))
      } catch {
        const careful = snapshotCarefully(states.mwWork, this.mwObject(), 'mwctx')
        if (keepLosses || careful.error === undefined) mw.set(careful.state)
        resetInPlace(states.mwWork, thaw(this.mwObject()) as MwCtx)
        lost = careful.error
      }
    }
    if (states.metricsTouched) {
      states.metricsTouched = false
      const metrics = this.log.metrics
      if (metrics.defined) {
        try {
          if (!metrics.change(states.metricsWork)) metrics.set(snapshot(states.metricsWork, this.metricsObject()))
        } catch {
          const careful = snapshotCarefully(states.metricsWork, this.metricsObject(), 'metrics')
          if (keepLosses || careful.error === undefined) metrics.set(careful.state)
          states.metricsWork = thaw(this.metricsObject()) as Metrics
          lost ??= careful.error
        }
      }
    }
    return lost
  }

  private mwObject(): unknown {
    return this.log.stateObject(this.log.mw)
  }

  private metricsObject(): unknown {
    return this.log.stateObject(this.log.metrics)
  }

  /**
   * Pushes one `ctx.write` event per write, stamped as it happens.
   * @param branch - the branch of a parallel step that writes (its draft's listener)
   */
  private writeListener(link: LinkInfo, ctx: Immutable<C>, branch?: string): WriteListener {
    const log = this.log
    const base = this.seqBase
    const clock = this.options.clock
    const stacks = this.options.stacks
    // The states do not change while the link runs: taken at its first write.
    let states: { readonly mwctx: unknown; readonly metrics: unknown } | undefined
    return (op, path, value) => {
      // Bounded: a hot loop inside a link must not grow the timeline without limit.
      if (this.writeRoom <= 0) {
        this.writesDropped++
        return
      }
      this.writeRoom--
      states ??= log.stateObjects()
      // Built whole (one shape, one allocation): this runs once per single write. The path
      // array is the capture layer's own and never reused; it is read-only by type (freezing
      // it cost ~85 ns a write, measured).
      const event: MutableEvent = {
        seq: base + log.length,
        t: clock.now(),
        type: 'ctx.write',
        ctx,
        mwctx: states.mwctx,
        metrics: states.metrics,
        link,
        op,
        path,
        value,
      }
      if (branch !== undefined) event['branch'] = branch
      if (stacks) {
        const site = callSite()
        if (site !== undefined) event['stack'] = site
      }
      log.append(event as unknown as TimelineEvent<C>)
    }
  }

  /**
   * Pushes the end of a link or branch call with what its io carries (`CallFields`): the values
   * it drew, the span it injected, the run a nested chain made; notes a replay's io overrun.
   */
  private pushCall(event: MutableEvent, io: LinkCallIO<C>, ctx: Immutable<C>): void {
    const drawn = recordedIO(io)
    if (drawn !== undefined) event['io'] = drawn
    if (io.spanId !== undefined) event['span'] = io.spanId
    this.adopt(event, io.child)
    this.push(event, ctx)
    if (io.overrun) this.ioOverruns.push({ link: event['link'] as LinkInfo, seq: this.seqBase + this.log.length - 1 })
  }

  /** `pushCall` for a link's `link.end` / `link.error`, with what its metrics and write capture lost. */
  private pushLinkCall(event: MutableEvent, io: LinkCallIO<C>, ctx: Immutable<C>): void {
    if (this.metricsError !== undefined) {
      event['metricsError'] = this.metricsError
      this.metricsError = undefined
    }
    if (this.writesDropped > 0) {
      event['writesDropped'] = this.writesDropped
      this.writesDropped = 0
    }
    this.pushCall(event, io, ctx)
  }

  /** A nested chain's run: named by the event (`child`), kept by id. */
  private adopt(event: MutableEvent, child: NestedRun | undefined): void {
    if (child === undefined) return
    event['child'] = child.id
    ;(this.children ??= new Map()).set(child.id, child)
  }

  /** Appends an event with the current states; the caller gives type, t and the extra fields. */
  private push(fields: MutableEvent, ctx: Immutable<C>): void {
    const { mwctx, metrics } = this.log.stateObjects()
    fields['seq'] = this.seqBase + this.log.length
    fields['ctx'] = ctx
    fields['mwctx'] = mwctx
    fields['metrics'] = metrics
    this.log.append(fields as unknown as TimelineEvent<C>)
  }
}

function recordedIO(io: LinkCallIO<unknown>): RecordedIO | undefined {
  const drawn = io.drawn
  if (drawn === undefined) return undefined
  const out: { now?: readonly number[]; random?: readonly number[] } = {}
  if (drawn.now !== undefined) out.now = Object.freeze(drawn.now)
  if (drawn.random !== undefined) out.random = Object.freeze(drawn.random)
  return Object.freeze(out)
}

/**
 * Makes `target` hold exactly the keys of `source`, in place: middleware may keep a reference
 * to the one mwctx object of a run. Keys it cannot delete (made non-configurable) stay.
 */
function resetInPlace(target: Record<string, unknown>, source: Record<string, unknown>): void {
  try {
    for (const key of Object.keys(target)) delete target[key]
    for (const key of Object.keys(source)) Object.defineProperty(target, key, { value: source[key], enumerable: true, writable: true, configurable: true })
  } catch {
    // A working state a middleware locked down: left as it is; the recording is already right.
  }
}
