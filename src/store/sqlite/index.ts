/**
 * `shadowchain/store/sqlite`: a run store in one SQLite file (`better-sqlite3`, an optional peer
 * dependency loaded only by this module). See docs/store.md.
 *
 * @packageDocumentation
 */
import { resolve as resolvePath } from 'node:path'
import type Database from 'better-sqlite3'
import type { RunDocument } from '../../files/run-document.js'
import { nextSeq, storedDocument } from '../durable.js'
import { StoreError } from '../errors.js'
import { normalizeKeep, normalizeQuery, unknownCursor } from '../query.js'
import { checkSummary, documentText } from '../summary.js'
import { countLinkEvents } from '../../record/events.js'
import type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from '../types.js'
import type { SqliteStoreOptions } from './options.js'
import { DEFAULT_BUSY_TIMEOUT_MS, driverAddon, openSqlite, sqliteError } from './schema.js'
import { WriterThread, type Changes } from './thread.js'
import { Checkpointer } from './checkpointer.js'
import { SqliteWrites, type RunRow } from './writes.js'

export { SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from './options.js'
export { StoreError } from '../errors.js'
export { storedRun, summarize } from '../summary.js'
export type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from '../types.js'

interface SummaryRow {
  id: string
  chain: string
  status: StoredStatus
  started_at: bigint
  ended_at: bigint | null
  duration_ns: bigint | null
  failed_link: string | null
  code: string | null
  parent_id: string | null
  links: bigint
  trace_id: string | null
}

/** A private in-memory database (no WAL, no file a second connection could open). */
function inMemory(path: string): boolean {
  return path === '' || path === ':memory:' || path.startsWith('file::memory:')
}

/**
 * The file as a thread of the store opens it: resolved now, against the working directory the
 * store was made in, since a thread opens it later (at its first change), maybe after a
 * `process.chdir`. A `file:` URI is given as it is.
 */
function threadPath(path: string): string {
  return path.startsWith('file:') ? path : resolvePath(path)
}

/** Batches a flight recorder may have posted to the writer thread at once. */
const WRITES_IN_FLIGHT = 4

const COLUMNS = 'id, chain, status, started_at, ended_at, duration_ns, failed_link, code, parent_id, links, trace_id'

function toSummary(row: SummaryRow): StoredRunSummary {
  return {
    id: row.id,
    chain: row.chain,
    status: row.status,
    startedAt: row.started_at,
    ...(row.ended_at !== null && { endedAt: row.ended_at }),
    ...(row.duration_ns !== null && { durationNs: row.duration_ns }),
    ...(row.failed_link !== null && { failedLink: row.failed_link }),
    ...(row.code !== null && { code: row.code }),
    ...(row.parent_id !== null && { parentId: row.parent_id }),
    links: Number(row.links),
    ...(row.trace_id !== null && { traceId: row.trace_id }),
  }
}

/**
 * A run store in one SQLite file, created when missing: the embedded default for keeping runs on
 * disk. WAL journal and a busy timeout, so several processes may write one file; tables prefixed
 * `shadowchain_` with a schema version. Calls are synchronous underneath (better-sqlite3): a
 * write waits at most `busyTimeoutMs` for another process's lock. Once a store has written a few
 * MiB, a thread of its own copies the WAL back into the file (checkpoints), off the event loop;
 * with `thread: true` the writer thread does that too.
 *
 * @param path - the database file (`':memory:'` for a private in-memory database)
 * @param options - `busyTimeoutMs` (default 5,000)
 * @throws StoreError `STORE_CORRUPT` (not a database), `STORE_FOREIGN` (another program's
 *   tables, left untouched), `STORE_VERSION` (another schema version), `STORE_UNREACHABLE`
 *   (cannot open the file)
 */
export function sqliteStore(path: string, options?: SqliteStoreOptions): RunStore {
  const where = path
  if (options?.thread === true && inMemory(path)) {
    throw new TypeError(`sqliteStore('${path}', { thread: true }): a writer thread needs a database file (an in-memory database is private to one connection)`)
  }
  let db: Database.Database | undefined = openSqlite(path, options)
  const statements = new Map<string, Database.Statement>()
  const prepare = (sql: string): Database.Statement => {
    if (db === undefined) throw new StoreError('STORE_CLOSED', where, 'the store is closed')
    let statement = statements.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      statements.set(sql, statement)
    }
    return statement
  }
  const live = (): Database.Database => {
    if (db === undefined) throw new StoreError('STORE_CLOSED', where, 'the store is closed')
    return db
  }
  // Every call: driver errors become StoreErrors that name the file.
  const run = async <T>(doing: string, fn: () => T | Promise<T>): Promise<T> => {
    try {
      return await fn()
    } catch (error) {
      throw sqliteError(error, where, doing)
    }
  }
  // The changes: on this connection, or posted to the writer thread's. Made here, they are
  // checkpointed by a thread of their own (checkpointer.ts); the writer thread checkpoints its own.
  let inline: SqliteWrites | undefined
  // The store's threads open the file with this connection's copy of SQLite (see driverAddon).
  const addon = driverAddon()
  const file = threadPath(path)
  const thread = options?.thread === true ? new WriterThread(file, where, options, addon) : undefined
  // No checkpoint thread without the addon to give it: one that loaded another copy of SQLite
  // could corrupt the file (see driverAddon); this connection then checkpoints as it writes.
  const checkpointer = thread === undefined && !inMemory(path) && addon !== undefined ? new Checkpointer(file, db, options?.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS, addon) : undefined
  const changes = (): Changes => {
    const open = live()
    return thread ?? (inline ??= new SqliteWrites(open, where, checkpointer))
  }

  return {
    kind: 'sqlite',
    where,
    // The thread makes changes in the order they are posted: several batches may wait there.
    ...(thread !== undefined && { writesInFlight: WRITES_IN_FLIGHT }),
    write: (runs: readonly StoredRun[]) =>
      run('writing runs', () => {
        const rows = runs.map((r): RunRow => ({ summary: r.summary, text: documentText(r, where) }))
        return changes().write(rows)
      }),
    list: (query?: RunQuery) =>
      run('listing runs', () => {
        const q = normalizeQuery(query, where)
        const conditions: string[] = []
        const params: (string | bigint | number)[] = []
        const add = (condition: string, ...values: (string | bigint)[]): void => {
          conditions.push(condition)
          params.push(...values)
        }
        if (q.chain !== undefined) add('chain = ?', q.chain)
        if (q.statuses !== undefined) add(`status IN (${q.statuses.map(() => '?').join(', ') || 'NULL'})`, ...q.statuses)
        if (q.link !== undefined) add('failed_link = ?', q.link)
        if (q.since !== undefined) add('started_at >= ?', q.since)
        if (q.until !== undefined) add('started_at < ?', q.until)
        if (q.trace !== undefined) add('trace_id = ?', q.trace)
        if (q.before !== undefined) {
          const at = prepare('SELECT started_at FROM shadowchain_runs WHERE id = ?').safeIntegers(true).pluck().get(q.before) as bigint | undefined
          if (at === undefined) throw unknownCursor(q.before, where)
          add('(started_at < ? OR (started_at = ? AND id < ?))', at, at, q.before)
        }
        const sql = `SELECT ${COLUMNS} FROM shadowchain_runs ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT ?`
        const rows = prepare(sql).safeIntegers(true).all(...params, q.limit) as SummaryRow[]
        return rows.map(toSummary)
      }),
    read: (id: string) =>
      run(`reading run ${id}`, (): RunDocument | undefined => {
        // One read transaction: the run and its steps from one snapshot, even while another
        // process finishes it.
        const found = live()
          .transaction(() => {
            const row = prepare('SELECT r.status, d.document FROM shadowchain_runs r JOIN shadowchain_documents d ON d.id = r.id WHERE r.id = ?').get(id) as
              | { status: StoredStatus; document: string }
              | undefined
            if (row === undefined) return undefined
            const batches = row.status === 'interrupted' ? (prepare('SELECT batch FROM shadowchain_steps WHERE run_id = ? ORDER BY seq').pluck().all(id) as string[]) : []
            return { ...row, batches }
          })
          .deferred()
        return found === undefined ? undefined : storedDocument(id, found.status, found.document, found.batches, where)
      }),
    begin: (summary: StoredRunSummary, head: DurableHead) =>
      run(`beginning run ${summary.id}`, () => {
        checkSummary(summary, head.run.id, head.run.chainName, where)
        const text = JSON.stringify(head)
        const row = { ...summary, links: countLinkEvents(head.events ?? []) }
        return changes().begin(row, text, nextSeq(head))
      }),
    appendSteps: (id: string, batch: StepBatch) =>
      run(`appending steps to run ${id}`, () => {
        if (batch.events.length === 0) return
        const first = (batch.events[0] as { seq: number }).seq
        const text = JSON.stringify(batch)
        const links = countLinkEvents(batch.events)
        return changes().appendSteps(id, first, batch.events.length, links, text)
      }),
    claim: (id: string, owner: string) =>
      run(`claiming run ${id}`, () => {
        return changes().claim(id, owner)
      }),
    retain: (chain: string, keep: KeepPolicy) =>
      run(`retaining runs of chain '${chain}'`, () => {
        const { last, failed, interruptedBefore } = normalizeKeep(keep, where)
        return changes().retain(chain, last, failed, interruptedBefore ?? null)
      }),
    flush: () => run('flushing', () => void live()),
    close: async () => {
      const open = db
      db = undefined
      statements.clear()
      try {
        await thread?.close()
        await checkpointer?.close()
      } finally {
        open?.close()
      }
    },
  }
}
