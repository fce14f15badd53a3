/**
 * `shadowchain/store/postgres`: a run store in PostgreSQL (`pg`, an optional peer dependency
 * loaded only by this module), shared by many processes and machines. See docs/store.md.
 *
 * @packageDocumentation
 */
import pg from 'pg'
import type { RunDocument } from '../../files/run-document.js'
import { nextSeq, storedDocument } from '../durable.js'
import { redactUrl, StoreError } from '../errors.js'
import { normalizeKeep, normalizeQuery, RETAIN_BATCH, unknownCursor } from '../query.js'
import { checkSummary, documentText } from '../summary.js'
import { countLinkEvents } from '../../record/events.js'
import type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from '../types.js'
import { ident, migrate, poolWhere, postgresError, type PostgresStoreOptions } from './schema.js'
import { appendStepsSql, retainSql, upsertParams, upsertRunsSql, writeRuns } from './write.js'

export { POSTGRES_SCHEMA_VERSION, type PostgresStoreOptions } from './schema.js'
export { StoreError } from '../errors.js'
export { storedRun, summarize } from '../summary.js'
export type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from '../types.js'

/** A PostgreSQL run store: a {@link RunStore} that can be awaited open. */
export interface PostgresRunStore extends RunStore {
  readonly kind: 'postgres'
  /**
   * Connects and checks (or creates) the tables; every other method does it first too. Rejects
   * with a `StoreError`: `STORE_UNREACHABLE`, `STORE_VERSION`, `STORE_FOREIGN`.
   */
  ready(): Promise<void>
}

interface SummaryRow {
  id: string
  chain: string
  status: StoredStatus
  started_at: string
  ended_at: string | null
  duration_ns: string | null
  failed_link: string | null
  code: string | null
  parent_id: string | null
  links: number
  trace_id: string | null
}

function toSummary(row: SummaryRow): StoredRunSummary {
  return {
    id: row.id,
    chain: row.chain,
    status: row.status,
    startedAt: BigInt(row.started_at),
    ...(row.ended_at !== null && { endedAt: BigInt(row.ended_at) }),
    ...(row.duration_ns !== null && { durationNs: BigInt(row.duration_ns) }),
    ...(row.failed_link !== null && { failedLink: row.failed_link }),
    ...(row.code !== null && { code: row.code }),
    ...(row.parent_id !== null && { parentId: row.parent_id }),
    links: row.links,
    ...(row.trace_id !== null && { traceId: row.trace_id }),
  }
}

/** Batches a flight recorder may write at once: two transactions, one waiting while the other is sent. */
const WRITES_IN_FLIGHT = 2

/**
 * A run store in PostgreSQL, shared by every process that opens it. Tables are prefixed
 * `shadowchain_` in `options.schema` (default `public`), created on first use in one transaction
 * under an advisory lock; documents are kept as `text` (docs/store.md says why).
 *
 * @param urlOrPool - a connection URL (`postgres://user:password@host:5432/db`), or a `pg.Pool`
 *   you own (then `close()` leaves it open)
 * @param options - `schema`, `max` connections, `connectTimeoutMs`
 */
export function postgresStore(urlOrPool: string | pg.Pool, options: PostgresStoreOptions = {}): PostgresRunStore {
  const schema = options.schema ?? 'public'
  const owned = typeof urlOrPool === 'string'
  const where = owned ? redactUrl(urlOrPool) : poolWhere(urlOrPool)
  if (schema.length === 0 || schema.length > 63) throw new StoreError('STORE_QUERY', where, `options.schema must be 1 to 63 characters, got ${schema.length}`)
  const pool = owned ? new pg.Pool({ connectionString: urlOrPool, max: options.max ?? 4, connectionTimeoutMillis: options.connectTimeoutMs ?? 5_000 }) : urlOrPool
  // An idle connection that breaks (a server restart) must not crash the process: the next
  // query reports it.
  if (owned) pool.on('error', () => undefined)
  const s = ident(schema)
  let opened: Promise<void> | undefined
  let closed = false
  const ready = (): Promise<void> => {
    if (closed) return Promise.reject(new StoreError('STORE_CLOSED', where, 'the store is closed'))
    // A failed open is tried again by the next call: the server may have come up since.
    opened ??= migrate(pool, schema, where).catch((error: unknown) => {
      opened = undefined
      throw error
    })
    return opened
  }
  const query = async <R extends pg.QueryResultRow>(doing: string, sql: string, params: unknown[] = []): Promise<R[]> => {
    await ready()
    try {
      return (await pool.query<R>(sql, params)).rows
    } catch (error) {
      throw postgresError(error, where, doing)
    }
  }
  const transaction = async <T>(doing: string, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    await ready()
    let client: pg.PoolClient
    try {
      client = await pool.connect()
    } catch (error) {
      throw postgresError(error, where, 'connecting')
    }
    try {
      await client.query('BEGIN')
      const out = await fn(client)
      await client.query('COMMIT')
      return out
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw postgresError(error, where, doing)
    } finally {
      client.release()
    }
  }

  return {
    kind: 'postgres',
    where,
    // Each batch is a transaction of its own on a connection of the pool: while one waits for the
    // server, the next is sent (runs are upserted by id, so their order does not matter).
    writesInFlight: WRITES_IN_FLIGHT,
    ready,
    write: async (runs: readonly StoredRun[]) => {
      const texts = runs.map((r) => documentText(r, where))
      if (runs.length === 0) return ready()
      await transaction('writing runs', (client) => writeRuns(client, s, runs, texts))
    },
    list: async (filter?: RunQuery) => {
      const q = normalizeQuery(filter, where)
      const conditions: string[] = []
      const params: unknown[] = []
      const add = (condition: (n: () => string) => string, ...values: unknown[]): void => {
        let next = params.length
        params.push(...values)
        conditions.push(condition(() => `$${++next}`))
      }
      if (q.chain !== undefined) add((n) => `chain = ${n()}`, q.chain)
      if (q.statuses !== undefined) add((n) => `status = ANY(${n()}::text[])`, q.statuses)
      if (q.link !== undefined) add((n) => `failed_link = ${n()}`, q.link)
      if (q.since !== undefined) add((n) => `started_at >= ${n()}`, String(q.since))
      if (q.until !== undefined) add((n) => `started_at < ${n()}`, String(q.until))
      if (q.trace !== undefined) add((n) => `trace_id = ${n()}`, q.trace)
      if (q.before !== undefined) {
        const at = (await query<{ started_at: string }>('listing runs', `SELECT started_at FROM ${s}.shadowchain_runs WHERE id = $1`, [q.before]))[0]
        if (at === undefined) throw unknownCursor(q.before, where)
        add((n) => `(started_at, id) < (${n()}, ${n()})`, at.started_at, q.before)
      }
      params.push(q.limit)
      const sql = `SELECT id, chain, status, started_at, ended_at, duration_ns, failed_link, code, parent_id, links, trace_id FROM ${s}.shadowchain_runs
        ${conditions.length > 0 ? `WHERE ${conditions.join(' AND ')}` : ''} ORDER BY started_at DESC, id DESC LIMIT $${params.length}`
      return (await query<SummaryRow>('listing runs', sql, params)).map(toSummary)
    },
    read: async (id: string): Promise<RunDocument | undefined> => {
      // One statement: the run and its steps from one snapshot, even while it is being finished.
      const row = (
        await query<{ status: StoredStatus; document: string; batches: string[] | null }>(
          `reading run ${id}`,
          `SELECT r.status, d.document, CASE WHEN r.status = 'interrupted' THEN (SELECT array_agg(batch ORDER BY seq) FROM ${s}.shadowchain_steps WHERE run_id = r.id) END AS batches
           FROM ${s}.shadowchain_runs r JOIN ${s}.shadowchain_documents d ON d.id = r.id WHERE r.id = $1`,
          [id],
        )
      )[0]
      if (row === undefined) return undefined
      return storedDocument(id, row.status, row.document, row.batches ?? [], where)
    },
    begin: async (summary: StoredRunSummary, head: DurableHead) => {
      checkSummary(summary, head.run.id, head.run.chainName, where)
      const text = JSON.stringify(head)
      await transaction(`beginning run ${summary.id}`, async (client) => {
        const s0 = { ...summary, status: 'interrupted' as const, links: countLinkEvents(head.events ?? []), endedAt: undefined, durationNs: undefined }
        await client.query(upsertRunsSql(s), upsertParams([s0], [nextSeq(head)]))
        await client.query(`INSERT INTO ${s}.shadowchain_documents (id, document) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET document = excluded.document`, [summary.id, text])
        await client.query(`DELETE FROM ${s}.shadowchain_steps WHERE run_id = $1`, [summary.id])
      })
    },
    appendSteps: async (id: string, batch: StepBatch) => {
      if (batch.events.length === 0) return
      const first = (batch.events[0] as { seq: number }).seq
      const text = JSON.stringify(batch)
      // One statement, so one round trip and one commit (it was five: BEGIN, a locking read, the
      // insert, the update, COMMIT): the run's row is locked, the steps inserted and the row
      // moved on only when they are the next ones, and the row as it was read comes back to say
      // why not otherwise. A retried append (steps already there) changes nothing.
      const rows = await query<{ status: StoredStatus; next_seq: number | null }>(`appending steps to run ${id}`, appendStepsSql(s), [id, first, text, first + batch.events.length, countLinkEvents(batch.events)])
      const row = rows[0]
      if (row === undefined) throw new StoreError('STORE_NOT_FOUND', where, `steps appended to run ${id}, which was never begun`)
      if (row.status === 'interrupted' && row.next_seq !== null && first > row.next_seq) throw new StoreError('STORE_SEQ', where, `run ${id}: steps appended from seq ${first}, expected seq ${row.next_seq}`)
    },
    claim: async (id: string, owner: string) => {
      // One statement: a second claim waits for the first's row lock, then sees its owner.
      const rows = await query(`claiming run ${id}`, `UPDATE ${s}.shadowchain_runs SET owner = $2 WHERE id = $1 AND status = 'interrupted' AND (owner IS NULL OR owner = $2) RETURNING id`, [id, owner])
      return rows.length === 1
    },
    retain: async (chain: string, keep: KeepPolicy) => {
      const { last, failed, interruptedBefore } = normalizeKeep(keep, where)
      let deleted = 0
      for (let n = RETAIN_BATCH; n === RETAIN_BATCH; ) {
        n = await transaction(`retaining runs of chain '${chain}'`, async (client) => {
          const ids = (await client.query<{ id: string }>(retainSql(s), [chain, last, failed, RETAIN_BATCH, interruptedBefore?.toString() ?? null])).rows.map((row) => row.id)
          if (ids.length === 0) return 0
          await client.query(`DELETE FROM ${s}.shadowchain_steps WHERE run_id = ANY($1::text[])`, [ids])
          await client.query(`DELETE FROM ${s}.shadowchain_documents WHERE id = ANY($1::text[])`, [ids])
          await client.query(`DELETE FROM ${s}.shadowchain_runs WHERE id = ANY($1::text[])`, [ids])
          return ids.length
        })
        deleted += n
      }
      return deleted
    },
    flush: () => ready(),
    close: async () => {
      if (closed) return
      closed = true
      if (owned) await pool.end()
    },
  }
}
