// How the flight recorder writes its waiting runs: in batches, up to the store's `writesInFlight`
// at once (a store that writes on a thread of its own takes the next batch while it writes one;
// waiting for each answer cost a turn of the event loop a batch).
import type { EncodedRun } from './summary.js'

/** A batch of encoded runs, as one `write` takes it. */
export type Batch = readonly EncodedRun[]

/** The batches on their way to the store: they still count as waiting (`health`, `get`). */
export class InFlight {
  readonly #batches = new Set<Batch>()
  #runs = 0

  /** How many runs the batches on their way hold. */
  get runs(): number {
    return this.#runs
  }

  add(batch: Batch): void {
    this.#batches.add(batch)
    this.#runs += batch.length
  }

  delete(batch: Batch): void {
    if (this.#batches.delete(batch)) this.#runs -= batch.length
  }

  /** The run of that id in a batch on its way, if one holds it. */
  find(id: string): EncodedRun | undefined {
    for (const batch of this.#batches) for (const run of batch) if (run.summary.id === id) return run
    return undefined
  }
}

/** What {@link writeBatches} did not write: the first error, and the batches that failed, in the order they were started. */
export interface FailedBatches {
  readonly error: unknown
  readonly batches: readonly Batch[]
}

/**
 * Writes the batches `next` gives until it gives none, up to `most` at once, each in `inFlight`
 * while on its way; after a failure it starts no more and waits for the others. Whenever nothing
 * is on its way, `between` runs before the next batch is taken (the recorder lets the event loop
 * turn there). A batch that failed stays in `inFlight`: the caller puts it back in line.
 */
export async function writeBatches(
  next: () => Batch | undefined,
  most: number,
  write: (batch: Batch) => Promise<void>,
  inFlight: InFlight,
  between: () => Promise<void> | undefined,
): Promise<FailedBatches | undefined> {
  const writing = new Set<Promise<void>>()
  // By the order they were started in, whichever failed first.
  const failed: Batch[] = []
  let error: { readonly reason: unknown } | undefined
  let started = 0
  for (;;) {
    while (error === undefined && writing.size < most) {
      const batch = next()
      if (batch === undefined) break
      const order = started++
      inFlight.add(batch)
      const done: Promise<void> = write(batch)
        .then(
          () => inFlight.delete(batch),
          (reason: unknown) => {
            failed[order] = batch
            error ??= { reason }
          },
        )
        .finally(() => writing.delete(done))
      writing.add(done)
    }
    if (writing.size === 0) break
    await Promise.race(writing)
    if (error === undefined && writing.size === 0) await between()
  }
  return error === undefined ? undefined : { error: error.reason, batches: failed.filter((batch) => batch !== undefined) }
}
