// Times and durations as OpenTelemetry takes them: the runner's bigint epoch nanoseconds as
// HrTime tuples, bigint durations as numbers (live tracing and export alike).
import type { HrTime } from '@opentelemetry/api'
import { FAST_HI, HALVES, HI, LO, nsNumber, SCRATCH, TWO_32, TWO_53 } from '../core/ns-number.js'

// Epoch ns are bigints past 2^53; HrTime wants [seconds, nanos] numbers. Both bigint arithmetic
// and Number(bigint) are builtin calls that allocate (a subtraction and a conversion were most of
// what one time cost, ~25 ns of ~40), three times a link span. Instead the bigint is stored into a
// 64-bit typed array and read back as two 32-bit halves, less the halves of an anchor (a whole
// second near now): plain number arithmetic, exact for 2^53 ns (104 days) after the anchor.
// Anything else (a test clock near 0, a recorded run from before, a far future) takes the bigint
// path, as exact. (The scratch value and its halves are core's, ns-number.ts.)
const ANCHOR_S = Math.floor(Date.now() / 1000)
const ANCHOR_NS = BigInt(ANCHOR_S) * 1_000_000_000n
/** Past the fast range: every value from here on (2^64 and more too) takes the bigint path. */
const FAST_END = ANCHOR_NS + TWO_53
SCRATCH[0] = ANCHOR_NS
const ANCHOR_HI = HALVES[HI] as number
const ANCHOR_LO = HALVES[LO] as number

/**
 * Epoch nanoseconds as an OTel HrTime, exact to the nanosecond. (A run recorded with
 * `timestamps: false` has no times: callers pass no time at all then, and the SDK stamps.)
 */
export function hrTime(ns: bigint): HrTime {
  // One bigint comparison keeps values of 2^64 and more (which the store would wrap) out; values
  // below the anchor (negative ones wrap to a huge high half) fail the range check.
  if (ns < FAST_END) {
    SCRATCH[0] = ns
    const hi = (HALVES[HI] as number) - ANCHOR_HI
    if (hi >= 0 && hi < FAST_HI) {
      // Below 2^53: exact. (The low halves' difference may be negative: the sum is still exact.)
      const offset = hi * TWO_32 + ((HALVES[LO] as number) - ANCHOR_LO)
      let seconds = Math.floor(offset / 1e9)
      let nanos = offset - seconds * 1e9
      // offset / 1e9 is rounded: next to a whole second, far from the anchor, the floor can be one off.
      if (nanos < 0) (seconds -= 1), (nanos += 1e9)
      else if (nanos >= 1e9) (seconds += 1), (nanos -= 1e9)
      // `| 0` (nanos < 1e9): small integers, as the SDK's own tuples hold, not doubles (V8 keeps
      // arrays of doubles apart: SDK code reading both kinds would be slower for both).
      return [ANCHOR_S + seconds, nanos | 0]
    }
  }
  return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
}

/**
 * Durations as attributes: numbers, exact below 2^53 ns (104 days), read from the bigint's halves
 * as {@link hrTime} reads a time (`Number(bigint)` is a builtin call, three times a link span).
 */
export const nsAttribute: (ns: bigint) => number = nsNumber

/** `hrTime`, or nothing for a run recorded without timestamps (every time `0n`). */
export function timesOf(stamped: boolean): (ns: bigint) => HrTime | undefined {
  return stamped ? hrTime : unstamped
}
function unstamped(): undefined {
  return undefined
}
