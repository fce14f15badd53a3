import type { Clock } from './types.js'

/** Wall-clock time now, in epoch nanoseconds, to the microsecond (what a browser can tell). */
function performanceNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n
}

// Node's monotonic clock when there is one; core also loads in browsers (the devtools viewer),
// which read runs and never make them, and get a microsecond clock instead.
const hrtimeBigint = (globalThis as { process?: { hrtime?: { bigint?: unknown } } }).process?.hrtime?.bigint
const hasHrtime = typeof hrtimeBigint === 'function'
// Node's `process.hrtime.bigint` reads nothing from its receiver: it is kept, and called alone.
// `process` is a getter on globalThis, so `process.hrtime.bigint()` cost a getter call and two
// property reads at every reading (~60 a run of 10 links with 2 middleware).
const readHrtime = hrtimeBigint as () => bigint

// One anchor per process: hrtime is monotonic but has an arbitrary origin; timeOrigin + now()
// gives wall-clock time to the microsecond, read at (almost) the same instant.
const anchorNs = hasHrtime ? performanceNs() - readHrtime() : 0n

/**
 * The default clock: monotonic `process.hrtime.bigint()` readings anchored once to wall-clock
 * time, so timestamps are epoch nanoseconds that never go backwards within a process.
 */
export const systemClock: Clock = hasHrtime
  ? {
      now: function hrtimeNow() {
        return anchorNs + readHrtime()
      },
    }
  : { now: performanceNs }

/** The clock of `timestamps: false`: every reading is `0n`. */
export const zeroClock: Clock = {
  now: function zeroNow() {
    return 0n
  },
}
