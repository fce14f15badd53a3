// The shape of run statistics (DESIGN §10): what a flight recorder's statistics give
// (src/store/statistics.ts) and what the statistics table prints (src/present/stats-table.ts).
// Types only, here so both layers name the same ones.

/** Durations of one thing (a chain's runs, a link, a middleware call), in nanoseconds. */
export interface DurationStats {
  /** How many were recorded. */
  readonly count: number
  /** How many of them failed (a run that did not end `'ok'`, a link or a middleware call that failed). */
  readonly errors: number
  /** Percentiles and maximum, in ns (HDR: 3 significant digits); `0n` when nothing was recorded. */
  readonly p50: bigint
  readonly p95: bigint
  readonly p99: bigint
  readonly max: bigint
  /** The mean, in ns. */
  readonly mean: number
}

/** The statistics of one chain: its runs, each link by name, each middleware call by name and position. */
export interface ChainStats extends DurationStats {
  /** The chain's name. */
  readonly chain: string
  /** Per link name: the link alone (middleware excluded), as `durationNs` on its events. */
  readonly links: Readonly<Record<string, DurationStats>>
  /** Per middleware call, keyed `'<name> <position>'` (e.g. `'timing chain-before'`). */
  readonly middleware: Readonly<Record<string, DurationStats>>
}
