// The checkpoint thread of an SQLite store that writes on the event loop (see checkpointer.ts):
// its own connection to the file, on which it copies the WAL back into the database when asked,
// so the copying and its fsync never stall the event loop. It never writes a row.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import type { CheckpointReply, CheckpointRequest } from './checkpointer.js'

const { path, busyTimeoutMs, nativeBinding } = workerData as { path: string; busyTimeoutMs: number; nativeBinding: string | undefined }
const port = parentPort
if (port === null) throw new Error('shadowchain: src/store/sqlite/checkpoint-worker runs as a worker thread only')
let db: Database.Database | undefined

port.on('message', (request: CheckpointRequest) => {
  if (request.op === 'close') {
    db?.close()
    port.close()
    return
  }
  let reply: CheckpointReply
  try {
    // The main thread's copy of SQLite (see schema.ts driverAddon), whichever this thread resolved.
    db ??= new Database(path, nativeBinding === undefined ? { timeout: busyTimeoutMs, fileMustExist: true } : { timeout: busyTimeoutMs, fileMustExist: true, nativeBinding })
    // PASSIVE: copies what it can without waiting for the writer or any reader.
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[]
    reply = { n: request.n, log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 }
  } catch (error) {
    reply = { n: request.n, error: error instanceof Error ? error.message : String(error) }
  }
  port.postMessage(reply)
})
