// A run's summary (the columns a store lists) read off its document, and the checks every store
// makes on what it is given.
import type { RunDocument } from '../files/run-document.js'
import { StoreError } from './errors.js'
import { exportText } from '../files/log-text.js'
import { exportRun } from '../files/write-document.js'
import type { Run } from '../lineage/run.js'
import { countLinkEvents } from '../record/events.js'
import type { DurableHead, StoredRunSummary, StoredRun } from './types.js'

/**
 * The summary of a finished run's document: what `list` returns for it.
 *
 * @param doc - a run document (`exportRun(run)` / `run.toJSON()`)
 */
export function summarize(doc: RunDocument): StoredRunSummary {
  const { run } = doc
  const startedAt = BigInt(run.startedAt)
  const endedAt = BigInt(run.endedAt)
  const failed = run.error?.link === undefined ? undefined : doc.links[run.error.link]?.name
  return {
    id: run.id,
    chain: run.chainName,
    status: run.status,
    startedAt,
    endedAt,
    durationNs: endedAt - startedAt,
    ...(failed !== undefined && { failedLink: failed }),
    ...(run.error !== undefined && { code: run.error.code }),
    ...(run.parent !== undefined && { parentId: run.parent.runId }),
    links: countLinkEvents(doc.events),
    ...(run.trace !== undefined && { traceId: run.trace.traceId }),
  }
}

/**
 * A finished run as `write` takes it: its document and the summary read off it.
 *
 * @param doc - a run document (`exportRun(run)` / `run.toJSON()`)
 */
export function storedRun(doc: RunDocument): StoredRun {
  return { summary: summarize(doc), document: doc }
}

/**
 * The summary of a durable run's head: what `begin` takes (status `'interrupted'`, no end).
 *
 * @param head - the start of the run's document
 */
export function durableSummary(head: DurableHead): StoredRunSummary {
  const { run } = head
  return {
    id: run.id,
    chain: run.chainName,
    status: 'interrupted',
    startedAt: BigInt(run.startedAt),
    ...(run.parent !== undefined && { parentId: run.parent.runId }),
    links: countLinkEvents(head.events ?? []),
    ...(run.trace !== undefined && { traceId: run.trace.traceId }),
  }
}

/**
 * A finished run as the flight recorder hands it to its store: the summary and the document's
 * JSON text, both made once from one document when the run ended. The document object is not
 * kept: a run waiting for the store costs the collector one string, not a graph of objects.
 * `document` parses the text again, for a store that wants the object.
 */
export class EncodedRun implements StoredRun {
  /**
   * @param summary - the run's summary, as {@link summarize} reads it off the document
   * @param text - `JSON.stringify` of the document
   */
  constructor(
    readonly summary: StoredRunSummary,
    readonly text: string,
  ) {}

  /** A finished run's document as the recorder hands it to a store (see {@link encodeRun}). */
  static of(document: RunDocument): EncodedRun {
    return new EncodedRun(summarize(document), JSON.stringify(document))
  }

  /** The document, parsed from {@link EncodedRun.text} (a new object each time). */
  get document(): RunDocument {
    return JSON.parse(this.text) as RunDocument
  }
}

/**
 * The summary of a finished run, read off the run itself: what {@link summarize} reads off its
 * document. `links` is the number of its `link.end` and `link.error` events.
 */
export function runSummary<C>(run: Run<C>, links: number): StoredRunSummary {
  const failedLink = run.error?.link?.name
  return {
    id: run.id,
    chain: run.chainName,
    status: run.status,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    durationNs: run.endedAt - run.startedAt,
    ...(failedLink !== undefined && { failedLink }),
    ...(run.error !== undefined && { code: run.error.code }),
    ...(run.parent !== undefined && { parentId: run.parent.runId }),
    links,
    ...(run.trace !== undefined && { traceId: run.trace.traceId }),
  }
}

/**
 * A finished run as the flight recorder hands it to its store: its document's text written
 * straight from the run's log when `exportText` follows the run (most runs: see log-text.ts), the
 * document exported and then written otherwise. The two give the same text and summary.
 */
export function encodeRun<C>(run: Run<C>): EncodedRun {
  const log = run.timeline.log()
  const written = log === undefined ? undefined : exportText(run, log.view())
  if (written === undefined) return EncodedRun.of(exportRun(run))
  return new EncodedRun(runSummary(run, written.links), written.text)
}

/**
 * The JSON text a store keeps for a finished run, after the checks `write` makes on it. An
 * {@link EncodedRun}'s summary and text were made from one document, so its text is taken as is.
 */
export function documentText(run: StoredRun, where: string): string {
  if (run instanceof EncodedRun) return run.text
  checkStored(run, where)
  return JSON.stringify(run.document)
}

/** Refuses a run whose summary names another run than its document (a caller's mix-up). */
export function checkStored(run: StoredRun, where: string): void {
  checkSummary(run.summary, run.document.run.id, run.document.run.chainName, where)
  if (run.summary.status === 'interrupted') throw new StoreError('STORE_INPUT', where, `run ${run.summary.id}: write() stores finished runs; an unfinished one is begun with begin()`)
}

/** Refuses a summary whose id or chain differ from its document's. */
export function checkSummary(summary: StoredRunSummary, id: string, chain: string, where: string): void {
  if (summary.id !== id) throw new StoreError('STORE_INPUT', where, `a summary of run ${summary.id} came with the document of run ${id}`)
  if (summary.chain !== chain) throw new StoreError('STORE_INPUT', where, `run ${id}: the summary says chain '${summary.chain}', the document '${chain}'`)
  if (typeof summary.startedAt !== 'bigint') throw new StoreError('STORE_INPUT', where, `run ${id}: startedAt must be a bigint (epoch ns)`)
}
