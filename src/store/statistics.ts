// Statistics of runs (DESIGN §10): count, errors and duration percentiles per chain, per link and
// per middleware call, from HDR histograms (hdr-histogram-js: a well-kept implementation, with a
// WebAssembly build that records a value in ~20 ns; its plain JavaScript build, the fallback where
// WebAssembly cannot start, in ~100–250 ns). It is loaded by the first histogram: imported with
// the library, it cost every program ~110 ms of its start, statistics kept or not. It is a
// CommonJS package (an `import` of it loaded the same module).
import { createRequire } from 'node:module'
import type * as Hdr from 'hdr-histogram-js'
import type { ChainStats, DurationStats } from '../core/stats-types.js'
import { nsNumber } from '../core/ns-number.js'
import { MIDDLEWARE_POSITIONS } from '../files/document-schema.js'

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
let hdr: typeof Hdr | undefined

/** A histogram in the fastest build that starts here (WebAssembly once it could be loaded). */
function newHistogram(): Hdr.Histogram {
  hdr ??= createRequire(import.meta.url)('hdr-histogram-js') as typeof Hdr
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
   * The series of the last info objects seen, by place: a link's at its index, a middleware
   * call's at its position and index (`callPlace`). A run finds its series with an identity check
   * (a WeakMap lookup hashes, 31 times a run of 10 links with 2 middleware); another chain value of
   * the same name takes a place over through `byInfo`, and a call with no place is `byInfo`'s.
   */
  readonly linkPlaces: Places = { infos: [], series: [] }
  readonly callPlaces: Places = { infos: [], series: [] }
}

/** Call sites' series by place (see {@link ChainSeries}); unused places hold {@link NO_INFO}. */
interface Places {
  readonly infos: object[]
  readonly series: Series[]
}

/** What an unused place holds: no call site is this object. */
const NO_INFO: object = Object.freeze({})

/** The positions a middleware call can have, in the order their blocks of places are numbered (an `indexOf` of 8 interned strings: ~4 ns, a Map's `get` ~7). */
const POSITIONS: readonly string[] = MIDDLEWARE_POSITIONS
/** Places for middleware of one position (indexes 0 … 15); later ones are found by `byInfo`. */
const CALLS_PER_POSITION = 16

/** A middleware call's place among a chain's call places, or -1 (found by `byInfo` alone). */
function callPlace(call: { readonly position: string; readonly index: number }): number {
  const index = call.index
  if (index < 0 || index >= CALLS_PER_POSITION) return -1
  const position = POSITIONS.indexOf(call.position)
  return position === -1 ? -1 : position * CALLS_PER_POSITION + index
}

/** Links with a place (indexes 0 … 4,095); later ones are found by `byInfo`. */
const LINK_PLACES = 4_096

/** A link's place among a chain's link places, or -1. */
function linkPlace(link: { readonly index: number }): number {
  return link.index >= 0 && link.index < LINK_PLACES ? link.index : -1
}

/**
 * The series of call site `info` (`name` its key in `byName`): at its place when the place knows
 * it, else found by identity (`byInfo`) or by name, or new, and given the place.
 */
function seriesOf(chain: ChainSeries, places: Places, place: number, info: object, byName: Map<string, Series>, name: string): Series {
  if (place !== -1 && places.infos[place] === info) return places.series[place] as Series
  let series = chain.byInfo.get(info)
  if (series === undefined) {
    series = byName.get(name) ?? new Series()
    byName.set(name, series)
    chain.byInfo.set(info, series)
  }
  if (place !== -1) {
    // Holes are filled: a sparse array is slower to read, a few unused places are not.
    while (places.infos.length < place) {
      places.infos.push(NO_INFO)
      places.series.push(series)
    }
    places.infos[place] = info
    places.series[place] = series
  }
  return series
}

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
    return seriesOf(chain, chain.linkPlaces, linkPlace(info), info, chain.links, info.name)
  }

  /** The series of a middleware call site (by its `MiddlewareCallInfo`), found by identity after the first call. */
  middlewareSeries(chain: ChainSeries, call: { readonly name: string; readonly position: string; readonly index: number }): Series {
    const place = callPlace(call)
    // The key is made only when the place does not know the call (a string built a call otherwise).
    if (place !== -1 && chain.callPlaces.infos[place] === call) return chain.callPlaces.series[place] as Series
    return seriesOf(chain, chain.callPlaces, place, call, chain.middleware, middlewareKey(call))
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
