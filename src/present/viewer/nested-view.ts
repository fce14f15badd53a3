/**
 * Nested chains' runs in the viewer (DESIGN §9): which runs a waterfall row made, each made
 * ready for the viewer only when it is first expanded, on its outermost run's time axis, and the
 * events of a run with its expanded nested runs' events in place (what the keyboard steps through).
 *
 * @module
 */
import type { WaterfallRow } from '../waterfall-rows.js'
import { viewRun, type ViewerRun } from './run-view.js'

/** A nested run that a row's link, one of its branches or one of its failed attempts made. */
export interface NestedEntry {
  /** The nested run's id (the event's `child`). */
  readonly id: string
  /** Where it hangs: under the link's row, a branch's lane, or a failed attempt. */
  readonly place: 'link' | 'branch' | 'attempt'
  /** The branch's name, or the attempt's number as text; `''` for the link's own call. */
  readonly label: string
  /** The event that names it (`link.end` / `link.error`, `branch.*`, `link.attempt`). */
  readonly seq: number
}

/** The nested runs a row made: its last call's, then its branches', then its failed attempts'. */
export function nestedOfRow(run: ViewerRun, row: WaterfallRow): NestedEntry[] {
  const out: NestedEntry[] = []
  const known = (id: string | undefined): id is string => id !== undefined && run.run.timeline.child(id) !== undefined
  if (known(row.child)) out.push({ id: row.child, place: 'link', label: '', seq: row.endSeq })
  for (const lane of row.branches) if (known(lane.child)) out.push({ id: lane.child, place: 'branch', label: lane.name, seq: lane.endSeq })
  for (const failed of row.failedAttempts) if (known(failed.child)) out.push({ id: failed.child, place: 'attempt', label: String(failed.attempt), seq: failed.seq })
  return out
}

/** The id of the nested run an event names (`child`), when the run holds it. */
export function nestedIdOf(run: ViewerRun, seq: number): string | undefined {
  const event = run.events[seq]?.event
  const id = event !== undefined && 'child' in event ? event.child : undefined
  return id !== undefined && run.run.timeline.child(id) !== undefined ? id : undefined
}

const views = new WeakMap<ViewerRun, Map<string, ViewerRun>>()

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
  const child = run.run.timeline.child(id)
  if (child === undefined) return undefined
  const seq = run.events.findIndex((e) => 'child' in e.event && e.event.child === id)
  const view = viewRun(child, { run, seq: Math.max(seq, 0) })
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
