// SQL both run stores execute, SQLite's and PostgreSQL's, written once in what both dialects
// read alike; each store gives its own table name and placeholders.

/** The columns of a run's row that a write sets, in the order the upserts give them. */
export const RUN_COLUMNS = 'id, chain, status, started_at, ended_at, duration_ns, failed_link, code, parent_id, links, trace_id, next_seq'

/** What an upsert of a run's row does when the id is there already: every column becomes the new one. */
export const UPSERT_RUN_CONFLICT = `ON CONFLICT (id) DO UPDATE SET chain = excluded.chain, status = excluded.status, started_at = excluded.started_at, ended_at = excluded.ended_at,
    duration_ns = excluded.duration_ns, failed_link = excluded.failed_link, code = excluded.code, parent_id = excluded.parent_id,
    links = excluded.links, trace_id = excluded.trace_id, next_seq = excluded.next_seq`

/** A store's placeholders for the retention query's parameters. */
export interface RetainParams {
  readonly chain: string
  readonly last: string
  readonly failed: string
  readonly batch: string
  /** The start (epoch ns) before which interrupted runs go; NULL: none goes. */
  readonly before: string
}

/**
 * Up to `batch` runs of `chain` that a keep policy (`last`, `failed`, `interruptedMs` as `before`)
 * lets go, oldest first: finished runs not among the newest `last` nor the newest `failed` failed
 * ones, interrupted runs begun before `before`, and never an ancestor (through `parent_id`) of a
 * run that stays. The newest are found by two walks of the
 * chain's index that stop at `last` and `failed` (`gone_last`, `gone_failed`: the first run
 * beyond each); the runs that go are read oldest first and the walk stops at `batch`, so a batch
 * costs what it deletes, not the chain's whole length (a query that set the kept runs against
 * all the others cost as much as writing the runs, at a batch every 500 runs).
 *
 * @param runs - the runs table, as the store names it
 */
export function retainSql(runs: string, p: RetainParams): string {
  // Whether run r goes: of the chain; interrupted, begun before `before`; finished, at or past
  // `gone_last`, and, failed, at or past `gone_failed`. Never NULL (no such run, no `before`: kept).
  const goes = (r: string): string => `(${r}.chain = ${p.chain} AND CASE WHEN ${r}.status = 'interrupted' THEN COALESCE(${r}.started_at < ${p.before}, FALSE)
    ELSE COALESCE((${r}.started_at, ${r}.id) <= (SELECT started_at, id FROM gone_last), FALSE)
    AND (${r}.status NOT IN ('error', 'aborted') OR COALESCE((${r}.started_at, ${r}.id) <= (SELECT started_at, id FROM gone_failed), FALSE)) END)`
  return `WITH RECURSIVE
  gone_last AS (SELECT started_at, id FROM ${runs} WHERE chain = ${p.chain} AND status <> 'interrupted' ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ${p.last}),
  gone_failed AS (SELECT started_at, id FROM ${runs} WHERE chain = ${p.chain} AND status IN ('error', 'aborted') ORDER BY started_at DESC, id DESC LIMIT 1 OFFSET ${p.failed}),
  needed(id) AS (
    SELECT r.parent_id FROM ${runs} r WHERE r.parent_id IS NOT NULL AND NOT ${goes('r')}
    UNION
    SELECT r.parent_id FROM ${runs} r JOIN needed n ON r.id = n.id WHERE r.parent_id IS NOT NULL)
  SELECT r.id FROM ${runs} r WHERE ${goes('r')} AND r.id NOT IN (SELECT id FROM needed) ORDER BY r.started_at, r.id LIMIT ${p.batch}`
}
