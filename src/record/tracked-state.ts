// One recorded working state (mwctx or metrics) as an event log keeps it (issue #15): the frozen
// object of the state when it is built, or the change that makes it from the state before,
// built when the log is read (flat-state.ts says what a change can be).
//
// The recorder says what the state became (`set`: a snapshot it took, the empty state, none;
// `change`: the working object after a call) and asks for the object when it builds an event
// whole (`object`). The log writes each change into the next entry (`write`) and rebuilds it
// when read (`decodeState`). An object built for a change already written to the log is
// remembered by where the change is (`forced`), so that the log's reader gives that very
// object: the states of consecutive events stay the same object when nothing changed.
import { Diff, FlatShadow, buildFlat, withAppended, withSet } from './flat-state.js'
import { State } from './log-header.js'
import { emptyState } from './snapshot.js'

/** What `object` has while the state is only a change. */
const NOT_BUILT: unknown = Symbol('not built')

/** Where a reader of the log stands: the states it carries. */
export interface StateCursor {
  slot: number
  mw: unknown
  metrics: unknown
}

/** Objects built for changes written to a log, by where each change is (made on first use). */
export class Forced {
  private map: Map<number, unknown> | undefined = undefined
  set(at: number, object: unknown): void {
    ;(this.map ??= new Map()).set(at, object)
  }
  get(at: number): unknown {
    return this.map === undefined ? undefined : this.map.get(at)
  }
}

/** How the log appends a slot to the entry it is writing. */
interface Slots {
  put(value: unknown): void
}

/** One recorded working state (mwctx or metrics) of an event log: see the file comment. */
export class TrackedState {
  private readonly shadow = new FlatShadow()
  /** The frozen object of the state now, or NOT_BUILT while a change holds it. */
  private current: unknown = undefined
  /** What the next entry records of the state. */
  private pending: number = State.Same
  private pendingValue: unknown = undefined
  /** Where the change that made the state now is in the log (its entry), while not built; -1: none. */
  private writtenAt = -1
  // The state the last entry recorded (what `Run` reads of the last event): its object, or
  // NOT_BUILT and what builds it.
  private entryState: unknown = undefined
  private entryKeys: readonly string[] = []
  private entryValues: readonly unknown[] = []
  private entryWrittenAt = -1

  /** @param isMetrics - which of a cursor's states this is */
  constructor(private readonly isMetrics: boolean) {}

  /** The state is not `undefined` (metrics outside a link are). */
  get defined(): boolean {
    return this.current !== undefined
  }

  /** The state is now this object: a snapshot the recorder took, the empty state, none. */
  set(object: unknown): void {
    if (object === this.current) return
    this.current = object
    this.shadow.reset(object)
    this.writtenAt = -1
    this.pending = object === emptyState() ? State.Empty : object === undefined ? State.Undefined : State.Object
    this.pendingValue = object
  }

  /**
   * The working object after a call that touched it. False when the change is not one the log
   * can keep as a change (the recorder then takes a snapshot and `set`s it). May throw (a getter
   * that throws): the recorder's careful path handles it.
   */
  change(work: object): boolean {
    const diff = this.shadow.diff(work)
    if (diff === Diff.Same) return true
    if (diff === Diff.Full) return false
    this.writtenAt = -1
    if (this.pending === State.Same || (this.pending === State.Empty && diff === Diff.Append)) {
      this.pending = this.pending === State.Empty ? State.EmptyAppend : diff === Diff.Set ? State.Set : State.Append
      this.current = NOT_BUILT
    } else {
      // A second change before an entry records the first: the state is built now.
      const built = buildFlat(this.shadow.keys, this.shadow.values)
      this.current = built
      this.pending = State.Object
      this.pendingValue = built
    }
    return true
  }

  /** An event built whole records the state as `object` (what `object()` gave). */
  settle(object: unknown): void {
    if (object !== this.current) {
      this.current = object
      this.shadow.reset(object)
      this.writtenAt = -1
    }
    this.pending = State.Same
    this.entryState = object
    this.entryWrittenAt = -1
  }

  /**
   * The frozen object of the state now, built if it is a change: from the shadow, or, when a
   * reader of the log already built it, that object.
   */
  object(cursor: StateCursor | undefined, forced: Forced): unknown {
    if (this.current !== NOT_BUILT) return this.current
    const shadow = this.shadow
    let built: unknown
    if (this.pending !== State.Same) {
      // Not written yet: the next entry records the object instead of the change.
      built = buildFlat(shadow.keys, shadow.values)
      this.pending = State.Object
      this.pendingValue = built
    } else {
      built = this.built(this.writtenAt, shadow.keys, shadow.values, cursor, forced)
      if (this.entryWrittenAt === this.writtenAt) this.entryState = built
      this.writtenAt = -1
    }
    this.current = built
    return built
  }

  /** The frozen object of the state the last entry recorded (built like `object`). */
  entryObject(cursor: StateCursor | undefined, forced: Forced): unknown {
    if (this.entryState !== NOT_BUILT) return this.entryState
    const at = this.entryWrittenAt
    const built = this.built(at, this.entryKeys, this.entryValues, cursor, forced)
    this.entryState = built
    if (this.writtenAt === at && this.current === NOT_BUILT && this.pending === State.Same) {
      this.current = built
      this.writtenAt = -1
    }
    return built
  }

  /** The object of the change written at `at`: what a reader built, or built now and remembered. */
  private built(at: number, keys: readonly string[], values: readonly unknown[], cursor: StateCursor | undefined, forced: Forced): unknown {
    if (cursor !== undefined && cursor.slot > at) return this.isMetrics ? cursor.metrics : cursor.mw
    const built = buildFlat(keys, values)
    forced.set(2 * at + (this.isMetrics ? 1 : 0), built)
    return built
  }

  /** Writes what the entry at `entry` records of the state; returns its header bits. */
  write(log: Slots, entry: number, shift: number): number {
    const how = this.pending
    const shadow = this.shadow
    if (how !== State.Same) {
      this.pending = State.Same
      switch (how) {
        case State.Object:
          log.put(this.pendingValue)
          this.pendingValue = undefined
          break
        case State.Set:
          log.put(shadow.index)
          log.put(shadow.value)
          this.writtenAt = entry
          break
        case State.Append:
        case State.EmptyAppend:
          log.put(shadow.key)
          log.put(shadow.value)
          this.writtenAt = entry
          break
      }
    }
    this.entryState = this.current
    this.entryKeys = shadow.keys
    this.entryValues = shadow.values
    this.entryWrittenAt = this.writtenAt
    return how << shift
  }
}

/**
 * Reads a state's slots of an entry (at `entry`) into the cursor.
 * @param known - the cursor already holds the state after this entry: only skip its slots
 */
export function decodeState(s: readonly unknown[], at: StateCursor, header: number, shift: number, isMetrics: boolean, entry: number, forced: Forced, known: boolean): void {
  const how = (header >> shift) & State.Mask
  if (how === State.Same) return
  let state: unknown
  switch (how) {
    case State.Object:
      state = s[at.slot++]
      break
    case State.Empty:
      state = emptyState()
      break
    case State.Undefined:
      state = undefined
      break
    default: {
      const a = s[at.slot++]
      const value = s[at.slot++]
      if (known) return
      const before = how === State.EmptyAppend ? emptyState() : isMetrics ? at.metrics : at.mw
      state = forced.get(2 * entry + (isMetrics ? 1 : 0))
      state ??= how === State.Set ? withSet(before as object, a as number, value) : withAppended(before as object, a as string, value)
    }
  }
  if (isMetrics) at.metrics = state
  else at.mw = state
}
