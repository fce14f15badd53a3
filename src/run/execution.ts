// What one execution holds: its plan, the run's states and where it stands. The hook calls,
// the link calls and the loop (runner.ts) each extend this with what they do.
import type { Immutable } from 'immer'
import type { CompiledChain, CompiledLink } from '../core/compile.js'
import type { Clock, Metrics, MwCtx, RecordedIO, RunInfo, RunStatus } from '../core/types.js'
import type { Failure, MiddlewareFailure, Stop } from './failures.js'
import type { LinkOutcome, TraceInjector } from './hook-events.js'
import type { ObservedStates, RunObserver } from './observer.js'
import { thaw } from './working-states.js'
import type { NestHost } from '../core/nested.js'
import type { SealHint } from '../core/seal-state.js'

/** Where a fork resumes: the link to start at, and mwctx as it was there. */
export interface ResumeAt {
  /** Index in the chain of the first link to run. */
  readonly linkIndex: number
  /** The mwctx state at the cut. */
  readonly mwctx: Immutable<MwCtx>
}

/** Everything one execution needs, resolved from chain defaults and run options. */
export interface ExecutionPlan<C> {
  readonly chain: CompiledChain<C>
  readonly info: RunInfo
  readonly input: Immutable<C>
  readonly clock: Clock
  // Every field is always present (undefined when unused): one object shape for every plan, so
  // the runner's reads of them stay monomorphic whatever mix of runs a process makes.
  /** Patches of every link and snapshots of its metrics are wanted (the run is recorded). */
  readonly record: boolean
  /**
   * Middleware calls are timed, and those that went well reported to the observer (something
   * records or traces them, or keeps their statistics). Failed calls are reported whatever this
   * says.
   */
  readonly timed: boolean
  readonly safe: boolean
  readonly signal: AbortSignal | undefined
  /** Replay: the values each link (by name) drew from io when it was recorded. */
  readonly recordedIO: ReadonlyMap<string, RecordedIO> | undefined
  /** Fork: continue from a cut of another run instead of starting afresh. */
  readonly resume: ResumeAt | undefined
  /** Who is told what happens (the recorder, a live tracer, or several: see observer.ts). */
  readonly observer: RunObserver<C> | undefined
  /** How long an async middleware call may stay pending (ms; `Infinity`: no limit). */
  readonly hookTimeoutMs: number
  /** What runs the nested chains of this run's links (the engine's; undefined: none can run). */
  readonly nest: NestHost | undefined
  /**
   * A durable run (DESIGN §10): called once the run's start and each completed step are
   * recorded, before the next step begins; a promise returned is waited for (never rejects).
   */
  readonly checkpoint: (() => Promise<void> | undefined) | undefined
  /** What `io.inject` writes with: the run's trace context (the engine's). */
  readonly tracing: TraceInjector | undefined
}

/** What an execution leaves behind; what was observed is the observers' to give. */
export interface ExecutionResult<C> {
  readonly status: RunStatus
  readonly ctx: Immutable<C>
  readonly failure: Failure | undefined
  readonly endedAt: bigint
  /** Set when a link called `io.stop()` and the run ended successfully after it. */
  readonly stop: Stop | undefined
}

const NEVER_ABORTED = new AbortController().signal

/** The state of one execution (see the file comment). */
export abstract class ExecutionState<C> implements ObservedStates {
  readonly mwWork: MwCtx
  metricsWork: Metrics = {}
  mwTouched = false
  metricsTouched = false

  protected ctx: Immutable<C>
  protected hookIndex = 0
  protected link: CompiledLink<C> | undefined = undefined
  protected linkInput: Immutable<C>
  protected outcome: LinkOutcome<C> | undefined = undefined
  protected failure: Failure | undefined = undefined
  protected stop: Stop | undefined = undefined
  protected readonly middlewareFailures: MiddlewareFailure[] = []
  protected readonly signal: AbortSignal
  protected readonly observer: RunObserver<C> | undefined
  /**
   * The end of the last thing timed: the run's (or fork's) start, a middleware call's end, a
   * link's end. A link span starts here and ends at the step's last one, so a tracer takes no
   * clock reading of its own: a traced recording has the same times as an untraced one.
   */
  protected lastReading: bigint
  /**
   * What this run's seal walks learned: `exotic` once its ctx holds a Map, a Set or an immerable
   * instance (from then on the run asks immer for patches); width is given back to the chain's
   * when the run ends.
   */
  protected readonly seal: SealHint

  /** What `io.inject` of this run's links writes with (their io hands it on). */
  get tracing(): TraceInjector | undefined {
    return this.plan.tracing
  }

  /** What runs nested chains for this run's links (their io hands it on). */
  get nest(): NestHost | undefined {
    return this.plan.nest
  }

  constructor(
    protected readonly plan: ExecutionPlan<C>,
    protected readonly finish: (result: ExecutionResult<C>) => void,
  ) {
    this.ctx = plan.input
    this.linkInput = plan.input
    this.signal = plan.signal ?? NEVER_ABORTED
    this.observer = plan.observer
    this.lastReading = plan.info.startedAt
    this.seal = { usePatches: plan.chain.seal.usePatches, exotic: false }
    this.mwWork = plan.resume === undefined ? {} : (thaw(plan.resume.mwctx) as MwCtx)
  }

  /** Stops the run's start, or the current step, at once: only the runEnd hooks still run. */
  protected abstract stopAtOnce(): void
}
