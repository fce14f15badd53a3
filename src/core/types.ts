/**
 * The public vocabulary of shadowchain: links, middleware, their events and the options of a run.
 * Types only; the behaviour lives in `chain.ts` (building) and `runner.ts` (running).
 *
 * @module
 */
import type { Draft, Immutable, Patch } from 'immer'
import type { TraceCarrier } from './run-options.js'

export type { CaptureLevel, ChainOptions, Clock, RedactPath, RunOptions, RunTrace, TraceCarrier } from './run-options.js'

/**
 * The state shared by every middleware of one run (timers, span handles, counters).
 *
 * It is an interface so an application can describe its own keys by declaration merging:
 * `declare module 'shadowchain' { interface MwCtx { startedAt?: number } }`.
 * Write to it freely inside a middleware call; after each call the recorder keeps a frozen,
 * structurally shared snapshot of it in the timeline.
 */
export interface MwCtx {
  [key: string]: unknown
}

/**
 * One fresh object per link execution, given to the link (`io.metrics`) and to every middleware
 * around it. Recorded like {@link MwCtx}; merge declarations to type your own keys.
 */
export interface Metrics {
  [key: string]: unknown
}

/** Describes a link: frozen, built once with the chain, shared by every run. */
export interface LinkInfo {
  /** The link's name, unique within its chain. */
  readonly name: string
  /** The link's place in its chain, from 0. */
  readonly index: number
  /** Whatever the link's options gave as `meta` (frozen), or an empty object. */
  readonly meta: Readonly<Record<string, unknown>>
}

/** Describes the run a link or middleware belongs to. Frozen. */
export interface RunInfo {
  /** A unique id (UUID) of the run. */
  readonly id: string
  /** The name the chain was built with. */
  readonly chainName: string
  /** When the run started, epoch nanoseconds (`0n` with `timestamps: false`). */
  readonly startedAt: bigint
}

/**
 * The second argument of every link: what it may know about its run, and the only sanctioned
 * sources of time and randomness (recorded, so that replay can return the same values).
 */
export interface LinkIO<C = unknown> {
  /** The run this link executes in. */
  readonly run: RunInfo
  /** This link. */
  readonly link: LinkInfo
  /** This link execution's metrics: write numbers, strings, anything plain. */
  readonly metrics: Metrics
  /** The ctx this link received, frozen: unlike the draft it never changes while the link runs. */
  readonly base: Immutable<C>
  /** The run's abort signal (never aborts when the run was given none). */
  readonly signal: AbortSignal
  /** Wall-clock milliseconds since the epoch, like `Date.now()`, recorded in the timeline. */
  now(): number
  /** A float in [0, 1), like `Math.random()`, recorded in the timeline. */
  random(): number
  /**
   * Ends the run successfully once this link is done (DESIGN §9): its changes and its
   * after-middleware still happen, the links after it do not run (each is recorded as a
   * `link.skip` event with reason `'stopped'`), and the run carries `stoppedBy` (this link) and
   * `stopReason`. A link that stops and then fails fails the run: the stop is forgotten.
   *
   * @param reason - free text kept as the run's `stopReason` (a string, or nothing)
   * @throws TypeError when `reason` is given and is not a string (so the link fails)
   * @example
   * .link('quote', (ctx, io) => { if (ctx.cached) io.stop('cached quote') })
   */
  stop(reason?: string): void
  /**
   * Which attempt this call is, from 1 (DESIGN §9): more than 1 only for a link with `retry`
   * whose earlier attempts failed.
   */
  readonly attempt: number
  /**
   * Writes this link's trace context (W3C `traceparent`, `tracestate`, `baggage`: whatever
   * propagators are registered with OpenTelemetry) into an outbound request's headers, so the
   * service it calls continues this run's trace under this link (DESIGN §11). The span is the
   * link's (or branch's) live span, or, without a recording tracer, a span id of the run's own,
   * recorded on the link's event (`span`) so the runs of both services can be stitched into one
   * tree. Works with `fetch` (`Headers` or a plain object), `undici` and `node:http` headers.
   *
   * @throws TypeError when `carrier` is not an object (so the link fails)
   * @example
   * const headers: Record<string, string> = { 'content-type': 'application/json' }
   * io.inject(headers)
   * await fetch(paymentsUrl, { method: 'POST', headers, body })
   */
  inject(carrier: TraceCarrier): void
}

/**
 * How a link is retried (link option `retry`, DESIGN §9). Each failed attempt that is retried is
 * a `link.attempt` event; its draft is discarded. Middleware runs once around all attempts.
 */
export interface RetryOptions {
  /** How many attempts in all (an integer, at least 1; 1 means no retry). */
  readonly attempts: number
  /** Milliseconds to wait before the second attempt (default 0: retry at once). */
  readonly delayMs?: number
  /** Factor applied to the delay before each later attempt (default 1: a constant delay). */
  readonly backoff?: number
  /** Whether an error is worth another attempt (default: every error is). */
  readonly retryIf?: (error: unknown) => boolean
}

/** Why a link did not run: its `when` said no, or an earlier link called `io.stop()`. */
export type SkipReason = 'when' | 'stopped'

/**
 * A link: one named business step. It mutates the immer draft it is given, or returns a
 * replacement value (never both). It may be sync or async.
 */
export type LinkFn<C> = (ctx: Draft<C>, io: LinkIO<C>) => void | C | Draft<C> | Promise<void | C | Draft<C>>

/** Options of one link. */
export interface LinkOptions<C> {
  /** Link-level middleware, run inside the chain-level middleware (DESIGN §3). */
  use?: readonly Middleware<C>[]
  /** Free-form data describing the link, visible as `LinkInfo.meta`. */
  meta?: Record<string, unknown>
  /**
   * Runs the link only when this returns `true` for the ctx it would receive (DESIGN §9).
   * `false`: the link, and every middleware call around it, does not happen; the timeline has a
   * `link.skip` event (reason `'when'`). It must be synchronous and return a boolean: anything
   * else, or a throw, fails the run as this link's failure (`'LINK_FAILED'`, no hooks run).
   *
   * @example
   * .link('review', review, { when: (ctx) => ctx.total > 1_000 })
   */
  when?: (ctx: Immutable<C>) => boolean
  /**
   * Tries the link again when it fails (DESIGN §9), up to `attempts` times in all, waiting
   * `delayMs * backoff^(n-1)` before attempt n+1 (unref'd timers; an aborted run stops waiting
   * at once). `io.attempt` says which attempt a call is.
   *
   * @example
   * .link('charge', charge, { retry: { attempts: 3, delayMs: 100, backoff: 2 }, timeoutMs: 2_000 })
   */
  retry?: RetryOptions
  /**
   * Milliseconds an attempt that returned a promise may take. At the deadline `io.signal`
   * aborts, the runner stops waiting, and the attempt's draft is revoked (its late writes never
   * reach ctx). A last attempt that timed out fails the run with code `'TIMEOUT'`. A
   * synchronous link cannot be interrupted.
   */
  timeoutMs?: number
}

/** Where a middleware call happens relative to its link. */
export type BeforePosition = 'chain-before' | 'link-before'
/** Where a middleware call happens relative to its link. */
export type AfterPosition = 'link-after' | 'chain-after'
/** Every position a middleware call can have, the run hooks included. */
export type Position = BeforePosition | AfterPosition | AroundPosition | 'run-start' | 'run-end'
/** Where an around call happens: chain-level around hooks wrap link-level ones. */
export type AroundPosition = 'chain-around' | 'link-around'

/** What a `before` hook receives. A fresh object per call: middleware instances are shared. */
export interface BeforeEvent<C = unknown> {
  /** The run. */
  readonly run: RunInfo
  /** The link about to run. */
  readonly link: LinkInfo
  /** Chain-level or link-level. */
  readonly position: BeforePosition
  /** This middleware's place in its list (the chain's `use` list or the link's `use` list). */
  readonly index: number
  /** The ctx the link will receive: frozen, middleware cannot change business data. */
  readonly ctx: Immutable<C>
  /** Shared by every middleware of this run: writable. */
  readonly mwctx: MwCtx
  /** This link execution's metrics: writable. */
  readonly metrics: Metrics
}

/** What an `after` hook receives. */
export interface AfterEvent<C = unknown> extends Omit<BeforeEvent<C>, 'position'> {
  /** Link-level or chain-level. */
  readonly position: AfterPosition
  /** The ctx the link produced (the same as `ctx` when it failed: its changes are discarded). */
  readonly result: Immutable<C>
  /** The link's error, when it failed. */
  readonly error?: unknown
  /** How many times the link was called (present for a link with `retry` or `timeoutMs`). */
  readonly attempts?: number
  /**
   * What the link changed, in immer's patch format: the patches its `link.end` records (the diff
   * of `ctx` and `result`, or immer's own for a ctx that holds a Map, a Set or an immerable
   * instance), made when first read.
   */
  readonly patches: readonly Patch[]
  /** The link's own duration in nanoseconds, middleware excluded. */
  readonly durationNs: bigint
}

/** What an `around` hook receives (the link is about to run inside it). */
export interface AroundEvent<C = unknown> extends Omit<BeforeEvent<C>, 'position'> {
  /** Chain-level or link-level. */
  readonly position: AroundPosition
}

/** What `next()` of an around hook resolves to: the outcome of the link (never a rejection). */
export interface AroundOutcome<C = unknown> {
  /** The ctx the link produced (its input when it failed). */
  readonly result: Immutable<C>
  /** The link's error, when it failed. */
  readonly error?: unknown
  /** What the link changed (empty when it failed, or when nothing recorded them). */
  readonly patches: readonly Patch[]
  /** The link's own duration in nanoseconds (its last attempt), middleware excluded. */
  readonly durationNs: bigint
}

/** What a `runStart` hook receives. */
export interface RunStartEvent<C = unknown> {
  readonly run: RunInfo
  /** The first ctx state (the validated input). */
  readonly ctx: Immutable<C>
  readonly mwctx: MwCtx
}

/** Final status of a run. */
export type RunStatus = 'ok' | 'error' | 'aborted'

/** What a `runEnd` hook receives. */
export interface RunEndEvent<C = unknown> extends RunStartEvent<C> {
  /** How the run ended (before `safe: false` turns middleware errors into a failure). */
  readonly status: RunStatus
  /** The run's error, when it failed. */
  readonly error?: unknown
}

/** What a hook may return: nothing, or a promise that the run awaits. Its value is ignored. */
export type HookResult = void | Promise<unknown>

/**
 * An observer of a run. It cannot change ctx and cannot stop a run: what it throws is recorded
 * as a `middleware.error` event and the run goes on. A hook that returns a promise is awaited;
 * a synchronous hook is not wrapped in one.
 *
 * @example
 * const timing: Middleware = {
 *   name: 'timing',
 *   after(e) { e.metrics.ms = Number(e.durationNs) / 1e6 },
 * }
 */
export interface Middleware<C = unknown> {
  /** Shown in the timeline, in errors and in traces. */
  readonly name: string
  /**
   * Where this middleware's calls go in each of its queues (before, after, runStart, runEnd):
   * higher runs first; equal priorities keep the order added. Default 0. The event's `index`
   * stays the middleware's place in its `use` list, whatever its priority.
   */
  readonly priority?: number
  /** Called before each link it wraps. */
  readonly before?: (event: BeforeEvent<C>) => HookResult
  /**
   * Wraps each link it wraps, inside the before hooks (onion): call `next()` once to run the
   * link inside this call (an AsyncLocalStorage, a logger context, an active span). The runner
   * runs the link exactly once whatever the hook does; it cannot change the outcome.
   */
  readonly around?: (event: AroundEvent<C>, next: () => Promise<AroundOutcome<C>>) => HookResult
  /** Called after each link it wraps, also when the link failed. */
  readonly after?: (event: AfterEvent<C>) => HookResult
  /** Chain-level only: once before the first link. */
  readonly runStart?: (event: RunStartEvent<C>) => HookResult
  /** Chain-level only: once after the last link, also after a failure. */
  readonly runEnd?: (event: RunEndEvent<C>) => HookResult
}

/** Identifies one middleware call. */
export interface MiddlewareCallInfo {
  readonly name: string
  readonly position: Position
  /** The middleware's place in its list. */
  readonly index: number
}

/** The values a link drew from `io.now()` / `io.random()`, in call order. */
export interface RecordedIO {
  readonly now?: readonly number[]
  readonly random?: readonly number[]
}
