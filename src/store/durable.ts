// Durable runs (DESIGN §10): a run stored as its head plus the steps appended as they complete,
// read back as one valid run document. The run format has no 'interrupted' status, so the reader
// side ends an unfinished run with a run.end of its own: status 'aborted', code 'INTERRUPTED'.
import type { DocumentEvent, DocumentRunEnd, DocumentVersion, RunDocument } from '../files/run-document.js'
import { StoreError } from './errors.js'
import type { DurableHead, StepBatch, StoredStatus } from './types.js'

/** The error code of the `run.end` a store puts at the end of an unfinished durable run. */
export const INTERRUPTED_CODE = 'INTERRUPTED'

/**
 * The document of an unfinished durable run: the head's tables extended by each batch's, its
 * events followed by every batch's, and a synthesised `run.end` (status `'aborted'`, error code
 * {@link INTERRUPTED_CODE}, `t` that of the last event, `metrics: null` when a metrics state was
 * open), `run.endedAt` the time of the last event. A head without events gets a `run.start`.
 */
export function interruptedDocument(head: DurableHead, batches: readonly StepBatch[]): RunDocument {
  const { events: headEvents, ...header } = head
  const events: DocumentEvent[] = [...(headEvents ?? [])]
  if (events.length === 0) events.push({ seq: 0, t: 0, type: 'run.start' })
  const links = [...header.links]
  const middleware = [...header.middleware]
  let version: DocumentVersion = header.version
  for (const batch of batches) {
    events.push(...batch.events)
    if (batch.links !== undefined) links.push(...batch.links)
    if (batch.middleware !== undefined) middleware.push(...batch.middleware)
    if (batch.version !== undefined && batch.version > version) version = batch.version
  }
  const last = events[events.length - 1] as DocumentEvent
  const end: DocumentRunEnd = { seq: events.length, t: last.t, type: 'run.end', status: 'aborted' }
  if (metricsOpen(events)) end.metrics = null
  events.push(end)
  const { stoppedBy: _stoppedBy, stopReason: _stopReason, error: _error, ...run } = header.run
  return {
    ...header,
    version,
    run: {
      ...run,
      status: 'aborted',
      endedAt: String(BigInt(run.startedAt) + BigInt(last.t)),
      error: {
        code: INTERRUPTED_CODE,
        message: `the run was interrupted: it was begun as a durable run and never finished (${events.length - 1} events recorded, the last at seq ${last.seq})`,
      },
    },
    links,
    middleware,
    events,
  }
}

/** Whether the last event that touched metrics left a metrics state (a patch list, not `null`). */
function metricsOpen(events: readonly DocumentEvent[]): boolean {
  for (let i = events.length - 1; i >= 0; i--) {
    const metrics = (events[i] as DocumentEvent).metrics
    if (metrics !== undefined) return metrics !== null
  }
  return false
}

/** The seq that a run's next appended batch must start at: one past its last event. */
export function nextSeq(head: DurableHead): number {
  const events = head.events ?? []
  return events.length === 0 ? 1 : (events[events.length - 1] as DocumentEvent).seq + 1
}

/** Parses JSON text a store kept; text that is not JSON means the store is damaged. */
function parseStored<T>(text: string, id: string, what: string, where: string): T {
  try {
    return JSON.parse(text) as T
  } catch (error) {
    throw new StoreError('STORE_CORRUPT', where, `run ${id}: its stored ${what} is not valid JSON (${(error as Error).message}); the store is damaged`, error)
  }
}

/**
 * The document `read` returns from what a store kept: a finished run's document, or for an
 * interrupted run its head and batches made into one ({@link interruptedDocument}).
 */
export function storedDocument(id: string, status: StoredStatus, text: string, batches: readonly string[], where: string): RunDocument {
  if (status !== 'interrupted') return parseStored<RunDocument>(text, id, 'document', where)
  return interruptedDocument(
    parseStored<DurableHead>(text, id, 'head', where),
    batches.map((batch) => parseStored<StepBatch>(batch, id, 'step batch', where)),
  )
}
