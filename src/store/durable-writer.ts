// A durable run's steps on their way to the store (DESIGN §10 "Durable runs"): the run's start is
// `begin`, each batch of completed steps `appendSteps`, each waited for before the run goes on,
// for at most `timeoutMs`. A store that fails or does not answer is reported and the run goes on
// without durability: its later steps are not appended (they would leave a gap), and the whole
// run is written when it ends, as any kept run is.
import type { DurableSink, DurableStart } from '../core/recording.js'
import { describeError } from '../core/errors.js'
import type { TimelineEvent } from '../record/events.js'
import { StepEncoder, type EncodedSteps } from '../files/step-encoder.js'
import { durableSummary } from './summary.js'
import type { DurableHead, RunStore, StepBatch } from './types.js'
import type { RunDocument } from '../files/run-document.js'
import { interruptedDocument } from './durable.js'

/** Takes one durable run's steps to a store. */
export class DurableWriter implements DurableSink {
  #encoder: StepEncoder | undefined
  #sentOwn = 0
  #broken = false
  /** With a watcher: the head and batches so far, to show the unfinished run as a document. */
  #head: DurableHead | undefined
  readonly #batches: StepBatch[] = []

  constructor(
    private readonly store: RunStore,
    private readonly start: DurableStart,
    private readonly timeoutMs: number,
    private readonly report: (error: unknown) => void,
    /** Told of the run as stored so far, after each step the store took (a live view). */
    private readonly stored?: (document: RunDocument) => void,
  ) {}

  checkpoint(prefix: readonly object[], own: readonly object[]): Promise<void> | undefined {
    if (this.#broken) return undefined
    const fresh = own.slice(this.#sentOwn) as TimelineEvent<unknown>[]
    this.#sentOwn = own.length
    let write: Promise<void>
    try {
      if (this.#encoder === undefined) {
        const events = [...(prefix as TimelineEvent<unknown>[]), ...fresh]
        this.#encoder = new StepEncoder(this.start, events[0] as TimelineEvent<unknown>)
        const head = headOf(this.#encoder, this.#encoder.encode(events))
        if (this.stored !== undefined) this.#head = head
        write = this.store.begin(durableSummary(head), head)
      } else {
        if (fresh.length === 0) return undefined
        const steps = this.#encoder.encode(fresh)
        if (this.stored !== undefined) this.#batches.push(steps)
        write = this.store.appendSteps(this.start.id, steps)
      }
    } catch (error) {
      this.#fail(error)
      return undefined
    }
    return bounded(write, this.timeoutMs, this.start.id).then(
      () => this.#tell(),
      (error: unknown) => this.#fail(error),
    )
  }

  #tell(): void {
    if (this.stored === undefined || this.#head === undefined) return
    try {
      this.stored(interruptedDocument(this.#head, this.#batches))
    } catch {
      // A watcher that throws is not the run's problem.
    }
  }

  #fail(error: unknown): void {
    this.#broken = true
    this.report(error)
  }
}

/** The head `begin` takes: the document's start with the first events and the tables they name. */
function headOf(encoder: StepEncoder, first: EncodedSteps): DurableHead {
  return { ...encoder.head(), version: first.version, links: first.links, middleware: first.middleware, events: first.events }
}

/** `write`, or a rejection once `ms` passed (its timer never keeps the process alive). */
function bounded(write: Promise<void>, ms: number, id: string): Promise<void> {
  if (!Number.isFinite(ms)) return write
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`durable run ${id}: the store did not answer within ${ms} ms`)), ms)
    timer.unref()
    write.then(
      () => {
        clearTimeout(timer)
        resolve()
      },
      (error: unknown) => {
        clearTimeout(timer)
        reject(error instanceof Error ? error : new Error(describeError(error)))
      },
    )
  })
}
