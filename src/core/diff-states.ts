// A structural diff between two states, as immer patches. Recorded states share every untouched
// subtree, so `a === b` cuts the walk short almost everywhere: the cost follows what changed,
// not the size of the state.
import { isDraftable, type Patch } from 'immer'
import { sameMembers } from './set-patches.js'

type Path = (string | number)[]

/** Patches that turn `from` into `to` (apply with immer's `applyPatches`). */
export function diffStates(from: unknown, to: unknown): Patch[] {
  if (!isPlainObject(from) || !isPlainObject(to)) return drain(new Walk(from, to, []))
  // Two plain objects (a ctx, a middleware's mwctx or metrics): their own items first; the walk
  // only when one of them is a pair of containers to compare.
  const items: (Walk | Patch)[] = []
  objectItemsOf(from, to, [], items)
  let walks = false
  for (let i = 0; i < items.length && !walks; i++) walks = items[i] instanceof Walk
  if (!walks) return items as Patch[]
  const out: Patch[] = []
  const pending: (Along | Walk | Patch)[] = []
  for (let i = items.length - 1; i >= 0; i--) pending.push(items[i] as Walk | Patch)
  drainInto(out, pending)
  return out
}

/**
 * A link's patches when immer was not asked for them: the diff from `from` to `to`, and (unless
 * `back` is false) the patches back, found along the diff's own paths. Those are what a run
 * document's reader derives when a link.end omits its inverse patches, so a document never needs
 * to write them.
 */
export function diffBothWays(from: unknown, to: unknown, back = true): [Patch[], Patch[]] {
  const forward = diffStates(from, to)
  return [forward, back ? diffStatesAlong(to, from, forward) : []]
}

function drain(first: Along | Walk): Patch[] {
  const out: Patch[] = []
  drainInto(out, [first])
  return out
}

function drainInto(out: Patch[], pending: (Along | Walk | Patch)[]): void {
  // A loop over pending work, not recursion: a change 20,000 levels down is diffed on a fixed
  // stack. Work is popped last-first, so each container's items are pushed in reverse.
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item instanceof Walk) expand(item, out, pending)
    else if (item instanceof Along) expandAlong(item, out, pending)
    else out.push(item)
  }
}

/**
 * The patches {@link diffStates} gives for `from` and `to`, the same ones in the same order, found
 * by walking only the paths `patches` name: the patches that turned one of the states into the
 * other (either way round). Its cost follows those paths, not the width of the containers on them:
 * one key changed in a 1,000-key ctx is one comparison, not 1,000.
 *
 * Exact when whatever lies off those paths is unchanged: the same object in both states, as
 * `applyDocumentPatches` leaves it, or, for states immer made, a copy equal to it where
 * {@link mayChangeUnpatched} says so of the state the patches started from. Where a patch replaces,
 * adds or removes a value, where an array's items shift (a member added or removed), and inside a
 * Set, a class instance or anything else not a plain object, an array or a Map, the walk is
 * `diffStates`'s own.
 */
export function diffStatesAlong(from: unknown, to: unknown, patches: readonly Patch[]): Patch[] {
  // One patch (most links): its path is followed as it is, no tree of paths built.
  const first = patches.length === 1 ? alongOnePath(from, to, patches[0] as Patch) : new Along(from, to, [], pathTree(patches))
  return Array.isArray(first) ? first : drain(first)
}

/**
 * Whether `state` holds something immer may give a new identity, or a new order, without a patch
 * naming it (a Set whose member was deleted and added back moves it to the end; an `immerable`
 * class instance changed and changed back is a new object): where it does not, the patches immer
 * makes from `state` name every place {@link diffStates} finds a change, and
 * {@link diffStatesAlong} is exact. Walks plain objects, arrays and Map values, as `diffStates` does.
 */
export function mayChangeUnpatched(state: unknown): boolean {
  if (typeof state !== 'object' || state === null) return false
  const stack: unknown[] = [state]
  // No cycles in recorded states; past this many containers, "may" (a whole diff is always right).
  let budget = 1_000_000
  while (stack.length > 0) {
    const node = stack.pop()
    if (typeof node !== 'object' || node === null) continue
    if (--budget < 0) return true
    if (Array.isArray(node)) for (let i = 0; i < node.length; i++) stack.push(node[i])
    else if (isPlainObject(node)) for (const key of Object.keys(node)) stack.push(node[key])
    else if (node instanceof Map) for (const value of node.values()) stack.push(value)
    else if (node instanceof Set || isDraftable(node)) return true
  }
  return false
}

/** The places a list of patches names, as a tree of keys from the root. */
class PathNode {
  /** A patch ends here: it replaced, added or removed this value. */
  end = false
  /** A patch added or removed one of this container's members (an array's items shift). */
  resized = false
  children: Map<unknown, PathNode> | undefined = undefined

  child(key: unknown): PathNode {
    const children = (this.children ??= new Map())
    let node = children.get(key)
    if (node === undefined) {
      node = new PathNode()
      children.set(key, node)
    }
    return node
  }
}

function pathTree(patches: readonly Patch[]): PathNode {
  const root = new PathNode()
  for (const patch of patches) {
    let node = root
    let parent: PathNode | undefined
    for (const key of patch.path) {
      parent = node
      node = node.child(key)
    }
    node.end = true
    if (parent !== undefined && patch.op !== 'replace') parent.resized = true
  }
  return root
}

/** Two values to compare along the paths under `node`. */
class Along {
  constructor(
    readonly from: unknown,
    readonly to: unknown,
    readonly path: Path,
    readonly node: PathNode,
  ) {}
}

/**
 * {@link expand}, restricted to the keys `node` names: the same items, in the same order, for
 * those keys (every other key holds the same value on both sides). What it cannot restrict goes
 * to `expand` whole.
 */
function expandAlong(item: Along, out: Patch[], pending: (Along | Walk | Patch)[]): void {
  const { from, to, path, node } = item
  if (Object.is(from, to)) return
  const children = node.children
  // No patch at all (the root of an empty list): whatever differs is a copy of the same value.
  if (!node.end && children === undefined) return
  let items: (Along | Walk | Patch)[] | undefined
  if (!node.end && children !== undefined) {
    if (isPlainObject(from) && isPlainObject(to)) items = objectItems(from, to, path, children)
    else if (from instanceof Map && to instanceof Map) items = mapItems(from, to, path, children)
    else if (Array.isArray(from) && Array.isArray(to) && !node.resized && from.length === to.length) items = arrayItems(from, to, path, children)
  }
  if (items === undefined) expand(new Walk(from, to, path), out, pending)
  else for (let i = items.length - 1; i >= 0; i--) pending.push(items[i] as Along | Walk | Patch)
}

/**
 * {@link expandAlong} down the one path of `patch`: the patches, once they are known, or the pair
 * left to diff whole (where the path ends, or where expandAlong would hand over to expand).
 */
function alongOnePath(from: unknown, to: unknown, patch: Patch): Patch[] | Walk {
  const keys = patch.path
  const path: Path = []
  let a = from
  let b = to
  for (let k = 0; k < keys.length; k++) {
    if (Object.is(a, b)) return []
    const key = keys[k] as string | number
    if (isPlainObject(a) && isPlainObject(b)) {
      if (typeof key !== 'string' || key === '__proto__') break
      const inTo = enumerable.call(b, key)
      if (enumerable.call(a, key) && !Object.hasOwn(b, key)) return [{ op: 'remove', path: [...path, key] }]
      if (inTo && !Object.hasOwn(a, key)) return [{ op: 'add', path: [...path, key], value: b[key] }]
      if (!inTo || Object.is(a[key], b[key])) return []
      a = a[key]
      b = b[key]
    } else if (a instanceof Map && b instanceof Map) {
      if (Object.is(key, -0)) break
      if (a.has(key) && !b.has(key)) return [{ op: 'remove', path: [...path, key] }]
      if (!b.has(key)) return []
      if (!a.has(key)) return [{ op: 'add', path: [...path, key], value: b.get(key) }]
      if (Object.is(a.get(key), b.get(key))) return []
      a = a.get(key)
      b = b.get(key)
    } else if (Array.isArray(a) && Array.isArray(b)) {
      // One patch that adds or removes an item here changes the length (the items shift): whole.
      if (a.length !== b.length || typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= b.length || Object.is(key, -0)) break
      if (Object.is(a[key], b[key])) return []
      a = a[key]
      b = b[key]
    } else {
      break
    }
    path.push(key)
  }
  return new Walk(a, b, path)
}

/** The next pair to compare under a key: along the tree, or whole where a patch ends. */
function pairAt(from: unknown, to: unknown, path: Path, node: PathNode): Along | Walk {
  return node.end ? new Walk(from, to, path) : new Along(from, to, path, node)
}

const enumerable = Object.prototype.propertyIsEnumerable

/** Plain objects: `expand`'s removes (in `from`'s key order), then adds and pairs (in `to`'s). */
function objectItems(from: Record<string, unknown>, to: Record<string, unknown>, path: Path, children: Map<unknown, PathNode>): (Along | Walk | Patch)[] | undefined {
  for (const key of children.keys()) if (typeof key !== 'string' || key === '__proto__') return undefined
  const items: (Along | Walk | Patch)[] = []
  if (children.size === 1) {
    // One key: no order to find, and no walk over the others' keys.
    const [key, node] = children.entries().next().value as [string, PathNode]
    const inTo = enumerable.call(to, key)
    if (enumerable.call(from, key) && !Object.hasOwn(to, key)) items.push({ op: 'remove', path: [...path, key] })
    else if (inTo && !Object.hasOwn(from, key)) items.push({ op: 'add', path: [...path, key], value: to[key] })
    else if (inTo && !Object.is(from[key], to[key])) items.push(pairAt(from[key], to[key], [...path, key], node))
    return items
  }
  for (const key of Object.keys(from)) {
    if (children.has(key) && !Object.hasOwn(to, key)) items.push({ op: 'remove', path: [...path, key] })
  }
  for (const key of Object.keys(to)) {
    const node = children.get(key)
    if (node === undefined) continue
    if (!Object.hasOwn(from, key)) items.push({ op: 'add', path: [...path, key], value: to[key] })
    else if (!Object.is(from[key], to[key])) items.push(pairAt(from[key], to[key], [...path, key], node))
  }
  return items
}

/** Maps: as for plain objects, in the Maps' own orders. */
function mapItems(from: Map<unknown, unknown>, to: Map<unknown, unknown>, path: Path, children: Map<unknown, PathNode>): (Along | Walk | Patch)[] | undefined {
  // A Map holds -0 as 0: a path naming -0 is left to `expand`, which names the key the Map has.
  for (const key of children.keys()) if (Object.is(key, -0)) return undefined
  const items: (Along | Walk | Patch)[] = []
  for (const key of from.keys()) {
    if (children.has(key) && !to.has(key)) items.push({ op: 'remove', path: [...path, key as string] })
  }
  for (const [key, value] of to) {
    const node = children.get(key)
    if (node === undefined) continue
    if (!from.has(key)) items.push({ op: 'add', path: [...path, key as string], value })
    else if (!Object.is(from.get(key), value)) items.push(pairAt(from.get(key), value, [...path, key as string], node))
  }
  return items
}

/** Arrays of one length whose items did not shift: the pairs at the indexes named, in order. */
function arrayItems(from: readonly unknown[], to: readonly unknown[], path: Path, children: Map<unknown, PathNode>): (Along | Walk | Patch)[] | undefined {
  const indexes: number[] = []
  for (const key of children.keys()) {
    if (typeof key !== 'number' || !Number.isInteger(key) || key < 0 || key >= to.length || Object.is(key, -0)) return undefined
    indexes.push(key)
  }
  indexes.sort((a, b) => a - b)
  const items: (Along | Walk | Patch)[] = []
  for (const i of indexes) if (!Object.is(from[i], to[i])) items.push(pairAt(from[i], to[i], [...path, i], children.get(i) as PathNode))
  return items
}

/** Two values to compare, at a path. */
class Walk {
  constructor(
    readonly from: unknown,
    readonly to: unknown,
    readonly path: Path,
  ) {}
}

/**
 * The items of two plain objects that differ: removes (in `from`'s key order), then adds,
 * replaces and pairs of containers to walk (in `to`'s). A pair that is not two objects is its
 * replace at once, as the walk of it would give.
 */
function objectItemsOf(from: Record<string, unknown>, to: Record<string, unknown>, path: Path, items: (Walk | Patch)[]): void {
  const fromKeys = Object.keys(from)
  const toKeys = Object.keys(to)
  const same = sameKeys(fromKeys, toKeys)
  if (!same) {
    for (const key of fromKeys) {
      if (!Object.hasOwn(to, key)) items.push({ op: 'remove', path: [...path, key] })
    }
  }
  for (const key of toKeys) {
    const b = to[key]
    if (!same && !Object.hasOwn(from, key)) {
      items.push({ op: 'add', path: [...path, key], value: b })
      continue
    }
    const a = from[key]
    if (Object.is(a, b)) continue
    const at = path.length === 0 ? [key] : [...path, key]
    if (typeof a === 'object' && a !== null && typeof b === 'object' && b !== null) items.push(new Walk(a, b, at))
    else items.push({ op: 'replace', path: at, value: b })
  }
}

/** Two key lists alike, in order: no key removed or added, none moved. */
function sameKeys(a: readonly string[], b: readonly string[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Compares one pair: a replace goes out at once (everything before it in the diff is out
 * already); a container's items (patches and pairs of children that differ) go on `pending`.
 */
function expand({ from, to, path }: Walk, out: Patch[], pending: (Walk | Patch)[]): void {
  if (Object.is(from, to)) return
  const items: (Walk | Patch)[] = []
  if (Array.isArray(from) && Array.isArray(to)) {
    const common = Math.min(from.length, to.length)
    for (let i = 0; i < common; i++) if (!Object.is(from[i], to[i])) items.push(new Walk(from[i], to[i], [...path, i]))
    // Removing from the end first keeps indexes valid while the patches apply in order.
    for (let i = from.length - 1; i >= to.length; i--) items.push({ op: 'remove', path: [...path, i] })
    for (let i = from.length; i < to.length; i++) items.push({ op: 'add', path: [...path, i], value: to[i] })
  } else if (isPlainObject(from) && isPlainObject(to)) {
    objectItemsOf(from, to, path, items)
  } else if (from instanceof Map && to instanceof Map) {
    for (const key of from.keys()) {
      if (!to.has(key)) items.push({ op: 'remove', path: [...path, key as string] })
    }
    for (const [key, value] of to) {
      if (!from.has(key)) items.push({ op: 'add', path: [...path, key as string], value })
      else if (!Object.is(from.get(key), value)) items.push(new Walk(from.get(key), value, [...path, key as string]))
    }
  } else if (from instanceof Date && to instanceof Date && from.getTime() === to.getTime()) {
    return
  } else if (from instanceof Set && to instanceof Set && sameMembers(from, to)) {
    // Equal Sets that are other objects (each state decoded from its own document): no change.
    return
  } else {
    out.push({ op: 'replace', path, value: to })
    return
  }
  for (let i = items.length - 1; i >= 0; i--) pending.push(items[i] as Walk | Patch)
}
