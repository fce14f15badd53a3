/**
 * Nested chains' runs in the viewer (DESIGN §9): which runs a waterfall row made, each made
 * ready for the viewer only when it is first expanded, on its outermost run's time axis, and the
 * events of a run with its expanded nested runs' events in place (what the keyboard steps through).
 *
 * @module
 */
import type { Run } from '../../lineage/run.js'
import type { WaterfallRow } from '../waterfall-rows.js'
import { stitchRuns, type StitchedTrace } from '../stitch.js'
import type { DocumentRun } from './document-run.js'
import { viewRun, type ViewerRun } from './run-view.js'

// ---- remote runs (DESIGN §11): runs of other services, opened in place like nested runs -----------

interface RemoteRuns {
  /** By the span id of the call that reached them. */
  readonly bySpan: ReadonlyMap<string, readonly DocumentRun[]>
  /** Each placed remote run: its view, where it was read and the span of its call. */
  readonly byId: ReadonlyMap<string, { readonly view: ViewerRun; readonly origin: string | undefined; readonly span: string }>
}

let remote: RemoteRuns = { bySpan: new Map(), byId: new Map() }

/**
 * Tells the model which runs the page holds, so that a run another service made for a link is
 * shown under that link (`nestedOfRow` place `'remote'`, `nestedView`, `visibleEvents`), on the
 * caller's time axis: the runs are stitched by trace (`stitchRuns`). Call it again whenever
 * the runs change (a dropped file, a live update).
 *
 * @param runs - the runs shown, with where each was read
 * @returns the stitched traces that hold more than one run
 */
export function setRemoteRuns(runs: readonly { readonly run: ViewerRun; readonly origin?: string | undefined }[]): StitchedTrace<DocumentRun>[] {
  const traces = stitchRuns(runs.map((r) => ({ run: r.run.opened, origin: r.origin })))
  const shown = new Map(runs.map((r) => [r.run.opened, r.run]))
  const bySpan = new Map<string, DocumentRun[]>()
  const byId = new Map<string, { view: ViewerRun; origin: string | undefined; span: string }>()
  for (const trace of traces) {
    for (const [span, placed] of trace.calls) {
      bySpan.set(span, placed.map((p) => p.run))
      for (const p of placed) {
        const view = shown.get(p.run)
        if (view !== undefined) byId.set(p.run.id, { view, origin: p.origin, span })
      }
    }
  }
  remote = { bySpan, byId }
  views = new WeakMap()
  return traces.filter((t) => t.size > 1)
}

/** A remote run placed under a call (see {@link setRemoteRuns}): where it was read; `undefined` for others. */
export function remoteInfo(id: string): { readonly origin: string | undefined } | undefined {
  const found = remote.byId.get(id)
  return found === undefined ? undefined : { origin: found.origin }
}

/** The remote runs reached by a call whose `io.inject` wrote `span`. */
const remoteOf = (span: string | undefined): readonly DocumentRun[] => (span === undefined ? [] : (remote.bySpan.get(span) ?? []))

/** Whether `id` is `run` or an outer run of `view` (a remote run is never drawn inside itself). */
function onPath(view: ViewerRun, id: string): boolean {
  for (let at: ViewerRun | undefined = view; at !== undefined; at = at.host?.run) if (at.id === id) return true
  return false
}

/** A nested run that a row's link, one of its branches or one of its failed attempts made. */
export interface NestedEntry {
  /** The nested run's id (the event's `child`). */
  readonly id: string
  /**
   * Where it hangs: under the link's row, a branch's lane, or a failed attempt; `'remote'`: a run
   * of another service that the link (label `''`) or a branch (label: its name) called.
   */
  readonly place: 'link' | 'branch' | 'attempt' | 'remote'
  /** The branch's name, or the attempt's number as text; `''` for the link's own call. */
  readonly label: string
  /** The event that names it (`link.end` / `link.error`, `branch.*`, `link.attempt`). */
  readonly seq: number
}

/** The nested runs a row made: its last call's, then its branches', then its failed attempts'. */
export function nestedOfRow(run: ViewerRun, row: WaterfallRow): NestedEntry[] {
  const out: NestedEntry[] = []
  const known = (id: string | undefined): id is string => id !== undefined && run.timeline.child(id) !== undefined
  if (known(row.child)) out.push({ id: row.child, place: 'link', label: '', seq: row.endSeq })
  for (const lane of row.branches) if (known(lane.child)) out.push({ id: lane.child, place: 'branch', label: lane.name, seq: lane.endSeq })
  for (const failed of row.failedAttempts) if (known(failed.child)) out.push({ id: failed.child, place: 'attempt', label: String(failed.attempt), seq: failed.seq })
  for (const called of remoteOf(row.span)) if (!onPath(run, called.id)) out.push({ id: called.id, place: 'remote', label: '', seq: row.endSeq })
  for (const lane of row.branches) for (const called of remoteOf(lane.span)) if (!onPath(run, called.id)) out.push({ id: called.id, place: 'remote', label: lane.name, seq: lane.endSeq })
  return out
}

/** The id of the nested run an event names (`child`), when the run holds it. */
export function nestedIdOf(run: ViewerRun, seq: number): string | undefined {
  const event = run.events[seq]?.event
  const id = event !== undefined && 'child' in event ? event.child : undefined
  if (id !== undefined && run.timeline.child(id) !== undefined) return id
  // A remote run its call reached (the first, when a request was retried).
  const span = event !== undefined && 'span' in event ? event.span : undefined
  const called = remoteOf(span).find((r) => !onPath(run, r.id))
  return called?.id
}

let views = new WeakMap<ViewerRun, Map<string, ViewerRun>>()

/**
 * The nested run `id` of `run`, made ready for the viewer on first use (then cached): its events
 * and rows timed from the outermost run's start, its `host` the view and event that name it.
 * `undefined` when `run` holds no nested run of that id.
 */
export function nestedView(run: ViewerRun, id: string): ViewerRun | undefined {
  let byId = views.get(run)
  if (byId === undefined) views.set(run, (byId = new Map()))
  const cached = byId.get(id)
  if (cached !== undefined) return cached
  const nested = run.timeline.child(id)
  const called = nested === undefined ? remote.byId.get(id) : undefined
  const child = nested ?? called?.view.opened
  if (child === undefined || onPath(run, id)) return undefined
  const seq = run.events.findIndex((e) => ('child' in e.event && e.event.child === id) || (called !== undefined && 'span' in e.event && e.event.span === called.span))
  if (called !== undefined && seq === -1) return undefined
  // The library's run of it, when asked for: the nested run inside the library's run, or the remote run's own.
  const library = (): Run<unknown> => (called !== undefined ? called.view.run : (run.run.timeline.child(id) as Run<unknown>))
  const view = viewRun(child, { run, seq: Math.max(seq, 0) }, library)
  byId.set(id, view)
  return view
}

/** How deep a view is nested: 0 for a run the viewer was given. */
export function nestingDepth(run: ViewerRun): number {
  let depth = 0
  for (let at = run.host; at !== undefined; at = at.run.host) depth++
  return depth
}

/** One event as the keyboard steps through them: its run's view and its seq there. */
export interface EventStop {
  readonly run: ViewerRun
  readonly seq: number
}

/**
 * A run's events in order, each expanded nested run's events right after the event that names
 * it (recursively): what the time slider and the arrow keys step through.
 *
 * @param expanded - ids of the nested runs that are expanded
 */
export function visibleEvents(run: ViewerRun, expanded: ReadonlySet<string>): EventStop[] {
  const out: EventStop[] = []
  for (const event of run.events) {
    out.push({ run, seq: event.seq })
    const id = nestedIdOf(run, event.seq)
    const child = id !== undefined && expanded.has(id) ? nestedView(run, id) : undefined
    if (child !== undefined) for (const stop of visibleEvents(child, expanded)) out.push(stop)
  }
  return out
}

/** Whether `run` is `ancestor` or nested (at any depth) inside it. */
export function isWithin(run: ViewerRun, ancestor: ViewerRun): boolean {
  for (let at: ViewerRun | undefined = run; at !== undefined; at = at.host?.run) if (at === ancestor) return true
  return false
}
