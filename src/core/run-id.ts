// Run ids (issue #13): UUIDs of version 7 (RFC 9562), 48 bits of Unix time in milliseconds, then
// 74 random bits. Ids made one after another sort together, so a store's indexes of ids grow at
// their end instead of at random places. With random ids (version 4) every insert dirtied a page
// of each id index, and writing a run to SQLite cost more the more runs the file held (measured:
// 44 → 84 µs a run from 0 to 40,000 runs; flat with ordered ids). `globalThis.crypto`, not
// node:crypto: the viewer runs this code in browsers too.

/** Random bytes drawn at once: 10 an id. */
const POOL_IDS = 256
const RANDOM_BYTES = 10
const pool = new Uint8Array(POOL_IDS * RANDOM_BYTES)
let next = pool.length

const HEX: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'))

/**
 * A new run id: a version 7 UUID (`0190a5c4-7e2b-7d3c-9a1f-5b6e4c3d2a10`), time-ordered by the
 * millisecond it was made, 74 random bits after it.
 */
export function runId(): string {
  if (next + RANDOM_BYTES > pool.length) {
    globalThis.crypto.getRandomValues(pool)
    next = 0
  }
  const r = pool
  const i = next
  next += RANDOM_BYTES
  const ms = Date.now()
  const high = Math.floor(ms / 0x10000)
  const low = ms % 0x10000
  return (
    `${HEX[(high >>> 24) & 0xff]}${HEX[(high >>> 16) & 0xff]}${HEX[(high >>> 8) & 0xff]}${HEX[high & 0xff]}-${HEX[low >>> 8]}${HEX[low & 0xff]}` +
    `-${HEX[0x70 | ((r[i] as number) & 0x0f)]}${HEX[r[i + 1] as number]}-${HEX[0x80 | ((r[i + 2] as number) & 0x3f)]}${HEX[r[i + 3] as number]}` +
    `-${HEX[r[i + 4] as number]}${HEX[r[i + 5] as number]}${HEX[r[i + 6] as number]}${HEX[r[i + 7] as number]}${HEX[r[i + 8] as number]}${HEX[r[i + 9] as number]}`
  )
}

/**
 * How a run is named where its whole id would not fit (the command line's tables, the waterfall,
 * the viewer): the last 8 characters of its id, random in a version 7 id, where its first ones
 * are the time it was made and repeat from one run to the next.
 */
export function shortRunId(id: string): string {
  return id.slice(-8)
}
