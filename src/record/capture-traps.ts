// The proxy traps of write capture (write-capture.ts): one handler object per wrapped object,
// array, Map or Set of a link's ctx. Reads wrap what they give, writes are reported to the
// capture's listener and then forwarded to immer's draft. A trap reaches its capture through
// `CaptureHost`, which the capture implements.
import { DRAFT, NOT_WRAPPED, assignPrimitive, classified, classifiedState, classify, keyOf, pathTo, latestValue, REVOKED, type Key, type ReadableState } from './capture-values.js'

/** The kinds of write a `ctx.write` event records (the run document's schema checks them too). */
export const WRITE_OPS = [
  'set', 'delete',
  'push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin',
  'map.set', 'map.delete', 'map.clear',
  'set.add', 'set.delete', 'set.clear',
] as const

/** A kind of write a `ctx.write` event records. */
export type WriteOp = (typeof WRITE_OPS)[number]

/** Receives each write: what, where (path from the ctx root) and the value written. */
export type WriteListener = (op: WriteOp, path: readonly (string | number)[], value: unknown) => void

const ARRAY_MUTATORS: ReadonlySet<string> = new Set(['push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin'])

/** An object's members, read and written by key. */
export type Members = Record<PropertyKey, unknown>

// What a wrapper answers when asked for this key: its traps, so that a wrapper being written is
// stored as its target (no second map from wrappers to targets to fill at every read).
export const TRAPS = Symbol('shadowchain.writeCapture')

/** What the traps ask of the capture they belong to (`Capture`, write-capture.ts). */
export interface CaptureHost {
  readonly listener: WriteListener
  /** True while some wrapper read is not drafted yet. */
  readonly queued: boolean
  /** Drafts the pending wrappers read before `last` and `last` itself, in the order read. */
  draftPending(last?: Traps): void
  /** The traps of the wrapper of `target`, if it has one. */
  wrapperOf(target: object): Traps | undefined
  /** A value read from `parent` at `key`: wrapped when it is a draft or a container. */
  child(value: unknown, parent: Traps, key: unknown): unknown
  /** A new wrapper of `target`, read from `parent` at `key`. */
  wrap(target: object, parent: Traps, key: unknown, proto: object | null, draft: boolean, listed?: boolean): Traps
  /** A pending wrapper of a base object, not drafted yet. */
  pendingWrap(base: object, parent: Traps, key: unknown, proto: object | null, isArray: boolean): Traps
  /** A wrapper of a base object just drafted. */
  drafted(traps: Traps): void
  /** An object was written: every wrapper goes in the map from now on. */
  escape(): void
  /** `escape` when `value` is an object. */
  escapeWith(value: unknown): void
  /** A value being written, without this capture's wrappers. */
  unwrap(value: unknown): unknown
  /** The value as it is now, never a live draft. */
  snapshotOf(value: unknown): unknown
}

/**
 * The proxy traps of one wrapped object or array: reads wrap, writes are reported, then
 * forwarded. Methods of one object per wrapper, not closures: a dozen closures per wrapper cost
 * more than the proxy itself.
 */
export class Traps implements ProxyHandler<object> {
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
    readonly capture: CaptureHost,
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
export class MapTraps extends Traps {
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
export class SetTraps extends Traps {
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
