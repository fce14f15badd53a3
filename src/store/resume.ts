// Resuming an interrupted durable run (DESIGN §10): in any process, from its last completed link,
// as a fork of the interrupted run (so the record says what happened: the interrupted run with
// every completed step, and its continuation, linked to it). Exactly one of several resumers wins.
import type { Chain } from '../core/chain.js'
import type { RunOptions } from '../core/types.js'
import { Run } from '../lineage/run.js'
import { INTERRUPTED_CODE } from './durable.js'
import { recorder, type FlightRecorder } from './flight-recorder.js'
import type { RunStore } from './types.js'

/**
 * Why a run could not be resumed: `'RUN_NOT_FOUND'` (the store has no run of that id),
 * `'RUN_NOT_INTERRUPTED'` (it finished: nothing to resume), `'RUN_OWNED'` (another resumer
 * claimed it first).
 */
export class ResumeError extends Error {
  override readonly name = 'ResumeError'
  /** What kind of failure. */
  readonly code: 'RUN_NOT_FOUND' | 'RUN_NOT_INTERRUPTED' | 'RUN_OWNED'
  /** The run that was to be resumed. */
  readonly runId: string

  /** @param code - what kind of failure @param runId - the run @param message - what happened */
  constructor(code: ResumeError['code'], runId: string, message: string) {
    super(message)
    this.code = code
    this.runId = runId
  }
}

/** Options of {@link resume}: run options for the continuation, plus where the run is. */
export interface ResumeOptions<C> extends Omit<RunOptions, 'durable'> {
  /** The chain the run belongs to (its name must match the stored run's). */
  readonly chain: Chain<C>
  /** The store the interrupted run is in; the continuation is kept there too. */
  readonly store: RunStore
  /** Who resumes (kept with the claim): default, one id per call. */
  readonly owner?: string
  /** The recorder that keeps the continuation (its store should be `store`): default, one over `store` for this call. */
  readonly recorder?: FlightRecorder
}

/**
 * Continues an interrupted durable run from its last completed link: claims it (exactly one of
 * concurrent resumers wins; the others reject with `ResumeError` `'RUN_OWNED'`), loads it with
 * `chain` attached, and forks it there as a durable run kept in the same store. The continuation's
 * `parent` is the interrupted run; `runStart` hooks do not run again, `runEnd` hooks do.
 *
 * @returns the continuation (a `Run`); rejects with its `ChainRunError` when it fails, with
 *   `ResumeError` when it cannot start, with the store's `StoreError` when the store fails
 * @example
 * const run = await resume(runId, { chain: checkout, store: sqliteStore('runs.db') })
 */
export async function resume<C>(runId: string, options: ResumeOptions<C>): Promise<Run<C>> {
  const { chain, store, owner = globalThis.crypto.randomUUID(), recorder: given, ...runOptions } = options
  const doc = await store.read(runId)
  if (doc === undefined) throw new ResumeError('RUN_NOT_FOUND', runId, `resume: ${store.kind} store ${store.where} has no run ${runId}`)
  if (doc.run.error?.code !== INTERRUPTED_CODE) {
    throw new ResumeError('RUN_NOT_INTERRUPTED', runId, `resume: run ${runId} is not interrupted (it ended '${doc.run.status}'${doc.run.error === undefined ? '' : ` with ${doc.run.error.code}`}): there is nothing to resume`)
  }
  if (!(await store.claim(runId, owner))) throw new ResumeError('RUN_OWNED', runId, `resume: run ${runId} was claimed by another resumer first`)
  const interrupted = Run.fromJSON<C>(doc, { chain })
  const keeper = given ?? recorder({ store, stats: false, flushOnExit: false, keep: { last: Number.MAX_SAFE_INTEGER, failed: Number.MAX_SAFE_INTEGER } })
  // The cut: the last event before the synthesised end, snapped back to the last completed link.
  const at = Math.max(0, interrupted.timeline.length - 2)
  try {
    return await interrupted.fork({ ...runOptions, at, recorder: keeper, durable: true })
  } finally {
    if (given === undefined) await keeper.flush()
  }
}
