// Write capture (`capture: 'writes'`): a thin proxy over a link's immer draft that reports every
// single write (property set and delete, array mutators, Map and Set changes) as it happens, then
// forwards it to the draft untouched, so the link computes exactly what it would otherwise. (A
// primitive written to an object draft already changed is written into immer's copy as immer's
// own trap would: `assignPrimitive`, capture-values.ts.) The wrappers' traps are in
// capture-traps.ts; this module holds a link's capture, which makes and keeps them.
import { current, isDraft } from 'immer'
import { freezeDate, isFrozenDate } from '../core/frozen-date.js'
import { DRAFT, NOT_WRAPPED, classified, classifiedState, classify, isContainer } from './capture-values.js'
import { MapTraps, SetTraps, Traps, TRAPS, type CaptureHost, type Members, type WriteListener } from './capture-traps.js'

export type { WriteListener, WriteOp } from './capture-traps.js'

/**
 * Wraps a draft so that every write through it is reported. Reads return wrapped children, so
 * `ctx.items[0].price = 3` is seen with its full path, also inside objects the link created
 * itself (immer does not draft those). Values are recorded as they were at that moment: drafts
 * by their current value, new objects by a copy.
 */
export function recordWrites<T extends object>(draft: T, listener: WriteListener): T {
  return new Capture(listener, draft).root.proxy as T
}

/**
 * One link's capture: its listener, and one wrapper per object read (reading an object twice
 * gives the same wrapper); the root's apart, so that a link reading no nested object makes no map.
 *
 * A draft read from a wrapper is found again in that wrapper's `kids`: while no object has been
 * written through the capture, a draft has one place in the tree, so it is read from nowhere
 * else and needs no entry in the map (a WeakMap entry is ~50-100 ns, most of a wrap). The first
 * object written (which may put a draft in a second place) puts the drafts wrapped so far in
 * the map, and every later one as it is wrapped.
 */
class Capture implements CaptureHost {
  readonly root: Traps
  #wrappers: WeakMap<object, Traps> | undefined
  /** Wrappers of drafts found through `kids` alone, until `escaped`. */
  #listed: Traps[] | undefined
  #escaped = false // an object was written

  constructor(readonly listener: WriteListener, draft: object) {
    // `classify` asks a draft one trap (`isDraft` and `getPrototypeOf` would be two).
    const isDraftRoot = classify(draft) === DRAFT
    this.root = this.#make(draft, undefined, undefined, isDraftRoot ? classified : (Object.getPrototypeOf(draft) as object | null), isDraftRoot)
  }

  /** The traps of the wrapper of `target`, if it has one. */
  wrapperOf(target: object): Traps | undefined {
    return target === this.root.target ? this.root : this.#wrappers?.get(target)
  }

  /** A value read from `parent` at `key`: wrapped when it is a draft or a container. */
  child(value: unknown, parent: Traps, key: unknown): unknown {
    if (typeof value !== 'object' || value === null) return value
    const kind = classify(value)
    if (kind === NOT_WRAPPED) return value
    return (this.wrapperOf(value) ?? this.wrap(value, parent, key, classified, kind === DRAFT)).proxy
  }

  /** A new wrapper of `target`, read from `parent` at `key`; `listed`: in `parent.kids` if a draft. */
  wrap(target: object, parent: Traps, key: unknown, proto: object | null, draft: boolean, listed = false): Traps {
    const traps = this.#make(target, parent, key, proto, draft)
    if (listed && traps.draft && !this.#escaped) (this.#listed ??= []).push(traps)
    else (this.#wrappers ??= new WeakMap()).set(target, traps)
    return traps
  }

  /** A wrapper of a base object just drafted (`Traps.force`): kept as `wrap` keeps a draft read from a wrapper. */
  drafted(traps: Traps): void {
    if (!this.#escaped) (this.#listed ??= []).push(traps)
    else (this.#wrappers ??= new WeakMap()).set(traps.target, traps)
  }

  /** An object written may put a draft in a second place: from now on every wrapper is in the map. */
  escape(): void {
    if (this.#escaped) return
    this.#escaped = true
    const wrappers = (this.#wrappers ??= new WeakMap())
    for (const traps of this.#listed ?? []) wrappers.set(traps.target, traps)
    this.#listed = undefined
  }

  /** A pending wrapper of a base object (see `Traps.lazyKid`): in its parent's kids, in no map. */
  pendingWrap(base: object, parent: Traps, key: unknown, proto: object | null, isArray: boolean): Traps {
    const traps = new Traps(this, base, parent, key, isArray, true)
    traps.pending = true
    traps.proxy = new Proxy(isArray ? [] : proto === Object.prototype ? {} : Object.create(proto), traps)
    this.#queue.push(traps)
    return traps
  }

  /**
   * Pending wrappers in the order they were read: immer must make their drafts in that order,
   * as reading the drafts would have, since it writes a change's patches in the reverse order
   * of its drafts' making (one list of finalisation callbacks for a whole draft tree).
   */
  #queue: Traps[] = []
  #drafted = 0

  /** True while some wrapper read is not drafted yet. */
  get queued(): boolean {
    return this.#drafted < this.#queue.length
  }

  /**
   * Drafts the pending wrappers read before `last` and `last` itself, in the order they were
   * read (all of them without `last`): before anything that may have immer make a draft or
   * queue a finalisation callback, so that its drafts come in the order they would have.
   */
  draftPending(last?: Traps): void {
    const queue = this.#queue
    while (this.#drafted < queue.length) {
      const traps = queue[this.#drafted] as Traps
      // Counted once drafted: a revoked draft throws here, and again at the next attempt.
      if (traps.pending) traps.draftNow()
      this.#drafted++
      if (traps === last) return
    }
  }

  /** `escape` when `value` is an object (a primitive written puts no draft anywhere). */
  escapeWith(value: unknown): void {
    if (typeof value === 'object' && value !== null) this.escape()
  }

  #make(target: object, parent: Traps | undefined, key: unknown, proto: object | null, draft: boolean): Traps {
    // The proxy stands on an empty stand-in and forwards everything to the target. On the
    // target itself (an immer draft, a proxy too) every trap result would be checked against
    // immer's own traps for the proxy invariants: ~0.5 µs a write, measured. A plain object's
    // or an array's prototype rules out Map and Set (no `instanceof`: through immer's trap).
    const isArray = Array.isArray(target)
    const plain = proto === Object.prototype || proto === null || proto === Array.prototype
    const traps =
      !plain && target instanceof Map
        ? new MapTraps(this, target, parent, key, false, false)
        : !plain && target instanceof Set
          ? new SetTraps(this, target, parent, key, false, false)
          : new Traps(this, target, parent, key, isArray, draft)
    // What `classify` found of this draft, just before (every wrapper is made right after it).
    if (traps.draft) traps.immer = classifiedState
    const standIn: object = isArray ? [] : proto === Object.prototype ? {} : Object.create(proto)
    traps.proxy = new Proxy(standIn, traps)
    return traps
  }

  // Wrappers must never reach immer's tree: a value being written loses them, at any depth.
  unwrap(value: unknown, depth = 0): unknown {
    if (typeof value !== 'object' || value === null) return value
    // Only this capture's own wrappers (another link's, or a nested chain's, are values).
    const traps = (value as Members)[TRAPS] as Traps | undefined
    if (traps !== undefined && traps.capture === this && traps.proxy === value) {
      if (traps.pending) traps.force()
      return traps.target
    }
    if (depth < 100 && !isDraft(value) && isContainer(value)) {
      if (value instanceof Map) {
        for (const [key, item] of value) {
          const raw = this.unwrap(item, depth + 1)
          if (raw !== item) value.set(key, raw)
        }
      } else if (!(value instanceof Set)) {
        const record = value as Record<string, unknown>
        for (const key of Object.keys(record)) {
          const raw = this.unwrap(record[key], depth + 1)
          if (raw !== record[key]) record[key] = raw
        }
      }
    }
    return value
  }

  // The value as it is now, never a live draft or an object the link may change later.
  snapshotOf(value: unknown, depth = 0): unknown {
    const raw = this.unwrap(value)
    if (isDraft(raw)) return current(raw)
    // A Date the link may still change before it ends: recorded as it is now.
    if (raw instanceof Date) return isFrozenDate(raw) ? raw : freezeDate(new Date(raw.getTime()))
    if (depth >= 100 || !isContainer(raw)) return raw
    if (Array.isArray(raw)) return raw.map((item) => this.snapshotOf(item, depth + 1))
    if (raw instanceof Map) return new Map([...raw].map(([key, item]) => [key, this.snapshotOf(item, depth + 1)]))
    if (raw instanceof Set) return new Set([...raw].map((item) => this.snapshotOf(item, depth + 1)))
    const out: Record<string, unknown> = {}
    for (const key of Object.keys(raw)) out[key] = this.snapshotOf((raw as Record<string, unknown>)[key], depth + 1)
    return out
  }
}
