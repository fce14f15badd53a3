// Write capture (`capture: 'writes'`): a thin proxy over a link's immer draft that reports every
// single write (property set and delete, array mutators, Map and Set changes) as it happens, then
// forwards it to the draft untouched, so the link computes exactly what it would otherwise. (A
// primitive written to an object draft already changed is written into immer's copy as immer's
// own trap would: `assignPrimitive`, capture-values.ts.)
import { current, isDraft } from 'immer'
import { freezeDate, isFrozenDate } from '../core/frozen-date.js'
import { DRAFT, NOT_WRAPPED, assignPrimitive, classified, classifiedState, classify, isContainer, keyOf, pathTo, latestValue, REVOKED, type Key, type ReadableState } from './capture-values.js'

/** The kinds of write a `ctx.write` event records. */
export type WriteOp =
  | 'set' | 'delete'
  | 'push' | 'pop' | 'shift' | 'unshift' | 'splice' | 'sort' | 'reverse' | 'fill' | 'copyWithin'
  | 'map.set' | 'map.delete' | 'map.clear'
  | 'set.add' | 'set.delete' | 'set.clear'

/** Receives each write: what, where (path from the ctx root) and the value written. */
export type WriteListener = (op: WriteOp, path: readonly (string | number)[], value: unknown) => void

const ARRAY_MUTATORS: ReadonlySet<string> = new Set(['push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin'])

type Members = Record<PropertyKey, unknown>

/**
 * Wraps a draft so that every write through it is reported. Reads return wrapped children, so
 * `ctx.items[0].price = 3` is seen with its full path, also inside objects the link created
 * itself (immer does not draft those). Values are recorded as they were at that moment: drafts
 * by their current value, new objects by a copy.
 */
export function recordWrites<T extends object>(draft: T, listener: WriteListener): T {
  return new Capture(listener, draft).root.proxy as T
}

// What a wrapper answers when asked for this key: its traps, so that a wrapper being written is
// stored as its target (no second map from wrappers to targets to fill at every read).
const TRAPS = Symbol('shadowchain.writeCapture')

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
class Capture {
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

/**
 * The proxy traps of one wrapped object or array: reads wrap, writes are reported, then
 * forwarded. Methods of one object per wrapper, not closures: a dozen closures per wrapper cost
 * more than the proxy itself.
 */
class Traps implements ProxyHandler<object> {
  /** The wrapper (set right after it is made). */
  proxy: object = EMPTY
  /** The drafts read from this one, a list through `next`: read again, they are known at once. */
  kids: Traps | undefined
  next: Traps | undefined
  /** The immer state of an object or array draft, to read primitives from without its trap. */
  immer: ReadableState | undefined = undefined
  /**
   * Not drafted yet: `target` is the base object immer would draft when it is read from the
   * parent (`readAs`), and is until the first thing a read of it cannot answer (see `force`).
   */
  pending = false
  /** Some kid is pending: a write to this one drafts it first (see `beforeWrite`). */
  pendingKids = false
  readAs: string = ''
  /** The immer scope of the nearest draft above a pending wrapper (revoked: reads must throw). */
  scope: ReadableState['scope_'] | undefined = undefined
  #path: readonly Key[] | undefined

  constructor(
    readonly capture: Capture,
    /** What it forwards to (a pending wrapper's base object, until `force`). */
    public target: object,
    /** Where it was read: its path is made from theirs when a write first needs it. */
    readonly parent: Traps | undefined,
    readonly key: unknown,
    readonly isArray: boolean,
    /**
     * An immer proxy draft: its own set and delete traps never answer false, so it is written
     * to directly (`Reflect.set` costs ~60 ns more, measured). Anything else goes through
     * `Reflect`, whose `false` the link's own strictness decides on, as without capture.
     */
    readonly draft: boolean,
  ) {}

  /** Its path from the ctx root. */
  get path(): readonly Key[] {
    return (this.#path ??= this.parent === undefined ? [] : pathTo(this.parent.path, this.key))
  }

  get(_: object, prop: string | symbol): unknown {
    if (prop === TRAPS) return this
    if (this.pending) {
      // Nothing drafted it yet, so it holds what the draft would give. Symbols (immer's own
      // among them) and array mutators are asked of the draft.
      const scope = this.scope as ReadableState['scope_']
      if (scope.drafts_ !== null && (typeof prop === 'string' || prop === Symbol.iterator)) {
        const base = this.target as Members
        const raw = base[prop]
        if (typeof raw === 'object') {
          if (raw === null) return raw
          const kid = typeof prop === 'string' ? this.lazyKid(raw, prop, base, scope) : undefined
          if (kid !== undefined) return kid
        } else if (typeof raw !== 'function' || !this.isArray || !ARRAY_MUTATORS.has(prop as string)) return raw
      }
      this.force()
    }
    const immer = this.immer
    if (immer !== undefined) {
      const raw = latestValue(immer, prop)
      if (typeof raw === 'object') {
        if (raw === null) return raw
        const latest = immer.copy_ ?? immer.base_
        // Only base objects are drafted by immer (it drafts what its base still holds there).
        const kid = raw === immer.base_[prop] && typeof prop === 'string' ? this.lazyKid(raw, prop, latest, immer.scope_) : this.kidOf(raw, prop)
        if (kid !== undefined) return kid
      } else if (raw !== undefined && typeof raw !== 'function' && raw !== REVOKED) return raw
    }
    // Through immer's trap, which may make a draft: the pending ones first, in their order.
    if (this.capture.queued) this.capture.draftPending()
    const value: unknown = (this.target as Members)[prop]
    if (typeof value !== 'object' || value === null) {
      if (typeof value === 'function' && this.isArray && typeof prop === 'string' && ARRAY_MUTATORS.has(prop)) {
        return this.mutator(prop as WriteOp, value as (...a: unknown[]) => unknown)
      }
      return value
    }
    if (typeof prop === 'symbol') return value
    const again = this.kidOf(value, prop)
    if (again !== undefined) return again
    const kind = classify(value)
    if (kind === NOT_WRAPPED) return value
    const capture = this.capture
    const known = capture.wrapperOf(value)
    if (known !== undefined) return known.proxy
    const traps = capture.wrap(value, this, keyOf(prop, this.isArray), classified, kind === DRAFT, true)
    // Listed where it was first read (read from elsewhere too, it is found in the capture's map).
    if (traps.draft) {
      traps.next = this.kids
      this.kids = traps
    }
    return traps.proxy
  }

  /** The wrapper of a draft (or of a pending base object at `prop`) read from here before. */
  kidOf(raw: object, prop: string | symbol): object | undefined {
    // A draft read again from here (`c.address.zip`, then `c.address.city`): it stays a draft.
    for (let kid = this.kids; kid !== undefined; kid = kid.next) if (kid.target === raw && (!kid.pending || kid.readAs === prop)) return kid.proxy
    return undefined
  }

  /**
   * The wrapper of an object immer would draft if it were read here (`raw`, own at `prop` of
   * `holder`, its latest state): read again, the same one; else a pending wrapper of the base
   * object itself, which immer is asked to draft only when a read needs more than its values
   * (or something writes). A link reading nested values without writing them then never pays
   * for immer's draft of each object it passes through; what is recorded and computed is the
   * same (an object never drafted is the base object a draft of it would finalise to).
   * Undefined when `raw` is no such plain object or array: then the draft is read as before.
   */
  lazyKid(raw: object, prop: string, holder: object, scope: ReadableState['scope_']): object | undefined {
    const known = this.kidOf(raw, prop)
    if (known !== undefined) return known
    const proto = Object.getPrototypeOf(raw) as object | null
    const isArray = proto === Array.prototype
    if (!(proto === Object.prototype || proto === null || isArray) || !Object.prototype.hasOwnProperty.call(holder, prop)) return undefined
    // With immer's array-methods plugin, its trap answers some names of an array itself.
    if (isArray && (scope as unknown as Members)['arrayMethodsPlugin_']) return undefined
    if (isArray !== Array.isArray(raw)) return undefined
    const traps = this.capture.pendingWrap(raw, this, keyOf(prop, this.isArray), proto, isArray)
    traps.readAs = prop
    traps.scope = scope
    traps.next = this.kids
    this.kids = traps
    this.pendingKids = true
    return traps.proxy
  }

  /** Drafted now, and every wrapper read before it (see `Capture.draftPending`). */
  force(): void {
    this.capture.draftPending(this)
  }

  /**
   * Has immer draft the base object this wrapper stands for, by reading it from the parent's
   * draft as the link would have: it is still there, since a write to the parent drafts its
   * pending kids first (`beforeWrite`), and the parent, read before, is drafted already. Once
   * revoked, the parent's read throws as a draft's does.
   */
  draftNow(): void {
    const parent = this.parent as Traps
    const draft = (parent.target as Members)[this.readAs] as object
    // `classify` gives the draft's immer state; a plain object's or array's draft is readable.
    if (typeof draft !== 'object' || draft === null || classify(draft) !== DRAFT) throw new Error('shadowchain: write capture lost track of a draft (please report)')
    this.target = draft
    this.immer = classifiedState
    this.pending = false
    this.capture.drafted(this)
  }

  /**
   * Before a write here: this drafted, and its pending kids the write may move or replace. A
   * write of an object, or any other change (`prop` undefined), may queue an immer callback:
   * every pending wrapper is drafted first.
   */
  beforeWrite(prop: string | symbol | undefined, value?: unknown): void {
    if (prop === undefined || (typeof value === 'object' && value !== null) || typeof value === 'function') {
      this.capture.draftPending()
      return
    }
    if (this.pending) this.force()
    if (!this.pendingKids) return
    for (let kid = this.kids; kid !== undefined; kid = kid.next) if (kid.pending && (this.isArray || kid.readAs === prop)) kid.force()
  }

  /** An array method that changes the array: reported with its arguments, then called on the target. */
  mutator(op: WriteOp, method: (...a: unknown[]) => unknown): (...args: unknown[]) => unknown {
    const { capture, target, path } = this
    return (...args: unknown[]) => {
      this.beforeWrite(undefined)
      for (const arg of args) capture.escapeWith(arg)
      capture.listener(op, path, args.map((arg) => capture.snapshotOf(arg)))
      return method.apply(target, args.map((arg) => capture.unwrap(arg)))
    }
  }

  set(_: object, prop: string | symbol, value: unknown): boolean {
    const capture = this.capture
    if (this.pending || this.pendingKids || ((typeof value === 'object' || typeof value === 'function') && capture.queued)) this.beforeWrite(prop, value)
    // Primitives (most writes) need no unwrapping or snapshot.
    if (typeof value !== 'object' || value === null) {
      capture.listener('set', pathTo(this.path, keyOf(prop, this.isArray)), value)
      const immer = this.immer
      if (immer !== undefined && assignPrimitive(immer, prop, value)) return true
    } else {
      capture.escape()
      capture.listener('set', pathTo(this.path, keyOf(prop, this.isArray)), capture.snapshotOf(value))
      value = capture.unwrap(value)
    }
    const target = this.target
    if (!this.draft) return Reflect.set(target, prop, value, target)
    ;(target as Members)[prop] = value
    return true
  }

  deleteProperty(_: object, prop: string | symbol): boolean {
    if (this.capture.queued) this.beforeWrite(undefined)
    this.capture.listener('delete', pathTo(this.path, keyOf(prop, this.isArray)), undefined)
    return this.draft ? delete (this.target as Members)[prop] : Reflect.deleteProperty(this.target, prop)
  }

  defineProperty(_: object, prop: string | symbol, descriptor: PropertyDescriptor): boolean {
    if (this.capture.queued) this.beforeWrite(undefined)
    this.capture.escapeWith(descriptor.value)
    this.capture.listener('set', pathTo(this.path, keyOf(prop, this.isArray)), this.capture.snapshotOf(descriptor.value))
    return Reflect.defineProperty(this.target, prop, descriptor)
  }

  // What a base object cannot answer as its draft would (immer's descriptors are writable):
  // drafted first.
  has(_: object, prop: string | symbol): boolean {
    if (this.capture.queued) this.capture.draftPending()
    return prop in this.target
  }
  ownKeys(): (string | symbol)[] {
    if (this.capture.queued) this.capture.draftPending()
    return Reflect.ownKeys(this.target)
  }
  getOwnPropertyDescriptor(_: object, prop: string | symbol): PropertyDescriptor | undefined {
    if (this.capture.queued) this.capture.draftPending()
    return Reflect.getOwnPropertyDescriptor(this.target, prop)
  }
  getPrototypeOf(): object | null {
    if (this.capture.queued) this.capture.draftPending()
    return Reflect.getPrototypeOf(this.target)
  }
}

const EMPTY: object = Object.freeze({})

/** A Map's traps: its changing methods report, its reading methods wrap what they give. */
class MapTraps extends Traps {
  override get(_: object, prop: string | symbol): unknown {
    if (prop === TRAPS) return this
    if (this.capture.queued) this.capture.draftPending()
    const map = this.target as Map<unknown, unknown>
    const value: unknown = (map as unknown as Members)[prop]
    const { capture, proxy } = this
    const listener = capture.listener
    const traps = this
    switch (prop) {
      case 'set':
        return (key: unknown, item: unknown) => {
          capture.escapeWith(key)
          capture.escapeWith(item)
          listener('map.set', pathTo(this.path, key), capture.snapshotOf(item))
          map.set(key, capture.unwrap(item))
          return proxy
        }
      case 'delete':
        return (key: unknown) => {
          listener('map.delete', pathTo(this.path, key), undefined)
          return map.delete(key)
        }
      case 'clear':
        return () => {
          listener('map.clear', this.path, undefined)
          map.clear()
        }
      case 'get':
        return (key: unknown) => capture.child(map.get(key), traps, key)
      // Values reached by iterating are wrapped too, with their key in the path.
      case 'values':
        return function* () {
          for (const [key, item] of map) yield capture.child(item, traps, key)
        }
      case 'entries':
      case Symbol.iterator:
        return function* () {
          for (const [key, item] of map) yield [key, capture.child(item, traps, key)]
        }
      case 'forEach':
        return (callback: (item: unknown, key: unknown, self: unknown) => void, thisArg?: unknown) => {
          for (const [key, item] of map) callback.call(thisArg, capture.child(item, traps, key), key, proxy)
        }
    }
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(map) : value
  }
}

/** A Set's traps: its changing methods report (members are values, not places: the path is the Set's). */
class SetTraps extends Traps {
  override get(_: object, prop: string | symbol): unknown {
    if (prop === TRAPS) return this
    if (this.capture.queued) this.capture.draftPending()
    const set = this.target as Set<unknown>
    const value: unknown = (set as unknown as Members)[prop]
    const { capture, proxy } = this
    const listener = capture.listener
    switch (prop) {
      case 'add':
        return (item: unknown) => {
          capture.escapeWith(item)
          listener('set.add', this.path, capture.snapshotOf(item))
          set.add(capture.unwrap(item))
          return proxy
        }
      case 'delete':
        return (item: unknown) => {
          listener('set.delete', this.path, capture.snapshotOf(item))
          return set.delete(capture.unwrap(item))
        }
      case 'clear':
        return () => {
          listener('set.clear', this.path, undefined)
          set.clear()
        }
    }
    return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(set) : value
  }
}
