// The checkpoint thread of an SQLite store that writes on the event loop (see checkpointer.ts):
// its own connection to the file, on which it copies the WAL back into the database when asked,
// so the copying and its fsync never stall the event loop. It never writes a row.
import { parentPort, workerData } from 'node:worker_threads'
import Database from 'better-sqlite3'
import type { CheckpointReply, CheckpointRequest } from './checkpointer.js'

const { path, busyTimeoutMs } = workerData as { path: string; busyTimeoutMs: number }
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
    db ??= new Database(path, { timeout: busyTimeoutMs, fileMustExist: true })
    // PASSIVE: copies what it can without waiting for the writer or any reader.
    const [row] = db.pragma('wal_checkpoint(PASSIVE)') as { busy: number; log: number; checkpointed: number }[]
    reply = { n: request.n, log: row?.log ?? 0, checkpointed: row?.checkpointed ?? 0 }
  } catch (error) {
    reply = { n: request.n, error: error instanceof Error ? error.message : String(error) }
  }
  port.postMessage(reply)
})
