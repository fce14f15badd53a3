// How runs reach a flight recorder (DESIGN §10). The engine asks the recorder given as the run
// option or chain default `recorder` for an observer of each run (its statistics) and hands it
// each finished run. Core names neither the observer nor the run (the layers below define them),
// so the recorder is reached through one symbol-keyed port.

/** The key of a recorder's port (see {@link RunRecorder}). */
export const RECORDER_PORT: unique symbol = Symbol('shadowchain.recorder')

/** What the engine calls on a recorder. No method throws into a run or blocks it. */
export interface RecorderPort {
  /** A run of `chain` starts (`info`: its `RunInfo`): an observer of it (a `RunObserver`: its statistics), or undefined. */
  runStarted(chain: object, info: { readonly id: string; readonly startedAt: bigint }): object | undefined
  /**
   * The run finished (a `Run`): the recorder keeps it, or not. A promise when the recorder asks
   * for one turn of the event loop before the run resolves (its store is far behind, as in a loop
   * of runs that never yields: the store could never answer); it resolves at the next turn,
   * whatever the store does, and never rejects.
   */
  runFinished(run: object, chain: object): Promise<void> | undefined
  /**
   * A durable run starts (run option `durable`): what takes its steps as they complete, or
   * undefined when the recorder has no store to keep them in.
   */
  durable(start: DurableStart): DurableSink | undefined
}

/** A durable run as it begins: what its document's head is made from (files/step-encoder.ts). */
export interface DurableStart {
  readonly id: string
  readonly chainName: string
  readonly startedAt: bigint
  readonly parent?: { readonly runId: string; readonly seq: number } | undefined
  readonly replayOf?: { readonly runId: string } | undefined
  readonly redact?: readonly (readonly (string | number)[])[] | undefined
  /** Its place in a distributed trace, when known as it begins (a caller's context, a tracer). */
  readonly trace?: { readonly traceId: string; readonly spanId: string; readonly remoteParent?: string } | undefined
}

/** Where a durable run's steps go as they complete. */
export interface DurableSink {
  /**
   * The run's events so far: a fork's shared `prefix` (its first events) and its `own` events
   * (timeline events). Stores what is new; resolves once stored, or given up on (reported, never
   * rejected: the run goes on).
   */
  checkpoint(prefix: readonly object[], own: readonly object[]): Promise<void> | undefined
}

/**
 * What the run option and chain default `recorder` take: a flight recorder, made by `recorder()`
 * (DESIGN §10).
 */
export interface RunRecorder {
  readonly [RECORDER_PORT]: RecorderPort
}
