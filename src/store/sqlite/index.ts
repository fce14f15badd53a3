/**
 * `shadowchain/store/sqlite`: a run store in one SQLite file (`better-sqlite3`, an optional peer
 * dependency loaded only by this module). See docs/store.md.
 *
 * @packageDocumentation
 */
import type Database from 'better-sqlite3'
import type { RunDocument } from '../../files/run-document.js'
import { nextSeq, storedDocument } from '../durable.js'
import { StoreError } from '../errors.js'
import { normalizeKeep, normalizeQuery, RETAIN_BATCH, unknownCursor } from '../query.js'
import { checkSummary, countLinks, documentText } from '../summary.js'
import type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from '../types.js'
import type { SqliteStoreOptions } from './options.js'
import { openSqlite, sqliteError } from './schema.js'

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

/** The columns of a summary, as named parameters. */
function summaryParams(s: StoredRunSummary, status: StoredStatus): Record<string, string | bigint | number | null> {
  return {
    id: s.id,
    chain: s.chain,
    status,
    started_at: s.startedAt,
    ended_at: status === 'interrupted' ? null : (s.endedAt ?? null),
    duration_ns: status === 'interrupted' ? null : (s.durationNs ?? null),
    failed_link: s.failedLink ?? null,
    code: s.code ?? null,
    parent_id: s.parentId ?? null,
    links: s.links,
    trace_id: s.traceId ?? null,
  }
}

const UPSERT_RUN = `INSERT INTO shadowchain_runs (id, chain, status, started_at, ended_at, duration_ns, failed_link, code, parent_id, links, trace_id, next_seq)
  VALUES (@id, @chain, @status, @started_at, @ended_at, @duration_ns, @failed_link, @code, @parent_id, @links, @trace_id, @next_seq)
  ON CONFLICT (id) DO UPDATE SET chain = excluded.chain, status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at,
    duration_ns = excluded.duration_ns, failed_link = excluded.failed_link, code = excluded.code, parent_id = excluded.parent_id,
    links = excluded.links, trace_id = excluded.trace_id, next_seq = excluded.next_seq`

const RETAIN = `WITH RECURSIVE
  kept_last AS (SELECT id FROM shadowchain_runs WHERE chain = @chain AND status <> 'interrupted' ORDER BY started_at DESC, id DESC LIMIT @last),
  kept_failed AS (SELECT id FROM shadowchain_runs WHERE chain = @chain AND status IN ('error', 'aborted') ORDER BY started_at DESC, id DESC LIMIT @failed),
  candidate AS (SELECT id FROM shadowchain_runs WHERE chain = @chain AND status <> 'interrupted' AND id NOT IN kept_last AND id NOT IN kept_failed),
  needed(id) AS (
    SELECT parent_id FROM shadowchain_runs WHERE parent_id IS NOT NULL AND id NOT IN candidate
    UNION
    SELECT r.parent_id FROM shadowchain_runs r JOIN needed n ON r.id = n.id WHERE r.parent_id IS NOT NULL)
  SELECT id FROM candidate WHERE id NOT IN needed ORDER BY id LIMIT @batch`

/**
 * A run store in one SQLite file, created when missing: the embedded default for keeping runs on
 * disk. WAL journal and a busy timeout, so several processes may write one file; tables prefixed
 * `shadowchain_` with a schema version. Calls are synchronous underneath (better-sqlite3): a
 * write waits at most `busyTimeoutMs` for another process's lock.
 *
 * @param path - the database file (`':memory:'` for a private in-memory database)
 * @param options - `busyTimeoutMs` (default 5,000)
 * @throws StoreError `STORE_CORRUPT` (not a database), `STORE_FOREIGN` (another program's
 *   tables, left untouched), `STORE_VERSION` (another schema version), `STORE_UNREACHABLE`
 *   (cannot open the file)
 */
export function sqliteStore(path: string, options?: SqliteStoreOptions): RunStore {
  const where = path
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
  const run = async <T>(doing: string, fn: () => T): Promise<T> => {
    try {
      return fn()
    } catch (error) {
      throw sqliteError(error, where, doing)
    }
  }
  const putDocument = (id: string, text: string): void => {
    prepare('INSERT INTO shadowchain_documents (id, document) VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET document = excluded.document').run(id, text)
    prepare('DELETE FROM shadowchain_steps WHERE run_id = ?').run(id)
  }

  return {
    kind: 'sqlite',
    where,
    write: (runs: readonly StoredRun[]) =>
      run('writing runs', () => {
        const texts = runs.map((r) => documentText(r, where))
        live()
          .transaction(() => {
            runs.forEach((r, i) => {
              prepare(UPSERT_RUN).run({ ...summaryParams(r.summary, r.summary.status), next_seq: null })
              putDocument(r.summary.id, texts[i] as string)
            })
          })
          .immediate()
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
        live()
          .transaction(() => {
            prepare(UPSERT_RUN).run({ ...summaryParams({ ...summary, links: countLinks(head.events ?? []) }, 'interrupted'), next_seq: nextSeq(head) })
            putDocument(summary.id, text)
          })
          .immediate()
      }),
    appendSteps: (id: string, batch: StepBatch) =>
      run(`appending steps to run ${id}`, () => {
        if (batch.events.length === 0) return
        const first = (batch.events[0] as { seq: number }).seq
        const text = JSON.stringify(batch)
        live()
          .transaction(() => {
            const row = prepare('SELECT status, next_seq FROM shadowchain_runs WHERE id = ?').get(id) as { status: StoredStatus; next_seq: number | null } | undefined
            if (row === undefined) throw new StoreError('STORE_NOT_FOUND', where, `steps appended to run ${id}, which was never begun`)
            if (row.status !== 'interrupted' || row.next_seq === null || first < row.next_seq) return
            if (first > row.next_seq) throw new StoreError('STORE_SEQ', where, `run ${id}: steps appended from seq ${first}, expected seq ${row.next_seq}`)
            prepare('INSERT INTO shadowchain_steps (run_id, seq, batch) VALUES (?, ?, ?)').run(id, first, text)
            prepare('UPDATE shadowchain_runs SET next_seq = ?, links = links + ? WHERE id = ?').run(first + batch.events.length, countLinks(batch.events), id)
          })
          .immediate()
      }),
    claim: (id: string, owner: string) =>
      run(`claiming run ${id}`, () => {
        const changed = prepare("UPDATE shadowchain_runs SET owner = ? WHERE id = ? AND status = 'interrupted' AND (owner IS NULL OR owner = ?)").run(owner, id, owner)
        return changed.changes === 1
      }),
    retain: (chain: string, keep: KeepPolicy) =>
      run(`retaining runs of chain '${chain}'`, () => {
        const { last, failed } = normalizeKeep(keep, where)
        const db = live()
        let deleted = 0
        const batch = db.transaction((): number => {
          const ids = prepare(RETAIN).pluck().all({ chain, last, failed, batch: RETAIN_BATCH }) as string[]
          for (const id of ids) {
            prepare('DELETE FROM shadowchain_runs WHERE id = ?').run(id)
            prepare('DELETE FROM shadowchain_documents WHERE id = ?').run(id)
            prepare('DELETE FROM shadowchain_steps WHERE run_id = ?').run(id)
          }
          return ids.length
        })
        for (let n = RETAIN_BATCH; n === RETAIN_BATCH; ) {
          n = batch.immediate()
          deleted += n
        }
        if (deleted > 0) {
          // Freed pages go back to the file system once checkpointed; a passive checkpoint never waits
          // for another process's readers (journal_size_limit cuts the WAL back when it restarts).
          db.pragma('incremental_vacuum')
          db.pragma('wal_checkpoint(PASSIVE)')
        }
        return deleted
      }),
    flush: () => run('flushing', () => void live()),
    close: async () => {
      const open = db
      db = undefined
      statements.clear()
      open?.close()
    },
  }
}
