// The engine's side of a flight recorder (DESIGN §10): what it asks of the recorder's port as a
// run starts (where its durations go, a durable run's sink), as a durable run completes steps,
// and when the run is done. A recorder that throws here never fails the run.
import { diag } from '@opentelemetry/api'
import type { Chain } from './core/chain.js'
import { describeError } from './core/errors.js'
import type { RunInfo } from './core/types.js'
import type { DurableSink, DurableStart, DurationSink, RecorderPort } from './core/recording.js'
import type { Recorder } from './record/recorder.js'
import type { Run } from './lineage/run.js'
import type { RunExtras } from './lineage/execution.js'
import type { RunTraceContext } from './otel/run-trace.js'

/**
 * Gives the finished run to the flight recorder, if the run has one: what it answers is a turn
 * to let pass before the run resolves, or undefined (see RecorderPort.runFinished).
 *
 * @internal
 */
export function handOver<C>(port: RecorderPort | undefined, run: Run<C>, chain: Chain<C>): Promise<void> | undefined {
  if (port === undefined) return undefined
  try {
    return port.runFinished(run, chain)
  } catch (error) {
    // A recorder reports its own problems; one that throws anyway must not fail the run.
    diag.warn(`shadowchain: the flight recorder failed to take run ${run.id}: ${describeError(error)}`)
    return undefined
  }
}

/** What keeps a durable run's steps: the recorder's, for this run (its lineage and redaction). @internal */
export function durableSink<C>(port: RecorderPort, info: RunInfo, extras: RunExtras<C>, tracing: RunTraceContext): DurableSink | undefined {
  const trace = tracing.trace()
  const start: DurableStart = {
    id: info.id,
    chainName: info.chainName,
    startedAt: info.startedAt,
    ...(trace !== undefined && { trace }),
    ...(extras.parent !== undefined && { parent: { runId: extras.parent.runId, seq: extras.parent.seq } }),
    ...(extras.replayOf !== undefined && { replayOf: { runId: extras.replayOf.runId } }),
    ...(extras.redact !== undefined && { redact: extras.redact }),
  }
  return port.durable(start)
}

/** The runner's checkpoint of a durable run: the events recorded so far, to its sink. @internal */
export function checkpointOf<C>(sink: DurableSink, recorder: Recorder<C>): () => Promise<void> | undefined {
  const prefix = recorder.prefix
  const shared = prefix === undefined ? [] : prefix.events.slice(0, prefix.length)
  return () => sink.checkpoint(shared, recorder.log.toArray())
}

/** Where the run's durations go (the recorder's statistics); a recorder that throws here gets none. @internal */
export function watch<C>(port: RecorderPort, chain: Chain<C>, info: RunInfo): DurationSink | undefined {
  try {
    return port.runStarted(chain, info)
  } catch (error) {
    diag.warn(`shadowchain: the flight recorder failed to watch run ${info.id}: ${describeError(error)}`)
    return undefined
  }
}
