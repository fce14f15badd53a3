// Queries and keep policies, checked and put in one shape every store reads.
import { StoreError } from './errors.js'
import type { KeepPolicy, RunQuery, StoredRunSummary, StoredStatus } from './types.js'

/** A {@link RunQuery} checked, with defaults and times as epoch ns. */
export interface NormalQuery {
  readonly chain: string | undefined
  readonly statuses: readonly StoredStatus[] | undefined
  readonly link: string | undefined
  readonly since: bigint | undefined
  readonly until: bigint | undefined
  readonly limit: number
  readonly before: string | undefined
  readonly trace: string | undefined
}

/** The page size when a query gives none. */
export const DEFAULT_LIMIT = 50
/** The largest page a query may ask for. */
export const MAX_LIMIT = 10_000
/** How many runs `retain` deletes in one transaction. */
export const RETAIN_BATCH = 500

const STATUSES: ReadonlySet<string> = new Set(['ok', 'error', 'aborted', 'interrupted'])

function epochNs(time: bigint | Date, name: string, where: string): bigint {
  if (typeof time === 'bigint') return time
  if (time instanceof Date && !Number.isNaN(time.getTime())) return BigInt(time.getTime()) * 1_000_000n
  throw new StoreError('STORE_QUERY', where, `query.${name} must be a bigint (epoch ns) or a valid Date`)
}

function count(value: number | undefined, name: string, where: string, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < 0 || value > max) throw new StoreError('STORE_QUERY', where, `${name} must be a whole number from 0 to ${max}, got ${String(value)}`)
  return value
}

/** Checks a query and fills in its defaults. */
export function normalizeQuery(query: RunQuery = {}, where: string): NormalQuery {
  const statuses = query.status === undefined ? undefined : typeof query.status === 'string' ? [query.status] : [...query.status]
  for (const status of statuses ?? []) {
    if (!STATUSES.has(status)) throw new StoreError('STORE_QUERY', where, `unknown status '${String(status)}': one of ok, error, aborted, interrupted`)
  }
  const limit = count(query.limit, 'query.limit', where, DEFAULT_LIMIT, MAX_LIMIT)
  if (limit === 0) throw new StoreError('STORE_QUERY', where, `query.limit must be from 1 to ${MAX_LIMIT}, got 0`)
  return {
    chain: query.chain,
    statuses,
    link: query.link,
    since: query.since === undefined ? undefined : epochNs(query.since, 'since', where),
    until: query.until === undefined ? undefined : epochNs(query.until, 'until', where),
    limit,
    before: query.before,
    trace: query.trace,
  }
}

/** A keep policy checked: `interruptedBefore` is the start (epoch ns) before which interrupted runs go. */
export interface NormalKeep {
  readonly last: number
  readonly failed: number
  readonly interruptedBefore: bigint | undefined
}

/**
 * Checks a keep policy: whole numbers, at least one of `last` and `failed` given, and
 * `interruptedMs` a duration, turned into a start time by the clock now.
 */
export function normalizeKeep(keep: KeepPolicy, where: string): NormalKeep {
  if (keep.last === undefined && keep.failed === undefined) {
    throw new StoreError('STORE_QUERY', where, 'retain needs keep.last or keep.failed (or both): an empty policy would delete every run of the chain')
  }
  const last = count(keep.last, 'keep.last', where, 0, Number.MAX_SAFE_INTEGER)
  const failed = count(keep.failed, 'keep.failed', where, 0, Number.MAX_SAFE_INTEGER)
  const ms = keep.interruptedMs
  if (ms === undefined) return { last, failed, interruptedBefore: undefined }
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) {
    throw new StoreError('STORE_QUERY', where, `keep.interruptedMs must be a number of milliseconds ≥ 0, got ${typeof ms === 'number' ? String(ms) : typeof ms}`)
  }
  return { last, failed, interruptedBefore: BigInt(Date.now()) * 1_000_000n - BigInt(Math.round(ms * 1_000_000)) }
}

/** The paging cursor was not found: a clear error, not an empty page that ends a loop early. */
export function unknownCursor(id: string, where: string): StoreError {
  return new StoreError('STORE_QUERY', where, `query.before names run '${id}', which the store does not hold (deleted by retain?)`)
}

/** Newest first: by startedAt, then by id, both descending (the order of every store's list). */
export function newestFirst(a: StoredRunSummary, b: StoredRunSummary): number {
  if (a.startedAt !== b.startedAt) return a.startedAt > b.startedAt ? -1 : 1
  return a.id === b.id ? 0 : a.id > b.id ? -1 : 1
}
