import type { Clock } from './types.js'

/** Wall-clock time now, in epoch nanoseconds, to the microsecond (what a browser can tell). */
function performanceNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n
}

// Node's monotonic clock when there is one; core also loads in browsers (the devtools viewer),
// which read runs and never make them, and get a microsecond clock instead.
const hasHrtime = typeof (globalThis as { process?: { hrtime?: { bigint?: unknown } } }).process?.hrtime?.bigint === 'function'

// One anchor per process: hrtime is monotonic but has an arbitrary origin; timeOrigin + now()
// gives wall-clock time to the microsecond, read at (almost) the same instant.
const anchorNs = hasHrtime ? performanceNs() - process.hrtime.bigint() : 0n

/**
 * The default clock: monotonic `process.hrtime.bigint()` readings anchored once to wall-clock
 * time, so timestamps are epoch nanoseconds that never go backwards within a process.
 */
export const systemClock: Clock = hasHrtime
  ? {
      now: function hrtimeNow() {
        return anchorNs + process.hrtime.bigint()
      },
    }
  : { now: performanceNs }

/** The clock of `timestamps: false`: every reading is `0n`. */
export const zeroClock: Clock = {
  now: function zeroNow() {
    return 0n
  },
}
