// How runs reach a flight recorder (DESIGN §10). The engine asks the recorder given as the run
// option or chain default `recorder` for an observer of each run (its statistics) and hands it
// each finished run. Core names neither the observer nor the run (the layers below define them),
// so the recorder is reached through one symbol-keyed port.

/** The key of a recorder's port (see {@link RunRecorder}). */
export const RECORDER_PORT: unique symbol = Symbol('shadowchain.recorder')

/** What the engine calls on a recorder. Neither method throws into a run or blocks it. */
export interface RecorderPort {
  /** A run of `chain` starts (`info`: its `RunInfo`): an observer of it (a `RunObserver`: its statistics), or undefined. */
  runStarted(chain: object, info: { readonly id: string; readonly startedAt: bigint }): object | undefined
  /** The run finished (a `Run`): the recorder keeps it, or not. */
  runFinished(run: object, chain: object): void
}

/**
 * What the run option and chain default `recorder` take: a flight recorder, made by `recorder()`
 * (DESIGN §10).
 */
export interface RunRecorder {
  readonly [RECORDER_PORT]: RecorderPort
}
