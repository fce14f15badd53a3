// Reading an event log (event-log.ts) entry by entry without building its events: what each entry
// says, in the order it was written, for a reader that needs what changed and not the states
// themselves. A finished run's document text is written this way (files/log-text.ts): a change
// of mwctx or metrics kept as one key is that key, not a frozen state built and then diffed.
import type { Patch } from 'immer'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import type { TimelineEvent } from './events.js'
import { H, State } from './log-header.js'
import type { LogTimes } from './log-times.js'
import type { Forced } from './tracked-state.js'
import { decodePatches } from './log-ends.js'

/** What a scan reads a log's entries from (`EventLog.view()`). */
export interface LogView {
  readonly slots: readonly unknown[]
  readonly count: number
  readonly times: LogTimes
  /** The middleware calls the log names by number (a header's call field − 1). */
  readonly calls: readonly MiddlewareCallInfo[]
  /** The chain's links (an entry may name "the next link"). */
  readonly links: readonly LinkInfo[]
  /** Objects built for changes already written (a reader gives those very objects). */
  readonly forced: Forced
  /** The seq of the first entry. */
  readonly seqBase: number
  /** A reader has built events from the log (their states are objects the scan does not see). */
  readonly walked: boolean
}

/** How one of an entry's states (mwctx or metrics) differs from the entry before. */
export class StateStep {
  /** A `State` of log-header.ts. */
  how: number = State.Same
  /** `Object`: the new state. `Set`: the index of the key changed. `Append`, `EmptyAppend`: the key added. */
  a: unknown = undefined
  /** `Set`, `Append`, `EmptyAppend`: the value. */
  value: unknown = undefined
  /** `Set`, `Append`, `EmptyAppend`: the object built for this change before, if one was (it is the state's identity). */
  built: unknown = undefined
}

/**
 * One entry as a scan reads it. The same object is filled for every entry: a reader takes what
 * it needs before returning.
 */
export class LogEntry {
  /** `H.Event`, `H.Hook`, `H.Start` or `H.End`. */
  kind = 0
  seq = 0
  /** `H.Event`: the event, kept whole. */
  event: TimelineEvent<unknown> | undefined = undefined
  /** The ctx differs from the entry before (`ctx` is the new one). */
  ctxChanged = false
  ctx: unknown = undefined
  readonly mw = new StateStep()
  readonly metrics = new StateStep()
  /** The entry's link (none for a middleware call outside a link). */
  link: LinkInfo | undefined = undefined
  /** `H.Hook`: the call, and whether it is `middleware.after`. */
  call: MiddlewareCallInfo | undefined = undefined
  after = false
  t = 0n
  /** `H.Hook`: the call's duration. `H.End`: from the (last attempt's) start to `t`. */
  durationNs = 0n
  /** `H.End`: the link's patches and inverse patches (new arrays, built from the slots). */
  patches: readonly Patch[] = []
  inversePatches: readonly Patch[] = []
}

/**
 * Reads the log's entries in order into `entry`, calling `visit` after each; stops early (and
 * returns false) when `visit` returns false.
 */
export function scanLog(view: LogView, entry: LogEntry, visit: (entry: LogEntry) => boolean): boolean {
  const s = view.slots
  const times = view.times
  let slot = 0
  let time = 0
  let link: LinkInfo | undefined
  let startT = 0n
  for (let i = 0; i < view.count; i++) {
    const offset = slot
    const header = s[slot++] as number
    const kind = header & H.Kind
    entry.kind = kind
    entry.seq = view.seqBase + i
    if (kind === H.Event) {
      const event = s[slot++] as TimelineEvent<unknown>
      entry.event = event
      if (!visit(entry)) return false
      continue
    }
    entry.event = undefined
    // Read in the order the log wrote them: ctx, mwctx, metrics, link, the entry's own slots.
    entry.ctxChanged = (header & H.Ctx) !== 0
    if (entry.ctxChanged) entry.ctx = s[slot++]
    slot = readState(s, slot, (header >> H.MwShift) & State.Mask, entry.mw, view.forced.get(2 * offset))
    slot = readState(s, slot, (header >> H.MetricsShift) & State.Mask, entry.metrics, view.forced.get(2 * offset + 1))
    const named = header & H.LinkMask
    if (named === H.SomeLink) link = s[slot++] as LinkInfo
    else if (named === H.NextLink) link = view.links[(link as LinkInfo).index + 1]
    entry.link = named === H.NoLink ? undefined : link
    if (kind === H.Hook) {
      const call = (header >> H.CallShift) & H.CallMask
      entry.call = (call === 0 ? s[slot++] : view.calls[call - 1]) as MiddlewareCallInfo
      entry.after = (header & H.After) !== 0
      entry.t = times.at(time++)
      entry.durationNs = times.at(time++)
    } else if (kind === H.Start) {
      entry.t = startT = times.at(time++)
    } else {
      const at = { slot }
      const [patches, inversePatches] = decodePatches(s, at, header)
      slot = at.slot
      entry.patches = patches
      entry.inversePatches = inversePatches
      entry.t = times.at(time++)
      entry.durationNs = entry.t - ((header & H.T0) !== 0 ? times.at(time++) : startT)
    }
    if (!visit(entry)) return false
  }
  return true
}

/** Reads one state's slots of an entry into `step`; returns the slot after them. */
function readState(s: readonly unknown[], slot: number, how: number, step: StateStep, built: unknown): number {
  step.how = how
  switch (how) {
    case State.Object:
      step.a = s[slot++]
      break
    case State.Set:
    case State.Append:
    case State.EmptyAppend:
      step.a = s[slot++]
      step.value = s[slot++]
      step.built = built
      break
  }
  return slot
}
