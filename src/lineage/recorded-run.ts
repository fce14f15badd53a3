// What a recorded run offers to those who only read it: comparison, and the helpers of replay and
// fork that find cuts and check recordings. `Run` implements it; naming this interface instead of
// `Run` keeps those readers from depending on the class whose methods (replay, fork) use them.
import type { Immutable } from 'immer'
import type { LinkInfo, RunStatus } from '../core/types.js'
import type { Timeline } from '../record/timeline.js'
import type { ChainRunError } from './chain-run-error.js'

/**
 * The data of a finished, recorded run: what `compareRuns` reads, and what any run offers
 * (`Run` implements it), whether it was made by `chain.run()`, a replay, a fork or a file.
 */
export interface RecordedRun<C = unknown> {
  /** A unique id (UUID). */
  readonly id: string
  /** The name of the chain that ran. */
  readonly chainName: string
  /** `'ok'`, `'error'` or `'aborted'`. */
  readonly status: RunStatus
  /** The input as the run received it (after schema parsing, frozen). */
  readonly input: unknown
  /** The final ctx, frozen. */
  readonly ctx: Immutable<C>
  /** Why the run failed; `undefined` when it succeeded. */
  readonly error: ChainRunError<C> | undefined
  /** Every recorded event of the run. */
  readonly timeline: Timeline<C>
  /** The link that ended the run with `io.stop()`, if one did. */
  readonly stoppedBy: LinkInfo | undefined
  /**
   * The run this one was forked from and the seq of the last event they share (the cut);
   * `undefined` for a run that was not forked. `run` is the parent when it is in memory.
   */
  readonly parent:
    | {
        readonly run: RecordedRun<unknown> | undefined
        readonly runId: string
        readonly seq: number
      }
    | undefined
}
