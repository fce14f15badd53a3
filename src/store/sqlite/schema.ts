// Opening an SQLite run store: refuse what is not ours (a damaged file, another program's
// database, another schema version) before changing anything, then create the tables once.
import { createRequire } from 'node:module'
import Database from 'better-sqlite3'
import { StoreError } from '../errors.js'
import { SQLITE_SCHEMA_VERSION, type SqliteStoreOptions } from './options.js'

const SCHEMA = `
CREATE TABLE shadowchain_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE shadowchain_runs (
  id TEXT PRIMARY KEY,
  chain TEXT NOT NULL,
  status TEXT NOT NULL,
  started_at INTEGER NOT NULL,
  ended_at INTEGER,
  duration_ns INTEGER,
  failed_link TEXT,
  code TEXT,
  parent_id TEXT,
  links INTEGER NOT NULL,
  trace_id TEXT,
  owner TEXT,
  next_seq INTEGER
);
CREATE INDEX shadowchain_runs_time ON shadowchain_runs (started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_chain ON shadowchain_runs (chain, started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_chain_status ON shadowchain_runs (chain, status, started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_parent ON shadowchain_runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX shadowchain_runs_trace ON shadowchain_runs (trace_id, started_at DESC, id DESC) WHERE trace_id IS NOT NULL;
CREATE TABLE shadowchain_documents (id TEXT PRIMARY KEY, document TEXT NOT NULL);
CREATE TABLE shadowchain_steps (run_id TEXT NOT NULL, seq INTEGER NOT NULL, batch TEXT NOT NULL, PRIMARY KEY (run_id, seq));
`

/** A driver error as a StoreError: damaged files are `STORE_CORRUPT`, the rest `STORE_FAILED`. */
export function sqliteError(error: unknown, where: string, doing: string): StoreError {
  if (error instanceof StoreError) return error
  const code = (error as { code?: unknown }).code
  const message = error instanceof Error ? error.message : String(error)
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT' || (typeof code === 'string' && code.startsWith('SQLITE_CORRUPT'))) {
    return new StoreError('STORE_CORRUPT', where, `not a usable SQLite database (${message}) while ${doing}; is it a damaged file, or not a database at all?`, error)
  }
  // better-sqlite3 says a missing folder with a plain TypeError, without a code.
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_PERM' || code === 'SQLITE_READONLY' || /cannot open database/i.test(message)) {
    return new StoreError('STORE_UNREACHABLE', where, `cannot open the SQLite file (${message}) while ${doing}`, error)
  }
  return new StoreError('STORE_FAILED', where, `SQLite failed while ${doing}: ${message}`, error)
}

function tableNames(db: Database.Database): string[] {
  return (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all() as string[])
}

/** Refuses a file whose tables are not shadowchain's, or whose schema version is another. */
function check(db: Database.Database, where: string): 'ours' | 'empty' {
  const tables = tableNames(db)
  if (tables.length === 0) return 'empty'
  if (!tables.includes('shadowchain_meta')) {
    const shown = tables.slice(0, 5).join(', ') + (tables.length > 5 ? `, … (${tables.length} tables)` : '')
    throw new StoreError('STORE_FOREIGN', where, `this SQLite file is not a shadowchain run store: it has tables (${shown}) and no shadowchain_meta table; shadowchain leaves it untouched`)
  }
  const version = db.prepare("SELECT value FROM shadowchain_meta WHERE key = 'schema_version'").pluck().get() as string | undefined
  if (version !== String(SQLITE_SCHEMA_VERSION)) {
    throw new StoreError('STORE_VERSION', where, `the run store has schema version ${version === undefined ? '(none)' : `'${version}'`}; this shadowchain reads version ${SQLITE_SCHEMA_VERSION}`)
  }
  return 'ours'
}

/**
 * The page size of a store file this code creates: 16 KiB, not SQLite's 4 KiB. A stored run is a
 * document of a few KiB written once (a 10-link run's is ~6 KiB): on 4 KiB pages it spilled onto
 * overflow pages, and each commit wrote ~4 times as many WAL frames. Measured in one process with
 * the store's tables and 6 KiB documents, batches of 256, cases interleaved: 16 KiB pages cost
 * 0.71–0.78× the CPU of 4 KiB ones to write and retain (8 KiB: 0.83–0.85×; 32 KiB: 0.69–0.71×,
 * at twice the bytes read to list runs or fetch one). Small commits pay for it, writing whole
 * pages: a durable run's step took 84 µs against 49 µs on 4 KiB pages (67 µs on 8 KiB), measured
 * alone (docs/store.md). A file created before keeps its own.
 */
export const PAGE_SIZE = 16_384

/** How long a statement waits for another process's lock, unless told (`busyTimeoutMs`). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5_000

/** The WAL's size at which a write checkpoints it (see openSqlite). */
export const WAL_CHECKPOINT_BYTES = 4 * 1024 * 1024

/**
 * Sets the WAL size (bytes) at which a commit on `db` checkpoints (SQLite counts it in pages:
 * 4 MiB is SQLite's default of 1,000 pages on 4 KiB pages, 256 on 16 KiB ones).
 */
export function autoCheckpoint(db: Database.Database, bytes: number): void {
  const pageSize = Number(db.pragma('page_size', { simple: true }))
  db.pragma(`wal_autocheckpoint = ${Math.max(1, Math.round(bytes / pageSize))}`)
}

/**
 * The file of the SQLite driver's native addon that this module's `better-sqlite3` loaded (once a
 * database was opened), for a store's threads to open the file with: SQLite is compiled into the
 * addon, and two copies of SQLite in one process do not see each other's locks, so one of them
 * may rebuild or reset the WAL index under the other and corrupt the database. A thread resolves
 * `better-sqlite3` for itself, and where it finds another copy (a second `node_modules`, or a
 * module resolve hook in the main thread that the thread does not have) it must still use this
 * one: measured, a flight recorder writing through the main thread's copy while the checkpoint
 * thread used another left `wrong # of entries in index` in one run of three. `undefined` when
 * the addon cannot be found (a bundle, a runtime without the CommonJS cache): then no checkpoint
 * thread starts, and a writer thread (`thread: true`, asked for) loads its own, as before.
 */
export function driverAddon(): string | undefined {
  try {
    const cache = createRequire(import.meta.url).cache
    let root: string | undefined
    for (const [file, loaded] of Object.entries(cache)) {
      if (loaded?.exports !== Database) continue
      const lib = file.lastIndexOf(`${pathSeparator(file)}lib${pathSeparator(file)}`)
      if (lib !== -1) root = file.slice(0, lib)
      break
    }
    if (root === undefined) return undefined
    // Inside that package (`…/better-sqlite3/`, not `…/better-sqlite3-multiple-ciphers/`).
    const inside = root + pathSeparator(root)
    for (const file of Object.keys(cache)) if (file.startsWith(inside) && file.endsWith('.node')) return file
  } catch {
    // No CommonJS cache to read here: the thread loads its own addon.
  }
  return undefined
}

/** The separator a path of the require cache uses. */
function pathSeparator(file: string): string {
  return file.includes('\\') && !file.includes('/') ? '\\' : '/'
}

/** Waited on (never woken) to pause between two tries to prepare a file. */
const PAUSE = new Int32Array(new SharedArrayBuffer(4))

function isBusy(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY')
}

/**
 * Refuses a file that is not a store of this version; in an empty one, creates the store (unless
 * another process did first). Leaves the file in WAL mode.
 */
function prepareFile(db: Database.Database, where: string): void {
  // Read-only first: a foreign or damaged file is refused before anything is written to it.
  const state = check(db, where)
  if (state === 'empty') {
    // Before anything is written (a file's page size is fixed once it has a table, and in WAL
    // mode): see PAGE_SIZE.
    db.pragma(`page_size = ${PAGE_SIZE}`)
    db.pragma('auto_vacuum = INCREMENTAL')
    db.pragma('journal_mode = WAL')
    db.transaction(() => {
      // Another process may have created the store since the check above.
      if (check(db, where) === 'ours') return
      db.exec(SCHEMA)
      db.prepare('INSERT INTO shadowchain_meta (key, value) VALUES (?, ?), (?, ?)').run('schema_version', String(SQLITE_SCHEMA_VERSION), 'created_by', 'shadowchain')
    }).immediate()
  }
  db.pragma('journal_mode = WAL')
}

/**
 * Opens (and, when the file is new or empty, creates) an SQLite run store: 16 KiB pages, WAL journal,
 * `busy_timeout`, `auto_vacuum = INCREMENTAL` set before the first table so retain can give
 * freed pages back, tables prefixed `shadowchain_` and a schema version in `shadowchain_meta`.
 *
 * @param nativeBinding - the driver's addon to open it with (a store's thread: {@link driverAddon})
 */
export function openSqlite(path: string, options: SqliteStoreOptions = {}, nativeBinding?: string): Database.Database {
  const where = path
  const timeout = options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS
  let db: Database.Database
  try {
    db = new Database(path, nativeBinding === undefined ? { timeout } : { timeout, nativeBinding })
  } catch (error) {
    throw sqliteError(error, where, 'opening the file')
  }
  try {
    // A connection that read a new file before another process turned it to WAL, and asks for
    // WAL while the other creates the tables, is told SQLITE_BUSY at once: SQLite asks no busy
    // handler for a lock wanted inside a read. Tried again (the other may have made the store
    // meanwhile) until the busy timeout.
    const deadline = Date.now() + timeout
    for (let pause = 1; ; pause = Math.min(2 * pause, 50)) {
      try {
        prepareFile(db, where)
        break
      } catch (error) {
        if (!isBusy(error) || Date.now() >= deadline) throw error
        Atomics.wait(PAUSE, 0, 0, pause)
      }
    }
    db.pragma('synchronous = NORMAL')
    db.pragma(`busy_timeout = ${Math.max(0, Math.floor(timeout))}`)
    // The WAL file is cut back to this size after each checkpoint, so it cannot grow for ever.
    db.pragma('journal_size_limit = 8388608')
    // A checkpoint once the WAL holds 4 MiB, as SQLite's default of 1,000 pages does on 4 KiB
    // pages (a count of pages: on 16 KiB ones the WAL would grow to 16 MiB first).
    autoCheckpoint(db, WAL_CHECKPOINT_BYTES)
    return db
  } catch (error) {
    db.close()
    throw sqliteError(error, where, 'opening the run store')
  }
}
