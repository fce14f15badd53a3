// The recorder's own memory (no store given): per chain, the last runs and the last failed runs,
// as the `Run` objects themselves. Two bounded rings per chain, one index by id.
import type { Run } from '../lineage/run.js'
import type { NormalQuery } from './query.js'
import { newestFirst } from './query.js'
import { runSummary } from './summary.js'
import type { StoredRunSummary } from './types.js'

/**
 * What listing shows of a run kept in memory (the same fields a store lists). Its links are
 * counted from its log: a listing does not build every kept run's events.
 */
function summaryOf(run: Run<unknown>): StoredRunSummary {
  return runSummary(run, run.timeline.linkCount())
}

/** A fixed-size FIFO of runs: adding past its size evicts the oldest (returned). */
class Ring {
  readonly #items: (Run<unknown> | undefined)[]
  #next = 0

  constructor(size: number) {
    this.#items = new Array<Run<unknown> | undefined>(size)
  }

  add(run: Run<unknown>): Run<unknown> | undefined {
    if (this.#items.length === 0) return run
    const evicted = this.#items[this.#next]
    this.#items[this.#next] = run
    this.#next = (this.#next + 1) % this.#items.length
    return evicted
  }

  *[Symbol.iterator](): Generator<Run<unknown>> {
    for (const run of this.#items) if (run !== undefined) yield run
  }
}

/**
 * The kept runs of every chain. No index by id: adding a run touches only its rings (a `Map` of
 * every kept run by id, churned at every run, cost a run in the interleaved benchmark ~25% more,
 * measured); `get` and `list` scan the rings, which hold at most `last + failed` runs a chain.
 */
export class MemoryRing {
  readonly #chains = new Map<string, { readonly last: Ring; readonly failed: Ring }>()

  constructor(
    private readonly last: number,
    private readonly failed: number,
  ) {}

  /** Keeps `run` (a failed one in both rings); what falls out of both rings is forgotten. */
  add(run: Run<unknown>): void {
    let rings = this.#chains.get(run.chainName)
    if (rings === undefined) this.#chains.set(run.chainName, (rings = { last: new Ring(this.last), failed: new Ring(this.failed) }))
    rings.last.add(run)
    if (run.status === 'error' || run.status === 'aborted') rings.failed.add(run)
  }

  /** Every kept run once (a failed run may be in both rings of its chain). */
  #all(): Run<unknown>[] {
    const seen = new Set<Run<unknown>>()
    for (const rings of this.#chains.values()) {
      for (const run of rings.last) seen.add(run)
      for (const run of rings.failed) seen.add(run)
    }
    return [...seen]
  }

  get(id: string): Run<unknown> | undefined {
    for (const rings of this.#chains.values()) {
      for (const run of rings.last) if (run.id === id) return run
      for (const run of rings.failed) if (run.id === id) return run
    }
    return undefined
  }

  /** Summaries that match, newest first. */
  list(q: NormalQuery): StoredRunSummary[] {
    let all = this.#all().map(summaryOf).sort(newestFirst)
    if (q.before !== undefined) {
      const at = all.findIndex((s) => s.id === q.before)
      all = at === -1 ? [] : all.slice(at + 1)
    }
    const out: StoredRunSummary[] = []
    for (const s of all) {
      if (out.length === q.limit) break
      if (q.chain !== undefined && s.chain !== q.chain) continue
      if (q.statuses !== undefined && !q.statuses.includes(s.status)) continue
      if (q.link !== undefined && s.failedLink !== q.link) continue
      if (q.since !== undefined && s.startedAt < q.since) continue
      if (q.until !== undefined && s.startedAt >= q.until) continue
      if (q.trace !== undefined && s.traceId !== q.trace) continue
      out.push(s)
    }
    return out
  }
}
