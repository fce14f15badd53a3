// Statistics (DESIGN §10) as a flight recorder keeps them: a series holds values before its
// histogram takes them, and a run finds its series through slots that other chain values of the
// same name take over. Every count must come out whole whatever the order of runs.
import { describe, expect, it } from 'vitest'
import { chain, recorder, type Chain, type Middleware } from '../src/index.js'
import { Series } from '../src/store/statistics.js'
import { nsBetween, nsNumber } from '../src/core/ns-number.js'
import { steppingClock } from './helpers.js'

describe('Series', () => {
  it('counts values still waiting for the histogram when asked, and keeps counting after', () => {
    const s = new Series()
    for (let i = 1; i <= 10; i++) s.record(BigInt(i * 1_000), i === 3)
    expect(s.summary()).toMatchObject({ count: 10, errors: 1, max: 10_000n })
    // Past one batch of waiting values (64) and a remainder.
    for (let i = 11; i <= 200; i++) s.record(i * 1_000, false)
    const all = s.summary()
    expect(all).toMatchObject({ count: 200, errors: 1, max: 200_000n })
    // 3 significant digits: within 0.1 % of the exact percentiles of 1 … 200 µs.
    expect(Number(all.p50)).toBeGreaterThanOrEqual(100_000)
    expect(Number(all.p50)).toBeLessThanOrEqual(100_100)
    expect(Number(all.p99)).toBeGreaterThanOrEqual(198_000)
    expect(Number(all.p99)).toBeLessThanOrEqual(198_200)
    expect(all.mean).toBeCloseTo(100_500, -2)
    s.destroy()
  })

  it('records negative durations as 0 and ones past an hour as an hour', () => {
    const s = new Series()
    s.record(-5n, false)
    s.record(10n ** 15n, false)
    expect(s.summary()).toMatchObject({ count: 2, p50: 0n })
    expect(Number(s.summary().max)).toBeCloseTo(3_600_000_000_000, -10)
    s.destroy()
  })
})

interface Tally {
  n: number
}

/** `count` middleware that each note one call before and after every link. */
function middleware(count: number): Middleware<Tally>[] {
  return Array.from({ length: count }, (_, i) => ({ name: `mw${i}`, before() {}, after() {} }))
}

describe('series found by call site', () => {
  it('counts every link and middleware call when chain values of one name take turns (slots taken over)', async () => {
    const rec = recorder()
    const clock = steppingClock()
    const base = chain<Tally>('tally', { recorder: rec, clock })
      .link('a', (ctx) => void (ctx.n += 1))
      .link('b', (ctx) => void (ctx.n += 1))
    // Another value of the same chain: one more link, and 10 middleware (20 call sites, more
    // than the recorder keeps slots for) on it alone.
    const longer = base.link('c', (ctx) => void (ctx.n += 1)).use(...middleware(10))
    const shorter: Chain<Tally> = base.use(middleware(1)[0] as Middleware<Tally>)
    for (let i = 0; i < 7; i++) {
      await base.run({ n: 0 })
      await longer.run({ n: 0 })
      await longer.run({ n: 0 })
      await shorter.run({ n: 0 })
    }
    const [stats] = rec.stats({ chain: 'tally' })
    expect(stats).toMatchObject({ count: 28, errors: 0 })
    expect(stats!.links).toMatchObject({ a: { count: 28 }, b: { count: 28 }, c: { count: 14 } })
    // mw0 is on `longer` (14 runs × 3 links) and on `shorter` (7 runs × 2 links): one series by name and position.
    expect(stats!.middleware['mw0 chain-before']).toMatchObject({ count: 14 * 3 + 7 * 2 })
    expect(stats!.middleware['mw0 chain-after']).toMatchObject({ count: 14 * 3 + 7 * 2 })
    for (let i = 1; i < 10; i++) {
      expect(stats!.middleware[`mw${i} chain-before`]).toMatchObject({ count: 14 * 3 })
      expect(stats!.middleware[`mw${i} chain-after`]).toMatchObject({ count: 14 * 3 })
    }
    expect(Object.keys(stats!.middleware)).toHaveLength(20)
    // The stepping clock: every link call lasts 1 µs.
    expect(stats!.links['c']).toMatchObject({ p50: 1_000n, max: 1_000n })
    await rec.close()
  })
})

describe('series found by call site, when places are shared', () => {
  it('keeps apart links and middleware of two chain values of one name that sit at the same place, taking turns', async () => {
    const rec = recorder()
    const clock = steppingClock()
    const other: Middleware<Tally> = { name: 'other', before() {}, after() {} }
    const first = chain<Tally>('shared', { recorder: rec, clock })
      .link('x', (ctx) => void (ctx.n += 1))
      .use(...middleware(1))
    const second = chain<Tally>('shared', { recorder: rec, clock })
      .link('y', (ctx) => void (ctx.n += 2))
      .link('x', (ctx) => void (ctx.n += 1))
      .use(other)
    for (let i = 0; i < 5; i++) {
      await first.run({ n: 0 })
      await second.run({ n: 0 })
      await second.run({ n: 0 })
    }
    const [stats] = rec.stats({ chain: 'shared' })
    // 'x' is at index 0 in one value, 1 in the other; 'y' at index 0: one series by name each.
    expect(stats!.links).toMatchObject({ x: { count: 15 }, y: { count: 10 } })
    expect(Object.keys(stats!.links).sort()).toEqual(['x', 'y'])
    // And middleware: each value has its own at index 0 of the same positions.
    expect(stats!.middleware['mw0 chain-before']).toMatchObject({ count: 5 })
    expect(stats!.middleware['other chain-before']).toMatchObject({ count: 20 })
    expect(stats!.middleware['other chain-after']).toMatchObject({ count: 20 })
    await rec.close()
  })

  it('keeps apart the middleware calls of every position and index, past the places it keeps too', async () => {
    const rec = recorder()
    // 20 middleware with before and after: indexes past the 16 places of a position.
    const c = chain<Tally>('many', { recorder: rec, clock: steppingClock() })
      .link('only', (ctx) => void (ctx.n += 1))
      .use(...middleware(20))
    for (let i = 0; i < 3; i++) await c.run({ n: 0 })
    const [stats] = rec.stats({ chain: 'many' })
    expect(Object.keys(stats!.middleware)).toHaveLength(40)
    for (let i = 0; i < 20; i++) {
      expect(stats!.middleware[`mw${i} chain-before`]).toMatchObject({ count: 3 })
      expect(stats!.middleware[`mw${i} chain-after`]).toMatchObject({ count: 3 })
    }
    await rec.close()
  })
})

describe('nsNumber and nsBetween', () => {
  const twoTo53 = 1n << 53n
  const twoTo64 = 1n << 64n
  const now = BigInt(Date.now()) * 1_000_000n

  it('nsNumber is Number(ns) for every value: small, at 2^32, at 2^53, past 2^64, negative', () => {
    const values = [0n, 1n, 4_294_967_295n, 4_294_967_296n, twoTo53 - 1n, twoTo53, twoTo53 + 1n, twoTo64 - 1n, twoTo64, -1n, -twoTo64]
    for (let i = 0n; i < 500n; i++) values.push(i * 7_654_321n, i * 98_765_432_109n)
    for (const ns of values) expect(nsNumber(ns)).toBe(Number(ns))
  })

  it('nsBetween is Number(t1 - t0) for readings near now, either way, and for readings far apart or outside 0 … 2^64 (less than 2^63 ns apart)', () => {
    const pairs: [bigint, bigint][] = []
    for (let i = 0n; i < 500n; i++) {
      const d = i * i * 12_345_678_901n + (i % 3n)
      pairs.push([now, now + d], [now + d, now])
    }
    const edges = [0n, 1n, 4_294_967_295n, 4_294_967_296n, twoTo53 - 1n, twoTo53, twoTo53 + 1n, twoTo64 - 1n, twoTo64, twoTo64 + 7n, -1n, -5n, -twoTo53, -twoTo64 - 3n]
    for (const a of edges) for (const b of edges) pairs.push([a, b], [now + a, now + b], [now, now + a])
    const apart = (d: bigint): bigint => (d < 0n ? -d : d)
    // Readings 2^64 − 2^53 ns (580 years) apart or more are out of its range: no clock's are.
    const inRange = pairs.filter(([t0, t1]) => apart(t1 - t0) < 1n << 63n)
    expect(inRange.length).toBeGreaterThan(1_300)
    for (const [t0, t1] of inRange) expect(nsBetween(t0, t1), `${t0} → ${t1}`).toBe(Number(t1 - t0))
  })
})

describe('what the statistics count', () => {
  it("counts a middleware call that throws, or leaves a state that cannot be recorded, among its series' errors, at every capture level", async () => {
    const rec = recorder()
    const flaky: Middleware<Tally> = {
      name: 'flaky',
      before(e) {
        if (e.link.name === 'b') throw new Error('flaky')
      },
      after(e) {
        // A cycle in mwctx cannot be recorded: the call is then reported as a middleware error.
        if (e.link.name === 'a') {
          const loop: Record<string, unknown> = {}
          loop['self'] = loop
          e.mwctx['loop'] = loop
        }
      },
    }
    const c = chain<Tally>('flaky', { recorder: rec, clock: steppingClock() })
      .link('a', (ctx) => void (ctx.n += 1))
      .link('b', (ctx) => void (ctx.n += 1))
      .use(flaky)
    for (const capture of ['timeline', 'off'] as const) await c.run({ n: 0 }, { capture })
    const [stats] = rec.stats({ chain: 'flaky' })
    expect(stats).toMatchObject({ count: 2, errors: 0 })
    expect(stats!.links).toMatchObject({ a: { count: 2, errors: 0 }, b: { count: 2, errors: 0 } })
    expect(stats!.middleware['flaky chain-before']).toMatchObject({ count: 4, errors: 2 })
    // Recorded ('timeline'), the cycle fails the after call on 'a'; unrecorded ('off'), nothing is recorded, so nothing fails.
    expect(stats!.middleware['flaky chain-after']).toMatchObject({ count: 4, errors: 1 })
    await rec.close()
  })
})
