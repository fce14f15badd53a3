// Each link that ran, for a comparison of runs (lineage/compare.ts), read from an event log
// (event-log.ts) without building its events: the link, the ctx it left and its patches, walked
// entry by entry (log-scan.ts; no event object, no mwctx or metrics state built).
import type { Patch } from 'immer'
import type { LinkInfo } from '../core/types.js'
import { endsLink, type TimelineEvent } from './events.js'
import { H } from './log-header.js'
import { LogScan, Scan, type LogView } from './log-scan.js'

/** What {@link linkEnds} gives of a link that ran: its link, the ctx it left, its patches. */
export interface LinkEnd {
  readonly link: LinkInfo
  readonly ctx: unknown
  readonly patches: readonly Patch[]
}

/** Whole events {@link linkEnds} walks past: they make no link record and change no link's outcome. */
const PASSED: ReadonlySet<string> = new Set(['run.start', 'run.end', 'middleware.before', 'middleware.after', 'middleware.error'])

/**
 * Each link that ran, in order, as `Timeline.links()` pairs a `link.start` with its `link.end`
 * (the link, the ctx its `link.end` holds, its patches: equal by content to the events', not the
 * same arrays), read from a log's entries. `undefined` when the log holds an event this walk does
 * not follow (a skip, an error, an attempt, a branch, a write, a fork, a nested run): the caller
 * reads the events instead.
 */
export function linkEnds(view: LogView): LinkEnd[] | undefined {
  const out: LinkEnd[] = []
  const entry = new LogScan(view, Scan.Lean)
  let ctx: unknown
  let started: LinkInfo | undefined
  while (entry.next()) {
    let ended: LinkInfo
    let patches: readonly Patch[]
    if (entry.kind === H.Event) {
      const event = entry.event as TimelineEvent<unknown>
      ctx = event.ctx
      if (event.type === 'link.start') started = event.link
      else if (!PASSED.has(event.type) && (event.type !== 'link.end' || event.child !== undefined)) return undefined
      if (event.type !== 'link.end') continue
      ended = event.link
      patches = event.patches
    } else {
      if (entry.ctxChanged) ctx = entry.ctx
      if (entry.kind === H.Hook) continue
      if (entry.kind === H.Start) {
        started = entry.link
        continue
      }
      ended = entry.link as LinkInfo
      patches = entry.patches
    }
    // As `Timeline.links`: a link's end makes a record only after that link's own start.
    if (started !== ended) continue
    out.push({ link: ended, ctx, patches })
    started = undefined
  }
  return out
}

/** The links that ran (each `link.end` and `link.error`), counted from a log's entries without building its events or making any patch. */
export function countLinkEnds(view: LogView): number {
  let n = 0
  const entry = new LogScan(view, Scan.Kinds)
  while (entry.next()) {
    if (entry.kind === H.End || (entry.kind === H.Event && endsLink((entry.event as TimelineEvent<unknown>).type))) n++
  }
  return n
}
