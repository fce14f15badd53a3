// Recorded states are immutable, but two things slip past immer's freeze: a `Date` (immer does
// not draft or freeze Dates, and `Object.freeze` does not stop `setFullYear`: it writes an
// internal slot), and a cycle (`ctx.self = ctx` finishes fine, and then nothing can export,
// diff or describe the state). After every link the runner walks what changed, and only that
// (a path from the root to each new value, comparing references with the previous state),
// freezes the new Dates it finds and reports the first cycle.
import { immerable, type Patch } from 'immer'
import { freezeDate } from './frozen-date.js'
import { formatPath } from './validate.js'

type Key = string | number

/** A problem that makes a state unrecordable: where, and what. */
export interface StateProblem {
  /** Path from the state's root. */
  readonly path: readonly Key[]
  /** What is wrong there, as a sentence fragment naming the path (`ctx.self refers back to ctx`). */
  readonly message: string
}

/** Deeper than this, the careful walk reports a state as too deep to record. */
const MAX_DEPTH = 10_000

/**
 * Walks what `next` changed against `previous`, freezing each new Date and returning the first
 * cycle (or unreadable value) as a problem; `undefined` when the state is sound. With no
 * `previous`, the whole of `next` is walked. Never throws.
 *
 * @param root - how the state is named in messages (`ctx`)
 * @param hint - the chain's, told when the state is wide enough to seal through patches next time
 */
export function sealState(next: unknown, previous: unknown, root: string, hint?: SealHint): StateProblem | undefined {
  if (next === previous || typeof next !== 'object' || next === null) return undefined
  // The walk runs after every link: first without bookkeeping (no allocation, no ancestor
  // list); only a state that goes too deep for that (a cycle, most likely) or cannot be read
  // is walked again with it, to name the problem.
  try {
    if (quick(next, previous, 0, hint)) return undefined
  } catch {
    // Named by the careful walk.
  }
  return new Walk(root, hint).run(next, previous)
}

/** Deeper than this, the quick walk hands over to the careful one. */
const QUICK_DEPTH = 100

/** Freezes the new Dates under `next`; false when it went deeper than {@link QUICK_DEPTH}. */
function quick(next: object, previous: unknown, depth: number, hint: SealHint | undefined): boolean {
  if (depth > QUICK_DEPTH) return false
  const proto: unknown = Object.getPrototypeOf(next)
  // Plain objects first: almost every container of a ctx is one.
  if (proto === Object.prototype || proto === null) {
    const record = next as Record<string, unknown>
    const prev = typeof previous === 'object' && previous !== null ? (previous as Record<string, unknown>) : undefined
    let width = 0
    // for-in, not Object.keys: it uses V8's enum cache and allocates nothing.
    for (const key in record) {
      width++
      const item = record[key]
      if (typeof item !== 'object' || item === null) continue
      const was = prev === undefined ? undefined : prev[key]
      if (item !== was && !quick(item, was, depth + 1, hint)) return false
    }
    if (width > WIDE && hint !== undefined) hint.usePatches = true
    return true
  }
  if (Array.isArray(next)) {
    const prev = Array.isArray(previous) ? (previous as readonly unknown[]) : undefined
    // Elements that moved (unshift, splice, sort) are old: looked up, not walked again. The
    // lookup set is built only once a second element differs (one changed element, the usual
    // write, costs no allocation).
    let before: Set<unknown> | undefined
    let misses = 0
    for (let i = 0; i < next.length; i++) {
      const item: unknown = next[i]
      if (typeof item !== 'object' || item === null) continue
      const was = prev === undefined ? undefined : prev[i]
      if (item === was) continue
      if (prev !== undefined && ++misses > 1) {
        before ??= new Set(prev)
        if (before.has(item)) continue
      }
      if (!quick(item, was, depth + 1, hint)) return false
    }
    if (next.length > WIDE && hint !== undefined) hint.usePatches = true
    return true
  }
  if (next instanceof Date) {
    freezeDate(next)
    return true
  }
  if (next instanceof Map) {
    if (hint !== undefined) hint.exotic = true
    const prev = previous instanceof Map ? (previous as ReadonlyMap<unknown, unknown>) : undefined
    for (const [key, item] of next) {
      if (typeof item !== 'object' || item === null) continue
      const was = prev?.get(key)
      if (item !== was && !quick(item as object, was, depth + 1, hint)) return false
    }
    return true
  }
  if (next instanceof Set) {
    if (hint !== undefined) hint.exotic = true
    const prev = previous instanceof Set ? (previous as ReadonlySet<unknown>) : undefined
    for (const item of next) {
      if (typeof item !== 'object' || item === null || prev?.has(item) === true) continue
      if (!quick(item as object, undefined, depth + 1, hint)) return false
    }
    return true
  }
  // Class instances are kept by reference, as immer keeps them: not walked.
  if (hint !== undefined && isExotic(next)) hint.exotic = true
  return true
}

/**
 * What walks learn of the states they walk. The runner keeps one a run, and gives what it learns
 * of width back to its chain's.
 */
export interface SealHint {
  /**
   * Set once a walk met a wide object or array (a ctx of 1,000 keys, a list of 1,000 items),
   * where walking every item after every link costs more than asking immer for patches and
   * sealing what they name. Both ways seal the same values. Shared by the runs of one chain.
   */
  usePatches: boolean
  /**
   * Set once a walk met a Map, a Set or an `immerable` class instance: containers whose changes
   * immer names member by member, where a diff of two states would replace them whole. A run
   * whose ctx holds one asks immer for its links' patches (see link-calls.ts).
   */
  exotic: boolean
}

/** A Map, a Set or an instance of a class immer drafts (`[immerable]`): see {@link SealHint.exotic}. */
function isExotic(value: object): boolean {
  return value instanceof Map || value instanceof Set || (value as { [immerable]?: unknown })[immerable] === true
}

/** Objects and arrays wider than this are cheaper to seal through patches than by walking their items. */
const WIDE = 128

/**
 * {@link sealState} driven by the patches that turned `previous` into `next`: only the values
 * they write are walked (each against what was at its path before). Never throws.
 */
export function sealPatches(patches: readonly Patch[], next: unknown, previous: unknown, root: string): StateProblem | undefined {
  for (const patch of patches) {
    const value: unknown = patch.value
    if (patch.op === 'remove' || typeof value !== 'object' || value === null) continue
    try {
      if (quick(value, childAtPath(previous, patch.path), 0, undefined)) continue
    } catch {
      // Named by the careful walk below.
    }
    const walk = new Walk(root, undefined)
    // The containers from the root down to the write: a cycle back to any of them is named.
    let at: unknown = next
    let before: unknown = previous
    const path = patch.path
    for (let i = 0; i < path.length; i++) {
      const key = path[i] as Key
      walk.enter(key, at)
      at = childAt(at, key)
      before = childAt(before, key)
    }
    const problem = walk.run(value, before)
    if (problem !== undefined) return problem
  }
  return undefined
}

function childAtPath(state: unknown, path: readonly Key[]): unknown {
  let at = state
  for (let i = 0; i < path.length && at !== undefined; i++) at = childAt(at, path[i] as Key)
  return at
}

function childAt(container: unknown, key: Key): unknown {
  if (typeof container !== 'object' || container === null) return undefined
  try {
    if (container instanceof Map) return container.get(key)
    if (container instanceof Set) return undefined
    return (container as Record<Key, unknown>)[key]
  } catch {
    return undefined
  }
}

/** Frozen inputs walked already, and whether each holds a Map, a Set or an immerable instance. */
const inputsSealed = new WeakMap<object, boolean>()

/**
 * {@link sealState} for a run's (frozen) input, remembered: a frozen input given to many runs
 * is walked once. `hint.exotic` is set when the input holds a Map, a Set or an immerable instance.
 */
export function sealInput(input: unknown, hint: SealHint): StateProblem | undefined {
  if (typeof input !== 'object' || input === null) return undefined
  const known = inputsSealed.get(input)
  if (known !== undefined) {
    if (known) hint.exotic = true
    return undefined
  }
  const found: SealHint = { usePatches: false, exotic: false }
  const problem = sealState(input, undefined, 'input', found)
  if (found.exotic) hint.exotic = true
  if (problem === undefined && Object.isFrozen(input)) inputsSealed.set(input, found.exotic)
  return problem
}

class Walk {
  problem: StateProblem | undefined = undefined
  readonly keys: Key[] = []
  private readonly ancestors: object[] = []
  constructor(
    private readonly root: string,
    private readonly hint: SealHint | undefined,
  ) {}

  /** Starts below the root: `container` holds the next value under `key`. */
  enter(key: Key, container: unknown): void {
    if (typeof container === 'object' && container !== null) this.ancestors.push(container)
    this.keys.push(key)
  }

  run(next: unknown, previous: unknown): StateProblem | undefined {
    try {
      this.visit(next, previous)
    } catch (error) {
      if (this.problem === undefined) {
        const message = error instanceof Error ? error.message : String(error)
        this.problem = { path: this.keys.slice(), message: `${this.name(this.keys)} cannot be read: ${message}` }
      }
    }
    return this.problem
  }

  name(path: readonly Key[]): string {
    return pathName(this.root, path)
  }

  /** Visits a container that changed; returns false once a problem is found. */
  visit(next: unknown, previous: unknown): boolean {
    if (next === previous || typeof next !== 'object' || next === null) return true
    if (next instanceof Date) {
      freezeDate(next)
      return true
    }
    if (this.hint !== undefined && isExotic(next)) this.hint.exotic = true
    const isArray = Array.isArray(next)
    if (!isArray && !(next instanceof Map) && !(next instanceof Set)) {
      const proto: unknown = Object.getPrototypeOf(next)
      // Class instances are kept by reference, as immer keeps them: not walked.
      if (proto !== Object.prototype && proto !== null) return true
    }
    const ancestors = this.ancestors
    const at = ancestors.indexOf(next)
    if (at !== -1) {
      const target = this.name(this.keys.slice(0, at))
      this.problem = {
        path: this.keys.slice(),
        message: `${this.name(this.keys)} refers back to ${target}: a state must be a tree (plain data), not a cycle`,
      }
      return false
    }
    if (ancestors.length >= MAX_DEPTH) {
      this.problem = { path: this.keys.slice(), message: `${this.name(this.keys)} is nested more than ${MAX_DEPTH} levels deep` }
      return false
    }
    ancestors.push(next)
    const ok = isArray
      ? this.visitArray(next as readonly unknown[], previous)
      : next instanceof Map
        ? this.visitMap(next, previous)
        : next instanceof Set
          ? this.visitSet(next, previous)
          : this.visitObject(next as Record<string, unknown>, previous)
    ancestors.pop()
    return ok
  }

  private child(key: Key, next: unknown, previous: unknown): boolean {
    if (next === previous || typeof next !== 'object' || next === null) return true
    this.keys.push(key)
    const ok = this.visit(next, previous)
    if (ok) this.keys.pop()
    return ok
  }

  private visitObject(next: Record<string, unknown>, previous: unknown): boolean {
    const prev = typeof previous === 'object' && previous !== null ? (previous as Record<string, unknown>) : undefined
    // for-in, not Object.keys: it uses V8's enum cache and allocates nothing.
    let width = 0
    for (const key in next) {
      width++
      const item = next[key]
      if (typeof item !== 'object' || item === null) continue
      if (!this.child(key, item, prev === undefined ? undefined : prev[key])) return false
    }
    if (width > WIDE && this.hint !== undefined) this.hint.usePatches = true
    return true
  }

  private visitArray(next: readonly unknown[], previous: unknown): boolean {
    const prev = Array.isArray(previous) ? (previous as readonly unknown[]) : undefined
    // Elements that moved (unshift, splice, sort) are not new: looked up, not walked again.
    let before: Set<unknown> | undefined
    for (let i = 0; i < next.length; i++) {
      const item = next[i]
      if (prev !== undefined && item !== prev[i] && typeof item === 'object' && item !== null) {
        before ??= new Set(prev)
        if (before.has(item)) continue
      }
      if (!this.child(i, item, prev?.[i])) return false
    }
    return true
  }

  private visitMap(next: ReadonlyMap<unknown, unknown>, previous: unknown): boolean {
    const prev = previous instanceof Map ? (previous as ReadonlyMap<unknown, unknown>) : undefined
    for (const [key, item] of next) {
      if (!this.child(typeof key === 'number' ? key : String(key), item, prev?.get(key))) return false
    }
    return true
  }

  private visitSet(next: ReadonlySet<unknown>, previous: unknown): boolean {
    const prev = previous instanceof Set ? (previous as ReadonlySet<unknown>) : undefined
    let i = 0
    for (const item of next) {
      if (prev === undefined || !prev.has(item)) {
        if (!this.child(i, item, undefined)) return false
      }
      i++
    }
    return true
  }
}

/**
 * The path of `target` (by identity) inside `state`, for error messages; `undefined` when it is
 * not there. Bounded: it gives up after 100,000 nodes.
 */
export function findPath(state: unknown, target: object): readonly Key[] | undefined {
  let budget = 100_000
  const seen = new Set<object>()
  const search = (value: unknown, path: Key[]): readonly Key[] | undefined => {
    if (value === target) return path
    if (typeof value !== 'object' || value === null || seen.has(value) || --budget < 0) return undefined
    seen.add(value)
    const entries: Iterable<readonly [Key, unknown]> =
      value instanceof Map
        ? [...value].map(([k, v]) => [typeof k === 'number' ? k : String(k), v] as const)
        : value instanceof Set
          ? [...value].map((v, i) => [i, v] as const)
          : Object.keys(value).map((k) => [Array.isArray(value) ? Number(k) : k, (value as Record<string, unknown>)[k]] as const)
    for (const [key, item] of entries) {
      const found = search(item, [...path, key])
      if (found !== undefined) return found
    }
    return undefined
  }
  try {
    return search(state, [])
  } catch {
    return undefined
  }
}

/** How a path is named in messages: `ctx.items[0].at`. */
export function pathName(root: string, path: readonly Key[]): string {
  if (path.length === 0) return root
  const text = formatPath(path)
  return text.startsWith('[') ? `${root}${text}` : `${root}.${text}`
}
