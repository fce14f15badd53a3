// Checkpoints of an SQLite store that writes on the event loop. A write appends its pages to the
// WAL; a checkpoint copies them back into the database and syncs the file. Made by the writing
// connection itself (SQLite's automatic checkpoint), that copy and its fsync ran inside the commit
// that crossed the threshold: measured with the store's tables and 6 KiB documents, ~20 µs of a
// stored run's ~200 µs on the event loop went to checkpoints, mostly waiting for the disk. Here a
// thread of the store's own, with its own connection, checkpoints instead, as the writer thread
// of `thread: true` does its own. It starts with the first checkpoint asked for: after 2 MiB of
// text written, or a retention that deleted runs (a store that only reads, or writes a little
// and deletes nothing, never starts it). While it runs, the writing connection checkpoints itself
// only past FALLBACK_WAL_BYTES, a safety net; if the thread cannot start, cannot checkpoint or
// stops, the connection goes back to checkpointing every WAL_CHECKPOINT_BYTES itself, as before
// (and for good: one failure is enough to stop asking a thread that may fail each time).
import { Worker } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import { autoCheckpoint, WAL_CHECKPOINT_BYTES } from './schema.js'
import { threadEntry } from './thread.js'
import type { Checkpoints } from './writes.js'

/** A message to the checkpoint thread: a checkpoint to make (numbered), or `close`. */
export type CheckpointRequest = { readonly op: 'checkpoint'; readonly n: number } | { readonly op: 'close' }

/** The thread's answer: the WAL's frames and how many of them are in the database now, or its error. */
export type CheckpointReply = { readonly n: number; readonly log: number; readonly checkpointed: number; readonly error?: undefined } | { readonly n: number; readonly error: string }

/** Text written (about as many bytes of WAL, and more in whole pages) between two checkpoints asked of the thread. */
export const CHECKPOINT_EVERY_CHARS = 2 * 1024 * 1024

/**
 * While the thread checkpoints, the WAL size at which the writing connection checkpoints itself.
 * A passive checkpoint never waits for the writer, so under writes that never pause it never
 * copies the last frames, and the WAL restarts only after a checkpoint that copied every frame:
 * the writing connection's own then copies what is left (the thread copied the rest) and the
 * WAL starts again. Measured: 30 cycles of 200 runs written back to back grew the WAL to 60 MiB
 * with this at 64 MiB; with 20 ms between cycles the thread alone kept it at 8 MiB.
 */
export const FALLBACK_WAL_BYTES = 16 * 1024 * 1024

/** The checkpoint thread of one store's writing connection. */
export class Checkpointer implements Checkpoints {
  readonly #path: string
  readonly #db: Database.Database
  readonly #busyTimeoutMs: number
  readonly #addon: string | undefined
  #worker: Worker | undefined
  #since = 0
  #next = 0
  #inFlight = false
  #again = false
  #stopped = false
  readonly #idle: (() => void)[] = []
  /** @internal The thread's last answer (tests). */
  last: CheckpointReply | undefined

  /**
   * @param db - the store's writing connection: its automatic checkpoints are moved to the
   *   thread while the thread runs
   * @param addon - the driver's native addon `db` was opened with (schema.ts `driverAddon`): the
   *   thread opens the file with the same copy of SQLite
   */
  constructor(path: string, db: Database.Database, busyTimeoutMs: number, addon?: string) {
    this.#path = path
    this.#db = db
    this.#busyTimeoutMs = busyTimeoutMs
    this.#addon = addon
  }

  /** @internal Whether the thread runs (tests). */
  get running(): boolean {
    return this.#worker !== undefined
  }

  /** The writing connection committed `chars` characters of text: a checkpoint once enough were. */
  wrote(chars: number): void {
    this.#since += chars
    if (this.#since < CHECKPOINT_EVERY_CHARS) return
    this.#since = 0
    this.request()
  }

  /**
   * Asks the thread for a checkpoint now (one more after the one under way, if any). False when
   * there is no thread to ask (it could not start, failed, or the store is closing): the caller
   * checkpoints on its own connection if it needs one.
   */
  request(): boolean {
    if (this.#stopped) return false
    if (this.#inFlight) {
      this.#again = true
      return true
    }
    const worker = this.#worker ?? this.#start()
    if (worker === undefined) return false
    this.#inFlight = true
    worker.postMessage({ op: 'checkpoint', n: this.#next++ } satisfies CheckpointRequest)
    return true
  }

  /** @internal Resolves once no checkpoint is asked for or under way (tests). */
  idle(): Promise<void> {
    if (!this.#inFlight) return Promise.resolve()
    return new Promise((resolve) => this.#idle.push(resolve))
  }

  /**
   * Stops the thread (the store is closing): a checkpoint under way is finished first; one asked
   * for after it is not made (the store's last connection to close checkpoints the WAL anyway).
   */
  async close(): Promise<void> {
    this.#stopped = true
    const worker = this.#worker
    if (worker === undefined) return
    this.#worker = undefined
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.ref()
    worker.postMessage({ op: 'close' } satisfies CheckpointRequest)
    await exited
    this.#settled()
  }

  #start(): Worker | undefined {
    let worker: Worker
    try {
      const { entry, eval: isCode } = threadEntry('checkpoint-worker')
      // No execArgv of the process: the thread needs none, and some (`--input-type`, `-e`) would stop it.
      worker = new Worker(entry, { eval: isCode, execArgv: [], workerData: { path: this.#path, busyTimeoutMs: this.#busyTimeoutMs, nativeBinding: this.#addon } })
    } catch {
      this.#fallBack()
      return undefined
    }
    // Idle or busy, the thread never keeps the process alive: a checkpoint cut short by the
    // process's end leaves the WAL whole, and the next connection goes on from it.
    worker.unref()
    worker.on('message', (reply: CheckpointReply) => this.#answered(reply))
    worker.on('error', () => this.#lost(worker))
    worker.on('exit', () => this.#lost(worker))
    this.#worker = worker
    try {
      autoCheckpoint(this.#db, FALLBACK_WAL_BYTES)
    } catch {
      // The connection would not take the setting (it runs after a commit: never throw into the
      // write that asked): no thread, the connection checkpoints as before.
      this.#worker = undefined
      this.#fallBack()
      void worker.terminate()
      return undefined
    }
    return worker
  }

  #answered(reply: CheckpointReply): void {
    this.last = reply
    this.#inFlight = false
    if (reply.error !== undefined) {
      // A file the thread cannot checkpoint: the writing connection does it again.
      const worker = this.#worker
      this.#worker = undefined
      this.#fallBack()
      void worker?.terminate()
      return
    }
    if (this.#again) {
      this.#again = false
      this.request()
      return
    }
    this.#settled()
  }

  /** The thread stopped without being asked to (it failed to load, or crashed). */
  #lost(worker: Worker): void {
    if (this.#worker !== worker) return
    this.#worker = undefined
    this.#fallBack()
  }

  #fallBack(): void {
    this.#stopped = true
    this.#inFlight = this.#again = false
    try {
      autoCheckpoint(this.#db, WAL_CHECKPOINT_BYTES)
    } catch {
      // The connection is closed: nothing to give back.
    }
    this.#settled()
  }

  #settled(): void {
    for (const resolve of this.#idle.splice(0)) resolve()
  }
}
