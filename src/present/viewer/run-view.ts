/**
 * The devtools viewer's model of one run: a run document decoded and validated by
 * `Run.fromJSON` (exactly as the library reads a file), its events on a time axis from the run's
 * start, and its waterfall rows. No DOM: the page (devtools/viewer/app.js) draws what this gives.
 *
 * @module
 */
import type { LinkInfo } from '../../core/types.js'
import type { MiddlewareCallInfo, TimelineEvent, TimelineEventType } from '../../record/events.js'
import { ownStart, Run } from '../../lineage/run.js'
import { formatDuration, formatOffset, waterfallRows, type WaterfallRow } from '../waterfall.js'

/** One event as the viewer lists it: the library's event, timed from the run's start. */
export interface ViewerEvent {
  readonly seq: number
  readonly type: TimelineEventType
  /** ns since the run's start (negative for a fork's inherited events). */
  readonly t: bigint
  /** The library's event (states, patches, write fields…). */
  readonly event: TimelineEvent<unknown>
  readonly link?: LinkInfo
  readonly middleware?: MiddlewareCallInfo
  readonly durationNs?: bigint
  /** A failed link or middleware call's error, or a failed run's (`run.end`). */
  readonly error?: unknown
  /** A `fork` event: the link it was cut after (undefined before the first link). */
  readonly after?: string
}

/** A run made ready for the viewer. */
export interface ViewerRun {
  /** The library's run, rebuilt and validated by `Run.fromJSON`. */
  readonly run: Run<unknown>
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
 * Makes a parsed run document ready for the viewer. Served and dropped files take this one path:
 * the document is validated and rebuilt by `Run.fromJSON`, so a document the library would refuse
 * is refused here, with the same `DocumentError` naming the path of the first problem.
 *
 * @param doc - the parsed JSON document
 * @throws DocumentError when the document is not a valid run document
 */
export function prepareRun(doc: unknown): ViewerRun {
  return viewRun(Run.fromJSON(doc), undefined)
}

/**
 * @internal A run made ready for the viewer, its times counted from `host`'s outermost run's
 * start when it is nested (`nestedView`), else from its own start.
 */
export function viewRun(run: Run<unknown>, host: { readonly run: ViewerRun; readonly seq: number } | undefined): ViewerRun {
  const startedAt = host === undefined ? run.startedAt : host.run.startedAt
  const events: ViewerEvent[] = []
  let lastLink: string | undefined
  for (const event of run.timeline.events) {
    if (event.type === 'link.end' || event.type === 'link.error') lastLink = event.link.name
    events.push(viewerEvent(event, startedAt, lastLink))
  }
  const start = ownStart(run)
  const all = run.timeline.events
  const allRows = waterfallRows(all, startedAt)
  const rows = start === 0 ? allRows : waterfallRows(all.slice(start), startedAt)
  return {
    run,
    id: run.id,
    chainName: run.chainName,
    status: run.status,
    error: run.error === undefined ? undefined : { code: run.error.code, message: run.error.message },
    startedAt,
    durationNs: run.endedAt - run.startedAt,
    parent: run.parent === undefined ? undefined : { runId: run.parent.runId, seq: run.parent.seq },
    replayOf: run.replayOf === undefined ? undefined : { runId: run.replayOf.runId },
    stoppedBy: run.stoppedBy === undefined ? undefined : { name: run.stoppedBy.name, index: run.stoppedBy.index, reason: run.stopReason },
    children: run.childIds,
    events,
    forkSeq: start,
    forkAfter: start > 0 ? events[start]?.after : undefined,
    rows,
    inherited: start === 0 ? 0 : waterfallRows(all.slice(0, start)).length,
    allRows,
    totalNs: host === undefined ? run.endedAt - startedAt : host.run.totalNs,
    ...(host !== undefined && { host }),
  }
}

function viewerEvent(event: TimelineEvent<unknown>, startedAt: bigint, lastLink: string | undefined): ViewerEvent {
  const out: { -readonly [K in keyof ViewerEvent]: ViewerEvent[K] } = { seq: event.seq, type: event.type, t: event.t - startedAt, event }
  if ('link' in event && event.link !== undefined) out.link = event.link
  if ('middleware' in event) out.middleware = event.middleware
  if ('durationNs' in event) out.durationNs = event.durationNs
  if ('error' in event && event.error !== undefined) out.error = event.error
  if (event.type === 'fork' && lastLink !== undefined) out.after = lastLink
  return out
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
  if (event.type === 'fork') parts.push(`from ${event.parent.runId.slice(0, 8)} ${cutLabel(view.after)}`)
  if (event.type === 'run.end') parts.push(event.stoppedBy === undefined ? event.status : `${event.status}, stopped by ${event.stoppedBy.name}`)
  if (event.type === 'link.skip') parts.push(`skipped: ${event.reason}`)
  if (event.type === 'link.attempt') parts.push(`attempt ${event.attempt} failed, retried`)
  if (event.type === 'branch.start' || event.type === 'branch.end' || event.type === 'branch.error') parts.push(`branch ${event.branch}`)
  if (event.type === 'ctx.write') parts.push(`${event.op} ${event.path.map(String).join('.')}`)
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
  const unique = (pick: (e: ViewerEvent) => string | undefined): string[] => [...new Set(run.events.map(pick).filter((v): v is string => v !== undefined))]
  return { types: unique((e) => e.type), links: unique((e) => e.link?.name), middleware: unique((e) => e.middleware?.name) }
}

/** The row of the link an event belongs to, or for an event between links, of the last one before it. */
export function rowOfEvent(rows: readonly WaterfallRow[], seq: number): WaterfallRow | undefined {
  for (let i = rows.length - 1; i >= 0; i--) if ((rows[i] as WaterfallRow).firstSeq <= seq) return rows[i]
  return undefined
}
