// The public types of parallel steps (DESIGN §9 "Parallel"): `.parallel(name, branches, options)`.
import type { Draft, Immutable } from 'immer'
import type { LinkIO, Middleware } from './types.js'

/** What a branch of a parallel step is given: a link's `io`, naming its branch. */
export interface BranchIO<C = unknown> extends LinkIO<C> {
  /** The branch's name (its key in the step's branches). */
  readonly branch: string
}

/**
 * One branch of a parallel step: it mutates its own draft of the step's ctx, or returns a
 * replacement (never both); sync or async.
 */
export type BranchFn<C> = (ctx: Draft<C>, io: BranchIO<C>) => void | C | Draft<C> | Promise<void | C | Draft<C>>

/**
 * How the branches' patches are merged, in declaration order. `'strict'` (default): two branches
 * that write the same path, or a path inside another's, fail the step with code `'CONFLICT'`
 * (a branch that returns a replacement conflicts with every other branch that wrote);
 * `'ordered'`: later branches win.
 */
export type MergeMode = 'strict' | 'ordered'

/** Options of a parallel step. */
export interface ParallelOptions<C> {
  /** How the branches' patches are merged (default `'strict'`). */
  merge?: MergeMode
  /** Link-level middleware: it wraps the whole step, never a single branch. */
  use?: readonly Middleware<C>[]
  /** Free-form data describing the step, visible as `LinkInfo.meta`. */
  meta?: Record<string, unknown>
  /** Runs the step only when this returns `true` (as a link's `when`). */
  when?: (ctx: Immutable<C>) => boolean
}
