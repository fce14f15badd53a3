// Run stores on the command line (DESIGN §10): a store argument is an SQLite file or a
// postgres:// URL. The store modules, and their drivers, are imported only when a command is
// given a store, so `import 'shadowchain'` and the commands on run files never load a driver.
// Reading never creates a store: a missing file, an SQLite file without shadowchain's tables or a
// PostgreSQL schema without them is an error, and nothing is written.
import { open, stat } from 'node:fs/promises'

const SQLITE_HEADER = 'SQLite format 3\0'
const ID_PREFIX_MIN = 8

/** A `postgres://` or `postgresql://` URL. */
export const isPostgresUrl = (arg) => /^postgres(ql)?:\/\//i.test(arg)

/** True when `path` is a readable file that starts with SQLite's header. */
export async function isSqliteFile(path) {
  let handle
  try {
    handle = await open(path, 'r')
    const buffer = Buffer.alloc(SQLITE_HEADER.length)
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0)
    return bytesRead === buffer.length && buffer.toString('latin1') === SQLITE_HEADER
  } catch {
    return false
  } finally {
    await handle?.close()
  }
}

/** Whether a positional names a store (a postgres URL or an SQLite file) rather than a run file. */
export async function isStoreArg(arg) {
  return isPostgresUrl(arg) || (await isSqliteFile(arg))
}

/** A missing optional driver as one line that says what to install. */
function missingDriver(error, pkg, what, UsageError) {
  const message = String(error?.message ?? '')
  if ((error?.code === 'ERR_MODULE_NOT_FOUND' || error?.code === 'MODULE_NOT_FOUND') && message.includes(`'${pkg}'`)) {
    return new UsageError(`reading ${what} needs the '${pkg}' package, which is not installed: npm install ${pkg}`)
  }
  return error
}

async function openSqlite(path, UsageError) {
  let info
  try {
    info = await stat(path)
  } catch (error) {
    if (error?.code === 'ENOENT') throw new UsageError(`cannot open store ${path}: no such file`)
    if (error?.code === 'EACCES') throw new UsageError(`cannot open store ${path}: permission denied`)
    throw error
  }
  if (info.isDirectory()) throw new UsageError(`cannot open store ${path}: it is a directory`)
  if (!(await isSqliteFile(path))) throw new UsageError(`cannot open store ${path}: not an SQLite database (a store is an SQLite file or a postgres:// URL)`)
  let Database, sqliteStore
  try {
    Database = (await import('better-sqlite3')).default
    ;({ sqliteStore } = await import('../dist/store/sqlite/index.js'))
  } catch (error) {
    throw missingDriver(error, 'better-sqlite3', 'an SQLite store', UsageError)
  }
  // sqliteStore makes the tables in a database that has none: read-only, look first.
  let tables
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true })
    try {
      tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all()
    } finally {
      db.close()
    }
  } catch {
    tables = undefined // damaged: sqliteStore says how, without changing the file
  }
  if (tables !== undefined && tables.length === 0) throw new UsageError(`${path}: an SQLite database with no tables, not a shadowchain run store`)
  return sqliteStore(path)
}

async function openPostgres(url, UsageError) {
  let parsed
  try {
    parsed = new URL(url)
  } catch {
    throw new UsageError(`not a valid PostgreSQL URL: ${url.replace(/:[^:@/]*@/, ':***@')}`)
  }
  // `?schema=name` picks the schema that holds the tables (default public); pg never sees it.
  const schema = parsed.searchParams.get('schema') ?? 'public'
  parsed.searchParams.delete('schema')
  let pg, postgresStore, postgresError, ident
  try {
    pg = (await import('pg')).default
    ;({ postgresStore } = await import('../dist/store/postgres/index.js'))
    ;({ postgresError, ident } = await import('../dist/store/postgres/schema.js'))
  } catch (error) {
    throw missingDriver(error, 'pg', 'a PostgreSQL store', UsageError)
  }
  const pool = new pg.Pool({ connectionString: parsed.href, max: 2, connectionTimeoutMillis: 5_000 })
  pool.on('error', () => undefined)
  const where = parsed.href.replace(/:[^:@/]*@/, ':***@')
  // What the command line prints: the URL as given (with its schema), without the password.
  const shown = url.replace(/:[^:@/]*@/, ':***@')
  try {
    // postgresStore makes its tables on first use: look first, so reading never creates a store.
    const { rows } = await pool.query('SELECT to_regclass($1) IS NOT NULL AS found', [`${ident(schema)}.shadowchain_meta`]).catch((error) => {
      throw postgresError(error, where, 'connecting')
    })
    if (!rows[0]?.found) throw new UsageError(`${where}: no shadowchain run store in schema '${schema}' (no shadowchain_meta table; add ?schema=NAME for another schema)`)
    const store = postgresStore(pool, { schema })
    await store.ready()
    // The pool is ours, not the store's: end it with the store.
    return { ...store, where: shown, close: () => store.close().finally(() => pool.end()) }
  } catch (error) {
    await pool.end().catch(() => undefined)
    throw error
  }
}

/**
 * Opens the store an argument names: a postgres:// URL, or an existing SQLite run store file.
 * The caller closes it (see {@link withStore}).
 */
export async function openStore(arg, UsageError) {
  return isPostgresUrl(arg) ? openPostgres(arg, UsageError) : openSqlite(arg, UsageError)
}

/** Opens the store, runs `fn(store)`, and closes the store whatever happened. */
export async function withStore(arg, UsageError, fn) {
  const store = await openStore(arg, UsageError)
  try {
    return await fn(store)
  } finally {
    await store.close().catch(() => undefined)
  }
}

/** Every summary of the store, newest first, one page of 10,000 at a time. */
async function* allSummaries(store) {
  let before
  for (;;) {
    const page = await store.list({ limit: 10_000, ...(before !== undefined && { before }) })
    yield* page
    if (page.length < 10_000) return
    before = page[page.length - 1].id
  }
}

/**
 * The full id of a run named by `arg`: its full id, or a unique start or end of it of at least 8
 * characters (the end is what tables and the waterfall show of an id: `shortRunId`), found
 * through `list`, which reads metadata only.
 */
export async function resolveRunId(store, arg, UsageError) {
  if (arg.length === 0) throw new UsageError('a run id cannot be empty')
  try {
    // A full id: the store knows it as a paging cursor (an index lookup, no document read).
    await store.list({ before: arg, limit: 1 })
    return arg
  } catch (error) {
    if (error?.code !== 'STORE_QUERY') throw error
  }
  if (arg.length < ID_PREFIX_MIN) throw new UsageError(`no run '${arg}' in ${store.where} (a part of an id needs at least ${ID_PREFIX_MIN} characters)`)
  const found = []
  for await (const summary of allSummaries(store)) {
    if (summary.id.startsWith(arg) || summary.id.endsWith(arg)) found.push(summary.id)
    if (found.length > 2) break
  }
  if (found.length === 0) throw new UsageError(`no run '${arg}' in ${store.where}`)
  if (found.length > 1) throw new UsageError(`run id part '${arg}' is ambiguous in ${store.where}: ${found.slice(0, 2).join(', ')}${found.length > 2 ? ', …' : ''} (give more characters)`)
  return found[0]
}

/** The document of the run `arg` names (its full id, or a unique start or end of it). */
export async function readRunDocument(store, arg, UsageError) {
  const id = await resolveRunId(store, arg, UsageError)
  const doc = await store.read(id)
  if (doc === undefined) throw new UsageError(`no run '${arg}' in ${store.where} (it was deleted just now)`)
  return doc
}

const UNITS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** A duration (`30s`, `30m`, `1h`, `2d`, `1w`) in milliseconds, or undefined for any other text. */
function durationMs(text) {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d|w)$/.exec(text.trim())
  return m === null ? undefined : Number(m[1]) * UNITS[m[2]]
}

/** `--since` / `--until`: an ISO date or time, or a time ago (`30s`, `30m`, `1h`, `2d`, `1w`). */
export function parseTime(option, text, UsageError, now = Date.now()) {
  const ago = durationMs(text)
  if (ago !== undefined) return new Date(now - ago)
  // Dates only, not bare numbers: '2024' would be a year, '1700000000' nothing a user meant.
  const ms = /^\d{4}-\d{2}-\d{2}/.test(text.trim()) ? Date.parse(text.trim()) : NaN
  if (Number.isNaN(ms)) throw new UsageError(`--${option} must be an ISO date (2026-12-01, 2026-12-01T09:30:00Z) or a time ago (30m, 1h, 2d), got '${text}'`)
  return new Date(ms)
}

/** A duration (`30m`, `12h`, `2d`, `1w`; `s` too) in milliseconds, for option `--<option>`. */
export function parseDuration(option, text, UsageError) {
  const ms = durationMs(text)
  if (ms === undefined) throw new UsageError(`--${option} must be a duration: a number and s, m, h, d or w (30m, 12h, 2d), got '${text}'`)
  return ms
}

/** `--<option>`: a whole number from `min` (to `max`, when given). */
function wholeNumber(option, text, UsageError, min, max) {
  const n = Number(text)
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < min || (max !== undefined && n > max)) {
    throw new UsageError(`--${option} must be a whole number from ${min}${max === undefined ? '' : ` to ${max.toLocaleString('en-US')}`}, got '${text}'`)
  }
  return n
}

/** A count of runs to keep: a whole number from 0. */
export function parseCount(option, text, UsageError) {
  return wholeNumber(option, text, UsageError, 0)
}

/** `--limit`: a whole number within bounds. */
export function parseLimit(text, max, UsageError) {
  return wholeNumber('limit', text, UsageError, 1, max)
}

export const STATUSES = ['ok', 'error', 'aborted', 'interrupted']

/** `--status`, repeated or comma-separated. */
export function parseStatuses(values, UsageError) {
  const statuses = values.flatMap((v) => v.split(',')).map((s) => s.trim())
  for (const s of statuses) if (!STATUSES.includes(s)) throw new UsageError(`--status must be one of ${STATUSES.join(', ')} (repeat it or separate with commas), got '${s}'`)
  return [...new Set(statuses)]
}
