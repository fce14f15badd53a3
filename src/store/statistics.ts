// Statistics of runs (DESIGN §10): count, errors and duration percentiles per chain, per link and
// per middleware call, from HDR histograms (hdr-histogram-js: a well-kept implementation, with a
// WebAssembly build that records a value in ~20 ns; its plain JavaScript build, the fallback where
// WebAssembly cannot start, in ~100–250 ns).
import * as hdr from 'hdr-histogram-js'
import type { ChainStats, DurationStats } from '../core/stats-types.js'
import { nsNumber } from '../core/ns-number.js'

export type { ChainStats, DurationStats } from '../core/stats-types.js'

/** A filter for statistics: one chain's, or every chain's. */
export interface StatsQuery {
  /** Only this chain. */
  readonly chain?: string | undefined
}

/** A middleware call's key in the statistics: its name and position (`'timing chain-before'`). */
export function middlewareKey(call: { readonly name: string; readonly position: string }): string {
  return `${call.name} ${call.position}`
}

/** Durations above this (an hour) are recorded as this: a histogram must have a top. */
const HIGHEST_NS = 3_600_000_000_000

let wasmReady: boolean | undefined

/** A histogram in the fastest build that starts here (WebAssembly once it could be loaded). */
function newHistogram(): hdr.Histogram {
  if (wasmReady === undefined) {
    try {
      hdr.initWebAssemblySync()
      wasmReady = true
    } catch {
      wasmReady = false
    }
  }
  return hdr.build({ bitBucketSize: 32, numberOfSignificantValueDigits: 3, autoResize: false, lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST_NS, useWebAssembly: wasmReady })
}

/** Values a series holds before it records them into its histogram. */
const PENDING = 64

/** One series: a histogram of durations and a count of failures. */
export class Series {
  readonly #histogram = newHistogram()
  // Values wait here and go into the histogram PENDING at a time, in one loop: a WebAssembly
  // call made among a run's own work cost about twice one made in a loop (~40 ns against ~20,
  // measured on the recorder bench's runs), 31 times a run of 10 links with 2 middleware.
  readonly #pending = new Float64Array(PENDING)
  #waiting = 0
  errors = 0

  /** Records one duration (ns); `failed` counts it among the errors too. */
  record(durationNs: bigint | number, failed: boolean): void {
    const ns = typeof durationNs === 'bigint' ? nsNumber(durationNs) : durationNs
    this.#pending[this.#waiting++] = ns < 0 ? 0 : ns > HIGHEST_NS ? HIGHEST_NS : Math.round(ns)
    if (this.#waiting === PENDING) this.#settle()
    if (failed) this.errors++
  }

  /** The waiting values into the histogram. */
  #settle(): void {
    const h = this.#histogram
    const pending = this.#pending
    for (let i = 0; i < this.#waiting; i++) h.recordValue(pending[i] as number)
    this.#waiting = 0
  }

  /** What has been recorded so far. */
  summary(): DurationStats {
    this.#settle()
    const h = this.#histogram
    const count = h.totalCount
    if (count === 0) return { count: 0, errors: this.errors, p50: 0n, p95: 0n, p99: 0n, max: 0n, mean: 0 }
    const max = Math.round(h.maxValue)
    // A percentile is the top of its HDR bucket, which may lie above the largest value recorded.
    const at = (p: number) => BigInt(Math.min(Math.round(h.getValueAtPercentile(p)), max))
    return { count, errors: this.errors, p50: at(50), p95: at(95), p99: at(99), max: BigInt(max), mean: h.mean }
  }

  /** Frees the histogram (WebAssembly memory is not garbage-collected). */
  destroy(): void {
    this.#waiting = 0
    this.#histogram.destroy()
  }
}


/** The series of one chain: its runs, its links by name, its middleware calls by key. */
export class ChainSeries {
  readonly runs = new Series()
  readonly links = new Map<string, Series>()
  readonly middleware = new Map<string, Series>()
  /**
   * The series of a link or middleware call by its info object (frozen and shared by every run of
   * a chain value): found without building or hashing a key string on every call.
   */
  readonly byInfo = new WeakMap<object, Series>()
  /**
   * The last info objects seen, with their series: a link's at its index, the middleware calls'
   * in the order first seen. A run finds its series with an identity check (a WeakMap lookup
   * hashes, 31 times a run of 10 links with 2 middleware); another chain value of the same name
   * takes the slots over through `byInfo`.
   */
  readonly linkSlots: { info: object; series: Series }[] = []
  readonly callSlots: { info: object; series: Series }[] = []
  /** The slot of `callSlots` taken over next once it is full. */
  nextCallSlot = 0
}

/** Middleware call sites kept in `callSlots`; past them, `byInfo` alone. */
const CALL_SLOTS = 8

/**
 * Statistics of every chain seen: what a flight recorder keeps (`rec.stats()`) and what
 * `shadowchain stats <store>` computes from stored runs.
 */
export class Statistics {
  readonly #chains = new Map<string, ChainSeries>()

  /** The series of a chain, made on first use. */
  chain(name: string): ChainSeries {
    let series = this.#chains.get(name)
    if (series === undefined) this.#chains.set(name, (series = new ChainSeries()))
    return series
  }

  /** One link execution of `chain`. */
  link(chain: ChainSeries, link: string, durationNs: bigint | number, failed: boolean): void {
    let series = chain.links.get(link)
    if (series === undefined) chain.links.set(link, (series = new Series()))
    series.record(durationNs, failed)
  }

  /** The series of a link (by its `LinkInfo`), found by identity after the first call. */
  linkSeries(chain: ChainSeries, info: { readonly name: string; readonly index: number }): Series {
    const slot = chain.linkSlots[info.index]
    if (slot !== undefined && slot.info === info) return slot.series
    const series = this.#linkSeriesOf(chain, info)
    if (info.index >= 0 && info.index <= chain.linkSlots.length) chain.linkSlots[info.index] = { info, series }
    return series
  }

  #linkSeriesOf(chain: ChainSeries, info: { readonly name: string }): Series {
    let series = chain.byInfo.get(info)
    if (series === undefined) {
      series = chain.links.get(info.name) ?? new Series()
      chain.links.set(info.name, series)
      chain.byInfo.set(info, series)
    }
    return series
  }

  /** The series of a middleware call site (by its `MiddlewareCallInfo`), found by identity after the first call. */
  middlewareSeries(chain: ChainSeries, call: { readonly name: string; readonly position: string }): Series {
    const slots = chain.callSlots
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i] as { info: object; series: Series }
      if (slot.info === call) return slot.series
    }
    const series = this.#middlewareSeriesOf(chain, call)
    // Full (chain values of this name come and go): the oldest slot is taken over.
    if (slots.length < CALL_SLOTS) slots.push({ info: call, series })
    else slots[chain.nextCallSlot++ % CALL_SLOTS] = { info: call, series }
    return series
  }

  #middlewareSeriesOf(chain: ChainSeries, call: { readonly name: string; readonly position: string }): Series {
    let series = chain.byInfo.get(call)
    if (series === undefined) {
      const name = middlewareKey(call)
      series = chain.middleware.get(name) ?? new Series()
      chain.middleware.set(name, series)
      chain.byInfo.set(call, series)
    }
    return series
  }

  /** One middleware call of `chain` (`key`: `'<name> <position>'`). */
  middleware(chain: ChainSeries, key: string, durationNs: bigint | number, failed: boolean): void {
    let series = chain.middleware.get(key)
    if (series === undefined) chain.middleware.set(key, (series = new Series()))
    series.record(durationNs, failed)
  }

  /** Per chain (sorted by name): runs, links and middleware calls. */
  summary(query: StatsQuery = {}): ChainStats[] {
    const out: ChainStats[] = []
    for (const [name, series] of [...this.#chains].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (query.chain !== undefined && query.chain !== name) continue
      out.push({
        chain: name,
        ...series.runs.summary(),
        links: Object.fromEntries([...series.links].map(([key, s]) => [key, s.summary()])),
        middleware: Object.fromEntries([...series.middleware].map(([key, s]) => [key, s.summary()])),
      })
    }
    return out
  }

  /** Frees every histogram. */
  destroy(): void {
    for (const series of this.#chains.values()) {
      series.runs.destroy()
      for (const s of series.links.values()) s.destroy()
      for (const s of series.middleware.values()) s.destroy()
    }
    this.#chains.clear()
  }
}
