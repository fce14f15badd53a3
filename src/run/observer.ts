// The one seam between the runner and whoever watches it (DESIGN §8, STYLE "Observers").
//
// The runner reports what happens, with the values it already holds, to one `RunObserver`: the
// recorder (record/), the live tracer (otel/), later statistics and the flight recorder. Several
// observers are one `fanOut`, as OpenTelemetry's MultiSpanProcessor fans out to span processors;
// the runner never knows who listens. A run nobody observes pays one branch per moment.
import type { Immutable, Patch } from 'immer'
import type { HookName } from '../core/compile.js'
import type { LinkInfo, Metrics, MiddlewareCallInfo, MwCtx, RunStatus, SkipReason } from '../core/types.js'
import type { Failure, Stop } from './failures.js'
import type { LinkCallIO, WorkingStates } from './hook-events.js'

/** The working states of a run, as an observer that snapshots them may reset them. */
export interface ObservedStates extends WorkingStates {
  readonly mwWork: MwCtx
  /** Replaced (not mutated) by a recorder that had to put markers in place of what it lost. */
  metricsWork: Metrics
}

export type { HookName }

/** Which hook a middleware call was: the event types of a call that returned. */
export type HookCallType = 'middleware.before' | 'middleware.after'

/**
 * What the runner reports, in the order it happens. Times are the runner's own
 * readings (an observer takes none, so a traced run has the times of an untraced one); `ctx` is
 * the run's current state. Observers never throw into the run: they catch what they call.
 */
export interface RunObserver<C> {
  /**
   * The run began (or a fork resumed): its first state, already checked.
   * @param rejected - the first state could not be sealed (a cycle): the run fails at once
   */
  runStart(ctx: Immutable<C>, t: bigint, rejected: boolean): void
  /** A step begins; `t` is where the previous one ended (the run's start for the first). */
  linkBegin(link: LinkInfo, t: bigint): void
  /**
   * A middleware call returned. What it wrote to mwctx / metrics is in `states` (the touched
   * flags say which). A problem returned (a state that cannot be recorded in full) turns the
   * call into a failed one: the runner reports `hookFailed` instead, with `settle` false.
   */
  hookDone(type: HookCallType, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, ctx: Immutable<C>, states: ObservedStates): Error | undefined
  /**
   * A middleware call threw, rejected, timed out or was cut by an abort.
   * @param settle - its writes to the states are still to be taken (false after `hookDone`)
   */
  hookFailed(call: MiddlewareCallInfo, hook: HookName, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown, ctx: Immutable<C>, states: ObservedStates, settle: boolean): void
  /**
   * The link is about to be called on `draft` (ctx is `base`). Returns what the link is given
   * instead: the draft itself, or a wrapper that reports its writes. `attempt` is more than 1
   * for a retry of a link whose earlier attempt failed (`linkAttempt`): the step goes on.
   */
  linkStart(link: LinkInfo, draft: unknown, base: Immutable<C>, t0: bigint, attempt: number): unknown
  /** Whether `runLink` does more than call the link: a composite calls only those that do. */
  readonly wrapsLinks: boolean
  /** Calls the link (a tracer runs it inside its span's context). Must call `fn` exactly once. */
  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R
  /** The link returned or failed; its draft still lives: what it left in metrics can be taken now. */
  linkSettling(states: ObservedStates): void
  /**
   * The link returned: it turned `base` into `ctx`. Its patches are given when they were made (a
   * wide ctx, one that holds a Map, a Set or an immerable instance, a replacement); `undefined`
   * when nobody asked immer for them, and a recorder finds them by diffing `base` and `ctx` when
   * they are read.
   */
  linkEnd(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], io: LinkCallIO<C>, ctx: Immutable<C>, base: Immutable<C>): void
  /**
   * Attempt `attempt` (from 1) of a link with `retry` failed and will be tried again: its draft
   * is discarded, ctx is unchanged. The next attempt begins with `linkStart`.
   */
  linkAttempt(link: LinkInfo, attempt: number, t0: bigint, t1: bigint, error: unknown, ctx: Immutable<C>, io: LinkCallIO<C>): void
  /**
   * A branch of a parallel step (after the step's `linkStart`) is about to be called on its own
   * draft of `ctx`, the step's input. Returns what the branch is given: `draft`, or a wrapper of
   * it (a recorder capturing writes), as `linkStart` does.
   */
  branchStart(link: LinkInfo, branch: string, t0: bigint, draft: unknown, ctx: Immutable<C>): unknown
  /**
   * A branch settled: its patches (against the step's input `ctx`), or, `failed`, its error.
   * Branches end in the order they settle; the step's `linkEnd` / `linkError` follows the last.
   */
  branchEnd(link: LinkInfo, branch: string, t0: bigint, t1: bigint, patches: readonly Patch[], error: unknown, failed: boolean, ctx: Immutable<C>, io: LinkCallIO<C>): void
  /** The link threw, rejected, or left a state that cannot be recorded. */
  linkError(link: LinkInfo, t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>, ctx: Immutable<C>): void
  /** The step ended (its after-middleware included), at `t`, the step's last reading. */
  stepEnd(durationNs: bigint, states: ObservedStates, t: bigint): void
  /** The step was cut before its link was called (an abort): no `stepEnd` follows. */
  stepCut(): void
  /**
   * A link did not run: its `when` said no, or the run was stopped. No other moment of that
   * link is reported. `t` is where the previous step ended (a skip takes no time of its own).
   */
  linkSkip(link: LinkInfo, reason: SkipReason, t: bigint, ctx: Immutable<C>): void
  /**
   * The run ended at `t`. A step still open (cut short by an internal error) ends at `stepEnd`.
   * @param stop - the link that called `io.stop()`, when the run ended that way
   */
  runEnd(status: RunStatus, failure: Failure | undefined, stepEnd: bigint, t: bigint, stop: Stop | undefined): void
}

/** One observer for several, called in order. The first problem `hookDone` returns wins. */
export function fanOut<C>(observers: readonly RunObserver<C>[]): RunObserver<C> | undefined {
  let out: RunObserver<C> | undefined
  for (const observer of observers) out = out === undefined ? observer : new Pair(out, observer)
  return out
}

// Several observers are a chain of pairs: two direct calls per moment, no loop and no array
// (this runs at every moment of every traced run). Observers that can turn a call into a
// failure (the recorder) come first: those after them are then told of the failure only, as
// if the call had failed.
class Pair<C> implements RunObserver<C> {
  readonly wrapsLinks: boolean

  constructor(
    private readonly first: RunObserver<C>,
    private readonly second: RunObserver<C>,
  ) {
    this.wrapsLinks = first.wrapsLinks || second.wrapsLinks
  }

  runStart(ctx: Immutable<C>, t: bigint, rejected: boolean): void {
    this.first.runStart(ctx, t, rejected)
    this.second.runStart(ctx, t, rejected)
  }
  linkBegin(link: LinkInfo, t: bigint): void {
    this.first.linkBegin(link, t)
    this.second.linkBegin(link, t)
  }
  hookDone(type: HookCallType, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, ctx: Immutable<C>, states: ObservedStates): Error | undefined {
    return this.first.hookDone(type, call, link, t0, durationNs, ctx, states) ?? this.second.hookDone(type, call, link, t0, durationNs, ctx, states)
  }
  hookFailed(call: MiddlewareCallInfo, hook: HookName, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown, ctx: Immutable<C>, states: ObservedStates, settle: boolean): void {
    this.first.hookFailed(call, hook, link, t0, durationNs, error, ctx, states, settle)
    this.second.hookFailed(call, hook, link, t0, durationNs, error, ctx, states, settle)
  }
  linkStart(link: LinkInfo, draft: unknown, base: Immutable<C>, t0: bigint, attempt: number): unknown {
    return this.second.linkStart(link, this.first.linkStart(link, draft, base, t0, attempt), base, t0, attempt)
  }
  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    const { first, second } = this
    if (!first.wrapsLinks) return second.wrapsLinks ? second.runLink(fn, a, b) : fn(a, b)
    if (!second.wrapsLinks) return first.runLink(fn, a, b)
    // Both wrap: the first outside (a closure, only in this rare case).
    return first.runLink((x: A, y: B) => second.runLink(fn, x, y), a, b)
  }
  linkSettling(states: ObservedStates): void {
    this.first.linkSettling(states)
    this.second.linkSettling(states)
  }
  linkEnd(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], io: LinkCallIO<C>, ctx: Immutable<C>, base: Immutable<C>): void {
    this.first.linkEnd(link, t0, t1, patches, inversePatches, io, ctx, base)
    this.second.linkEnd(link, t0, t1, patches, inversePatches, io, ctx, base)
  }
  linkAttempt(link: LinkInfo, attempt: number, t0: bigint, t1: bigint, error: unknown, ctx: Immutable<C>, io: LinkCallIO<C>): void {
    this.first.linkAttempt(link, attempt, t0, t1, error, ctx, io)
    this.second.linkAttempt(link, attempt, t0, t1, error, ctx, io)
  }
  branchStart(link: LinkInfo, branch: string, t0: bigint, draft: unknown, ctx: Immutable<C>): unknown {
    return this.second.branchStart(link, branch, t0, this.first.branchStart(link, branch, t0, draft, ctx), ctx)
  }
  branchEnd(link: LinkInfo, branch: string, t0: bigint, t1: bigint, patches: readonly Patch[], error: unknown, failed: boolean, ctx: Immutable<C>, io: LinkCallIO<C>): void {
    this.first.branchEnd(link, branch, t0, t1, patches, error, failed, ctx, io)
    this.second.branchEnd(link, branch, t0, t1, patches, error, failed, ctx, io)
  }
  linkError(link: LinkInfo, t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>, ctx: Immutable<C>): void {
    this.first.linkError(link, t0, t1, error, io, ctx)
    this.second.linkError(link, t0, t1, error, io, ctx)
  }
  stepEnd(durationNs: bigint, states: ObservedStates, t: bigint): void {
    this.first.stepEnd(durationNs, states, t)
    this.second.stepEnd(durationNs, states, t)
  }
  stepCut(): void {
    this.first.stepCut()
    this.second.stepCut()
  }
  linkSkip(link: LinkInfo, reason: SkipReason, t: bigint, ctx: Immutable<C>): void {
    this.first.linkSkip(link, reason, t, ctx)
    this.second.linkSkip(link, reason, t, ctx)
  }
  runEnd(status: RunStatus, failure: Failure | undefined, stepEnd: bigint, t: bigint, stop: Stop | undefined): void {
    this.first.runEnd(status, failure, stepEnd, t, stop)
    this.second.runEnd(status, failure, stepEnd, t, stop)
  }
}
