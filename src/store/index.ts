/**
 * Run stores (DESIGN §10, docs/store.md): the contract, the in-memory store and the helpers the
 * SQLite and PostgreSQL stores (`'shadowchain/store/sqlite'`, `'shadowchain/store/postgres'`)
 * share. This module loads no database driver.
 *
 * @packageDocumentation
 */
export { memoryStore } from './memory.js'
export { StoreError, redactUrl } from './errors.js'
export type { StoreErrorCode } from './errors.js'
export { INTERRUPTED_CODE, interruptedDocument } from './durable.js'
export { durableSummary, storedRun, summarize } from './summary.js'
export { DEFAULT_LIMIT, MAX_LIMIT } from './query.js'
export type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun, StoredStatus } from './types.js'
