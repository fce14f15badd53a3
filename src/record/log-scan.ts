// Reading an event log (event-log.ts) entry by entry without building its events: what each entry
// says, in the order it was written, for a reader that needs what changed and not the states
// themselves. A finished run's document text is written this way (files/log-text.ts): a change
// of mwctx or metrics kept as one key is that key, not a frozen state built and then diffed; and
// each link that ran is found this way for a comparison of runs (log-ends.ts). A link's end
// entry's patches are decoded here for the log's own reader too (`decodePatches`).
import type { Patch } from 'immer'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import type { TimelineEvent } from './events.js'
import { H, State } from './log-header.js'
import type { LogTimes } from './log-times.js'
import type { Forced } from './tracked-state.js'
import { NO_PATCHES } from '../run/hook-events.js'
import { diffBothWays } from '../core/diff-states.js'

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

/** The slots a state's change takes in an entry, by how it differs (log-header.ts `State`). */
const STATE_SLOTS: readonly number[] = [0, 1, 2, 2, 0, 0, 2, 0]

/** How much of each entry a {@link LogScan} reads. */
export const Scan = {
  /** Everything. */
  Full: 0,
  /** The ctx, the links and a link's end's patches: no mwctx or metrics change, no time, no inverse patches. */
  Lean: 1,
  /** The kinds and links of entries only: a link's end's patches are passed over, never made. */
  Kinds: 2,
  /**
   * Everything but a derived link end's inverse patches (left empty): they are the diff back,
   * which a document's reader makes itself (a run's document text omits them).
   */
  Forward: 3,
} as const
export type Scan = (typeof Scan)[keyof typeof Scan]

/**
 * A log's entries, read one at a time (`next`) into the scan's own fields: a reader takes what
 * it needs of each before the next; what a {@link Scan} level does not read is left as it was.
 */
export class LogScan {
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
  /** `H.End`: its patches are the diff of the link's two states, and its inverse patches the diff back. */
  derived = false

  #index = 0
  #slot = 0
  #time = 0
  #link: LinkInfo | undefined = undefined
  #startT = 0n

  private readonly lean: boolean
  private readonly kinds: boolean
  private readonly forward: boolean

  constructor(
    private readonly view: LogView,
    level: Scan = Scan.Full,
  ) {
    this.lean = level === Scan.Lean || level === Scan.Kinds
    this.kinds = level === Scan.Kinds
    this.forward = level === Scan.Forward
  }

  /** Reads the next entry; false when there is none. */
  next(): boolean {
    const view = this.view
    if (this.#index === view.count) return false
    const s = view.slots
    let slot = this.#slot
    const offset = slot
    const header = s[slot++] as number
    const kind = header & H.Kind
    this.kind = kind
    this.seq = view.seqBase + this.#index++
    if (kind === H.Event) {
      this.event = s[slot++] as TimelineEvent<unknown>
      this.#slot = slot
      return true
    }
    this.event = undefined
    const lean = this.lean
    // Read in the order the log wrote them: ctx, mwctx, metrics, link, the entry's own slots.
    this.ctxChanged = (header & H.Ctx) !== 0
    if (this.ctxChanged) this.ctx = s[slot++]
    const mw = (header >> H.MwShift) & State.Mask
    const metrics = (header >> H.MetricsShift) & State.Mask
    if (lean) slot += (STATE_SLOTS[mw] as number) + (STATE_SLOTS[metrics] as number)
    else {
      slot = readState(s, slot, mw, this.mw, view.forced, 2 * offset)
      slot = readState(s, slot, metrics, this.metrics, view.forced, 2 * offset + 1)
    }
    const named = header & H.LinkMask
    if (named === H.SomeLink) this.#link = s[slot++] as LinkInfo
    else if (named === H.NextLink) this.#link = view.links[(this.#link as LinkInfo).index + 1]
    this.link = named === H.NoLink ? undefined : this.#link
    const times = view.times
    if (kind === H.Hook) {
      const call = (header >> H.CallShift) & H.CallMask
      this.call = (call === 0 ? s[slot++] : view.calls[call - 1]) as MiddlewareCallInfo
      this.after = (header & H.After) !== 0
      if (!lean) {
        this.t = times.at(this.#time++)
        this.durationNs = times.at(this.#time++)
      }
    } else if (kind === H.Start) {
      if (!lean) this.t = this.#startT = times.at(this.#time++)
    } else if (this.kinds) {
      slot += patchSlots(header)
    } else {
      const at = { slot }
      const derived = (header & H.PatchMask) === H.Derived
      this.derived = derived
      const [patches, inversePatches] = decodePatches(s, at, header, !lean && !(derived && this.forward), this.ctx)
      slot = at.slot
      this.patches = patches
      this.inversePatches = inversePatches
      if (!lean) {
        this.t = times.at(this.#time++)
        this.durationNs = this.t - ((header & H.T0) !== 0 ? times.at(this.#time++) : this.#startT)
      }
    }
    this.#slot = slot
    return true
  }
}

/**
 * Reads one state's slots of an entry into `step`; returns the slot after them. A change's object
 * built before is looked up (at `at` in `forced`) only for a change.
 */
function readState(s: readonly unknown[], slot: number, how: number, step: StateStep, forced: Forced, at: number): number {
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
      step.built = forced.get(at)
      break
  }
  return slot
}

/** The number of patch slots a link's end entry whose header is `header` has (as {@link decodePatches} reads them). */
function patchSlots(header: number): number {
  const how = header & H.PatchMask
  switch (how) {
    case H.Empty:
    case H.None:
      return 0
    case H.Lists:
      return 2
    case H.Derived:
      return 1
  }
  const length = (header >> H.PathShift) & H.MaxInline
  // The path (its keys, or the array), then a replace's two values, an add's or a remove's one.
  return (length === 0 ? 1 : length) + (how === H.Replace ? 2 : 1)
}

/**
 * The patches and inverse patches of a link's end entry whose header is `header`, its patch slots
 * at `at.slot` (moved past them), `ctx` the state the entry holds (the link's result). Built anew
 * at every call; the inverse patches only when `inverse` (else empty).
 */
export function decodePatches(s: readonly unknown[], at: { slot: number }, header: number, inverse: boolean, ctx: unknown): [readonly Patch[], readonly Patch[]] {
  const how = header & H.PatchMask
  switch (how) {
    case H.Empty:
      return [[], []]
    case H.None:
      return [NO_PATCHES, NO_PATCHES]
    case H.Lists:
      return [s[at.slot++] as readonly Patch[], s[at.slot++] as readonly Patch[]]
    case H.Derived: {
      // Immer was not asked: the link's patches are the diff of the state it began from and its result.
      const [forward, back] = diffBothWays(s[at.slot++], ctx, inverse)
      return [forward, inverse ? back : NO_PATCHES]
    }
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
