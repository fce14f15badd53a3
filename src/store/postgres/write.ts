// The PostgreSQL store's bulk statements: runs written a thousand at a time through unnest(), and
// the retention query.
import type pg from 'pg'
import type { StoredRunSummary, StoredRun } from '../types.js'
import { retainSql as retainQuery, RUN_COLUMNS, UPSERT_RUN_CONFLICT } from '../sql.js'

/** Rows per INSERT when writing a batch of runs. */
const CHUNK = 1_000

/** Upserts runs given as one array per column (see {@link upsertParams}). */
export function upsertRunsSql(s: string): string {
  return `INSERT INTO ${s}.shadowchain_runs (${RUN_COLUMNS})
  SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[], $8::text[], $9::text[], $10::integer[], $11::text[], $12::integer[])
  ${UPSERT_RUN_CONFLICT}`
}

/** The parameters of {@link upsertRunsSql}: one array per column. */
export function upsertParams(summaries: readonly StoredRunSummary[], nextSeqs: readonly (number | null)[]): unknown[] {
  const column = <T>(f: (s: StoredRunSummary) => T): T[] => summaries.map(f)
  return [
    column((x) => x.id),
    column((x) => x.chain),
    column((x) => x.status),
    column((x) => String(x.startedAt)),
    column((x) => (x.endedAt === undefined ? null : String(x.endedAt))),
    column((x) => (x.durationNs === undefined ? null : String(x.durationNs))),
    column((x) => x.failedLink ?? null),
    column((x) => x.code ?? null),
    column((x) => x.parentId ?? null),
    column((x) => x.links),
    column((x) => x.traceId ?? null),
    [...nextSeqs],
  ]
}

/**
 * Writes finished runs inside the caller's transaction: the same id twice keeps the last.
 * `texts[i]` is the JSON text of `runs[i]`'s document.
 */
export async function writeRuns(client: pg.PoolClient, s: string, runs: readonly StoredRun[], texts: readonly string[]): Promise<void> {
  // ON CONFLICT cannot touch one row twice in a statement: the last of an id wins, as in order.
  const unique = [...new Map(runs.map((r, i) => [r.summary.id, { summary: r.summary, text: texts[i] as string }])).values()]
  for (let i = 0; i < unique.length; i += CHUNK) {
    const chunk = unique.slice(i, i + CHUNK)
    const ids = chunk.map((r) => r.summary.id)
    await client.query(upsertRunsSql(s), upsertParams(chunk.map((r) => r.summary), chunk.map(() => null)))
    // One parameter a document, not a text[] of them: the driver writes an array as a literal,
    // escaping every quote of every document (~30 µs of the event loop's time a 10-link run);
    // a parameter of its own is sent as it is.
    await client.query(`INSERT INTO ${s}.shadowchain_documents (id, document) VALUES ${rowsOfTwo(chunk.length)} ON CONFLICT (id) DO UPDATE SET document = excluded.document`, chunk.flatMap((r) => [r.summary.id, r.text]))
    await client.query(`DELETE FROM ${s}.shadowchain_steps WHERE run_id = ANY($1::text[])`, [ids])
  }
}

/** `($1, $2), ($3, $4), …`: the placeholders of `n` rows of two columns. */
function rowsOfTwo(n: number): string {
  const rows = new Array<string>(n)
  for (let i = 0; i < n; i++) rows[i] = `($${2 * i + 1}, $${2 * i + 2})`
  return rows.join(', ')
}

/**
 * Appends a batch of steps to an unfinished run in one statement: `$1` the run, `$2` the seq of
 * its first event, `$3` its JSON text, `$4` the run's next seq after it, `$5` the links it ran.
 * The run's row is locked; the steps go in, and the row moves on, only when the run is
 * interrupted (unfinished) and `$2` is its next seq. Returns the row as read (none: no such run),
 * for the caller to tell a retried append (ignored) from a gap (refused).
 */
export function appendStepsSql(s: string): string {
  return `WITH run AS (SELECT status, next_seq FROM ${s}.shadowchain_runs WHERE id = $1 FOR UPDATE),
  added AS (INSERT INTO ${s}.shadowchain_steps (run_id, seq, batch) SELECT $1, $2, $3 FROM run WHERE status = 'interrupted' AND next_seq = $2 RETURNING seq),
  moved AS (UPDATE ${s}.shadowchain_runs SET next_seq = $4, links = links + $5 WHERE id = $1 AND EXISTS (SELECT 1 FROM added) RETURNING id)
  SELECT status, next_seq FROM run`
}

/** The ids of up to `$4` runs of chain `$1` that a keep policy (`$2` last, `$3` failed, `$5` the start before which interrupted runs go, or null) lets go (sql.ts). */
export function retainSql(s: string): string {
  return retainQuery(`${s}.shadowchain_runs`, { chain: '$1', last: '$2', failed: '$3', batch: '$4', before: '$5::bigint' })
}
