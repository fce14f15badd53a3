// The types an engine's execution shares with replay and fork, and what they make of the
// chain's `_execute` signature (core names them only through `RunTypes`).
import type { LinkFn, LinkInfo, RecordedIO, RedactPath } from '../core/types.js'
import type { ResumePoint } from '../record/recorder.js'
import type { Run, RunParent, RunRef } from './run.js'

/** @internal How replay and fork steer an execution. */
export interface RunExtras<C> {
  /** The run's `input` when it differs from the first state (a fork keeps its parent's). */
  readonly input?: unknown
  readonly resume?: ResumePoint<C>
  readonly recordedIO?: ReadonlyMap<string, RecordedIO>
  /** Replacement functions by link index (stubs). */
  readonly linkOverrides?: ReadonlyMap<number, LinkFn<C>>
  readonly parent?: RunParent
  readonly replayOf?: RunRef
  /** The input was recorded after parsing (a replay): do not parse it again. */
  readonly parsed?: boolean
  /** Set by the engine: the run's redaction (chain default, run option, and a fork's or replay's original's). */
  readonly redact?: readonly RedactPath[]
  /**
   * The input could not be made (an HTTP body that is not JSON, or too large): the run is recorded
   * as rejected (`'INVALID_INPUT'`, this message after the chain's name, this cause), no link runs.
   */
  readonly reject?: { readonly message: string; readonly cause: unknown }
}

/** @internal What an execution gives replay and fork: the run, and the links that overran their recorded io. */
export interface ExecutionOutcome<C> {
  readonly run: Run<C>
  readonly ioOverruns: readonly { readonly link: LinkInfo; readonly seq: number }[]
}

declare module '../core/chain.js' {
  // What `Chain<C>`'s `_execute` takes and gives (lineage/run.ts declares the public `run` and
  // the types of replay and fork with `Run`).
  interface RunTypes<C> {
    /** @internal */
    readonly extras: RunExtras<C>
    /** @internal */
    readonly outcome: ExecutionOutcome<C>
  }
}
