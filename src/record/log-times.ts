// The times of an event log (event-log.ts), in order: the clock's readings as they came (a short
// run keeps its few bigints), packed 8 bytes each into a 64-bit array once there are many.

/** Times moved from the bigint list to the packed one in batches of this many. */
const PACK_EVERY = 1024
/** A run that ends with fewer times than this keeps them as bigints (a typed array costs ~0.4 µs). */
const SEAL_PACK = 256
const INT64_MIN = -(2n ** 63n)
const INT64_MAX = 2n ** 63n - 1n

/** How a log keeps times. */
export const Times = {
  /** Any bigint a clock may give (a user's clock): checked before packing. */
  Checked: 0,
  /** Epoch nanoseconds of the system clock: they always fit 64 bits. */
  Int64: 1,
  /** `timestamps: false`: every time is `0n`, none is kept. */
  Zero: 2,
} as const
export type Times = (typeof Times)[keyof typeof Times]

/** The times of one event log, in the order they were added. */
export class LogTimes {
  /** Times not yet packed, and the packed ones (`packedLength` of them). */
  private list: bigint[] = []
  private packed: BigInt64Array | undefined = undefined
  private packedLength = 0
  private readonly zero: boolean
  private readonly checked: boolean

  /** @param expected - about how many times the run will keep: many, and they are packed as they come */
  constructor(times: Times, expected: number) {
    this.zero = times === Times.Zero
    this.checked = times === Times.Checked
    if (!this.zero && !this.checked && expected >= SEAL_PACK) this.packed = new BigInt64Array(expected)
  }

  /** Number of times kept (none with `timestamps: false`). */
  get length(): number {
    return this.packedLength + this.list.length
  }

  add(t: bigint): void {
    if (this.zero) return
    const list = this.list
    const packed = this.packed
    // Packed as they come while the array has room and nothing waits in the list.
    if (packed !== undefined && list.length === 0 && this.packedLength < packed.length) {
      packed[this.packedLength++] = t
      return
    }
    list.push(t)
    if (list.length === PACK_EVERY) this.pack(false)
  }

  at(index: number): bigint {
    if (this.zero) return 0n
    const packed = this.packedLength
    return index < packed ? ((this.packed as BigInt64Array)[index] as bigint) : (this.list[index - packed] as bigint)
  }

  /** The run ended: packed to the exact length, when there are many. */
  seal(): void {
    if (this.list.length >= SEAL_PACK || this.packed !== undefined) this.pack(true)
  }

  /** Moves the bigint list into the packed array (unless a clock gave a time past 64 bits). */
  private pack(exact: boolean): void {
    const list = this.list
    if (this.checked) {
      for (const t of list) if (t < INT64_MIN || t > INT64_MAX) return
    }
    const need = this.packedLength + list.length
    let packed = this.packed
    if (packed === undefined || packed.length < need || (exact && packed.length !== need)) {
      const grown = new BigInt64Array(exact ? need : Math.max(need, 2 * (packed?.length ?? 0)))
      if (packed !== undefined) grown.set(packed.subarray(0, this.packedLength))
      packed = this.packed = grown
    }
    for (let i = 0; i < list.length; i++) packed[this.packedLength + i] = list[i] as bigint
    this.packedLength = need
    this.list = []
  }
}
