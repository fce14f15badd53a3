import type { Clock } from './types.js'

// One anchor per process: hrtime is monotonic but has an arbitrary origin; timeOrigin + now()
// gives wall-clock time to the microsecond, read at (almost) the same instant.
const anchorNs =
  BigInt(Math.round((performance.timeOrigin + performance.now()) * 1e3)) * 1000n - process.hrtime.bigint()

/**
 * The default clock: monotonic `process.hrtime.bigint()` readings anchored once to wall-clock
 * time, so timestamps are epoch nanoseconds that never go backwards within a process.
 */
export const systemClock: Clock = {
  now: function hrtimeNow() {
    return anchorNs + process.hrtime.bigint()
  },
}

/** The clock of `timestamps: false`: every reading is `0n`. */
export const zeroClock: Clock = {
  now: function zeroNow() {
    return 0n
  },
}
