// The observer a flight recorder adds to each run it keeps statistics of (DESIGN §8: an observer
// like the recorder and the tracer): it records the durations the runner reports, at every capture
// level, without taking a clock reading of its own.
import type { LinkInfo, MiddlewareCallInfo, RunStatus } from '../core/types.js'
import type { RunObserver } from '../run/observer.js'
import type { ChainSeries, Statistics } from './statistics.js'
import { nsBetween } from '../core/ns-number.js'

/** Records one run's link, middleware and run durations into a chain's series. */
export class StatsObserver implements RunObserver<unknown> {
  readonly wrapsLinks = false

  constructor(
    private readonly stats: Statistics,
    private readonly series: ChainSeries,
    private readonly startedAt: bigint,
  ) {}

  hookDone(_type: string, call: MiddlewareCallInfo, _link: LinkInfo | undefined, _t0: bigint, durationNs: bigint): undefined {
    this.stats.middlewareSeries(this.series, call).record(durationNs, false)
    return undefined
  }

  hookFailed(call: MiddlewareCallInfo, _hook: string, _link: LinkInfo | undefined, _t0: bigint, durationNs: bigint): void {
    this.stats.middlewareSeries(this.series, call).record(durationNs, true)
  }

  linkEnd(link: LinkInfo, t0: bigint, t1: bigint): void {
    this.stats.linkSeries(this.series, link).record(nsBetween(t0, t1), false)
  }

  linkError(link: LinkInfo, t0: bigint, t1: bigint): void {
    this.stats.linkSeries(this.series, link).record(nsBetween(t0, t1), true)
  }

  runEnd(status: RunStatus, _failure: unknown, _stepEnd: bigint, t: bigint): void {
    this.series.runs.record(nsBetween(this.startedAt, t), status !== 'ok')
  }

  linkStart(_link: LinkInfo, draft: unknown): unknown {
    return draft
  }

  runLink<A, B, R>(fn: (a: A, b: B) => R, a: A, b: B): R {
    return fn(a, b)
  }

  // Moments that carry no duration of their own.
  runStart(): void {}
  linkBegin(): void {}
  linkSettling(): void {}
  linkAttempt(): void {}
  branchStart(): void {}
  branchEnd(): void {}
  stepEnd(): void {}
  stepCut(): void {}
  linkSkip(): void {}
}
