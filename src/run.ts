import type { Immutable } from 'immer'
import { ChainRunError } from './errors.js'
import type { TimelineEvent } from './events.js'
import type { Failure } from './runner.js'
import { Timeline } from './timeline.js'
import type { RunInfo, RunStatus } from './types.js'

/** Where a run came from: the parent run and the seq of the event it branched after. */
export interface RunParent {
  readonly run: Run<unknown>
  readonly seq: number
}

/** What `Run` is built from (internal: runs come from `chain.run()` and, later, from files). */
export interface RunInit<C> {
  readonly info: RunInfo
  readonly status: RunStatus
  readonly input: unknown
  readonly ctx: Immutable<C>
  readonly failure: Failure | undefined
  readonly endedAt: bigint
  readonly events: TimelineEvent<C>[]
}

/**
 * One finished execution of a chain, complete and recorded, whether it succeeded or not.
 *
 * @example
 * const run = await checkout.run(order)
 * run.status            // 'ok'
 * run.ctx.total         // the final, frozen ctx
 * run.timeline.links()  // one record per link
 */
export class Run<C = unknown> {
  /** A unique id (UUID). */
  readonly id: string
  /** The name of the chain that ran. */
  readonly chainName: string
  /** `'ok'`, `'error'` (a link or, with `safe: false`, middleware failed; or bad input) or `'aborted'`. */
  readonly status: RunStatus
  /** The input as the run received it (after schema parsing, frozen). */
  readonly input: unknown
  /** The final ctx: frozen, shares every untouched subtree with the input. */
  readonly ctx: Immutable<C>
  /** Why the run failed; `undefined` when it succeeded. */
  readonly error: ChainRunError<C> | undefined
  /** Epoch nanoseconds. */
  readonly startedAt: bigint
  /** Epoch nanoseconds. */
  readonly endedAt: bigint
  /** Every recorded event of the run. */
  readonly timeline: Timeline<C>
  /** The run this one was forked or replayed from; `undefined` for an original run. */
  readonly parent: RunParent | undefined = undefined
  /** Runs forked from this one (the lineage tree grows as forks are made). */
  readonly children: readonly Run<unknown>[] = []

  /** @internal Runs are made by `chain.run()`. */
  constructor(init: RunInit<C>) {
    this.id = init.info.id
    this.chainName = init.info.chainName
    this.status = init.status
    this.input = init.input
    this.ctx = init.ctx
    this.startedAt = init.info.startedAt
    this.endedAt = init.endedAt
    const failure = init.failure
    this.error =
      failure === undefined ? undefined : new ChainRunError(failure.code, failure.message, this, failure.link, failure.cause)
    const end: Record<string, unknown> = {
      seq: init.events.length,
      t: init.endedAt,
      type: 'run.end',
      ctx: init.ctx,
      mwctx: init.events.at(-1)?.mwctx ?? Object.freeze({}),
      metrics: undefined,
      status: init.status,
    }
    if (this.error !== undefined) end['error'] = this.error
    init.events.push(end as unknown as TimelineEvent<C>)
    this.timeline = new Timeline(init.events)
  }
}
