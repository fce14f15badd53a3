// How runs reach a flight recorder (DESIGN §10). The engine asks the recorder given as the run
// option or chain default `recorder` for where each run's durations go (its statistics) and hands
// it each finished run. Core does not name the run (the layers below define it), so the recorder
// is reached through one symbol-keyed port.

/** The key of a recorder's port (see {@link RunRecorder}). */
export const RECORDER_PORT: unique symbol = Symbol('shadowchain.recorder')

/** What the engine calls on a recorder. No method throws into a run or blocks it. */
export interface RecorderPort {
  /** A run of `chain` starts (`info`: its `RunInfo`): where its durations go (its statistics), or undefined. */
  runStarted(chain: object, info: { readonly id: string; readonly startedAt: bigint }): DurationSink | undefined
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

/**
 * Where one run's durations go (a flight recorder's statistics): the readings the runner takes
 * anyway, told by the run's recorder (record/recorder.ts) as each call ends, at every capture
 * level. (Once a separate observer of the run: the moments it had no use for cost a call each,
 * ~10 a link.) No method throws into the run.
 */
export interface DurationSink {
  /** A link execution (its `LinkInfo`) ended at `t1`, begun at `t0`; `failed`: it threw or rejected. */
  link(link: { readonly name: string; readonly index: number }, t0: bigint, t1: bigint, failed: boolean): void
  /** A middleware call (its `MiddlewareCallInfo`) ended after `durationNs`; `failed`: it threw or rejected. */
  middleware(call: { readonly name: string; readonly position: string; readonly index: number }, durationNs: bigint, failed: boolean): void
  /** The run ended at `t`; `failed`: its status is not `'ok'`. */
  run(t: bigint, failed: boolean): void
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
