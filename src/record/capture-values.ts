// What write capture asks of the values it reads and the keys it writes (write-capture.ts):
// whether a value is wrapped, and how a path is made.

/** A key of a recorded path. */
export type Key = string | number
type Members = Record<PropertyKey, unknown>

/** Plain data a link may write into: objects, arrays, Maps, Sets (not frozen states). */
export function isContainer(value: unknown): value is object {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value)) return false
  if (Array.isArray(value) || value instanceof Map || value instanceof Set) return true
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/** An array index as immer's patches give it (a number); any other key as a string. */
export function keyOf(prop: string | symbol, isArray: boolean): Key {
  if (typeof prop !== 'string') return String(prop)
  if (!isArray) return prop
  // What /^(0|[1-9]\d*)$/ accepts, without a RegExp (this runs on every write into an array).
  const n = prop.length
  const first = prop.charCodeAt(0)
  if (n === 0 || first < 48 || first > 57 || (first === 48 && n > 1)) return prop
  for (let i = 1; i < n; i++) {
    const c = prop.charCodeAt(i)
    if (c < 48 || c > 57) return prop
  }
  return Number(prop)
}

/** `path` and one more key (measured: concat ~120 ns, spread ~28 ns, this ~15 ns). */
export function pathTo(path: readonly Key[], key: unknown): Key[] {
  const n = path.length
  const out = new Array<Key>(n + 1)
  for (let i = 0; i < n; i++) out[i] = path[i] as Key
  out[n] = key as Key
  return out
}

// What a value read is: not wrapped (a primitive, a frozen state, a class instance, a Date), a
// draft, or a container the link made. On a draft every question is a trap of immer's (~20-30
// ns each, `instanceof` two of them), so a draft is asked one: its immer state, which gives its
// prototype too (what immer's own `getPrototypeOf` trap answers for an object or array draft).
/** What `classify` tells. */
export const [NOT_WRAPPED, DRAFT, CONTAINER] = [0, 1, 2] as const
/** The prototype of the value `classify` last wrapped (a second result, without an allocation). */
export let classified: object | null = null
/** What `isDraft` reads (immer's `DRAFT_STATE`, a registered symbol), and the fields of it used here. */
const DRAFT_STATE = Symbol.for('immer-state')
type DraftState = { readonly type_?: unknown; readonly base_?: unknown }

/**
 * The state immer keeps of an object or array draft, as far as {@link latestValue} reads it:
 * its base, its copy once changed, and its scope, whose draft list immer drops when it revokes
 * the drafts (immer 11; {@link readableState} checks the shape before it is relied on).
 */
export interface ReadableState {
  readonly type_: number
  readonly base_: Record<PropertyKey, unknown>
  readonly copy_: Record<PropertyKey, unknown> | null
  readonly scope_: { readonly drafts_: unknown }
  /** Changed (by this link): then `copy_` and `assigned_` exist (see {@link assignPrimitive}). */
  readonly modified_: boolean
  readonly assigned_: Map<PropertyKey, boolean> | undefined
}

/** The immer state of the draft `classify` last told, when primitives can be read from it. */
export let classifiedState: ReadableState | undefined

/**
 * The state of an object or array draft of plain data (`proto`: its prototype), when it has the
 * shape {@link latestValue} reads; else undefined (the draft is then always read through immer).
 */
function readableState(state: DraftState & Record<string, unknown>, proto: object | null): ReadableState | undefined {
  if (proto !== Object.prototype && proto !== null && proto !== Array.prototype) return undefined
  const scope = state['scope_']
  if (!('copy_' in state) || typeof state.base_ !== 'object' || state.base_ === null) return undefined
  if (typeof state['modified_'] !== 'boolean' || !('assigned_' in state) || !('parent_' in state)) return undefined
  if (typeof scope !== 'object' || scope === null || !('drafts_' in scope)) return undefined
  // With immer's array methods plugin on, its trap answers some names of an array's itself.
  if (state.type_ === 1 && (scope as Record<string, unknown>)['arrayMethodsPlugin_']) return undefined
  return state as unknown as ReadableState
}

/** What {@link latestValue} gives for a draft immer revoked. */
export const REVOKED: unknown = Symbol('revoked')

/**
 * The value at `prop` of the draft's latest copy, read without immer's `get` trap (~20 ns a
 * read), or {@link REVOKED} once immer revoked the draft (its trap then throws, as reading the
 * draft must). Immer's trap answers this very value when it is a primitive other than
 * `undefined` (never drafted), or a draft already made for that key (immer only drafts a value
 * its base still holds); anything else must be read through the trap.
 */
export function latestValue(state: ReadableState, prop: string | symbol): unknown {
  return state.scope_.drafts_ === null ? REVOKED : (state.copy_ ?? state.base_)[prop]
}

/** `isDraft(value) || isContainer(value)`, telling which, and setting `classified`. */
export function classify(value: object): number {
  const state = (value as Members)[DRAFT_STATE] as DraftState | undefined
  // `isDraft` is this truthiness test.
  if (state) {
    // An object or array draft (immer's type 0 or 1) answers its base's prototype; a Map or
    // Set draft is a class instance (no trap), asked directly.
    const base = (state.type_ === 0 || state.type_ === 1) && typeof state.base_ === 'object' ? state.base_ : null
    classified = Object.getPrototypeOf(base ?? value) as object | null
    classifiedState = base === null ? undefined : readableState(state as DraftState & Record<string, unknown>, classified)
    return DRAFT
  }
  if (!isContainer(value)) return NOT_WRAPPED
  classified = Object.getPrototypeOf(value) as object | null
  return CONTAINER
}

/** What {@link assignPrimitive} changes of immer's state: the flags along the parents. */
interface ChangedState {
  modified_: boolean
  readonly parent_?: ChangedState | null | undefined
}

/**
 * Writes a primitive to an object draft as immer 11.2.10's own `set` trap would (the same copy,
 * the same `assigned_` entry, the drafts marked changed up to the root: so the same patches),
 * without going through it: a write through the capture would otherwise pay two proxies, ours
 * and immer's, and immer's looks the key up along the prototype chain for a setter (~100 ns a
 * write together, measured). Returns false, having done nothing, when the write is not that
 * simple case: an array, a draft immer has not copied yet (its trap makes the copy), a value
 * immer may draft (an object, a function), a key a prototype may have a setter for
 * (`__proto__`, or any name `Object.prototype` has), a revoked draft (immer's trap must throw).
 */
export function assignPrimitive(state: ReadableState, prop: string | symbol, value: unknown): boolean {
  const copy = state.copy_
  if (copy === null || state.type_ !== 0 || typeof prop !== 'string' || typeof value === 'function') return false
  // A plain object or a null-prototype one (readableState): only Object.prototype's own names
  // can be setters along its chain.
  if (prop in Object.prototype || state.scope_.drafts_ === null) return false
  if (!state.modified_) {
    // The draft's first change: nothing when the key holds that value already (as Object.is
    // tells; `undefined` only where the base has the key). A key holding a draft never holds
    // a primitive's base, so immer's test for a draft put back where it was does not apply.
    if (Object.is(value, copy[prop]) && (value !== undefined || Object.prototype.hasOwnProperty.call(state.base_, prop))) return true
    for (let changed: ChangedState | null | undefined = state as unknown as ChangedState; changed && !changed.modified_; changed = changed.parent_) changed.modified_ = true
  }
  const now = copy[prop]
  // immer's no-op cases: the same value (an `undefined` only when the key exists), NaN over NaN.
  if ((now === value && (value !== undefined || Object.prototype.hasOwnProperty.call(copy, prop))) || (Number.isNaN(value) && Number.isNaN(now))) return true
  copy[prop] = value
  ;(state.assigned_ as Map<PropertyKey, boolean>).set(prop, true)
  return true
}
