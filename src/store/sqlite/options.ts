// The SQLite store's options and schema version, apart from the driver: the published types of
// 'shadowchain/store/sqlite' then need no types of better-sqlite3.

/** The schema version this shadowchain writes and reads (`shadowchain_meta.schema_version`). */
export const SQLITE_SCHEMA_VERSION = 1

/** Options of `sqliteStore`. */
export interface SqliteStoreOptions {
  /** How long a statement waits for another process's write lock, in ms. Default 5,000. */
  busyTimeoutMs?: number
}
