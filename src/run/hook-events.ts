// The objects handed to middleware hooks and to links. One per call (middleware instances are
// shared between concurrent runs, so nothing is ever stored on them). `mwctx` and `metrics` are
// prototype getters so the recorder knows which calls touched them and snapshots only those.
import type { Immutable, Patch } from 'immer'
import { diffStates } from '../core/diff-states.js'
import type {
  AfterEvent,
  AfterPosition,
  BeforeEvent,
  BeforePosition,
  LinkIO,
  LinkInfo,
  Metrics,
  MwCtx,
  RecordedIO,
  RunEndEvent,
  RunInfo,
  RunStatus,
  TraceCarrier,
} from '../core/types.js'
import { NEST_HOST, type NestedRun, type NestHost, type NestingIO } from '../core/nested.js'

/** The live, writable side of a run that hook events expose. */
export interface WorkingStates {
  readonly mwWork: MwCtx
  readonly metricsWork: Metrics
  mwTouched: boolean
  metricsTouched: boolean
  /** What runs a nested chain for this run's links (absent once detached). */
  readonly nest?: NestHost | undefined
  /** What writes a link's trace context into a carrier (`io.inject`; absent once detached). */
  readonly tracing?: TraceInjector | undefined
}

/** Writes the trace context of a link call into a carrier (the engine's, per run: otel/run-trace.ts). */
export interface TraceInjector {
  inject(io: LinkCallIO<unknown>, carrier: TraceCarrier): void
}

/** What the runner can do with any hook event: cut it off from the run's states. */
export interface HookCallEvent {
  /**
   * Called when the runner stops waiting for the call (timeout, abort): from then on the
   * event's `mwctx` and `metrics` are throwaway objects, so what the call does later does not
   * reach the run (a reference it took before is beyond reach, and is documented as such).
   */
  detach(): void
}

/** States that go nowhere: what a detached call writes to. */
function detachedStates(): WorkingStates {
  return { mwWork: {}, metricsWork: {}, mwTouched: false, metricsTouched: false }
}

// The two link-level events are separate classes, not subclasses of a common base: a derived
// class's constructor runs its base's and both field initializers, which made each event cost
// ~18 ns instead of ~9 (measured; two are made for every link with chain middleware). What they
// share, the writable states seen through tracking getters, is the same few lines in each.

// Fields are declared in the order the former base class set them (states, run, link, index,
// ctx, then the event's own): what a middleware that lists an event's keys sees is unchanged.
export class BeforeCall<C> implements BeforeEvent<C>, HookCallEvent {
  private states: WorkingStates
  readonly run: RunInfo
  readonly link: LinkInfo
  readonly index: number
  readonly ctx: Immutable<C>
  readonly position: BeforePosition
  constructor(states: WorkingStates, run: RunInfo, link: LinkInfo, position: BeforePosition, index: number, ctx: Immutable<C>) {
    this.states = states
    this.run = run
    this.link = link
    this.index = index
    this.ctx = ctx
    this.position = position
  }
  get mwctx(): MwCtx {
    this.states.mwTouched = true
    return this.states.mwWork
  }
  get metrics(): Metrics {
    this.states.metricsTouched = true
    return this.states.metricsWork
  }
  detach(): void {
    this.states = detachedStates()
  }
}

/** The patches of a link, branch or around-call that changed nothing (or failed): one frozen empty list. */
export const NO_PATCHES: readonly Patch[] = Object.freeze([])

/** The outcome of one link execution, shared by every after-call around it. */
export interface LinkOutcome<C> {
  readonly base: Immutable<C>
  readonly result: Immutable<C>
  /** `undefined` until first read when nothing recorded them (`capture: 'off'`). */
  patches: readonly Patch[] | undefined
  readonly durationNs: bigint
  readonly failed: boolean
  readonly error: unknown
  /** How many attempts the link took: set only for a link with `retry` or `timeoutMs`. */
  readonly attempts: number | undefined
}

export class AfterCall<C> implements AfterEvent<C>, HookCallEvent {
  private states: WorkingStates
  readonly run: RunInfo
  readonly link: LinkInfo
  readonly index: number
  readonly ctx: Immutable<C>
  readonly position: AfterPosition
  private readonly outcome: LinkOutcome<C>
  declare readonly error?: unknown
  declare readonly attempts?: number
  readonly result: Immutable<C>
  readonly durationNs: bigint
  constructor(
    states: WorkingStates,
    run: RunInfo,
    link: LinkInfo,
    position: AfterPosition,
    index: number,
    ctx: Immutable<C>,
    outcome: LinkOutcome<C>,
  ) {
    this.states = states
    this.run = run
    this.link = link
    this.index = index
    this.ctx = ctx
    this.position = position
    this.outcome = outcome
    this.result = outcome.result
    this.durationNs = outcome.durationNs
    if (outcome.failed) (this as { error?: unknown }).error = outcome.error
    if (outcome.attempts !== undefined) (this as { attempts?: number }).attempts = outcome.attempts
  }
  get mwctx(): MwCtx {
    this.states.mwTouched = true
    return this.states.mwWork
  }
  get metrics(): Metrics {
    this.states.metricsTouched = true
    return this.states.metricsWork
  }
  detach(): void {
    this.states = detachedStates()
  }
  /**
   * Immer is asked for a link's patches only for a wide ctx, or one that holds a Map, a Set or an
   * immerable instance: they cost ~0.7 µs a link. Otherwise they are the diff of the two states,
   * made when a middleware first reads them (the recording diffs the same two).
   */
  get patches(): readonly Patch[] {
    return (this.outcome.patches ??= Object.freeze(diffStates(this.outcome.base, this.outcome.result)))
  }
}

export class RunHookCall<C> implements RunEndEvent<C>, HookCallEvent {
  declare readonly error?: unknown
  constructor(
    private states: WorkingStates,
    readonly run: RunInfo,
    readonly ctx: Immutable<C>,
    readonly status: RunStatus,
    failed: boolean,
    error: unknown,
  ) {
    if (failed) (this as { error?: unknown }).error = error
  }
  get mwctx(): MwCtx {
    this.states.mwTouched = true
    return this.states.mwWork
  }
  detach(): void {
    this.states = detachedStates()
  }
}

/** The values a link drew from io, to record (and, on replay, to give back). */
export interface DrawnValues {
  now: number[] | undefined
  random: number[] | undefined
}

export class LinkCallIO<C> implements LinkIO<C>, NestingIO {
  drawn: DrawnValues | undefined = undefined
  /** The child run a nested chain made in this call, if the link is one. */
  child: NestedRun | undefined = undefined
  /** The span id `inject` wrote (recorded as the event's `span`). */
  spanId: string | undefined = undefined
  /** Set when, on replay, the link drew more values than the recording holds. */
  overrun = false
  /** Set by `stop()`: the runner reads it once the link returned. */
  stopped = false
  stopReason: string | undefined = undefined
  constructor(
    private states: WorkingStates,
    readonly run: RunInfo,
    readonly link: LinkInfo,
    readonly signal: AbortSignal,
    readonly base: Immutable<C>,
    /** On replay: the values this link drew when it was recorded, given back in call order. */
    private readonly recorded: RecordedIO | undefined,
    /** Which attempt this call is (link option `retry`), from 1. */
    readonly attempt: number = 1,
  ) {}
  get metrics(): Metrics {
    this.states.metricsTouched = true
    return this.states.metricsWork
  }
  get [NEST_HOST](): NestHost | undefined {
    return this.states.nest
  }
  inject(carrier: TraceCarrier): void {
    if (typeof carrier !== 'object' || carrier === null) throw new TypeError(`io.inject(carrier): carrier must be headers (a Headers, an object or an array of pairs), got ${carrier === null ? 'null' : typeof carrier}`)
    this.states.tracing?.inject(this as LinkCallIO<unknown>, carrier)
  }
  /** The runner stopped waiting for the link: its later `io.metrics` writes go nowhere. */
  detach(): void {
    this.states = detachedStates()
  }
  stop(reason?: string): void {
    // A non-string reason is a bug in the link, reported where it was made (the link fails).
    if (reason !== undefined && typeof reason !== 'string') throw new TypeError(`io.stop(reason): reason must be a string, got ${reason === null ? 'null' : typeof reason}`)
    this.stopped = true
    this.stopReason = reason
  }
  now(): number {
    return this.draw('now', Date.now)
  }
  random(): number {
    return this.draw('random', Math.random)
  }
  private draw(kind: 'now' | 'random', live: () => number): number {
    const drawn = (this.drawn ??= { now: undefined, random: undefined })
    const list = (drawn[kind] ??= [])
    let value: number
    if (this.recorded === undefined) {
      value = live()
    } else {
      const recorded = this.recorded[kind]
      if (recorded !== undefined && list.length < recorded.length) {
        value = recorded[list.length] as number
      } else {
        this.overrun = true
        value = live()
      }
    }
    list.push(value)
    return value
  }
}

/**
 * Type guard for anything awaitable a hook or link may return. Never throws: a value whose
 * `then` getter throws (or a revoked Proxy) is not awaitable; a hook's value is ignored, and a
 * link's is a replacement the runner then fails to read, which fails the link.
 */
export function isThenable(value: unknown): value is PromiseLike<unknown> {
  if (value === null || (typeof value !== 'object' && typeof value !== 'function')) return false
  try {
    return typeof (value as { then?: unknown }).then === 'function'
  } catch {
    return false
  }
}
