// Everything the SQLite store changes in its file, as synchronous statements on one connection:
// the store runs them on its own connection, or (`thread: true`) a writer thread runs them on its
// connection. Their arguments are plain data, so they cross to that thread unchanged.
import type Database from 'better-sqlite3'
import { StoreError } from '../errors.js'
import { RETAIN_BATCH } from '../query.js'
import { retainSql, RUN_COLUMNS, UPSERT_RUN_CONFLICT } from '../sql.js'
import type { StoredRunSummary, StoredStatus } from '../types.js'

/** A finished run as the file keeps it: its summary and its document's JSON text. */
export interface RunRow {
  readonly summary: StoredRunSummary
  readonly text: string
}

/**
 * Upserts a run's row, its columns as positional parameters in RUN_COLUMNS order (binding a dozen
 * named ones cost more than the insert itself).
 */
const UPSERT_RUN = `INSERT INTO shadowchain_runs (${RUN_COLUMNS})
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
  ${UPSERT_RUN_CONFLICT}`

/**
 * The parameters of {@link UPSERT_RUN}: a finished run's summary (`nextSeq` null), or the head of
 * an unfinished one ('interrupted', no end yet, its steps to come from `nextSeq`).
 */
function runRow(s: StoredRunSummary, nextSeq: number | null): (string | bigint | number | null)[] {
  const finished = nextSeq === null
  return [
    s.id,
    s.chain,
    finished ? s.status : 'interrupted',
    s.startedAt,
    finished ? (s.endedAt ?? null) : null,
    finished ? (s.durationNs ?? null) : null,
    s.failedLink ?? null,
    s.code ?? null,
    s.parentId ?? null,
    s.links,
    s.traceId ?? null,
    nextSeq,
  ]
}

/** What a connection's changes tell the store's checkpoint thread (checkpointer.ts's `Checkpointer`). */
export interface Checkpoints {
  /** A change committed `chars` characters of text (about as many bytes of WAL). */
  wrote(chars: number): void
  /** A checkpoint is wanted now: true when the thread took the request. */
  request(): boolean
}

/** The runs of `@chain` that its keep policy lets go, `@batch` at most (sql.ts). */
const RETAIN = retainSql('shadowchain_runs', { chain: '@chain', last: '@last', failed: '@failed', batch: '@batch', before: '@before' })

/** The least time between two givings back of freed pages (see `#giveBack`). */
const GIVE_BACK_EVERY_MS = 60_000

/** The changes a store makes to its SQLite file, each one transaction (`BEGIN IMMEDIATE`). */
export class SqliteWrites {
  readonly #db: Database.Database
  readonly #where: string
  readonly #statements = new Map<string, Database.Statement>()
  /** When freed pages were last given back (`performance.now()`); never yet: the first retention does. */
  #gaveBackAt = -Infinity

  readonly #checkpoints: Checkpoints | undefined

  /**
   * @param checkpoints - the store's checkpoint thread (checkpointer.ts), told what each write
   *   committed and asked for a checkpoint after a retention; without it, or when it does not take
   *   the request, this connection makes the retention's passive checkpoint itself
   */
  constructor(db: Database.Database, where: string, checkpoints?: Checkpoints) {
    this.#db = db
    this.#where = where
    this.#checkpoints = checkpoints
  }

  #prepare(sql: string): Database.Statement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = this.#db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  #putDocument(id: string, text: string): void {
    this.#prepare('INSERT INTO shadowchain_documents (id, document) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET document = excluded.document').run(id, text)
    this.#prepare('DELETE FROM shadowchain_steps WHERE run_id = ?').run(id)
  }

  /** Stores finished runs (replacing an unfinished run's head and steps). */
  write(rows: readonly RunRow[]): void {
    const upsert = this.#prepare(UPSERT_RUN)
    this.#db
      .transaction(() => {
        for (const { summary, text } of rows) {
          upsert.run(runRow(summary, null))
          this.#putDocument(summary.id, text)
        }
      })
      .immediate()
    if (this.#checkpoints !== undefined) {
      let chars = 0
      for (const row of rows) chars += row.text.length
      this.#checkpoints.wrote(chars)
    }
  }

  /** Stores a durable run's head as `'interrupted'`; `summary.links` counts the head's links. */
  begin(summary: StoredRunSummary, text: string, nextSeq: number): void {
    this.#db
      .transaction(() => {
        this.#prepare(UPSERT_RUN).run(runRow(summary, nextSeq))
        this.#putDocument(summary.id, text)
      })
      .immediate()
    this.#checkpoints?.wrote(text.length)
  }

  /**
   * Appends a batch of steps (seqs `first` … `first + count - 1`, `links` link executions) to an
   * unfinished run: steps already there are ignored, a gap is refused.
   */
  appendSteps(id: string, first: number, count: number, links: number, text: string): void {
    this.#db
      .transaction(() => {
        const row = this.#prepare('SELECT status, next_seq FROM shadowchain_runs WHERE id = ?').get(id) as { status: StoredStatus; next_seq: number | null } | undefined
        if (row === undefined) throw new StoreError('STORE_NOT_FOUND', this.#where, `steps appended to run ${id}, which was never begun`)
        if (row.status !== 'interrupted' || row.next_seq === null || first < row.next_seq) return
        if (first > row.next_seq) throw new StoreError('STORE_SEQ', this.#where, `run ${id}: steps appended from seq ${first}, expected seq ${row.next_seq}`)
        this.#prepare('INSERT INTO shadowchain_steps (run_id, seq, batch) VALUES (?, ?, ?)').run(id, first, text)
        this.#prepare('UPDATE shadowchain_runs SET next_seq = ?, links = links + ? WHERE id = ?').run(first + count, links, id)
      })
      .immediate()
    this.#checkpoints?.wrote(text.length)
  }

  /** Takes an unfinished run for `owner`: false when another owner has it, or it is finished. */
  claim(id: string, owner: string): boolean {
    const changed = this.#prepare("UPDATE shadowchain_runs SET owner = ? WHERE id = ? AND status = 'interrupted' AND (owner IS NULL OR owner = ?)").run(owner, id, owner)
    return changed.changes === 1
  }

  /**
   * Deletes the runs of `chain` that the keep policy lets go; returns how many.
   * @param before - interrupted runs begun before this (epoch ns) go too; null: none does
   */
  retain(chain: string, last: number, failed: number, before: bigint | null): number {
    let deleted = 0
    const batch = this.#db.transaction((): number => {
      const ids = this.#prepare(RETAIN).pluck().all({ chain, last, failed, batch: RETAIN_BATCH, before }) as string[]
      for (const id of ids) {
        this.#prepare('DELETE FROM shadowchain_runs WHERE id = ?').run(id)
        this.#prepare('DELETE FROM shadowchain_documents WHERE id = ?').run(id)
        this.#prepare('DELETE FROM shadowchain_steps WHERE run_id = ?').run(id)
      }
      return ids.length
    })
    for (let n = RETAIN_BATCH; n === RETAIN_BATCH; ) {
      n = batch.immediate()
      deleted += n
    }
    if (deleted > 0) this.#giveBack()
    return deleted
  }

  /**
   * Gives freed pages back to the file system, at most once a minute and only when they are more
   * than a quarter of the file. Until then the next runs written reuse them: a store that keeps
   * the last 100 runs while thousands a second are written frees a second's worth at each
   * retention, and giving them back each time moved every page written after them (it cost more
   * of the event loop than writing the runs). So the file holds at most what is kept and about a
   * minute of runs beyond it. The WAL is checkpointed each time: a passive checkpoint never waits
   * for another process's readers, and journal_size_limit cuts the WAL back when it restarts.
   */
  #giveBack(): void {
    const now = performance.now()
    if (now - this.#gaveBackAt >= GIVE_BACK_EVERY_MS) {
      this.#gaveBackAt = now
      const free = Number(this.#db.pragma('freelist_count', { simple: true }))
      const pages = Number(this.#db.pragma('page_count', { simple: true }))
      if (free * 4 > pages) this.#db.pragma('incremental_vacuum')
    }
    // The store's checkpoint thread when it takes the request; else this connection.
    if (this.#checkpoints?.request() !== true) this.#db.pragma('wal_checkpoint(PASSIVE)')
  }
}
