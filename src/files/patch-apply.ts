// Applying a run document's patches (docs/run-format.md §4.2) to frozen states, for the reader.
// Not immer's applyPatches: a file's patches are hostile until proven otherwise. Here an array
// key must be an index inside the array (an add may append one), so a 60-byte patch cannot grow
// an array to four billion slots; a Set member to remove that is not there by identity (a member
// decoded from a version-1 file is a new object) is found by value, and the patches handed back
// name the very member removed, so `applyPatches(before, patches)` works on them as on live ones.
import { freeze, isDraftable } from 'immer'
import type { Patch } from 'immer'

/** Why a patch does not apply; the caller adds where in the document its list is. */
export class PatchError extends Error {
  override readonly name = 'PatchError'
  /** The patch's index in its list, once known. */
  index: number | undefined
}

/**
 * Applies `patches` to `state` copy-on-write: untouched subtrees stay shared, every new container
 * is frozen. Returns the new state and the patches as applied.
 *
 * @throws PatchError saying what is wrong, with the patch's index
 */
export function applyDocumentPatches(state: unknown, patches: readonly Patch[]): { state: unknown; patches: readonly Patch[] } {
  const fresh = new Set<object>()
  let applied: Patch[] | undefined
  let root = state
  for (let i = 0; i < patches.length; i++) {
    const patch = patches[i] as Patch
    let removed: unknown = NOT_RESOLVED
    try {
      if (patch.path.length === 0) {
        if (patch.op !== 'replace') throw new PatchError(`a '${patch.op}' patch needs a path (only 'replace' may change the whole state)`)
        root = patch.value
        continue
      }
      root = own(root, fresh, patch.path, 0)
      let node = root as object
      for (let k = 0; k < patch.path.length - 1; k++) {
        const key = patch.path[k] as string | number
        const child = own(readChild(node, key, patch.path, k), fresh, patch.path, k + 1)
        writeChild(node, key, child)
        node = child as object
      }
      removed = change(node, patch)
    } catch (error) {
      if (error instanceof PatchError) error.index = i
      throw error
    }
    if (removed !== NOT_RESOLVED) {
      applied ??= patches.slice()
      applied[i] = Object.freeze({ op: 'remove', path: patch.path, value: removed })
    }
  }
  for (const container of fresh) freeze(container)
  return { state: root, patches: applied ?? patches }
}

const NOT_RESOLVED: unique symbol = Symbol('not resolved')

function describePath(path: readonly unknown[], end: number): string {
  return end === 0 ? '(root)' : path.slice(0, end).map((key) => (typeof key === 'string' ? key : String(key))).join('.')
}

/** A container this call may change in place: `node` itself if it made it, else a copy. */
function own(node: unknown, fresh: Set<object>, path: readonly unknown[], end: number): unknown {
  if (typeof node !== 'object' || node === null) throw new PatchError(`no container at ${describePath(path, end)}`)
  if (fresh.has(node)) return node
  let copy: object
  if (Array.isArray(node)) copy = node.slice()
  else if (node instanceof Map) copy = new Map(node)
  else if (node instanceof Set) copy = new Set(node)
  else {
    const proto: unknown = Object.getPrototypeOf(node)
    if (proto !== Object.prototype && proto !== null) throw new PatchError(`cannot patch inside ${node instanceof Date ? 'a Date' : node instanceof Error ? 'an error' : 'a class instance'} at ${describePath(path, end)}`)
    copy = copyRecord(node, proto)
  }
  fresh.add(copy)
  return copy
}

/** From this many keys on, a record is copied key by key into a dictionary (see copyRecord). */
const WIDE = 200

/**
 * A shallow copy of a plain object, same prototype, same keys in the same order. Spread defines
 * own properties (never a `__proto__` setter); a null prototype is kept. A wide record (a flat
 * 1,000-key ctx) is copied into an object V8 keeps as a dictionary from the start: spread copies a
 * frozen wide object property by property through hidden-class transitions, ~4× slower.
 */
function copyRecord(node: object, proto: object | null): object {
  const keys = keysOf.get(node) ?? Object.keys(node)
  if (keys.length < WIDE) return proto === null ? Object.assign(Object.create(null) as object, node) : { ...node }
  // Made with a null prototype, V8 keeps it as a dictionary; filled, it gets its prototype back.
  const copy = Object.create(null) as Record<string, unknown>
  const source = node as Record<string, unknown>
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    copy[key] = source[key]
  }
  if (proto !== null) Object.setPrototypeOf(copy, proto)
  keysOf.set(copy, keys)
  return copy
}

/** The keys of wide records this module copied, until a patch adds or removes one. */
const keysOf = new WeakMap<object, readonly string[]>()

/** An array key as an index, when it is one (a number, or its canonical decimal text). */
function indexOf(key: unknown): number | undefined {
  if (typeof key === 'number') return Number.isInteger(key) && key >= 0 ? key : undefined
  return typeof key === 'string' && /^(0|[1-9]\d{0,15})$/.test(key) ? Number(key) : undefined
}

function checkIndex(array: readonly unknown[], key: unknown, max: number): number {
  const index = indexOf(key)
  if (index === undefined || index > max) {
    const text = typeof key === 'string' ? JSON.stringify(key.slice(0, 40)) : String(key)
    throw new PatchError(`array key ${text} is not an index from 0 to ${max} (the array has ${array.length} elements)`)
  }
  return index
}

function readChild(node: object, key: string | number, path: readonly unknown[], k: number): unknown {
  if (Array.isArray(node)) return node[checkIndex(node, key, node.length - 1)]
  if (node instanceof Map) return node.get(key)
  if (node instanceof Set) throw new PatchError(`patches do not reach inside Set members (${describePath(path, k + 1)})`)
  if (!Object.hasOwn(node, key)) throw new PatchError(`no container at ${describePath(path, k + 1)}`)
  return (node as Record<string, unknown>)[key]
}

function writeChild(node: object, key: string | number, child: unknown): void {
  if (node instanceof Map) node.set(key, child)
  else if (Array.isArray(node)) node[Number(key)] = child
  else define(node, String(key), child)
}

function define(node: object, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true })
}

/** Applies the last step of a patch; returns the member a Set removal removed, or NOT_RESOLVED. */
function change(node: object, patch: Patch): unknown {
  const key = patch.path[patch.path.length - 1] as string | number
  const { op, value } = patch
  if (Array.isArray(node)) {
    const index = checkIndex(node, key, op === 'add' ? node.length : node.length - 1)
    if (op === 'add') node.splice(index, 0, value)
    else if (op === 'remove') node.splice(index, 1)
    else node[index] = value
    return NOT_RESOLVED
  }
  if (node instanceof Set) {
    if (op === 'add') node.add(value)
    else if (op === 'replace') throw new PatchError('a Set member cannot be replaced')
    else return removeMember(node, value)
    return NOT_RESOLVED
  }
  if (node instanceof Map) {
    if (op !== 'remove') node.set(key, value)
    else if (!node.delete(key)) throw new PatchError(`removes a Map key that is not there`)
    return NOT_RESOLVED
  }
  const name = String(key)
  if (op === 'remove' || !Object.hasOwn(node, name)) keysOf.delete(node)
  if (op !== 'remove') define(node, name, value)
  else if (!Object.hasOwn(node, name)) throw new PatchError(`removes a key that is not there (${JSON.stringify(name.slice(0, 40))})`)
  else delete (node as Record<string, unknown>)[name]
  return NOT_RESOLVED
}

// Version-1 files name a removed Set member by its value: an object member decoded from the file
// is a new object, so it is found by value (the first equal member, in iteration order).
function removeMember(set: Set<unknown>, value: unknown): unknown {
  if (set.delete(value)) return NOT_RESOLVED
  if (typeof value === 'object' && value !== null) {
    for (const member of set) {
      if (sameValue(member, value)) {
        set.delete(member)
        return member
      }
    }
  }
  throw new PatchError('removes a Set member that is not there')
}

/**
 * Deep equality of decoded states: arrays in order; objects, Maps and Sets as collections (keys and
 * members matched, whatever their order: immer's patches do not record a change of order alone),
 * Dates by time, NaN equal to NaN, holes distinct from `undefined`. Shared subtrees
 * compare in O(1), so comparing consecutive states costs what changed between them.
 */
export function sameValue(a: unknown, b: unknown): boolean {
  // Pairs still to compare, flat: a loop, not recursion, so deep states need no deep stack.
  const pending: unknown[] = [a, b]
  while (pending.length > 0) {
    const right = pending.pop()
    const left = pending.pop()
    if (!samePair(left, right, pending)) return false
  }
  return true
}

/** Compares one pair as far as its own level goes; pushes the pairs of children left to compare. */
function samePair(a: unknown, b: unknown, pending: unknown[]): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) {
      if (i in a !== i in b) return false
      if (!Object.is(a[i], b[i])) pending.push(a[i], b[i])
    }
    return true
  }
  if (Array.isArray(b)) return false
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
  if (a instanceof Map || b instanceof Map) {
    if (!(a instanceof Map && b instanceof Map) || a.size !== b.size) return false
    for (const [key, value] of a) {
      if (!b.has(key)) return false
      pending.push(value, b.get(key))
    }
    return true
  }
  if (a instanceof Set || b instanceof Set) {
    if (!(a instanceof Set && b instanceof Set) || a.size !== b.size) return false
    const unmatched = [...b].filter((member) => !a.has(member))
    for (const member of a) {
      if (b.has(member)) continue
      const at = unmatched.findIndex((other) => sameValue(member, other))
      if (at === -1) return false
      unmatched.splice(at, 1)
    }
    return true
  }
  if (a instanceof Error || b instanceof Error) {
    if (!(a instanceof Error && b instanceof Error) || a.name !== b.name || a.message !== b.message) return false
  }
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(b, key)) return false
    pending.push((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])
  }
  return true
}

/**
 * Freezes a decoded value deeply, as immer's `freeze(value, true)` does (Maps and Sets made
 * unchangeable too), but with a loop instead of recursion: a deep value cannot overflow the
 * stack. Already-frozen subtrees (shared with earlier states) are not walked again.
 */
export function freezeDeep<T>(value: T): T {
  if (typeof value !== 'object' || value === null) return value
  const stack: unknown[] = [value]
  while (stack.length > 0) {
    const node = stack.pop()
    if (typeof node !== 'object' || node === null || Object.isFrozen(node) || !isDraftable(node)) continue
    freeze(node)
    if (node instanceof Map) {
      for (const [key, item] of node) stack.push(key, item)
    } else if (node instanceof Set) {
      for (const member of node) stack.push(member)
    } else {
      for (const key of Object.keys(node)) stack.push((node as Record<string, unknown>)[key])
    }
  }
  return value
}
