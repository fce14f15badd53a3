// Reading an event log (event-log.ts) without building its events: a link's end entry's patches,
// and, for a comparison of runs (lineage/compare.ts), each link that ran with the ctx it left and
// its patches, walked from the slots alone (no event object, no mwctx or metrics state built).
import type { Patch } from 'immer'
import type { LinkInfo } from '../core/types.js'
import { NO_PATCHES } from '../run/hook-events.js'
import type { TimelineEvent } from './events.js'
import { H, State } from './log-header.js'

/** What {@link linkEnds} gives of a link that ran: its link, the ctx it left, its patches. */
export interface LinkEnd {
  readonly link: LinkInfo
  readonly ctx: unknown
  readonly patches: readonly Patch[]
}

/** The slots a state's change takes in an entry, by how it differs (log-header.ts `State`). */
const STATE_SLOTS: readonly number[] = [0, 1, 2, 2, 0, 0, 2, 0]

/** Whole events {@link linkEnds} walks past: they make no link record and change no link's outcome. */
const PASSED: ReadonlySet<string> = new Set(['run.start', 'run.end', 'middleware.before', 'middleware.after', 'middleware.error'])

/**
 * The patches and inverse patches of a link's end entry whose header is `header`, its patch slots
 * at `at.slot` (moved past them). Built anew at every call; the inverse patches only when
 * `inverse` (else empty).
 */
export function decodePatches(s: readonly unknown[], at: { slot: number }, header: number, inverse = true): [readonly Patch[], readonly Patch[]] {
  const how = header & H.PatchMask
  switch (how) {
    case H.Empty:
      return [[], []]
    case H.None:
      return [NO_PATCHES, NO_PATCHES]
    case H.Lists:
      return [s[at.slot++] as readonly Patch[], s[at.slot++] as readonly Patch[]]
  }
  const length = (header >> H.PathShift) & H.MaxInline
  let path: Patch['path']
  if (length === 0) path = s[at.slot++] as Patch['path']
  else {
    path = s.slice(at.slot, at.slot + length) as Patch['path']
    at.slot += length
  }
  if (how === H.Replace) {
    const forward: Patch[] = [{ op: 'replace', path, value: s[at.slot++] }]
    const back = s[at.slot++]
    return [forward, inverse ? [{ op: 'replace', path, value: back }] : NO_PATCHES]
  }
  if (how === H.Add) return [[{ op: 'add', path, value: s[at.slot++] }], inverse ? [{ op: 'remove', path }] : NO_PATCHES]
  const back = s[at.slot++]
  return [[{ op: 'remove', path }], inverse ? [{ op: 'add', path, value: back }] : NO_PATCHES]
}

/**
 * Each link that ran, in order, as `Timeline.links()` pairs a `link.start` with its `link.end`
 * (the link, the ctx its `link.end` holds, its patches: equal by content to the events', not the
 * same arrays), read from the `count` entries of a log's slots. `undefined` when the log holds an
 * event this walk does not follow (a skip, an error, an attempt, a branch, a write, a fork, a
 * nested run): the caller reads the events instead.
 *
 * @param links - the log's chain links (an entry may name "the next link")
 */
export function linkEnds<C>(s: readonly unknown[], count: number, links: readonly LinkInfo[]): LinkEnd[] | undefined {
  const out: LinkEnd[] = []
  let slot = 0
  let ctx: unknown
  let link: LinkInfo | undefined
  let started: LinkInfo | undefined
  for (let i = 0; i < count; i++) {
    const header = s[slot++] as number
    const kind = header & H.Kind
    let ended: LinkInfo
    let patches: readonly Patch[]
    if (kind === H.Event) {
      const event = s[slot++] as TimelineEvent<C>
      ctx = event.ctx
      if (event.type === 'link.start') started = event.link
      else if (!PASSED.has(event.type) && (event.type !== 'link.end' || event.child !== undefined)) return undefined
      if (event.type !== 'link.end') continue
      ended = event.link
      patches = event.patches
    } else {
      // Skipped in the order the log wrote them: ctx, mwctx, metrics, link, the entry's own.
      if ((header & H.Ctx) !== 0) ctx = s[slot++]
      slot += (STATE_SLOTS[(header >> H.MwShift) & State.Mask] as number) + (STATE_SLOTS[(header >> H.MetricsShift) & State.Mask] as number)
      const named = header & H.LinkMask
      if (named === H.SomeLink) link = s[slot++] as LinkInfo
      else if (named === H.NextLink) link = links[(link as LinkInfo).index + 1]
      if (kind === H.Hook) {
        if (((header >> H.CallShift) & H.CallMask) === 0) slot++
        continue
      }
      if (kind === H.Start) {
        started = link
        continue
      }
      const at = { slot }
      patches = decodePatches(s, at, header, false)[0]
      slot = at.slot
      ended = link as LinkInfo
    }
    // As `Timeline.links`: a link's end makes a record only after that link's own start.
    if (started !== ended) continue
    out.push({ link: ended, ctx, patches })
    started = undefined
  }
  return out
}
