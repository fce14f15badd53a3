// Where a run's durations go when its flight recorder keeps statistics (DESIGN §10): the run's
// recorder tells it each link, middleware call and the run as they end, at every capture level,
// with the readings the runner takes anyway (no clock reading of its own).
import type { DurationSink } from '../core/recording.js'
import type { ChainSeries, Statistics } from './statistics.js'
import { nsBetween } from '../core/ns-number.js'

/** Records one run's link, middleware and run durations into a chain's series. */
export class StatsSink implements DurationSink {
  constructor(
    private readonly stats: Statistics,
    private readonly series: ChainSeries,
    private readonly startedAt: bigint,
  ) {}

  link(link: { readonly name: string; readonly index: number }, t0: bigint, t1: bigint, failed: boolean): void {
    this.stats.linkSeries(this.series, link).record(nsBetween(t0, t1), failed)
  }

  middleware(call: { readonly name: string; readonly position: string; readonly index: number }, durationNs: bigint, failed: boolean): void {
    this.stats.middlewareSeries(this.series, call).record(durationNs, failed)
  }

  run(t: bigint, failed: boolean): void {
    this.series.runs.record(nsBetween(this.startedAt, t), failed)
  }
}
