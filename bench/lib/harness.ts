// A small interleaved benchmark harness: every case runs in the same process, round-robin, each
// round in a rotated order; one sample per case per round (the mean time of a batch of runs).
// Medians are taken per case, and ratios are medians of the per-round ratios, so two cases are
// always compared on samples taken a few milliseconds apart (this machine is shared and noisy).
//
// Each batch is timed twice: CPU time of the process (process.cpuUsage: user + system, all
// threads, so GC and JIT helper threads count) and wall-clock time. CPU time is the primary
// figure: when other processes compete for the 2 cores, wall-clock batches stretch by up to 2x
// while CPU time varies far less (measured: immer loop 37-87 µs wall vs 37-40 µs CPU over 12
// batches under a load average of 5). Contention still slows every case (shared caches), so
// absolute times move from run to run; the paired ratios do not.

export interface Case {
  readonly id: string
  /** One complete run of the workload. */
  readonly run: () => Promise<unknown>
}

export interface Samples {
  /** Runs per batch. */
  readonly n: number
  /** Mean CPU ns per run of each round's batch, in round order. */
  readonly ns: number[]
  /** Mean wall-clock ns per run of each round's batch, in round order. */
  readonly wallNs: number[]
}

export interface MeasureOptions {
  readonly rounds: number
  /** Target wall time of one batch. */
  readonly batchMs: number
  readonly warmupRounds: number
  readonly progress?: (text: string) => void
}

const collect: () => void =
  typeof (globalThis as { gc?: () => void }).gc === 'function' ? (globalThis as unknown as { gc: () => void }).gc : () => {}

/** True when the process runs with --expose-gc. */
export const canCollect = typeof (globalThis as { gc?: () => void }).gc === 'function'

/** Heap in use after full collections (needs --expose-gc to mean anything). */
export function heapUsedAfterGc(): number {
  for (let i = 0; i < 4; i++) collect()
  return process.memoryUsage().heapUsed
}

async function batch(run: () => Promise<unknown>, n: number, into: Samples): Promise<void> {
  const cpu0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < n; i++) await run()
  const wall = Number(process.hrtime.bigint() - t0)
  const cpu = process.cpuUsage(cpu0)
  into.ns.push(((cpu.user + cpu.system) * 1e3) / n)
  into.wallNs.push(wall / n)
}

/** Runs for about `ms` and returns the mean ns per run. */
async function timed(run: () => Promise<unknown>, ms: number): Promise<number> {
  const budget = BigInt(Math.round(ms * 1e6))
  const t0 = process.hrtime.bigint()
  let n = 0
  let elapsed = 0n
  do {
    await run()
    n++
    elapsed = process.hrtime.bigint() - t0
  } while (elapsed < budget)
  return Number(elapsed) / n
}

export async function measure(cases: readonly Case[], options: MeasureOptions): Promise<Map<string, Samples>> {
  // Warm-up, interleaved too, so that shared code (immer, the link functions) reaches the same
  // optimisation state it has during the measured rounds; the last round sizes the batches.
  const perRun = new Map<string, number>()
  for (let w = 0; w < options.warmupRounds; w++) {
    for (const c of cases) perRun.set(c.id, await timed(c.run, options.batchMs))
    options.progress?.(`warm-up ${w + 1}/${options.warmupRounds}`)
  }
  const out = new Map<string, Samples>()
  for (const c of cases) {
    const n = Math.max(1, Math.round((options.batchMs * 1e6) / (perRun.get(c.id) as number)))
    out.set(c.id, { n, ns: [], wallNs: [] })
  }
  for (let r = 0; r < options.rounds; r++) {
    for (let k = 0; k < cases.length; k++) {
      const c = cases[(r + k) % cases.length] as Case
      const samples = out.get(c.id) as Samples
      // No gc() between batches: a forced full GC shrinks the young generation, and the next
      // batches of allocation-heavy cases then run 1.5-2x slower (measured). Each case pays for
      // the garbage it makes, spread over the rounds by the interleaving.
      await batch(c.run, samples.n, samples)
    }
    if ((r + 1) % 10 === 0 || r + 1 === options.rounds) options.progress?.(`round ${r + 1}/${options.rounds}`)
  }
  return out
}

export function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const at = (sorted.length - 1) * q
  const lo = Math.floor(at)
  const hi = Math.ceil(at)
  return (sorted[lo] as number) + ((sorted[hi] as number) - (sorted[lo] as number)) * (at - lo)
}

export const median = (values: readonly number[]): number => quantile(values, 0.5)

export interface Ratio {
  readonly median: number
  readonly p25: number
  readonly p75: number
}

/** The per-round ratios a / b (CPU time, or wall-clock time), summarised. */
export function pairedRatio(a: Samples, b: Samples, clock: 'ns' | 'wallNs' = 'ns'): Ratio {
  const ratios = a[clock].map((ns, i) => ns / (b[clock][i] as number))
  return { median: median(ratios), p25: quantile(ratios, 0.25), p75: quantile(ratios, 0.75) }
}

/** The per-round differences a − b in ns (CPU time, or wall-clock time), summarised. */
export function pairedDifference(a: Samples, b: Samples, clock: 'ns' | 'wallNs' = 'ns'): Ratio {
  const diffs = a[clock].map((ns, i) => ns - (b[clock][i] as number))
  return { median: median(diffs), p25: quantile(diffs, 0.25), p75: quantile(diffs, 0.75) }
}

/**
 * Memory in use after full collections: the V8 heap plus the memory of ArrayBuffers (typed
 * arrays larger than 64 bytes live outside the heap: a recorded run packs its times in one).
 */
export function retainedAfterGc(): number {
  for (let i = 0; i < 4; i++) collect()
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}
