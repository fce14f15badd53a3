// The run store contract (DESIGN §10, docs/store.md): what every store keeps, lists, reads,
// retains and claims. memoryStore, sqliteStore and postgresStore implement it and pass one
// contract suite (test/store/contract.ts).
import type { DocumentEvent, DocumentLink, DocumentMiddleware, DocumentVersion, RunDocument } from '../files/run-document.js'

/**
 * A stored run's status: a finished run's own status (`'ok'`, `'error'`, `'aborted'`), or
 * `'interrupted'` for a durable run that was begun and never finished (its process may have
 * died, or it may still be running).
 */
export type StoredStatus = 'ok' | 'error' | 'aborted' | 'interrupted'

/**
 * What a store lists: a run's metadata, never its timeline. Times are epoch nanoseconds. (Not
 * `RunSummary`: that is `describeRun`'s, exported from `'shadowchain'`.)
 */
export interface StoredRunSummary {
  /** The run's id (the document's `run.id`). */
  readonly id: string
  /** The chain's name. */
  readonly chain: string
  /** How the run ended, or `'interrupted'` while a durable run is unfinished. */
  readonly status: StoredStatus
  /** When the run started, epoch ns. */
  readonly startedAt: bigint
  /** When it ended, epoch ns; absent while unfinished. */
  readonly endedAt?: bigint | undefined
  /** `endedAt - startedAt`; absent while unfinished. */
  readonly durationNs?: bigint | undefined
  /** The name of the link named by the run's error (the link that failed, or for `ABORTED` the link about to run). */
  readonly failedLink?: string | undefined
  /** The run's error code (`LINK_FAILED`, `ABORTED`, …), when it failed. */
  readonly code?: string | undefined
  /** The id of the run this one was forked from. */
  readonly parentId?: string | undefined
  /** How many link executions the run recorded (`link.end` and `link.error` events). */
  readonly links: number
  /** The W3C trace id of the run's distributed trace (`run.trace.traceId`, 32 lowercase hex), when it has one. */
  readonly traceId?: string | undefined
}

/** A run as a store keeps it: its summary (the columns) and its document (the JSON text). */
export interface StoredRun {
  /** The metadata that listing reads; must agree with the document (see `storedRun`). */
  readonly summary: StoredRunSummary
  /** The run document (`exportRun(run)` / `run.toJSON()`). */
  readonly document: RunDocument
}

/** A filter for {@link RunStore.list}. Every field narrows; results are newest first. */
export interface RunQuery {
  /** Only runs of this chain. */
  readonly chain?: string | undefined
  /** Only runs with this status, or with one of these. */
  readonly status?: StoredStatus | readonly StoredStatus[] | undefined
  /** Only runs whose error names this link (`StoredRunSummary.failedLink`). */
  readonly link?: string | undefined
  /** Only runs started at or after this time (epoch ns, or a Date). */
  readonly since?: bigint | Date | undefined
  /** Only runs started before this time (epoch ns, or a Date); exclusive. */
  readonly until?: bigint | Date | undefined
  /** At most this many (an integer from 1 to 10,000); default 50. */
  readonly limit?: number | undefined
  /** Paging: only runs listed after this run id (the last id of the previous page). */
  readonly before?: string | undefined
  /** Only runs of this distributed trace (`StoredRunSummary.traceId`, a W3C trace id). */
  readonly trace?: string | undefined
}

/** How many runs of one chain {@link RunStore.retain} keeps. */
export interface KeepPolicy {
  /** Keep the newest `last` finished runs (any status). Omitted: 0. */
  readonly last?: number | undefined
  /** Also keep the newest `failed` runs whose status is `'error'` or `'aborted'`. Omitted: 0. */
  readonly failed?: number | undefined
  /**
   * Also let go of unfinished durable runs (`'interrupted'`) that began more than this many
   * milliseconds ago, by this machine's clock: runs whose process died and that nobody resumed.
   * Omitted: they are kept however old, for a resumer (`last` and `failed` count finished runs
   * only). Make it longer than a durable run may take: one still going when it is let go is no
   * longer durable (its next step is refused, the recorder warns) and is written whole if it
   * finishes. One that was resumed stays while its continuation (a fork naming it) does.
   */
  readonly interruptedMs?: number | undefined
}

/**
 * The start of a durable run's document, given to {@link RunStore.begin}: everything but the
 * events as `exportRun` would write it (its `run.status`, `endedAt` and `error` are placeholders
 * that a reader of the unfinished run replaces), plus the first events (usually `run.start`).
 */
export type DurableHead = Omit<RunDocument, 'events'> & { readonly events?: readonly DocumentEvent[] | undefined }

/**
 * Events appended to a durable run by {@link RunStore.appendSteps}: one or more completed steps.
 * Links and middleware calls are named by their position in the document's tables, which grow
 * as a run goes: the entries first referenced by these events come with them.
 */
export interface StepBatch {
  /** The events, in seq order, continuing the run's seqs without a gap. */
  readonly events: readonly DocumentEvent[]
  /** Link-table entries added by these events, appended to the table in order. */
  readonly links?: readonly DocumentLink[] | undefined
  /** Middleware-table entries added by these events, appended to the table in order. */
  readonly middleware?: readonly DocumentMiddleware[] | undefined
  /** The document version these events need (the document takes the highest seen). */
  readonly version?: DocumentVersion | undefined
}

/**
 * A place that keeps runs: `memoryStore()`, `sqliteStore(path)` from
 * `'shadowchain/store/sqlite'`, `postgresStore(urlOrPool)` from `'shadowchain/store/postgres'`.
 * Every method may reject with a `StoreError`; see docs/store.md for the exact semantics.
 */
export interface RunStore {
  /** Which implementation this is. */
  readonly kind: 'memory' | 'sqlite' | 'postgres'
  /** Where the runs are: a file path, a URL without its password, or `'memory'`: for messages. */
  readonly where: string
  /**
   * Stores finished runs, all in one transaction. Idempotent by id: a run already stored (or
   * begun as a durable run) is replaced, and a durable run's appended steps are dropped.
   */
  write(runs: readonly StoredRun[]): Promise<void>
  /**
   * How many `write` calls the store takes before the first is done (default 1). A store whose
   * writes are made in the order called, off the caller's event loop (SQLite's writer thread),
   * says more: the flight recorder then sends the next batch while one is written.
   */
  readonly writesInFlight?: number
  /** Summaries of the runs that match, newest first (by `startedAt`, then id); reads no document. */
  list(query?: RunQuery): Promise<StoredRunSummary[]>
  /**
   * A run's document, or `undefined` when the store has no run of that id. For an unfinished
   * durable run: a valid document made of its head and every appended step, ended by a
   * synthesised `run.end` (status `'aborted'`, error code `'INTERRUPTED'`; docs/store.md).
   */
  read(id: string): Promise<RunDocument | undefined>
  /** Starts a durable run: stored as `'interrupted'` until {@link RunStore.write} stores it whole. */
  begin(summary: StoredRunSummary, head: DurableHead): Promise<void>
  /**
   * Appends completed steps to a durable run. A batch whose first seq was already appended is
   * ignored (a retried append); a gap is a `StoreError` (`STORE_SEQ`). A run already finished
   * ignores it; an unknown run is a `StoreError` (`STORE_NOT_FOUND`).
   */
  appendSteps(id: string, steps: StepBatch): Promise<void>
  /**
   * Claims an interrupted run for `owner` (to resume it): true for exactly one of any number of
   * concurrent claims by different owners (one compare-and-set statement); true again for the
   * owner that holds it; false for an unknown, finished or otherwise owned run.
   */
  claim(id: string, owner: string): Promise<boolean>
  /**
   * Deletes the runs of `chain` that the policy does not keep, in batches, and says how many.
   * Never deletes an interrupted run, nor a run that a remaining run names as its parent.
   */
  retain(chain: string, keep: KeepPolicy): Promise<number>
  /** Resolves when everything written so far is durable (a no-op for stores that write at once). */
  flush?(): Promise<void>
  /** Releases the connection or file; the store is unusable afterwards. */
  close(): Promise<void>
}
