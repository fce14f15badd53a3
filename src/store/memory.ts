// memoryStore(): the default store, in this process's memory. Documents are kept as JSON text,
// as the other stores keep them, so a stored run shares nothing with the caller's objects.
import type { RunDocument } from '../files/run-document.js'
import { StoreError } from './errors.js'
import { nextSeq, storedDocument } from './durable.js'
import { newestFirst, normalizeKeep, normalizeQuery, RETAIN_BATCH, unknownCursor, type NormalQuery } from './query.js'
import { checkSummary, documentText } from './summary.js'
import { countLinkEvents } from '../record/events.js'
import type { DurableHead, KeepPolicy, RunQuery, RunStore, StoredRunSummary, StepBatch, StoredRun } from './types.js'

interface Entry {
  summary: StoredRunSummary
  /** The finished document, or an unfinished run's head, as JSON text. */
  text: string
  /** An unfinished run's appended batches, as JSON text, and the seq its next one starts at. */
  steps?: { batches: string[]; next: number }
  owner?: string
}

function matches(summary: StoredRunSummary, q: NormalQuery): boolean {
  return (
    (q.chain === undefined || summary.chain === q.chain) &&
    (q.statuses === undefined || q.statuses.includes(summary.status)) &&
    (q.link === undefined || summary.failedLink === q.link) &&
    (q.since === undefined || summary.startedAt >= q.since) &&
    (q.until === undefined || summary.startedAt < q.until) &&
    (q.trace === undefined || summary.traceId === q.trace)
  )
}

/**
 * A run store in memory: what the recorder uses when given no other. It passes the same contract
 * suite as the SQLite and PostgreSQL stores; its runs last as long as the process.
 */
export function memoryStore(): RunStore {
  const where = 'memory'
  const runs = new Map<string, Entry>()
  let closed = false
  const open = (): void => {
    if (closed) throw new StoreError('STORE_CLOSED', where, 'the store is closed')
  }
  const sorted = (): StoredRunSummary[] => [...runs.values()].map((e) => e.summary).sort(newestFirst)

  return {
    kind: 'memory',
    where,
    async write(batch: readonly StoredRun[]): Promise<void> {
      open()
      // Checked and encoded first: a run that cannot be stored changes nothing (one transaction).
      const entries = batch.map((run): Entry => ({ summary: { ...run.summary }, text: documentText(run, where) }))
      for (const entry of entries) runs.set(entry.summary.id, entry)
    },
    async list(query?: RunQuery): Promise<StoredRunSummary[]> {
      open()
      const q = normalizeQuery(query, where)
      let all = sorted()
      if (q.before !== undefined) {
        const at = all.findIndex((s) => s.id === q.before)
        if (at === -1) throw unknownCursor(q.before, where)
        all = all.slice(at + 1)
      }
      const out: StoredRunSummary[] = []
      for (const summary of all) {
        if (out.length === q.limit) break
        if (matches(summary, q)) out.push({ ...summary })
      }
      return out
    },
    async read(id: string): Promise<RunDocument | undefined> {
      open()
      const entry = runs.get(id)
      if (entry === undefined) return undefined
      return storedDocument(id, entry.summary.status, entry.text, entry.steps?.batches ?? [], where)
    },
    async begin(summary: StoredRunSummary, head: DurableHead): Promise<void> {
      open()
      checkSummary(summary, head.run.id, head.run.chainName, where)
      const text = JSON.stringify(head)
      runs.set(summary.id, { summary: { ...summary, status: 'interrupted', links: countLinkEvents(head.events ?? []) }, text, steps: { batches: [], next: nextSeq(head) } })
    },
    async appendSteps(id: string, batch: StepBatch): Promise<void> {
      open()
      const entry = runs.get(id)
      if (entry === undefined) throw new StoreError('STORE_NOT_FOUND', where, `steps appended to run ${id}, which was never begun`)
      const steps = entry.steps
      if (steps === undefined || batch.events.length === 0) return
      const first = (batch.events[0] as { seq: number }).seq
      if (first < steps.next) return
      if (first > steps.next) throw new StoreError('STORE_SEQ', where, `run ${id}: steps appended from seq ${first}, expected seq ${steps.next}`)
      steps.batches.push(JSON.stringify(batch))
      steps.next = first + batch.events.length
      entry.summary = { ...entry.summary, links: entry.summary.links + countLinkEvents(batch.events) }
    },
    async claim(id: string, owner: string): Promise<boolean> {
      open()
      const entry = runs.get(id)
      if (entry === undefined || entry.summary.status !== 'interrupted') return false
      if (entry.owner !== undefined && entry.owner !== owner) return false
      entry.owner = owner
      return true
    },
    async retain(chain: string, keep: KeepPolicy): Promise<number> {
      open()
      const { last, failed, interruptedBefore } = normalizeKeep(keep, where)
      const ofChain = sorted().filter((s) => s.chain === chain)
      const kept = new Set(ofChain.filter((s) => s.status !== 'interrupted').slice(0, last).map((s) => s.id))
      for (const s of ofChain.filter((s) => s.status === 'error' || s.status === 'aborted').slice(0, failed)) kept.add(s.id)
      // Interrupted runs go only when begun before `interruptedBefore` (keep.interruptedMs).
      const goes = (s: StoredRunSummary): boolean => (s.status === 'interrupted' ? interruptedBefore !== undefined && s.startedAt < interruptedBefore : !kept.has(s.id))
      const candidates = new Set(ofChain.filter(goes).map((s) => s.id))
      // Every ancestor of a run that stays is needed.
      const needed = new Set<string>()
      for (const entry of runs.values()) {
        if (candidates.has(entry.summary.id)) continue
        for (let parent = entry.summary.parentId; parent !== undefined && !needed.has(parent); parent = runs.get(parent)?.summary.parentId) needed.add(parent)
      }
      let deleted = 0
      for (const id of candidates) {
        if (needed.has(id)) continue
        runs.delete(id)
        deleted++
        // Batches, as the databases delete: let other work in between.
        if (deleted % RETAIN_BATCH === 0) await Promise.resolve()
      }
      return deleted
    },
    async flush(): Promise<void> {
      open()
    },
    async close(): Promise<void> {
      closed = true
      runs.clear()
    },
  }
}
