// The options of a run (and a chain's defaults), and the types they name: the clock, redaction
// paths, the run's place in a distributed trace. Part of the public vocabulary (types.ts
// re-exports them).
import type { ZodType } from 'zod'
import type { Context, Tracer } from '@opentelemetry/api'
import type { RunRecorder } from './recording.js'

/** Where `io.inject` writes: a `Headers` (or anything with `set`), a plain object, or an array of pairs. */
export type TraceCarrier = { set(name: string, value: string): unknown } | Record<string, unknown> | [string, string][]

/**
 * A run's place in a distributed trace (DESIGN §11): its trace id, its own span id, and, when its
 * parent came from another process (W3C headers), that caller's span id.
 */
export interface RunTrace {
  /** 32 lowercase hex digits. */
  readonly traceId: string
  /** 16 lowercase hex digits: the run span's id, or the run's own when it had no recording tracer. */
  readonly spanId: string
  /** The caller's span id (16 hex), when the run's parent context was remote (extracted from headers). */
  readonly remoteParent?: string
}

/** A path into a state; `'*'` matches every key, array index or Map key at its level. */
export type RedactPath = readonly (string | number)[]

/** A source of epoch nanoseconds. Inject one to make timestamps deterministic in tests. */
export interface Clock {
  now(): bigint
}

/**
 * What a run records. Levels change what is recorded, never what the chain computes.
 * - `'timeline'`: every event with its states (the default).
 * - `'writes'`: the timeline plus one `ctx.write` event per single write a link makes
 *   (`timeline.writesTo(path)` answers who changed a field, when, and with `stacks`, from where).
 * - `'off'`: only `run.start`, `run.end` and the error events (`link.error`,
 *   `middleware.error`): what you need to know that something went wrong, at the least cost.
 */
export type CaptureLevel = 'timeline' | 'writes' | 'off'

/** Options of one run; the same keys given to `chain()` are that chain's defaults. */
export interface RunOptions {
  /** What to record; see {@link CaptureLevel}. Default `'timeline'`. */
  capture?: CaptureLevel
  /** `false` stamps every `t` and `durationNs` with `0n`, for maximum speed. Default `true`. */
  timestamps?: boolean
  /**
   * Aborts the run (status `'aborted'`, code `'ABORTED'`): no link starts once it is aborted,
   * and the runner stops waiting at once for a pending link or middleware promise (its late
   * result is discarded). The `after` hooks of a link already called, and the `runEnd` hooks,
   * still run (waited for up to `hookTimeoutMs`).
   */
  signal?: AbortSignal
  /**
   * `true` (default): middleware errors are recorded and never fail the run. `false` (tests):
   * a run with middleware errors fails with `'MIDDLEWARE_FAILED'` once it has completed.
   */
  safe?: boolean
  /**
   * With `capture: 'writes'`: add `stack` (`file:line:column` in user code) to every `ctx.write`
   * event. A stack capture costs ~10 µs a write: for debugging, not production.
   */
  stacks?: boolean
  /** The clock that stamps events; default: hrtime anchored once to wall-clock time. */
  clock?: Clock
  /**
   * How long the runner waits for a middleware hook's promise, in ms (default 5,000;
   * `Infinity`: forever). A call still pending then is recorded as `middleware.error` (an
   * Error named `'TimeoutError'`) and the run goes on; whatever the call does later is
   * ignored: its event's `mwctx` and `metrics` no longer reach the run (writes through a
   * reference it took before do, as with any shared object). Synchronous hooks arm no timer.
   */
  hookTimeoutMs?: number
  /**
   * With `capture: 'writes'`: how many `ctx.write` events one link execution records (default
   * 10,000). Later writes still happen but are only counted: the link's `link.end` /
   * `link.error` event carries `writesDropped: n`.
   */
  maxWritesPerLink?: number
  /**
   * Live OpenTelemetry tracing: a span `chain <name>` for the run (a child of the span active
   * when `run()` is called), a child span `link <name>` per link, in whose context the link
   * runs, and middleware calls as span events. Spans carry the runner's own clock readings (a
   * tracer adds none to a recording); link spans tile the run, each starting where the
   * previous step ended. Without a tracer this costs one branch.
   */
  tracer?: Tracer
  /**
   * Paths whose values never leave the process: in files (`run.toJSON()`, `saveRun`), the
   * command line, the viewer and OpenTelemetry spans (live and `exportRun`) the value at each
   * path becomes `'[REDACTED]'`, and the same value copied anywhere else (error messages,
   * stacks, causes, metrics, mwctx, link meta) is scrubbed too. `'*'` matches every key or index
   * at its level. Run and chain lists add up; the run keeps them (`run.redact`). See
   * docs/run-format.md for the exact rule.
   *
   * @example
   * chain<Order>('checkout', { redact: [['customer', 'card'], ['users', '*', 'password']] })
   */
  redact?: readonly RedactPath[]
  /**
   * A flight recorder (`recorder()`, DESIGN §10) that keeps this run (the last runs and the last
   * failed runs of each chain, a sampled fraction of the rest) and its statistics. Keeping a run
   * never slows or fails it: writes to a store are batched off the run's path.
   *
   * @example
   * const rec = recorder({ keep: { last: 100, failed: 1_000 }, store: sqliteStore('runs.db') })
   * const checkout = chain<Order>('checkout', { recorder: rec })
   */
  recorder?: RunRecorder
  /**
   * The run's parent trace context (an OpenTelemetry `Context`), instead of the context active
   * when the run starts: what an HTTP handler extracted from the request's W3C headers. The run
   * span is its child, and the run records it (`run.trace`).
   */
  traceContext?: Context
  /**
   * A durable run (DESIGN §10): its start and each completed step reach the recorder's store
   * before the next step begins, so a process that dies mid-run leaves it `'interrupted'` with
   * every completed step, and `resume(runId, { chain, store })` continues it in any process.
   * Needs a `recorder` with a `store`, and a capture level other than `'off'`.
   */
  durable?: boolean
}

/** Options of a chain: run defaults plus the input schema. */
export interface ChainOptions<C> extends RunOptions {
  /** Validates (and replaces by its parsed output) the input of every run before it starts. */
  input?: ZodType<C>
}
