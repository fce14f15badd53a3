// The flight recorder's options and what it reports (DESIGN §10), and the checks of its options.
import { describeError } from '../core/errors.js'
import type { Run } from '../lineage/run.js'
import type { RunDocument } from '../files/run-document.js'
import { StoreError } from './errors.js'
import { normalizeKeep } from './query.js'
import type { KeepPolicy, RunStore } from './types.js'

/** Options of `recorder()`. */
export interface RecorderOptions {
  /**
   * How many runs of each chain to keep: the last `last` (default 20) and the last `failed`
   * failed ones (default 100; `'error'` or `'aborted'`). Enforced in the store too. Kept in memory
   * (no store), each kept run costs the garbage collector a copy: the last 100 cost ~1.24× a run.
   * With a store, `interruptedMs` lets go of durable runs left unfinished longer than that (see
   * {@link KeepPolicy.interruptedMs}); the store's retention runs for each chain a run of it was
   * written or begun in.
   */
  readonly keep?: KeepPolicy
  /** The fraction of successful runs kept (0 to 1, default 1); failed runs are always kept. */
  readonly sample?: number
  /**
   * Where runs go: a `RunStore` (`memoryStore()`, `sqliteStore(path)`, `postgresStore(url)`).
   * Default: the recorder's own memory, which keeps the `Run` objects themselves (no copy).
   */
  readonly store?: RunStore
  /** Statistics of every run (default true). */
  readonly stats?: boolean
  /**
   * Runs written to the store in one batch (default 64: a store that writes synchronously holds
   * the event loop for a batch; the recorder yields to it between batches), at most `delayMs`
   * (default 20) after the first waits.
   */
  readonly batch?: { readonly size?: number; readonly delayMs?: number }
  /** Runs that may wait for a slow or failing store (default 10,000); beyond that the oldest are dropped, and counted. */
  readonly maxPending?: number
  /**
   * Told of the first problem of each kind (a failing store, runs dropped): once, not per run.
   * Default: `console.warn`.
   */
  readonly onWarning?: (warning: RecorderWarning) => void
  /** Where sampling draws from (default `Math.random`). */
  readonly random?: () => number
  /** Flush on `beforeExit` and `SIGTERM`, so a short-lived process loses no run (default true with a store). */
  readonly flushOnExit?: boolean
  /**
   * How long a durable run waits for the store to take a step (ms, default 5,000); past it, or
   * when the store fails, the run goes on without durability (reported, counted).
   */
  readonly durableTimeoutMs?: number
}

/**
 * What a recorder tells its subscribers (a live view): a run it kept, as it finished; or a durable
 * run as stored so far, after each step (a document ending in a synthesised 'INTERRUPTED' end).
 */
export type RecorderEvent = { readonly type: 'run'; readonly run: Run<unknown> } | { readonly type: 'step'; readonly runId: string; readonly document: RunDocument }

/** A problem the recorder reports through `onWarning` (once per kind). */
export interface RecorderWarning {
  /**
   * `'STORE_FAILED'`: a write or a retention failed; `'DROPPED'`: runs waited past `maxPending`;
   * `'ENCODE_FAILED'`: a run's document could not be made, so that run is not kept.
   */
  readonly code: 'STORE_FAILED' | 'DROPPED' | 'ENCODE_FAILED'
  readonly message: string
  /** What the store threw, for `'STORE_FAILED'`. */
  readonly error?: unknown
}

/** What a recorder has done so far: counters, never reset. */
export interface RecorderHealth {
  /** Runs the recorder was given. */
  readonly seen: number
  /** Successful runs not kept (sampling). */
  readonly sampledOut: number
  /** Runs written to the store. */
  readonly written: number
  /** Writes (batches) and retentions that failed. */
  readonly storeFailures: number
  /** Runs dropped because too many waited for the store. */
  readonly dropped: number
  /** Runs waiting to be written now. */
  readonly pending: number
}

/**
 * Default `keep`: the last 20 runs and the last 100 failed runs of each chain. Runs kept in
 * memory survive garbage collections and are copied by them (~16 KiB a 10-link run): keeping the
 * last 100 cost ~1.24× a run in the benchmark, the last 20 ~1.08×; failed runs are rare, so
 * keeping more of them costs little.
 */
const DEFAULT_KEEP = { last: 20, failed: 100 } as const

/** `keep` with its defaults, checked. */
export function normalizeKeepOption(keep: KeepPolicy | undefined): { last: number; failed: number; interruptedMs?: number } {
  if (keep === undefined) return { ...DEFAULT_KEEP }
  try {
    const policy = { last: keep.last ?? DEFAULT_KEEP.last, failed: keep.failed ?? DEFAULT_KEEP.failed, ...(keep.interruptedMs !== undefined && { interruptedMs: keep.interruptedMs }) }
    const { last, failed } = normalizeKeep(policy, 'recorder(options)')
    return { ...policy, last, failed }
  } catch (error) {
    throw new TypeError(`recorder(options): ${error instanceof StoreError ? error.message.slice(error.where.length + 2) : describeError(error)}`)
  }
}

/** A whole number ≥ 1, or a TypeError naming the option. */
export function positive(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`recorder(options): ${name} must be a whole number ≥ 1, got ${String(value)}`)
  return value
}

/** Milliseconds ≥ 0, or a TypeError naming the option. */
export function nonNegative(value: number, name: string): number {
  if (typeof value !== 'number' || !(value >= 0) || !Number.isFinite(value)) throw new TypeError(`recorder(options): ${name} must be a number of milliseconds ≥ 0, got ${String(value)}`)
  return value
}
