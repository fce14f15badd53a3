// What executes a chain. Core defines the chain value and this interface; the layers below
// core (run, record, lineage, otel) implement it, and the root of src/ composes them into the
// engine every `chain()` carries. So the chain builder names no layer beneath it, and a bundler
// keeps the engine because it is a value the chain holds, not a registration made on import.
import type { Chain } from './chain.js'
import type { RunOptions } from './types.js'

/**
 * @internal The types of a run, filled in by the layer that makes runs (lineage augments this
 * interface with `run`, `extras` and `outcome`). Core names them through {@link RunOf} and its
 * siblings without importing that layer.
 */
export interface RunTypes<C> {}

/** @internal A finished run of a `Chain<C>` (lineage's `Run<C>`). */
export type RunOf<C> = RunTypes<C> extends { readonly run: infer R } ? R : never
/** @internal How replay and fork steer an execution (lineage's `RunExtras<C>`). */
export type ExtrasOf<C> = RunTypes<C> extends { readonly extras: infer E } ? E : never
/** @internal What an execution gives replay and fork (lineage's `ExecutionOutcome<C>`). */
export type OutcomeOf<C> = RunTypes<C> extends { readonly outcome: infer O } ? O : never

/** @internal Executes runs of chains: validation of the input, the runner, the recorder, tracing. */
export interface Engine {
  /** `chain.run()`: resolves with the run, rejects with its `ChainRunError`. */
  run<C>(chain: Chain<C>, input: C, options: RunOptions | undefined): Promise<RunOf<C>>
  /** `chain._execute()`: resolves with the outcome whatever the run's status (rejects on bad options). */
  execute<C>(chain: Chain<C>, input: unknown, options: RunOptions | undefined, extras: ExtrasOf<C>): Promise<OutcomeOf<C>>
}
