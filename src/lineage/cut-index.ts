// Where a fork at a link's name cuts a run, found without scanning the run's timeline again and
// again: each link name's last end, remembered per timeline (a run's timeline never changes once
// the run is made). A run forked once costs one scan back from its end, as without an index; from
// its second fork on, the names met scanning back are remembered and the scan goes on from where
// it stopped, so each event is met at most once more, and once every name is known a fork finds
// its cut at once, wherever it cuts. A fork's index covers only the fork's own events and asks its
// parent's about the prefix they share, so a fork of a fork does not walk the prefix either.
import type { TimelineEvent } from '../record/events.js'
import type { Timeline } from '../record/timeline.js'
import type { RecordedRun } from './recorded-run.js'

/** The ends of a step a fork may be cut after: a link that ran (or failed), or one skipped. */
export const isLinkEnd = (event: TimelineEvent<unknown>): event is Extract<TimelineEvent<unknown>, { type: 'link.end' | 'link.error' | 'link.skip' }> =>
  event.type === 'link.end' || event.type === 'link.error' || event.type === 'link.skip'

interface CutIndex {
  /** The timeline's length when indexed: a longer one is indexed again. */
  readonly length: number
  /** Lookups so far: the first one (without a shared prefix) is a plain scan that remembers nothing. */
  lookups: number
  /** Each link name met scanning back from the end, with its last end's seq. */
  readonly last: Map<string, number>
  /** The scan back has met every event from this seq to the end. */
  low: number
  /** The first seq the index covers itself: 0, or the seq after the cut of a fork it shares with its parent. */
  readonly own: number
  /** A fork's parent, which answers for the shared prefix: the events up to the cut (`seq`). */
  readonly shared: { readonly run: RecordedRun<unknown>; readonly seq: number } | undefined
}

const indexes = new WeakMap<Timeline<unknown>, CutIndex>()

/**
 * Whether `timeline` begins with the first `seq + 1` events of `parent`'s (the same objects), as
 * a fork's does. Checked, not assumed: a run rebuilt from a file holds copies, and is indexed on
 * its own.
 */
function sharesPrefix(timeline: Timeline<unknown>, parent: Timeline<unknown>, seq: number): boolean {
  return Number.isInteger(seq) && seq >= 0 && seq < timeline.length && seq < parent.length && timeline.at(seq) === parent.at(seq) && timeline.at(0) === parent.at(0)
}

function indexOf(run: RecordedRun<unknown>): CutIndex {
  const timeline = run.timeline as Timeline<unknown>
  const length = timeline.length
  let index = indexes.get(timeline)
  if (index === undefined || index.length !== length) {
    const parent = run.parent
    const shared = parent?.run !== undefined && sharesPrefix(timeline, parent.run.timeline as Timeline<unknown>, parent.seq) ? { run: parent.run, seq: parent.seq } : undefined
    index = { length, lookups: 0, last: new Map(), low: length, own: shared === undefined ? 0 : shared.seq + 1, shared }
    indexes.set(timeline, index)
  }
  return index
}

/** The seq of the last end of link `name` from `from` back to `to`, by a plain scan. */
function scanBack(timeline: Timeline<unknown>, name: string, from: number, to: number): number | undefined {
  for (let seq = from; seq >= to; seq--) {
    const event = timeline.at(seq) as TimelineEvent<unknown>
    if (isLinkEnd(event) && event.link.name === name) return seq
  }
  return undefined
}

/**
 * The seq of the last `link.end`, `link.error` or `link.skip` event of the link named `name` in
 * `run`'s timeline (what a scan back from its end meets first), or `undefined` when that link
 * never ran nor was skipped there.
 */
export function lastLinkEnd(run: RecordedRun<unknown>, name: string): number | undefined {
  const timeline = run.timeline as Timeline<unknown>
  const index = indexOf(run)
  if (index.lookups++ === 0 && index.shared === undefined) return scanBack(timeline, name, index.length - 1, 0)
  const last = index.last
  const known = last.get(name)
  if (known !== undefined) return known
  // Go on scanning back from where the last lookup stopped, remembering each name met first.
  for (let seq = index.low - 1; seq >= index.own; seq--) {
    const event = timeline.at(seq) as TimelineEvent<unknown>
    if (!isLinkEnd(event)) continue
    const met = event.link.name
    if (!last.has(met)) last.set(met, seq)
    if (met === name) {
      index.low = seq
      return seq
    }
  }
  index.low = index.own
  if (index.shared === undefined) return undefined
  // Not among a fork's own events: its parent's last end of that link, if it is in the prefix.
  const inParent = lastLinkEnd(index.shared.run, name)
  if (inParent === undefined || inParent <= index.shared.seq) return inParent
  // The parent ran that link again after the cut (rare): its last end within the prefix.
  return scanBack(timeline, name, index.shared.seq, 0)
}
