// The flight recorder (DESIGN §10): keeps the last runs and the last failed runs of each chain,
// a sampled fraction of the successful ones, and statistics of all; in memory, or in a store
// written in batches off the runs' path. Whatever the store does, runs go on: a failing store is
// counted and reported once, and memory stays bounded however many runs pass.
import type { Chain } from '../core/chain.js'
import { describeError } from '../core/errors.js'
import { RECORDER_PORT, type RecorderPort, type RunRecorder } from '../core/recording.js'
import { Run } from '../lineage/run.js'
import { normalizeQuery } from './query.js'
import { nonNegative, normalizeKeepOption, positive, type RecorderEvent, type RecorderHealth, type RecorderOptions, type RecorderWarning } from './recorder-options.js'
import { MemoryRing } from './memory-ring.js'
import { Statistics, type ChainStats, type StatsQuery } from './statistics.js'
import { StatsSink } from './stats-sink.js'
import { encodeRun, type EncodedRun } from './summary.js'
import { InFlight, writeBatches, type Batch } from './batch-writes.js'
import type { KeepPolicy, RunQuery, RunStore, StoredRunSummary } from './types.js'
import { ExitFlush } from './exit-flush.js'
import type { RunDocument } from '../files/run-document.js'
import { DurableWriter } from './durable-writer.js'
import type { DurableStart } from '../core/recording.js'

/** Finished runs kept as they are until the turn they finished in ends; beyond, encoded at once. */
const FINISHED_AT_MOST = 128
/** How often, at most, `keep` is applied in the store while runs are being written. */
const RETAIN_EVERY_MS = 1_000

/**
 * A flight recorder: give it as the run option or chain default `recorder`.
 *
 * @example
 * const rec = recorder({ keep: { last: 1_000, failed: 1_000 }, sample: 0.1, store: sqliteStore('runs.db') })
 * const checkout = chain<Order>('checkout', { recorder: rec })
 * await rec.runs({ status: 'error', limit: 20 })   // the last failures, newest first
 * const run = await rec.get(id)                     // a full Run: replay, fork, export
 * rec.stats()                                       // count, errors, p50/p95/p99/max per chain, link, middleware
 */
export function recorder(options: RecorderOptions = {}): FlightRecorder {
  return new FlightRecorder(options)
}

/** See {@link recorder}. */
export class FlightRecorder implements RunRecorder {
  readonly #keep: KeepPolicy & { readonly last: number; readonly failed: number }
  readonly #sample: number
  readonly #random: () => number
  readonly #store: RunStore | undefined
  readonly #memory: MemoryRing | undefined
  readonly #stats: Statistics | undefined
  readonly #batchSize: number
  /** The store's `writesInFlight`: batches written at once. */
  readonly #writesInFlight: number
  /** Runs waiting (in line and on their way) from which a finishing run lets the event loop turn. */
  readonly #behind: number
  readonly #delayMs: number
  readonly #maxPending: number
  readonly #warn: (warning: RecorderWarning) => void
  readonly #warned = new Set<string>()
  /** The chain value last seen by name: `get` attaches it, so replay and fork work. */
  readonly #chains = new Map<string, Chain<unknown>>()
  readonly #durableTimeoutMs: number
  /** Durable runs begun in the store and not yet written whole: kept whatever the sampling. */
  readonly #durable = new Set<string>()
  /**
   * Runs finished since the last turn of the event loop, waiting to be encoded. Encoding them
   * right after the turn they finished in (not when their batch is written) lets their objects
   * die young: a waiting run then costs the collector one string.
   */
  #finished: Run<unknown>[] = []
  /** Encoded runs waiting for the store, oldest first. */
  #pending: EncodedRun[] = []
  /** The batches being written now (at most the store's `writesInFlight`). */
  readonly #inFlight = new InFlight()
  #timer: ReturnType<typeof setTimeout> | undefined
  /** Resumes the drain now if it waits for a turn of the event loop between two batches. */
  #turn: (() => void) | undefined
  /** The drain running now, if one is: drains run one after another, never side by side. */
  #draining: Promise<void> | undefined
  #closed = false
  readonly #exit: ExitFlush | undefined
  readonly #subscribers = new Set<(event: RecorderEvent) => void>()
  /** Chains written to the store since `keep` was last applied there, and when that was. */
  readonly #unretained = new Set<string>()
  #retainedAt = 0
  #seen = 0
  #sampledOut = 0
  #written = 0
  #storeFailures = 0
  #dropped = 0

  /** What the engine calls (see `RunRecorder`): not for application code. */
  readonly [RECORDER_PORT]: RecorderPort

  constructor(options: RecorderOptions) {
    if (typeof options !== 'object' || options === null) throw new TypeError(`recorder(options): options must be an object, got ${options === null ? 'null' : typeof options}`)
    const keep = normalizeKeepOption(options.keep)
    this.#keep = keep
    const sample = options.sample ?? 1
    if (typeof sample !== 'number' || !(sample >= 0 && sample <= 1)) throw new TypeError(`recorder(options): sample must be a number from 0 to 1, got ${String(sample)}`)
    this.#sample = sample
    this.#random = options.random ?? Math.random
    this.#store = options.store
    if (this.#store !== undefined && typeof this.#store.write !== 'function') throw new TypeError('recorder(options): store must be a RunStore (memoryStore(), sqliteStore(path), postgresStore(url))')
    this.#writesInFlight = positive(this.#store?.writesInFlight ?? 1, 'store.writesInFlight')
    this.#memory = this.#store === undefined ? new MemoryRing(keep.last, keep.failed) : undefined
    this.#stats = options.stats === false ? undefined : new Statistics()
    this.#batchSize = positive(options.batch?.size ?? 64, 'batch.size')
    this.#delayMs = nonNegative(options.batch?.delayMs ?? 20, 'batch.delayMs')
    this.#maxPending = positive(options.maxPending ?? 10_000, 'maxPending')
    this.#behind = Math.min((this.#writesInFlight + 2) * this.#batchSize, Math.ceil(this.#maxPending / 2))
    this.#durableTimeoutMs = nonNegative(options.durableTimeoutMs ?? 5_000, 'durableTimeoutMs')
    this.#warn = options.onWarning ?? ((w) => console.warn(`shadowchain recorder: ${w.message}`))
    this.#exit = this.#store !== undefined && options.flushOnExit !== false ? new ExitFlush(() => this.flush()) : undefined
    this[RECORDER_PORT] = {
      runStarted: (chain, info) => this.#runStarted(chain as Chain<unknown>, info),
      runFinished: (run, chain) => this.#runFinished(run as Run<unknown>, chain as Chain<unknown>),
      durable: (start) => this.#durableRun(start),
    }
  }

  /** What the recorder has done so far. */
  get health(): RecorderHealth {
    return { seen: this.#seen, sampledOut: this.#sampledOut, written: this.#written, storeFailures: this.#storeFailures, dropped: this.#dropped, pending: this.#finished.length + this.#pending.length + this.#inFlight.runs }
  }

  /** Where the runs go: the store's kind and place, or `'memory'`. */
  get where(): string {
    if (this.#store === undefined) return 'memory (runs kept as they are)'
    const { kind, where } = this.#store
    return where === kind ? kind : `${kind} ${where}`
  }

  /**
   * Summaries of the kept runs that match, newest first (waiting runs are written first). Filters:
   * `chain`, `status`, `link` (that failed), `since` / `until`, `limit` (default 50), `before` (paging).
   */
  async runs(query?: RunQuery): Promise<StoredRunSummary[]> {
    if (this.#store === undefined) return (this.#memory as MemoryRing).list(normalizeQuery(query, this.where))
    await this.#drain(false)
    return this.#store.list(query)
  }

  /** A kept run, in full (replay, fork and export work on it), or `undefined`. */
  async get(id: string): Promise<Run<unknown> | undefined> {
    if (this.#store === undefined) return (this.#memory as MemoryRing).get(id)
    const finished = this.#finished.find((run) => run.id === id)
    if (finished !== undefined) return finished
    const waiting = this.#pending.find((run) => run.summary.id === id) ?? this.#inFlight.find(id)
    const doc = waiting?.document ?? (await this.#store.read(id))
    if (doc === undefined) return undefined
    const chain = this.#chains.get(doc.run.chainName)
    return Run.fromJSON(doc, chain === undefined ? {} : { chain })
  }

  /** Count, errors and p50 / p95 / p99 / max (ns) per chain, link and middleware call. */
  stats(query?: StatsQuery): ChainStats[] {
    return this.#stats?.summary(query) ?? []
  }

  /**
   * Calls `listener` with each run the recorder keeps, as it finishes, and with each step of
   * durable runs as the store takes it (what a live view shows). Synchronous: a listener that
   * must do slow work buffers it (a listener that throws is ignored). Returns the unsubscribe.
   */
  subscribe(listener: (event: RecorderEvent) => void): () => void {
    if (typeof listener !== 'function') throw new TypeError(`recorder.subscribe(listener): listener must be a function, got ${typeof listener}`)
    this.#subscribers.add(listener)
    return () => void this.#subscribers.delete(listener)
  }

  #tell(event: RecorderEvent): void {
    for (const listener of this.#subscribers) {
      try {
        listener(event)
      } catch {
        // A subscriber's problem is not the run's.
      }
    }
  }

  /** Writes every waiting run to the store; rejects with the store's error when it fails. */
  async flush(): Promise<void> {
    await this.#drain(true)
    await this.#retain(true)
    await this.#store?.flush?.()
  }

  /** Flushes, then closes the store; the recorder keeps no more runs. */
  async close(): Promise<void> {
    if (this.#closed) return
    try {
      await this.flush()
    } finally {
      this.#closed = true
      this.#exit?.remove()
      if (this.#timer !== undefined) clearTimeout(this.#timer)
      this.#stats?.destroy()
      await this.#store?.close()
    }
  }

  #runStarted(chain: Chain<unknown>, info: { readonly startedAt: bigint }): StatsSink | undefined {
    if (this.#closed || this.#stats === undefined) return undefined
    return new StatsSink(this.#stats, this.#stats.chain(chain.name), info.startedAt)
  }

  #durableRun(start: DurableStart): DurableWriter | undefined {
    const store = this.#store
    if (store === undefined || this.#closed) return undefined
    this.#durable.add(start.id)
    // Its chain's interrupted runs are let go by age (keep.interruptedMs): retention looks at the
    // chain even when none of its runs finish (a process that dies in every run).
    if (this.#keep.interruptedMs !== undefined) this.#unretained.add(start.chainName)
    const report = (error: unknown): void => {
      this.#storeFailures++
      this.#warnOnce('STORE_FAILED', `a durable run's step did not reach ${this.where} (the run goes on, no longer durable): ${describeError(error)}`, error)
    }
    // Steps are shown only while someone watches: no documents are made for nobody.
    const stored = this.#subscribers.size === 0 ? undefined : (document: RunDocument) => this.#tell({ type: 'step', runId: start.id, document })
    return new DurableWriter(store, start, this.#durableTimeoutMs, report, stored)
  }

  #runFinished(run: Run<unknown>, chain: Chain<unknown>): Promise<void> | undefined {
    if (this.#closed) return
    this.#seen++
    // A durable run begun in the store is always written whole (else it would stay 'interrupted').
    const begun = this.#durable.delete(run.id)
    if (!begun && run.status === 'ok' && this.#sample < 1 && !(this.#random() < this.#sample)) {
      this.#sampledOut++
      return
    }
    this.#chains.set(chain.name, chain)
    if (this.#subscribers.size > 0) this.#tell({ type: 'run', run })
    if (this.#memory !== undefined) {
      this.#memory.add(run)
      return
    }
    if (this.#pending.length + this.#finished.length >= this.#maxPending) {
      if (this.#pending.length > 0) this.#pending.shift()
      else this.#finished.shift()
      this.#dropped++
      this.#warnOnce(
        'DROPPED',
        `more than ${this.#maxPending} runs waited for ${this.where}: the oldest are dropped (see health.dropped; the store writes more slowly than runs finish)`,
      )
    }
    if (this.#finished.push(run) === 1) setImmediate(() => this.#encode())
    // Runs finished in one turn (a burst, a loop that does not yield) wait as strings, not as
    // runs: past FINISHED_AT_MOST, the oldest is encoded now (a run's objects kept across a
    // collection are copied, then promoted; fewer put an encode between a run's end and its
    // caller in a burst of HTTP requests, measured).
    else if (this.#finished.length > FINISHED_AT_MOST) this.#encode(1)
    const waiting = this.#pending.length + this.#finished.length
    // A finished durable run replaces its 'interrupted' row at once, not a batch later.
    if (waiting >= this.#batchSize || begun) this.#schedule(0)
    else if (this.#timer === undefined) this.#schedule(this.#delayMs)
    // Two batches behind: the timers have not had a turn (a loop of runs that never yields to
    // the event loop). A store that writes as it is called (memory, SQLite without the thread:
    // one write at a time) is written to now, a batch a run, so such a loop loses nothing. (A
    // store that writes off the event loop needs turns to hear back: nothing to gain here.)
    if (waiting >= 2 * this.#batchSize && this.#writesInFlight === 1) {
      if (this.#draining === undefined) void this.#drain(false).catch(() => {})
      else this.#turn?.()
    }
    // Far behind even so (a store that answers off the event loop, in a loop that gives it no
    // turn): the run resolves after one turn, in which the store's answers are heard. One turn,
    // not until the store catches up: a store that is down never holds a run.
    if (waiting + this.#inFlight.runs >= this.#behind) return new Promise<void>((resolve) => setImmediate(resolve))
    return undefined
  }

  #schedule(ms: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer)
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.#drain(false).catch(() => {})
    }, ms)
    this.#timer.unref()
  }

  /**
   * Writes batches until nothing waits. One drain at a time: a drain asked for while one runs
   * starts after it (two side by side once let `flush()` return with a batch still being written,
   * which `close()` then cut off). `strict`: a failure rejects.
   */
  #drain(strict: boolean): Promise<void> {
    const previous = this.#draining
    const next = (previous === undefined ? this.#drainNow(strict) : previous.catch(() => {}).then(() => this.#drainNow(strict))).finally(() => {
      if (this.#draining === next) this.#draining = undefined
    })
    this.#draining = next
    return next
  }

  /**
   * Encodes the finished runs into documents for the store. A run whose document cannot be made
   * is not kept, and said once: it must not hold up the runs behind it.
   */
  #encode(most = Infinity): void {
    if (this.#finished.length === 0) return
    const finished = most >= this.#finished.length ? this.#finished : this.#finished.splice(0, most)
    if (finished === this.#finished) this.#finished = []
    for (const run of finished) {
      try {
        this.#pending.push(encodeRun(run))
        this.#unretained.add(run.chainName)
      } catch (error) {
        this.#dropped++
        this.#warnOnce('ENCODE_FAILED', `run ${run.id} of chain '${run.chainName}' could not be encoded as a document, so it is not kept (see health.dropped): ${describeError(error)}`, error)
      }
    }
  }

  /**
   * Writes batches until nothing waits, up to the store's `writesInFlight` at once. After a
   * failure no batch is started; the failed ones go back first in line once the others are done.
   */
  async #drainNow(strict: boolean): Promise<void> {
    const next = (): Batch | undefined => {
      this.#encode()
      return this.#pending.length === 0 ? undefined : this.#pending.splice(0, this.#batchSize)
    }
    // A store that writes synchronously (SQLite) holds the event loop for a batch: let the
    // requests and runs that waited meanwhile go first, the next turn, or sooner when runs keep
    // finishing without one (see #runFinished).
    const between = (): Promise<void> | undefined => {
      if (this.#pending.length === 0 && this.#finished.length === 0) return undefined
      return new Promise<void>((resolve) => {
        this.#turn = resolve
        setImmediate(resolve)
      }).then(() => void (this.#turn = undefined))
    }
    const failed = await writeBatches(next, this.#writesInFlight, (batch) => this.#write(batch), this.#inFlight, between)
    if (failed === undefined) return
    this.#storeFailures += failed.batches.length
    // Back first in line, in the order they were taken (bounded by maxPending, the oldest dropped first).
    for (const batch of failed.batches) this.#inFlight.delete(batch)
    this.#pending.unshift(...failed.batches.flat())
    while (this.#pending.length > this.#maxPending) {
      this.#pending.shift()
      this.#dropped++
    }
    this.#warnOnce('STORE_FAILED', `writing runs to ${this.where} failed (runs go on; they wait, up to maxPending): ${describeError(failed.error)}`, failed.error)
    if (strict) throw failed.error
    if (this.#timer === undefined && !this.#closed) this.#schedule(Math.max(this.#delayMs, 1_000))
  }

  async #write(batch: readonly EncodedRun[]): Promise<void> {
    await (this.#store as RunStore).write(batch)
    this.#written += batch.length
    await this.#retain(false)
  }

  /**
   * Applies `keep` in the store to the chains written since the last time: at most once a second
   * while runs are written (a store holds at most a second of runs beyond `keep`; retention scans
   * a chain's rows, so doing it every batch cost ~30 µs a run), and always on `flush()`.
   */
  async #retain(now: boolean): Promise<void> {
    const store = this.#store
    if (store === undefined || this.#unretained.size === 0) return
    const t = performance.now()
    if (!now && t - this.#retainedAt < RETAIN_EVERY_MS) return
    this.#retainedAt = t
    const chains = [...this.#unretained]
    this.#unretained.clear()
    for (const chain of chains) await store.retain(chain, this.#keep)
  }

  #warnOnce(code: RecorderWarning['code'], message: string, error?: unknown): void {
    if (this.#warned.has(code)) return
    this.#warned.add(code)
    try {
      this.#warn(error === undefined ? { code, message } : { code, message, error })
    } catch {
      // A warning hook that throws is not the run's problem.
    }
  }
}

export type { RecorderEvent, RecorderHealth, RecorderOptions, RecorderWarning } from './recorder-options.js'
