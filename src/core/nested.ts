// Nested chains (DESIGN §9 "Nested chains"): a chain used as a link or a branch. The link that
// runs it is an ordinary link function (so `when`, `retry`, `timeoutMs`, around hooks, write
// capture and live spans apply to it as to any link); the run it makes is a full run of the
// child chain, made by the engine through the `NestHost` the runner hands its `io`.
import { applyPatches, type Draft, type Immutable, type Objectish } from 'immer'
import { diffStates } from './diff-states.js'
import type { LinkFn, LinkIO, RunStatus } from './types.js'

/**
 * How a nested chain of another ctx type `D` meets its parent's ctx `C` (link options `input`
 * and `output`). Without `output` the child's final ctx is not written back (the link changes
 * nothing; its run is still recorded).
 *
 * @example
 * .link('loyalty', loyaltyChain, {
 *   input: (order) => ({ customer: order.customer, total: order.total }),
 *   output: (order, loyalty) => { order.points = loyalty.points },
 * })
 */
export interface NestMapping<C, D> {
  /** The child's input, made from the ctx the link receives (frozen; synchronous). */
  readonly input: (ctx: Immutable<C>) => D
  /** Writes what the child produced into the parent's draft (synchronous). */
  readonly output?: (draft: Draft<C>, childCtx: Immutable<D>) => void
}

/** A finished nested run, as the runner and the recorder see it (lineage's `Run`). */
export interface NestedRun {
  readonly id: string
  readonly status: RunStatus
  readonly ctx: unknown
  /** The child's `ChainRunError` when it failed. */
  readonly error: unknown
}

/** What executes a nested chain for the run a link belongs to (the engine's). */
export interface NestHost {
  /**
   * Runs `child` on `input` as the nested run of the link call `io` belongs to, with the parent
   * run's options and `io.signal`; resolves with the child run whatever its status (rejects
   * only when the child cannot start: its middleware cannot be read).
   */
  run(child: object, input: unknown, io: LinkIO<unknown>): Promise<NestedRun>
}

/** The key under which a link's `io` hands a nested link the host of its run. */
export const NEST_HOST: unique symbol = Symbol('shadowchain.nestHost')

/** What a nested link needs of its `io` beyond `LinkIO` (the runner's io has it). */
export interface NestingIO {
  readonly [NEST_HOST]: NestHost | undefined
  /** Set by the nested link: the child run of this call, for the recorder. */
  child: NestedRun | undefined
}

/**
 * @internal The link function of a nested chain: runs the child through the run's host, then
 * writes its result into the draft: the child's final ctx as patches (same ctx type), or through
 * `output`. A failed child fails the link with the child's `ChainRunError`.
 */
export function nestedLink<C>(child: object, mapping: Partial<NestMapping<C, unknown>> | undefined): LinkFn<C> {
  const input = mapping?.input
  const output = mapping?.output
  return function nestedChain(draft, io) {
    const nesting = io as unknown as NestingIO
    const host = nesting[NEST_HOST]
    if (host === undefined) throw new TypeError(`link '${io.link.name}' nests a chain, which runs only inside a run`)
    const start = input === undefined ? io.base : input(io.base)
    return host.run(child, start, io as LinkIO<unknown>).then((run) => {
      nesting.child = run
      if (run.status !== 'ok') throw run.error
      if (output !== undefined) {
        const returned: unknown = output(draft, run.ctx as Immutable<unknown>)
        if (returned !== undefined) throw new TypeError(`link '${io.link.name}': its output() returned a value; it must write into the draft it is given and return nothing`)
      } else if (input === undefined && run.ctx !== io.base) {
        // The child started from this ctx: what it changed, written into the link's draft, is
        // recorded as this link's patches (not one opaque replacement), unless it is a new
        // value altogether (a ctx of another kind, or a primitive one).
        const patches = diffStates(io.base, run.ctx)
        if (patches.length === 1 && (patches[0] as { path: readonly unknown[] }).path.length === 0) return run.ctx as C
        applyPatches(draft as Objectish, patches)
      }
      return undefined
    })
  }
}
