// The store's side of its writer thread (`thread: true`): each change is posted to the thread and
// answered there, in order; the thread is started when first needed and again after it stopped.
import { Worker } from 'node:worker_threads'
import { StoreError, type StoreErrorCode } from '../errors.js'
import type { StoredRunSummary } from '../types.js'
import type { SqliteStoreOptions } from './options.js'
import type { RunRow, SqliteWrites } from './writes.js'

/** The changes a store makes, by name. */
export type ChangeName = 'write' | 'begin' | 'appendSteps' | 'claim' | 'retain'

/** The store's changes, made here (`SqliteWrites`) or on the writer thread (`WriterThread`). */
export type Changes = { readonly [K in ChangeName]: (...args: Parameters<SqliteWrites[K]>) => ReturnType<SqliteWrites[K]> | Promise<ReturnType<SqliteWrites[K]>> }

/** A message to the writer thread: a change to make (numbered), or `close`. */
export type WriteRequest = { [K in ChangeName]: { readonly n: number; readonly op: K; readonly args: Parameters<SqliteWrites[K]> } }[ChangeName] | { readonly op: 'close' }

/**
 * The writer thread's answer to request `n`: the result, or the error as data (a StoreError's
 * code, or the driver's own code, which the store maps as it maps its own driver's errors).
 */
export type WriteReply =
  | { readonly n: number; readonly result: unknown; readonly error?: undefined }
  | { readonly n: number; readonly error: { readonly store: boolean; readonly code: string | undefined; readonly message: string } }

interface Waiting {
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** The error a reply carries, as the store's own connection would have thrown it. */
function replyError(error: { readonly store: boolean; readonly code: string | undefined; readonly message: string }, path: string): Error {
  if (error.store) return new StoreError(error.code as StoreErrorCode, path, error.message)
  return Object.assign(new Error(error.message), error.code === undefined ? {} : { code: error.code })
}

/**
 * How to start one of the store's threads (`writer`, `checkpoint-worker`): its module, or, when
 * shadowchain runs from its TypeScript source (tests, benchmarks), a bootstrap that registers tsx
 * in the thread and imports the source.
 */
export function threadEntry(name: string): { entry: string | URL; eval: boolean } {
  const compiled = new URL(`./${name}.js`, import.meta.url)
  if (!import.meta.url.endsWith('.ts')) return { entry: compiled, eval: false }
  const source = new URL(`./${name}.ts`, import.meta.url).href
  // Resolved here: the thread would resolve a bare name from the working directory.
  const tsx = import.meta.resolve('tsx/esm/api')
  return { entry: `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(source)}) })`, eval: true }
}

/**
 * The changes of an SQLite store, made on a thread of their own, so the event loop never waits
 * for the file. While a change is on its way the thread keeps the process alive; idle, it does not.
 */
export class WriterThread implements Changes {
  /** The file the thread opens (absolute: see `threadPath`), and the name errors give it. */
  readonly #path: string
  readonly #where: string
  readonly #options: SqliteStoreOptions
  #worker: Worker | undefined
  readonly #waiting = new Map<number, Waiting>()
  #next = 0

  readonly #addon: string | undefined

  /**
   * @param path - the file, absolute (see `threadPath`): the thread opens it at its first change
   * @param where - the file as the store names it in errors
   * @param addon - the driver's native addon the store's own connection uses (schema.ts `driverAddon`)
   */
  constructor(path: string, where: string, options: SqliteStoreOptions, addon?: string) {
    this.#path = path
    this.#where = where
    this.#options = options
    this.#addon = addon
  }

  write(rows: readonly RunRow[]): Promise<void> {
    return this.#ask({ op: 'write', args: [rows] }) as Promise<void>
  }

  begin(summary: StoredRunSummary, text: string, nextSeq: number): Promise<void> {
    return this.#ask({ op: 'begin', args: [summary, text, nextSeq] }) as Promise<void>
  }

  appendSteps(id: string, first: number, count: number, links: number, text: string): Promise<void> {
    return this.#ask({ op: 'appendSteps', args: [id, first, count, links, text] }) as Promise<void>
  }

  claim(id: string, owner: string): Promise<boolean> {
    return this.#ask({ op: 'claim', args: [id, owner] }) as Promise<boolean>
  }

  retain(chain: string, last: number, failed: number, before: bigint | null): Promise<number> {
    return this.#ask({ op: 'retain', args: [chain, last, failed, before] }) as Promise<number>
  }

  /** Resolves when every change sent so far is made, then stops the thread. */
  async close(): Promise<void> {
    const worker = this.#worker
    if (worker === undefined) return
    const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()))
    worker.ref()
    worker.postMessage({ op: 'close' } satisfies WriteRequest)
    await exited
  }

  #ask(request: Omit<Extract<WriteRequest, { n: number }>, 'n'>): Promise<unknown> {
    const worker = this.#worker ?? this.#start()
    const n = this.#next++
    return new Promise((resolve, reject) => {
      if (this.#waiting.size === 0) worker.ref()
      this.#waiting.set(n, { resolve, reject })
      worker.postMessage({ ...request, n } as WriteRequest)
    })
  }

  #start(): Worker {
    const { entry, eval: isCode } = threadEntry('writer')
    // No execArgv of the process: the thread needs none, and some (`--input-type`, `-e`) would stop it.
    const worker = new Worker(entry, { eval: isCode, execArgv: [], workerData: { path: this.#path, options: this.#options, nativeBinding: this.#addon } })
    worker.unref()
    worker.on('message', (reply: WriteReply) => {
      const waiting = this.#waiting.get(reply.n)
      if (waiting === undefined) return
      this.#waiting.delete(reply.n)
      if (this.#waiting.size === 0) worker.unref()
      if (reply.error === undefined) waiting.resolve(reply.result)
      else waiting.reject(replyError(reply.error, this.#where))
    })
    const stopped = (why: string): void => {
      if (this.#worker === worker) this.#worker = undefined
      const waiting = [...this.#waiting.values()]
      this.#waiting.clear()
      for (const w of waiting) w.reject(new StoreError('STORE_FAILED', this.#where, `the store's writer thread stopped (${why}); the change may not have been made`))
    }
    worker.on('error', (error) => stopped(error instanceof Error ? error.message : String(error)))
    worker.on('exit', (code) => stopped(`exit code ${code}`))
    this.#worker = worker
    return worker
  }
}
