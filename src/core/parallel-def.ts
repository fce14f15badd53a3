// A parallel step as the builder stores it, checked at build time (DESIGN §9 "Parallel").
import type { BranchFn, MergeMode } from './parallel-types.js'

/** One branch, in declaration order. */
export interface BranchDef<C> {
  readonly name: string
  readonly fn: BranchFn<C>
}

/** The branches of a parallel step and how their patches merge. */
export interface ParallelDef<C> {
  readonly branches: readonly BranchDef<C>[]
  readonly merge: MergeMode
}

/**
 * The checked branches of `.parallel(name, branches, { merge })`.
 * @throws TypeError on no branches, an empty branch name, a branch that is not a function, a bad merge
 */
export function checkParallel<C>(branches: unknown, merge: unknown, where: string): ParallelDef<C> {
  if (typeof branches !== 'object' || branches === null || Array.isArray(branches)) {
    throw new TypeError(`${where}: the branches must be an object { [branch]: (ctx, io) => … }, got ${branches === null ? 'null' : Array.isArray(branches) ? 'an array' : typeof branches}`)
  }
  const defs: BranchDef<C>[] = []
  for (const [name, fn] of Object.entries(branches)) {
    // Object keys cannot repeat, so an empty name is the one way to a branch nobody can name.
    if (name.length === 0) throw new TypeError(`${where}: a branch name must be a non-empty string`)
    if (typeof fn !== 'function') throw new TypeError(`${where}: branch '${name}' must be a function, got ${fn === null ? 'null' : typeof fn}`)
    defs.push({ name, fn: fn as BranchFn<C> })
  }
  if (defs.length === 0) throw new TypeError(`${where}: a parallel step needs at least one branch`)
  if (merge !== undefined && merge !== 'strict' && merge !== 'ordered') {
    throw new TypeError(`${where}: options.merge must be 'strict' or 'ordered', got ${typeof merge === 'string' ? `'${merge}'` : merge === null ? 'null' : typeof merge}`)
  }
  return { branches: defs, merge: merge ?? 'strict' }
}
