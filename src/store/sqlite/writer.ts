// The writer thread of `sqliteStore(path, { thread: true })`: its own connection to the file, on
// which it runs the store's changes (SqliteWrites) one message at a time, in the order sent.
import { parentPort, workerData } from 'node:worker_threads'
import type Database from 'better-sqlite3'
import type { SqliteStoreOptions } from './options.js'
import { StoreError } from '../errors.js'
import { openSqlite } from './schema.js'
import { SqliteWrites } from './writes.js'
import type { WriteReply, WriteRequest } from './thread.js'

const { path, options, nativeBinding } = workerData as { path: string; options: SqliteStoreOptions; nativeBinding: string | undefined }
let db: Database.Database | undefined
let writes: SqliteWrites | undefined
const port = parentPort
if (port === null) throw new Error('shadowchain: src/store/sqlite/writer runs as a worker thread only')

port.on('message', (request: WriteRequest) => {
  if (request.op === 'close') {
    db?.close()
    port.close()
    return
  }
  let reply: WriteReply
  try {
    if (writes === undefined) {
      // The main thread's copy of SQLite (see schema.ts driverAddon), whichever this thread resolved.
      db = openSqlite(path, options, nativeBinding)
      writes = new SqliteWrites(db, path)
    }
    // WriteRequest pairs each op with its method's arguments (typed where the store posts it).
    const change = writes[request.op] as (...args: readonly unknown[]) => unknown
    reply = { n: request.n, result: change.apply(writes, request.args) }
  } catch (error) {
    const store = error instanceof StoreError
    const code = (error as { code?: unknown } | null)?.code
    const message = store ? error.message.slice(path.length + 2) : error instanceof Error ? error.message : String(error)
    reply = { n: request.n, error: { store, code: typeof code === 'string' ? code : undefined, message } }
  }
  port.postMessage(reply)
})
