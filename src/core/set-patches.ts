// Patches that name the members of a Set, made readable by any reader: immer names Set members
// by identity (a member that went through a file is another object) and records no change when a
// member is deleted and added back (it moves to the end of the live Set). Used by the run
// document writer and the timeline; `sameMembers` by the structural diff too.
import type { Patch } from 'immer'

/** The same members in the same order (primitives by value, objects by identity). */
export function sameMembers(a: Set<unknown>, b: Set<unknown>): boolean {
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
    if (sameMembers(rebuilt, now)) continue
    ;(out ??= patches.slice()).push({ op: 'replace', path: change.path, value: now })
  }
  return out ?? patches
}

function isMemberPatch(patch: Patch, setPath: readonly (string | number)[]): boolean {
  if (patch.path.length !== setPath.length + 1 || (patch.op !== 'add' && patch.op !== 'remove')) return false
  for (let i = 0; i < setPath.length; i++) if (patch.path[i] !== setPath[i]) return false
  return true
}
