// The one seam between the runner and whoever watches it (DESIGN §8, STYLE "Observers").
//
// The runner reports what happens, with the values it already holds, to one `RunObserver`: the
// recorder (record/), the live tracer (otel/), later statistics and the flight recorder. Several
// observers are one `fanOut`, as OpenTelemetry's MultiSpanProcessor fans out to span processors;
// the runner never knows who listens. A run nobody observes pays one branch per moment.
import type { Immutable, Patch } from 'immer'
import type { HookName } from '../core/compile.js'
import type { LinkInfo, Metrics, MiddlewareCallInfo, MwCtx, RunStatus } from '../core/types.js'
import type { Failure } from './failures.js'
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
   * instead: the draft itself, or a wrapper that reports its writes.
   */
  linkStart(link: LinkInfo, draft: unknown, base: Immutable<C>, t0: bigint): unknown
  /** Whether `runLink` does more than call the link: a composite calls only those that do. */
  readonly wrapsLinks: boolean
  /** Calls the link (a tracer runs it inside its span's context). Must call `fn` exactly once. */
  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R
  /** The link returned or failed; its draft still lives: what it left in metrics can be taken now. */
  linkSettling(states: ObservedStates): void
  /** The link returned; its changes are `ctx` (patches only when the run records them). */
  linkEnd(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], io: LinkCallIO<C>, ctx: Immutable<C>): void
  /** The link threw, rejected, or left a state that cannot be recorded. */
  linkError(link: LinkInfo, t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>, ctx: Immutable<C>): void
  /** The step ended (its after-middleware included), at `t`, the step's last reading. */
  stepEnd(durationNs: bigint, states: ObservedStates, t: bigint): void
  /** The step was cut before its link was called (an abort): no `stepEnd` follows. */
  stepCut(): void
  /**
   * The run ended at `t`. A step still open (cut short by an internal error) ends at `stepEnd`.
   */
  runEnd(status: RunStatus, failure: Failure | undefined, stepEnd: bigint, t: bigint): void
}

/** One observer for several, called in order. The first problem `hookDone` returns wins. */
export function fanOut<C>(observers: readonly RunObserver<C>[]): RunObserver<C> | undefined {
  if (observers.length <= 1) return observers[0]
  return new FanOut(observers)
}

// Observers that can turn a call into a failure (the recorder) come first: those after them
// are then told of the failure only, as if the call had failed. Indexed loops over a fixed
// array, no closures: this runs at every moment of every traced run.
class FanOut<C> implements RunObserver<C> {
  readonly wrapsLinks: boolean
  /** The observers whose `runLink` does something, outermost first. */
  private readonly wrappers: readonly RunObserver<C>[]

  constructor(private readonly observers: readonly RunObserver<C>[]) {
    this.wrappers = observers.filter((o) => o.wrapsLinks)
    this.wrapsLinks = this.wrappers.length > 0
  }

  runStart(ctx: Immutable<C>, t: bigint, rejected: boolean): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).runStart(ctx, t, rejected)
  }
  linkBegin(link: LinkInfo, t: bigint): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).linkBegin(link, t)
  }
  hookDone(type: HookCallType, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, ctx: Immutable<C>, states: ObservedStates): Error | undefined {
    const all = this.observers
    for (let i = 0; i < all.length; i++) {
      const problem = (all[i] as RunObserver<C>).hookDone(type, call, link, t0, durationNs, ctx, states)
      if (problem !== undefined) return problem
    }
    return undefined
  }
  hookFailed(call: MiddlewareCallInfo, hook: HookName, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown, ctx: Immutable<C>, states: ObservedStates, settle: boolean): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).hookFailed(call, hook, link, t0, durationNs, error, ctx, states, settle)
  }
  linkStart(link: LinkInfo, draft: unknown, base: Immutable<C>, t0: bigint): unknown {
    const all = this.observers
    let given = draft
    for (let i = 0; i < all.length; i++) given = (all[i] as RunObserver<C>).linkStart(link, given, base, t0)
    return given
  }
  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    const wrappers = this.wrappers
    if (wrappers.length === 0) return fn(a, b)
    if (wrappers.length === 1) return (wrappers[0] as RunObserver<C>).runLink(fn, a, b)
    return runThrough(wrappers, 0, fn, a, b)
  }
  linkSettling(states: ObservedStates): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).linkSettling(states)
  }
  linkEnd(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], io: LinkCallIO<C>, ctx: Immutable<C>): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).linkEnd(link, t0, t1, patches, inversePatches, io, ctx)
  }
  linkError(link: LinkInfo, t0: bigint, t1: bigint, error: unknown, io: LinkCallIO<C>, ctx: Immutable<C>): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).linkError(link, t0, t1, error, io, ctx)
  }
  stepEnd(durationNs: bigint, states: ObservedStates, t: bigint): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).stepEnd(durationNs, states, t)
  }
  stepCut(): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).stepCut()
  }
  runEnd(status: RunStatus, failure: Failure | undefined, stepEnd: bigint, t: bigint): void {
    const all = this.observers
    for (let i = 0; i < all.length; i++) (all[i] as RunObserver<C>).runEnd(status, failure, stepEnd, t)
  }
}

/** Each wrapping observer wraps the call of the next; the last calls the link. */
function runThrough<C, A, B, R>(wrappers: readonly RunObserver<C>[], i: number, fn: (a: A, b: B) => R, a: A, b: B): R {
  const o = wrappers[i] as RunObserver<C>
  if (i === wrappers.length - 1) return o.runLink(fn, a, b)
  return o.runLink((x: A, y: B) => runThrough(wrappers, i + 1, fn, x, y), a, b)
}
