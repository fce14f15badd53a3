/**
 * The devtools viewer's model of one run: a run document read by `readDocumentRun` (its events at
 * once, each state rebuilt only when it is shown) and validated by `Run.fromJSON` (exactly as the
 * library reads a file: `prepareRun` at once, `openRun` when asked, or elsewhere with
 * `checkRun`), its events on a time axis from the run's start, and its waterfall rows. No DOM:
 * the page (devtools/viewer/app.js) draws what this gives.
 *
 * @module
 */
import type { LinkInfo } from '../../core/types.js'
import type { MiddlewareCallInfo, TimelineEvent, TimelineEventType } from '../../record/events.js'
import { Run } from '../../lineage/run.js'
import { formatDuration, formatOffset, waterfallRows, type WaterfallRow } from '../waterfall.js'
import { documentOwnStart, readDocumentRun, type DocumentEvent, type DocumentRun, type DocumentTimeline } from './document-run.js'
import { shortRunId } from '../../core/run-id.js'

/** One event as the viewer lists it: the library's event, timed from the run's start. */
export interface ViewerEvent {
  readonly seq: number
  readonly type: TimelineEventType
  /** ns since the run's start (negative for a fork's inherited events). */
  readonly t: bigint
  /**
   * The library's event (write fields…), as read from the document: its states and patches are
   * rebuilt when read, and its `t` counts from its run's start.
   */
  readonly event: TimelineEvent<unknown>
  readonly link?: LinkInfo | undefined
  readonly middleware?: MiddlewareCallInfo | undefined
  readonly durationNs?: bigint | undefined
  /** A failed link or middleware call's error, or a failed run's (`run.end`). */
  readonly error?: unknown
  /** A `fork` event: the link it was cut after (undefined before the first link). */
  readonly after?: string | undefined
}

/** A run made ready for the viewer. */
export interface ViewerRun {
  /**
   * The library's run, rebuilt and validated by `Run.fromJSON`: at once by `prepareRun`, on first
   * read after `openRun` (the comparison reads it; it throws a `DocumentError` if the document is bad).
   */
  readonly run: Run<unknown>
  /** The run as read from its document: what the page shows, each state rebuilt when asked for. */
  readonly opened: DocumentRun
  /** Its events and states (the opened run's timeline). */
  readonly timeline: DocumentTimeline
  /** Whether it recorded `ctx.write` events (`capture: 'writes'`). */
  readonly captured: boolean
  readonly id: string
  readonly chainName: string
  readonly status: 'ok' | 'error' | 'aborted'
  readonly error: { readonly code: string; readonly message: string } | undefined
  /** Epoch ns: where its times count from (the outermost run's start, for a nested run). */
  readonly startedAt: bigint
  readonly durationNs: bigint
  readonly parent: { readonly runId: string; readonly seq: number } | undefined
  readonly replayOf: { readonly runId: string } | undefined
  /** The link that ended the run with `io.stop()` (its name and index), and the reason it gave. */
  readonly stoppedBy: { readonly name: string; readonly index: number; readonly reason: string | undefined } | undefined
  readonly children: readonly string[]
  readonly events: readonly ViewerEvent[]
  /** Where the run's own events begin (`ownStart`): its `fork` event, or 0 when it has no inherited events. */
  readonly forkSeq: number
  /** A fork (or a replay of one): the link it was cut after. */
  readonly forkAfter: string | undefined
  /** The waterfall of its own links, from the run's start. */
  readonly rows: readonly WaterfallRow[]
  /** How many inherited links the waterfall leaves out. */
  readonly inherited: number
  /** Every link execution, inherited ones included (the same rows). */
  readonly allRows: readonly WaterfallRow[]
  /** The run's duration: the waterfall's time axis (the outermost run's, for a nested run). */
  readonly totalNs: bigint
  /**
   * A nested chain's run (DESIGN §9, see `nestedView`): the view and the event (seq) that name
   * it. Its events' `t` and its rows count from the outermost run's start. Absent for a run
   * the viewer was given.
   */
  readonly host?: { readonly run: ViewerRun; readonly seq: number }
}

/**
 * Makes a parsed run document ready for the viewer, validated first: the document is validated
 * and rebuilt by `Run.fromJSON`, so a document the library would refuse is refused here, with the
 * same `DocumentError` naming the path of the first problem. What the viewer shows is read from
 * the document as `openRun` reads it.
 *
 * @param doc - the parsed JSON document
 * @throws DocumentError when the document is not a valid run document
 */
export function prepareRun(doc: unknown): ViewerRun {
  const run = Run.fromJSON(doc)
  return viewRun(readDocumentRun(doc), undefined, () => run)
}

/**
 * Makes a parsed run document ready for the viewer at once, whatever its size: its events and
 * waterfall rows are read from the document, each state is rebuilt when it is shown, and the
 * document is validated by `Run.fromJSON` only when `run` is first read. Give it a document that
 * was validated elsewhere (the server did, or {@link checkRun} in a worker), or validate it after.
 *
 * @throws DocumentError when the document cannot even be read (not a run document, events out of order…)
 */
export function openRun(doc: unknown): ViewerRun {
  let run: Run<unknown> | undefined
  return viewRun(readDocumentRun(doc), undefined, () => (run ??= Run.fromJSON(doc)))
}

/**
 * Validates a parsed run document as the library reads it (`Run.fromJSON`), for a page that
 * opened it with {@link openRun}: run where it does not hold up the page (a worker).
 *
 * @returns how many events it has
 * @throws DocumentError naming the path of the first problem
 */
export function checkRun(doc: unknown): number {
  return Run.fromJSON(doc).timeline.length
}

/**
 * @internal A run made ready for the viewer, its times counted from `host`'s outermost run's
 * start when it is nested (`nestedView`), else from its own start.
 *
 * @param library - the library's `Run` of the same run (validated), asked for only when needed
 */
export function viewRun(source: DocumentRun, host: { readonly run: ViewerRun; readonly seq: number } | undefined, library: () => Run<unknown>): ViewerRun {
  const startedAt = host === undefined ? source.startedAt : host.run.startedAt
  const all = source.timeline.events
  // The run's own events are listed as they are (their times count from its start); a nested
  // run's are read through, timed from its outermost run's start.
  const origin = startedAt - source.startedAt
  let events: readonly ViewerEvent[] = all
  if (host !== undefined) {
    const timed = new Array<ViewerEvent>(all.length)
    for (let i = 0; i < all.length; i++) timed[i] = new ListedEvent(all[i] as DocumentEvent, origin)
    events = timed
  }
  let captured = false
  for (let i = 0; i < all.length && !captured; i++) captured = (all[i] as DocumentEvent).type === 'ctx.write'
  const start = documentOwnStart(source)
  const allRows = waterfallRows(all, origin)
  const rows = start === 0 ? allRows : waterfallRows(all.slice(start), origin)
  return {
    get run() {
      return library()
    },
    opened: source,
    timeline: source.timeline,
    captured,
    id: source.id,
    chainName: source.chainName,
    status: source.status,
    error: source.error === undefined ? undefined : { code: source.error.code, message: source.error.message },
    startedAt,
    durationNs: source.endedAt - source.startedAt,
    parent: source.parent,
    replayOf: source.replayOf,
    stoppedBy: source.stoppedBy === undefined ? undefined : { name: source.stoppedBy.name, index: source.stoppedBy.index, reason: source.stopReason },
    children: source.childIds,
    events,
    forkSeq: start,
    forkAfter: start > 0 ? events[start]?.after : undefined,
    rows,
    inherited: start === 0 ? 0 : waterfallRows(all.slice(0, start)).length,
    allRows,
    totalNs: host === undefined ? source.endedAt - startedAt : host.run.totalNs,
    ...(host !== undefined && { host }),
  }
}

/** An event of a nested run as the viewer lists it: read through, its time from the outermost run's start. */
class ListedEvent implements ViewerEvent {
  readonly event: DocumentEvent
  readonly #origin: bigint

  constructor(event: DocumentEvent, origin: bigint) {
    this.event = event
    this.#origin = origin
  }

  get seq(): number {
    return this.event.seq
  }

  get type(): TimelineEventType {
    return this.event.type
  }

  get t(): bigint {
    return this.event.t - this.#origin
  }

  get link(): LinkInfo | undefined {
    return 'link' in this.event ? this.event.link : undefined
  }

  get middleware(): MiddlewareCallInfo | undefined {
    return 'middleware' in this.event ? this.event.middleware : undefined
  }

  get durationNs(): bigint | undefined {
    return 'durationNs' in this.event ? this.event.durationNs : undefined
  }

  get error(): unknown {
    return 'error' in this.event ? this.event.error : undefined
  }

  get after(): string | undefined {
    return this.event.after
  }
}

/**
 * How an event's time is shown: ns from the run's start, or for a fork's inherited events (they
 * happened before the fork started, so their `t` is negative) ns from the start of the run they
 * were recorded in, marked `inherited`.
 */
export function eventTime(run: ViewerRun, event: ViewerEvent): { ns: bigint; inherited: boolean; text: string } {
  if (run.forkSeq > 0 && event.seq < run.forkSeq) {
    const ns = event.t - (run.events[0]?.t ?? 0n)
    return { ns, inherited: true, text: `+${formatDuration(ns)}` }
  }
  return { ns: event.t, inherited: false, text: formatOffset(event.t) }
}

/** How many times a row's link was called, for its label: `'3 attempts'`, or `''` for one. */
export function attemptsLabel(row: WaterfallRow): string {
  return row.failedAttempts.length === 0 ? '' : `${row.failedAttempts.length + 1} attempts`
}

/** How a fork is named: `after 'discount'`, or `before the first link`. */
export function cutLabel(after: string | undefined): string {
  return after === undefined ? 'before the first link' : `after '${after}'`
}

/** What an event is about, for lists: `timing (chain-after #0) · price`. */
export function eventSubject(view: ViewerEvent): string {
  const parts: string[] = []
  if (view.middleware !== undefined) parts.push(`${view.middleware.name} (${view.middleware.position} #${view.middleware.index})`)
  if (view.link !== undefined) parts.push(view.link.name)
  const event = view.event
  if (event.type === 'fork') parts.push(`from ${shortRunId(event.parent.runId)} ${cutLabel(view.after)}`)
  if (event.type === 'run.end') parts.push(event.stoppedBy === undefined ? event.status : `${event.status}, stopped by ${event.stoppedBy.name}`)
  if (event.type === 'link.skip') parts.push(`skipped: ${event.reason}`)
  if (event.type === 'link.attempt') parts.push(`attempt ${event.attempt} failed, retried`)
  if (event.type === 'branch.start' || event.type === 'branch.end' || event.type === 'branch.error') parts.push(`branch ${event.branch}`)
  if (event.type === 'ctx.write') {
    if (event.branch !== undefined) parts.push(`branch ${event.branch}`)
    parts.push(`${event.op} ${event.path.map(String).join('.')}`)
  }
  return parts.join(' · ')
}

/** Filters of the event list: an event type, a link name, a middleware name; `''` or absent = any. */
export interface EventFilters {
  readonly type?: string
  readonly link?: string
  readonly middleware?: string
}

/** The events matching every given filter. */
export function filterEvents(run: ViewerRun, filters: EventFilters = {}): ViewerEvent[] {
  const { type = '', link = '', middleware = '' } = filters
  return run.events.filter((e) => (!type || e.type === type) && (!link || e.link?.name === link) && (!middleware || e.middleware?.name === middleware))
}

/** Distinct event types, link names and middleware names of a run, for the filter menus. */
export function filterOptions(run: ViewerRun): { types: string[]; links: string[]; middleware: string[] } {
  // One pass, no list of 100,000 names on the way.
  const [types, links, middleware] = [new Set<string>(), new Set<string>(), new Set<string>()]
  for (const event of run.events) {
    types.add(event.type)
    if (event.link !== undefined) links.add(event.link.name)
    if (event.middleware !== undefined) middleware.add(event.middleware.name)
  }
  return { types: [...types], links: [...links], middleware: [...middleware] }
}

/** The row of the link an event belongs to, or for an event between links, of the last one before it. */
export function rowOfEvent(rows: readonly WaterfallRow[], seq: number): WaterfallRow | undefined {
  // Rows are in the order links first appear: their firstSeq grows. The last row at or before seq.
  let [low, high] = [0, rows.length - 1]
  let found: WaterfallRow | undefined
  while (low <= high) {
    const mid = (low + high) >> 1
    const row = rows[mid] as WaterfallRow
    if (row.firstSeq <= seq) [found, low] = [row, mid + 1]
    else high = mid - 1
  }
  return found
}
