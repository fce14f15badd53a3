// A structural diff between two states, as immer patches. Recorded states share every untouched
// subtree, so `a === b` cuts the walk short almost everywhere: the cost follows what changed,
// not the size of the state.
import type { Patch } from 'immer'

type Path = (string | number)[]

/** Patches that turn `from` into `to` (apply with immer's `applyPatches`). */
export function diffStates(from: unknown, to: unknown): Patch[] {
  const out: Patch[] = []
  // A loop over pending work, not recursion: a change 20,000 levels down is diffed on a fixed
  // stack. Work is popped last-first, so each container's items are pushed in reverse.
  const pending: (Walk | Patch)[] = [new Walk(from, to, [])]
  for (let item = pending.pop(); item !== undefined; item = pending.pop()) {
    if (item instanceof Walk) expand(item, out, pending)
    else out.push(item)
  }
  return out
}

/** Two values to compare, at a path. */
class Walk {
  constructor(
    readonly from: unknown,
    readonly to: unknown,
    readonly path: Path,
  ) {}
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
    for (const key of Object.keys(from)) {
      if (!Object.hasOwn(to, key)) items.push({ op: 'remove', path: [...path, key] })
    }
    for (const key of Object.keys(to)) {
      if (!Object.hasOwn(from, key)) items.push({ op: 'add', path: [...path, key], value: to[key] })
      else if (!Object.is(from[key], to[key])) items.push(new Walk(from[key], to[key], [...path, key]))
    }
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

/** The same members in the same order (primitives by value, objects by identity). */
function sameMembers(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false
  const right = b.values()
  for (const member of a) if (!Object.is(member, right.next().value)) return false
  return true
}

/**
 * The same patches, except that those naming an object member of a Set (a Date, a plain
 * object…) become one `replace` of the whole Set, taken from `after`, the state the patches
 * produce. immer names Set members by identity, and a member that went through a file or through
 * `applyPatches` (which copies patch values) is another object: its removal would match nothing.
 * Primitive members are equal by value and stay member patches. Returns `patches` itself when
 * no patch names an object member.
 */
export function wholeSets(patches: readonly Patch[], after: unknown): readonly Patch[] {
  let sets: Set<Set<unknown>> | undefined
  for (const patch of patches) {
    if (!namesObjectMember(patch)) continue
    const set = readPath(after, patch.path, patch.path.length - 1)
    if (set instanceof Set) (sets ??= new Set()).add(set)
  }
  if (sets === undefined) return patches
  const out: Patch[] = []
  // By path: one Set object may sit at two places of a state.
  const done = new Set<string>()
  for (const patch of patches) {
    const last = patch.path.length - 1
    const container = (patch.op === 'add' || patch.op === 'remove') && last >= 0 && typeof patch.path[last] === 'number' ? readPath(after, patch.path, last) : undefined
    if (!(container instanceof Set) || !sets.has(container)) {
      out.push(patch)
      continue
    }
    const path = patch.path.slice(0, last)
    const key = path.map((k) => `${typeof k}:${String(k)}`).join('\u0000')
    if (!done.has(key)) {
      // Every member patch of this Set is folded into the one replace (primitive ones included:
      // removing a member the final Set no longer holds would name nothing).
      done.add(key)
      out.push({ op: 'replace', path, value: container })
    }
  }
  return out
}

function namesObjectMember(patch: Patch): boolean {
  const last = patch.path.length - 1
  return (patch.op === 'add' || patch.op === 'remove') && last >= 0 && typeof patch.path[last] === 'number' && typeof patch.value === 'object' && patch.value !== null
}

function readPath(state: unknown, path: readonly (string | number)[], end: number): unknown {
  let node = state
  for (let i = 0; i < end; i++) {
    if (typeof node !== 'object' || node === null) return undefined
    const key = path[i] as string | number
    node = node instanceof Map ? node.get(key) : node instanceof Set ? undefined : (node as Record<string, unknown>)[key]
  }
  return node
}

/**
 * A link's patches, plus one `replace` of the whole Set, at the end, for each Set they would
 * leave in another order than the link did: a member deleted and added back moves to the end of
 * the live Set, and immer records no change for it. `back` is the structural diff from `after`
 * back to the state before: its replaces of Sets name every Set the link changed (the writer
 * computes it anyway, to decide whether inverse patches can be omitted). Sets whose patches name
 * an object member are left to {@link wholeSets}. Returns `patches` itself when every order holds.
 */
export function setsInOrder(patches: readonly Patch[], after: unknown, back: readonly Patch[]): readonly Patch[] {
  let out: Patch[] | undefined
  for (const change of back) {
    const before = change.value
    if (change.op !== 'replace' || !(before instanceof Set)) continue
    const now = readPath(after, change.path, change.path.length)
    if (!(now instanceof Set)) continue
    const members = patches.filter((patch) => isMemberPatch(patch, change.path))
    if (members.some(namesObjectMember)) continue
    // What a reader will rebuild: the Set before, with the member patches applied in order.
    const rebuilt = new Set<unknown>(before)
    for (const patch of members) {
      if (patch.op === 'add') rebuilt.add(patch.value)
      else rebuilt.delete(patch.value)
    }
    if (sameOrder(rebuilt, now)) continue
    ;(out ??= patches.slice()).push({ op: 'replace', path: change.path, value: now })
  }
  return out ?? patches
}

function isMemberPatch(patch: Patch, setPath: readonly (string | number)[]): boolean {
  if (patch.path.length !== setPath.length + 1 || (patch.op !== 'add' && patch.op !== 'remove')) return false
  for (let i = 0; i < setPath.length; i++) if (patch.path[i] !== setPath[i]) return false
  return true
}

function sameOrder(a: Set<unknown>, b: Set<unknown>): boolean {
  if (a.size !== b.size) return false
  const right = b.values()
  for (const member of a) if (!Object.is(member, right.next().value)) return false
  return true
}
