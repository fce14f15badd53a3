// A run's events as the recorder keeps them (issue #15): a compact log, built into the public
// event objects only when they are first read (then kept, so each read gives the same objects).
//
// The events a recorded run makes by the thousand, the middleware calls that returned and each
// link's start and end, are a few slots of one array each: a header (the kind, and how ctx,
// mwctx, metrics and the link differ from the entry before), the values that differ, the
// event's own fields; their times go to a list of their own (log-times.ts). A change of mwctx
// or metrics is kept as the one key it changed (flat-state.ts) and built into its frozen state
// when read. Every other event (run.start, fork, errors, skips, attempts, branches, writes,
// run.end) is built whole and kept as one slot: that is how the log takes the events others
// build (`append`, `push`). A step of the runner bench (10-key ctx, 2 middleware) is ~11
// slots and 6 times instead of 4 event objects, 7 bigints, 2 patch lists and 2 frozen copies.
//
// Reading (`at`, `toArray`, iterating) replays the log from the start, carrying the states
// along, and caches what it built; `at(-1)` (what `Run` reads) builds only the last event.
import type { Patch } from 'immer'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import { countLinkEvents, type TimelineEvent } from './events.js'
import { LogTimes, type Times } from './log-times.js'
import { Forced, TrackedState, decodeState, type StateCursor } from './tracked-state.js'
import { NO_PATCHES } from '../run/hook-events.js'
import { H } from './log-header.js'
import { countLinkEnds, linkEnds, type LinkEnd } from './log-ends.js'
import { decodePatches, type LogView } from './log-scan.js'

export { Times } from './log-times.js'

/** Where the replay of a log stands: the next slot and time, and the states so far. */
interface Cursor extends StateCursor {
  slot: number
  time: number
  ctx: unknown
  link: LinkInfo | undefined
  /** The `t` of the last link.start (a link.end's duration runs from it). */
  startT: bigint
}

/** Distinct middleware calls a log names by number (beyond: one slot each). */
const CALLS = 63

/**
 * A run's events, kept compact as the recorder appends them and built into event objects when
 * first read (see the file comment). `Run` holds it where it expects an events array: `length`,
 * `at`, `push`, `slice` and iteration behave as an array's do.
 */
export class EventLog<C = unknown> {
  private slots: unknown[]
  private used = 0
  private count = 0
  private readonly times: LogTimes
  /** The states and link of the last entry: an entry names only what differs. */
  private ctx: unknown = undefined
  readonly mw = new TrackedState(false)
  readonly metrics = new TrackedState(true)
  private link: LinkInfo | undefined = undefined
  private startT = 0n
  private readonly calls: MiddlewareCallInfo[] = []
  /** Where the last entry begins (slot and time), to build it alone. */
  private lastSlot = 0
  private lastTime = 0
  /** Built events (in order), and where the replay stands. */
  private built: TimelineEvent<C>[] | undefined = undefined
  private cursor: Cursor | undefined = undefined
  /**
   * Last events built alone (`at(-1)` before the rest was read) and their indexes: what later
   * reads give. Made when first needed: most runs never build one (see `last`).
   */
  private tails: TimelineEvent<C>[] | undefined = undefined
  private tailIndexes: number[] | undefined = undefined

  /**
   * @param seqBase - the seq of the first event (a fork's own events come after its prefix)
   * @param links - the chain's links, in order (an entry for the link after the last one names none)
   * @param size - slots to make room for at once (what the chain's run is expected to need)
   */
  constructor(
    private readonly seqBase: number,
    times: Times,
    private readonly links: readonly LinkInfo[],
    size = 8,
  ) {
    this.slots = new Array<unknown>(size)
    // A middleware call is ~3 slots and 2 times, a link's start and end ~7 slots and 2 times.
    this.times = new LogTimes(times, Math.ceil(size * 0.6))
  }

  /** Number of events. */
  get length(): number {
    return this.count
  }

  // ---- recording ---------------------------------------------------------------------------

  /** Appends an event built whole (its seq, states and fields set: see {@link stateObjects}). */
  append(event: TimelineEvent<C>): void {
    this.begin()
    this.put(H.Event)
    this.put(event)
    this.ctx = event.ctx
    this.mw.settle(event.mwctx)
    this.metrics.settle(event.metrics)
  }

  /** `Array#push` for what `Run` appends (its run.end). */
  push(event: TimelineEvent<C>): number {
    this.append(event)
    return this.count
  }

  /** A middleware call that returned: `middleware.before` or `middleware.after`. */
  hook(after: boolean, call: MiddlewareCallInfo, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, ctx: unknown): void {
    let header = this.states(H.Hook | (after ? H.After : 0), ctx, link)
    let index = this.calls.indexOf(call)
    if (index === -1 && this.calls.length < CALLS) index = this.calls.push(call) - 1
    if (index === -1) this.put(call)
    else header |= (index + 1) << H.CallShift
    this.times.add(t0)
    this.times.add(durationNs)
    this.slots[this.lastSlot] = header
  }

  /** A link's `link.start`. */
  start(link: LinkInfo, t0: bigint, ctx: unknown): void {
    const header = this.states(H.Start, ctx, link)
    this.slots[this.lastSlot] = header
    this.times.add(t0)
    this.startT = t0
  }

  /**
   * A link's `link.end` with no optional field (no io drawn, no child, nothing lost). Patches
   * `undefined` (immer made none): they are the diff of `base` and `ctx`, made when read.
   */
  end(link: LinkInfo, t0: bigint, t1: bigint, patches: readonly Patch[] | undefined, inversePatches: readonly Patch[], ctx: unknown, base: unknown): void {
    let header = this.states(H.End, ctx, link)
    if (patches !== undefined) header |= this.patches(patches, inversePatches)
    else if (ctx === base) header |= H.Empty
    else {
      header |= H.Derived
      this.put(base)
    }
    this.times.add(t1)
    if (t0 !== this.startT) {
      // A retried link: its last attempt began after its link.start.
      header |= H.T0
      this.times.add(t0)
    }
    this.slots[this.lastSlot] = header
  }

  /**
   * The mwctx the last entry recorded (what its event's `mwctx` is, the same object): what the
   * run's `run.end` carries, taken without building that event.
   */
  lastMwctx(): unknown {
    return this.mw.entryObject(this.cursor, this.forced)
  }

  /** The frozen mwctx and metrics states now (built, if they were kept as changes). */
  stateObjects(): { readonly mwctx: unknown; readonly metrics: unknown } {
    return { mwctx: this.stateObject(this.mw), metrics: this.stateObject(this.metrics) }
  }

  /** The frozen object of one of the two states now (`mw` or `metrics`), the other left as it is kept. */
  stateObject(state: TrackedState): unknown {
    return state.object(this.cursor, this.forced)
  }

  /** The run ended: the log gives back the room it did not use, and packs its times. */
  seal(): void {
    // Room for what `Run` appends (its run.end) without growing the array by half again.
    const room = this.used + 2
    if (this.slots.length > room + (room >> 3)) this.slots = this.slots.slice(0, room)
    this.times.seal()
  }

  /** Objects built for changes kept in the log, by where the change is (see TrackedState). */
  private readonly forced = new Forced()

  private begin(): void {
    this.count++
    this.lastSlot = this.used
    this.lastTime = this.times.length
  }

  /** Starts an entry: its header slot, then the states and link that changed. */
  private states(kind: number, ctx: unknown, link: LinkInfo | undefined): number {
    this.begin()
    this.put(0)
    let header = kind
    if (ctx !== this.ctx) {
      header |= H.Ctx
      this.put((this.ctx = ctx))
    }
    header |= this.mw.write(this, this.lastSlot, H.MwShift)
    header |= this.metrics.write(this, this.lastSlot, H.MetricsShift)
    if (link === undefined) header |= H.NoLink
    else if (link !== this.link) {
      const previous = this.link
      this.link = link
      if (previous !== undefined && this.links[previous.index + 1] === link) header |= H.NextLink
      else {
        header |= H.SomeLink
        this.put(link)
      }
    }
    return header
  }

  /** How a link.end's patches are kept (header bits), their slots written. */
  private patches(patches: readonly Patch[], inversePatches: readonly Patch[]): number {
    const n = patches.length
    if (n === 1 && inversePatches.length === 1) {
      // immer makes the two patches of one object key with one path array, in these shapes.
      const p = patches[0] as Patch
      const q = inversePatches[0] as Patch
      if (p.path === q.path) {
        let how = 0
        if (p.op === 'replace' && q.op === 'replace') how = H.Replace
        else if (p.op === 'add' && q.op === 'remove' && !('value' in q)) how = H.Add
        else if (p.op === 'remove' && q.op === 'add' && !('value' in p)) how = H.Remove
        if (how !== 0) {
          const path = p.path
          const length = path.length
          // A short path is kept as its keys; a longer one as the array itself.
          let inline = 0
          if (length > 0 && length <= H.MaxInline) {
            for (let i = 0; i < length; i++) this.put(path[i])
            inline = length << H.PathShift
          } else this.put(path)
          if (how !== H.Remove) this.put(p.value)
          if (how !== H.Add) this.put(q.value)
          return how | inline
        }
      }
    } else if (n === 0 && inversePatches.length === 0) {
      return patches === NO_PATCHES && inversePatches === NO_PATCHES ? H.None : H.Empty
    }
    this.put(patches)
    this.put(inversePatches)
    return H.Lists
  }

  /** @internal Appends a slot (TrackedState writes its changes with it). */
  put(value: unknown): void {
    const at = this.used++
    if (at < this.slots.length) this.slots[at] = value
    else this.slots.push(value)
  }

  // ---- reading -----------------------------------------------------------------------------

  /** The event at this index (negative counts from the end), like `Array#at`. */
  at(index: number): TimelineEvent<C> | undefined {
    let i = Math.trunc(index) || 0
    if (i < 0) i += this.count
    if (i < 0 || i >= this.count) return undefined
    const built = this.built
    if (built !== undefined && i < built.length) return built[i]
    if (i === this.count - 1) return this.last()
    return (this.toArray() as TimelineEvent<C>[])[i]
  }

  /** Every event, in order: built once (from where the last read stopped), then the same array. */
  toArray(): readonly TimelineEvent<C>[] {
    const built = (this.built ??= [])
    if (built.length === this.count) return built
    const cursor = (this.cursor ??= { slot: 0, time: 0, ctx: undefined, mw: undefined, metrics: undefined, link: undefined, startT: 0n })
    for (let i = built.length; i < this.count; i++) {
      const event = this.decode(cursor, i, false)
      const alone = this.tailIndexes === undefined ? -1 : this.tailIndexes.indexOf(i)
      built.push(alone === -1 ? event : ((this.tails as TimelineEvent<C>[])[alone] as TimelineEvent<C>))
    }
    return built
  }

  slice(start?: number, end?: number): TimelineEvent<C>[] {
    return this.toArray().slice(start, end)
  }

  [Symbol.iterator](): Iterator<TimelineEvent<C>> {
    return this.toArray()[Symbol.iterator]()
  }

  /**
   * @internal Each link that ran, read from the log without building events (see log-ends.ts);
   * `undefined` once the events are built (the caller reads them: that costs no more).
   */
  linkEnds(): LinkEnd[] | undefined {
    return this.allBuilt() ? undefined : linkEnds(this.view())
  }

  /** @internal The links that ran (`link.end` and `link.error` events), counted without building events. */
  linkCount(): number {
    return this.allBuilt() ? countLinkEvents(this.built as TimelineEvent<C>[]) : countLinkEnds(this.view())
  }

  /** Every event is built (a reader walked the whole log): reading them costs no more than a scan. */
  private allBuilt(): boolean {
    return this.built !== undefined && this.built.length === this.count
  }

  /** @internal What a scan of the entries reads (log-scan.ts): the log's own slots and times, not copies. */
  view(): LogView {
    return { slots: this.slots, count: this.count, times: this.times, calls: this.calls, links: this.links, forced: this.forced, seqBase: this.seqBase, walked: this.cursor !== undefined }
  }

  /** The last event, built alone from the states the log ends with. */
  private last(): TimelineEvent<C> {
    const index = this.count - 1
    // An event kept whole (the run.end `Run` reads back) is its slot: nothing to build or keep.
    if (this.slots[this.lastSlot] === H.Event) return this.slots[this.lastSlot + 1] as TimelineEvent<C>
    const tails = (this.tails ??= [])
    const tailIndexes = (this.tailIndexes ??= [])
    const at = tailIndexes.indexOf(index)
    if (at !== -1) return tails[at] as TimelineEvent<C>
    const mwctx = this.mw.entryObject(this.cursor, this.forced)
    const metrics = this.metrics.entryObject(this.cursor, this.forced)
    const cursor: Cursor = { slot: this.lastSlot, time: this.lastTime, ctx: this.ctx, mw: mwctx, metrics, link: this.link, startT: this.startT }
    const tail = this.decode(cursor, index, true)
    tails.push(tail)
    tailIndexes.push(index)
    return tail
  }

  /**
   * Builds the event of the entry at the cursor and moves the cursor past it.
   * @param known - the cursor already holds the states after this entry (the last one)
   */
  private decode(at: Cursor, index: number, known: boolean): TimelineEvent<C> {
    const s = this.slots
    const offset = at.slot
    const header = s[at.slot++] as number
    const kind = header & H.Kind
    if (kind === H.Event) {
      const event = s[at.slot++] as TimelineEvent<C>
      at.ctx = event.ctx
      at.mw = event.mwctx
      at.metrics = event.metrics
      return event
    }
    // Read in the order `states` wrote them.
    if ((header & H.Ctx) !== 0) at.ctx = s[at.slot++]
    decodeState(s, at, header, H.MwShift, false, offset, this.forced, known)
    decodeState(s, at, header, H.MetricsShift, true, offset, this.forced, known)
    switch (header & H.LinkMask) {
      case H.SomeLink:
        at.link = s[at.slot++] as LinkInfo
        break
      case H.NextLink:
        at.link = this.links[(at.link as LinkInfo).index + 1]
        break
    }
    const seq = this.seqBase + index
    const { ctx, mw: mwctx, metrics } = at
    const times = this.times
    let event: object
    if (kind === H.Hook) {
      const type = (header & H.After) !== 0 ? 'middleware.after' : 'middleware.before'
      const call = (header >> H.CallShift) & H.CallMask
      const middleware = call === 0 ? s[at.slot++] : this.calls[call - 1]
      const t = times.at(at.time++)
      const durationNs = times.at(at.time++)
      // The field order of the events the recorder used to build (a `link` only when there is one).
      event =
        (header & H.LinkMask) === H.NoLink
          ? { type, t, middleware, durationNs, seq, ctx, mwctx, metrics }
          : { type, t, middleware, link: at.link, durationNs, seq, ctx, mwctx, metrics }
    } else if (kind === H.Start) {
      const t = times.at(at.time++)
      at.startT = t
      event = { type: 'link.start', t, link: at.link, seq, ctx, mwctx, metrics }
    } else {
      const [patches, inversePatches] = decodePatches(this.slots, at, header, true, ctx)
      const t = times.at(at.time++)
      const t0 = (header & H.T0) !== 0 ? times.at(at.time++) : at.startT
      event = { type: 'link.end', t, link: at.link, patches, inversePatches, durationNs: t - t0, seq, ctx, mwctx, metrics }
    }
    return event as TimelineEvent<C>
  }

}
