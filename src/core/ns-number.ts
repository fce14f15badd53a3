// Bigint nanoseconds as plain numbers, without a builtin call or a bigint allocated. The runner's
// readings are bigints (epoch ns are past 2^53), but durations fit a number: `Number(t1 - t0)`
// allocates a bigint and makes two builtin calls, at every duration a run reports (31 a run of
// 10 links with 2 middleware, for statistics; 3 a link span, for tracing). Instead the bigint is
// stored into a 64-bit typed array and read back as two 32-bit halves: plain number arithmetic.

/** @internal A 64-bit scratch value (two of them) and its 32-bit halves (otel/times.ts reads times the same way). */
export const SCRATCH = new BigUint64Array(2)
/** @internal The scratch values' 32-bit halves (index `2k + LO` / `2k + HI` for value k). */
export const HALVES = new Uint32Array(SCRATCH.buffer)
/** @internal Which half of a scratch value is which follows the platform's byte order. */
export const LO = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1
/** @internal The high half's place (see {@link LO}). */
export const HI = 1 - LO
/** @internal 2^32, the high half's weight. */
export const TWO_32 = 4_294_967_296
/** @internal The high half of the first value past 2^53 = 2^21 × 2^32. */
export const FAST_HI = 0x20_0000
/** @internal 2^53 ns: below it, a number holds every count of nanoseconds exactly. */
export const TWO_53 = 1n << 53n

/**
 * A bigint count of nanoseconds as a number: exact below 2^53 ns (104 days), `Number(ns)` above
 * (and for negative values).
 */
export function nsNumber(ns: bigint): number {
  // Not below 0: the store takes a value modulo 2^64, and −2^64 would read back as 0.
  if (ns >= 0n && ns < TWO_53) {
    SCRATCH[0] = ns
    const hi = HALVES[HI] as number
    // Under 2^32 ns (4.3 s, nearly every duration): the low half as it is, a small integer when
    // it fits one (as Number() gives it), not a double.
    if (hi === 0) return HALVES[LO] as number
    if (hi < FAST_HI) return hi * TWO_32 + (HALVES[LO] as number)
  }
  return Number(ns)
}

/**
 * `t1 − t0` as a number, for two readings of a clock (epoch ns): `Number(t1 - t0)` without the
 * bigint it allocates. Exact whenever the difference is under 2^53 ns (104 days) either way;
 * farther apart, `Number(t1 - t0)` itself. Readings outside 0 … 2^64 are taken modulo 2^64 by the
 * store, which a difference survives unless it is 2^64 − 2^53 ns (580 years) or more: no two
 * readings of a clock are that far apart, and checking for it (four bigint comparisons) cost more
 * than the bigint this saves.
 */
export function nsBetween(t0: bigint, t1: bigint): number {
  SCRATCH[0] = t0
  SCRATCH[1] = t1
  const hi = (HALVES[2 + HI] as number) - (HALVES[HI] as number)
  if (hi > -FAST_HI && hi < FAST_HI) {
    // |hi| < 2^21 and |lo| < 2^32: the sum is exact; it is the difference modulo 2^64, which is the
    // difference itself when that is under 2^53 either way.
    return hi * TWO_32 + ((HALVES[2 + LO] as number) - (HALVES[LO] as number))
  }
  return Number(t1 - t0)
}
