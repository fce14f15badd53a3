// The rows of a waterfall (one per link execution, with its middleware calls, failed attempts,
// parallel branches and nested runs), shared by the terminal waterfall and the devtools viewer.
import type { TimelineEvent } from '../record/events.js'
import type { LinkInfo, SkipReason } from '../core/types.js'

/** One middleware call around a link, as drawn in a waterfall row. */
export interface WaterfallSegment {
  /** The middleware's name. */
  readonly name: string
  /** Where it ran: `'chain-before'`, `'link-after'`, … */
  readonly position: string
  /** When the call began and ended, on the rows' time axis. */
  readonly start: bigint
  readonly end: bigint
  /** The seq of its event. */
  readonly seq: number
  /** It threw or rejected (`middleware.error`). */
  readonly failed: boolean
}

/** A failed attempt of a retried link (a `link.attempt` event), on the rows' time axis. */
export interface WaterfallAttempt {
  /** Its number, from 1. */
  readonly attempt: number
  readonly start: bigint
  readonly end: bigint
  /** The seq of its event. */
  readonly seq: number
  readonly error: unknown
  /** The id of the nested run this attempt made (a nested chain's link): `timeline.child(id)`. */
  readonly child?: string
}

/** A branch of a parallel step (its `branch.*` events): a lane under the step's row. */
export interface WaterfallBranch {
  readonly name: string
  /** When it was called and when it settled, on the rows' time axis. */
  readonly start: bigint
  end: bigint
  /** The seqs of its `branch.start` and of its `branch.end` / `branch.error`. */
  readonly startSeq: number
  endSeq: number
  status: 'ok' | 'error' | 'running'
  error: unknown
  /** The id of the nested run of a branch that is a chain: `timeline.child(id)`. */
  child?: string
  /** The span id the branch's `io.inject` wrote into an outbound request (a remote run's `remoteParent`). */
  span?: string
}

/**
 * One link execution as a waterfall draws it, on a time axis that starts at the `origin` given to
 * {@link waterfallRows}: its step (first to last event, middleware included), the link's own
 * call, and each middleware call around it.
 */
export interface WaterfallRow {
  /** The link (the same object as in its events). */
  readonly link: LinkInfo
  readonly name: string
  readonly index: number
  stepStart: bigint
  stepEnd: bigint
  linkStart: bigint
  linkEnd: bigint
  /** The link alone. */
  linkNs: bigint
  /** Every middleware call around it, added up. */
  middlewareNs: bigint
  /** `'skipped'`: the link did not run (a `link.skip` event); its row has no bar. */
  status: 'ok' | 'error' | 'skipped'
  error: unknown
  /** Why a skipped link did not run; `undefined` for a link that ran. */
  reason: SkipReason | undefined
  /** The seqs of its first and last events, of its `link.start` and of its `link.end` / `link.error`. */
  readonly firstSeq: number
  lastSeq: number
  startSeq: number
  endSeq: number
  readonly segments: WaterfallSegment[]
  /** Its failed attempts that were retried (link option `retry`), in order; empty for most links. */
  readonly failedAttempts: WaterfallAttempt[]
  /** A parallel step's branches, in the order they started; empty for a plain link. */
  readonly branches: WaterfallBranch[]
  /**
   * The id of the nested run its last call made (a nested chain's link, DESIGN §9):
   * `timeline.child(id)`; `undefined` for a plain link.
   */
  child: string | undefined
  /** The span id its last call's `io.inject` wrote into an outbound request (a remote run's `trace.remoteParent`). */
  span: string | undefined
}

/**
 * The rows of a waterfall: one per link execution in `events`, in the order links first appear,
 * with times taken from `origin` (a run's `startedAt` for times from its start).
 *
 * @param events - a run's events, or a part of them (a fork's own events)
 * @param origin - the time that becomes 0 (epoch ns); default 0n keeps epoch times
 */
export function waterfallRows(events: readonly TimelineEvent<unknown>[], origin = 0n): WaterfallRow[] {
  const rows = new Map<LinkInfo, WaterfallRow>()
  for (const event of events) {
    if (!('link' in event) || event.link === undefined) continue
    const t = origin === 0n ? event.t : event.t - origin
    const call = event.type === 'middleware.before' || event.type === 'middleware.after' || event.type === 'middleware.error' ? event : undefined
    const callNs = call === undefined ? 0n : call.durationNs
    const end = call === undefined ? t : t + callNs
    let row = rows.get(event.link)
    if (row === undefined) {
      row = {
        link: event.link,
        name: event.link.name,
        index: event.link.index,
        stepStart: t,
        stepEnd: end,
        linkStart: t,
        linkEnd: t,
        linkNs: 0n,
        middlewareNs: 0n,
        status: 'ok',
        error: undefined,
        reason: undefined,
        firstSeq: event.seq,
        lastSeq: event.seq,
        startSeq: event.seq,
        endSeq: event.seq,
        segments: [],
        failedAttempts: [],
        branches: [],
        child: undefined,
        span: undefined,
      }
      rows.set(event.link, row)
    }
    if (t < row.stepStart) row.stepStart = t
    if (end > row.stepEnd) row.stepEnd = end
    row.lastSeq = event.seq
    if (call !== undefined) {
      const { name, position } = call.middleware
      row.segments.push({ name, position, start: t, end, seq: event.seq, failed: call.type === 'middleware.error' })
      row.middlewareNs += callNs
    }
    if (event.type === 'link.skip') {
      row.status = 'skipped'
      row.reason = event.reason
      row.endSeq = event.seq
    }
    if (event.type === 'link.attempt') {
      row.failedAttempts.push({ attempt: event.attempt, start: t - event.durationNs, end: t, seq: event.seq, error: event.error, ...(event.child !== undefined && { child: event.child }) })
    }
    if (event.type === 'branch.start') {
      row.branches.push({ name: event.branch, start: t, end: t, startSeq: event.seq, endSeq: event.seq, status: 'running', error: undefined })
    }
    if (event.type === 'branch.end' || event.type === 'branch.error') {
      const lane = row.branches.find((b) => b.name === event.branch && b.status === 'running')
      if (lane !== undefined) {
        lane.end = t
        lane.endSeq = event.seq
        lane.status = event.type === 'branch.end' ? 'ok' : 'error'
        if (event.type === 'branch.error') lane.error = event.error
        if (event.child !== undefined) lane.child = event.child
        if (event.span !== undefined) lane.span = event.span
      }
    }
    if (event.type === 'link.start') {
      row.linkStart = row.linkEnd = t
      row.startSeq = event.seq
    }
    if (event.type === 'link.end' || event.type === 'link.error') {
      row.linkEnd = t
      row.linkNs = event.durationNs
      row.endSeq = event.seq
      row.child = event.child
      row.span = event.span
      if (event.type === 'link.error') {
        row.status = 'error'
        row.error = event.error
      }
    }
  }
  return [...rows.values()]
}
