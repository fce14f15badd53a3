// The SQLite store's options and schema version, apart from the driver: the published types of
// 'shadowchain/store/sqlite' then need no types of better-sqlite3.

/** The schema version this shadowchain writes and reads (`shadowchain_meta.schema_version`). */
export const SQLITE_SCHEMA_VERSION = 1

/** Options of `sqliteStore`. */
export interface SqliteStoreOptions {
  /** How long a statement waits for another process's write lock, in ms. Default 5,000. */
  busyTimeoutMs?: number
  /**
   * Make the store's changes (writes, durable steps, claims, retention) on a thread of its own,
   * with its own connection to the file, so the event loop never waits for SQLite: what a
   * service recording many runs wants. Reads stay on the calling thread (WAL: they see every
   * change that was answered). Default `false`. Needs a file, not `':memory:'`.
   */
  thread?: boolean
}
