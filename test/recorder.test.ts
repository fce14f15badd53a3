// The flight recorder (DESIGN §10): what it keeps, how it is queried, its statistics, and that a
// store can never hurt a run.
import { runInNewContext } from 'node:vm'
import { setFlagsFromString } from 'node:v8'
import { describe, expect, it, vi } from 'vitest'
import { chain, memoryStore, recorder, type Middleware, type RunStore } from '../src/index.js'
import { steppingClock } from './helpers.js'

interface Job {
  n: number
  done?: boolean
}
const fails = (n: number) => n % 5 === 0
const jobs = (rec: ReturnType<typeof recorder>, name = 'jobs') =>
  chain<Job>(name, { recorder: rec, clock: steppingClock() })
    .link('take', (ctx) => void (ctx.n += 0))
    .link('work', (ctx) => {
      if (fails(ctx.n)) throw new Error(`job ${ctx.n} failed`)
      ctx.done = true
    })

async function runAll(c: ReturnType<typeof jobs>, from: number, to: number): Promise<void> {
  for (let n = from; n < to; n++) await c.run({ n }).catch(() => {})
}

describe('what a flight recorder keeps', () => {
  it('keeps the last N runs and the last M failed runs of each chain, newest first', async () => {
    const rec = recorder({ keep: { last: 4, failed: 3 } })
    await runAll(jobs(rec, 'a'), 1, 31)
    await runAll(jobs(rec, 'b'), 1, 3)
    const a = await rec.runs({ chain: 'a', limit: 100 })
    // Runs 27..30 (the last 4), and the failed 20, 25, 30 (30 in both).
    expect(a.map((s) => s.id)).toHaveLength(6)
    const ns = await Promise.all(a.map(async (s) => (await rec.get(s.id))!.input as Job))
    expect(ns.map((j) => j.n)).toEqual([30, 29, 28, 27, 25, 20])
    expect(a.filter((s) => s.status === 'error').map((s) => s.failedLink)).toEqual(['work', 'work', 'work'])
    expect(await rec.runs({ chain: 'b' })).toHaveLength(2)
    expect(rec.health).toMatchObject({ seen: 32, sampledOut: 0, dropped: 0 })
  })

  it('samples successful runs and always keeps failed ones', async () => {
    let draw = 0
    const rec = recorder({ keep: { last: 1_000, failed: 1_000 }, sample: 0.25, random: () => (draw++ % 4) / 4 })
    await runAll(jobs(rec), 1, 41)
    const kept = await rec.runs({ limit: 1_000 })
    expect(kept.filter((s) => s.status === 'error')).toHaveLength(8)
    expect(kept.filter((s) => s.status === 'ok')).toHaveLength(8)
    expect(rec.health).toMatchObject({ seen: 40, sampledOut: 24 })
  })

  it('lists by chain, status, failed link, time range and page, and gives back full runs', async () => {
    for (const store of [undefined, memoryStore()]) {
      const rec = recorder(store === undefined ? { keep: { last: 100 } } : { keep: { last: 100 }, store })
      const c = jobs(rec)
      await runAll(c, 1, 21)
      const all = await rec.runs({ limit: 100 })
      expect(all).toHaveLength(20)
      expect((await rec.runs({ status: 'error' })).map((s) => s.code)).toEqual(['LINK_FAILED', 'LINK_FAILED', 'LINK_FAILED', 'LINK_FAILED'])
      expect(await rec.runs({ status: ['ok', 'error'], limit: 3 })).toHaveLength(3)
      expect(await rec.runs({ link: 'take' })).toEqual([])
      expect(await rec.runs({ link: 'work' })).toHaveLength(4)
      const middle = all[10]!
      expect((await rec.runs({ since: middle.startedAt, limit: 100 })).length).toBe(11)
      expect((await rec.runs({ until: middle.startedAt, limit: 100 })).length).toBe(9)
      const page1 = await rec.runs({ limit: 7 })
      const page2 = await rec.runs({ limit: 7, before: page1.at(-1)!.id })
      expect([...page1, ...page2].map((s) => s.id)).toEqual(all.slice(0, 14).map((s) => s.id))
      // A full run: its chain attached, so replay and fork work; its document exports.
      const failed = (await rec.get((await rec.runs({ status: 'error' }))[0]!.id))!
      expect(failed.error?.message).toContain('failed')
      expect((await failed.replay()).identical).toBe(true)
      const fixed = await failed.fork({ at: 'take', edit: (ctx) => void ((ctx as Job).n = 1) })
      expect(fixed.status).toBe('ok')
      expect(failed.toJSON().run.id).toBe(failed.id)
      expect(await rec.get('no-such-run')).toBeUndefined()
      // Replays and forks are investigations: not kept unless given the recorder themselves.
      expect(await rec.runs({ limit: 100 })).toHaveLength(20)
      await rec.close()
    }
  })

  it("lists the runs it keeps in memory without building their events: each run's links counted from its log", async () => {
    const rec = recorder({ keep: { last: 10, failed: 10 } })
    await runAll(jobs(rec), 1, 6)
    const listed = await rec.runs()
    expect(listed.map((s) => s.links)).toEqual([2, 2, 2, 2, 2]) // run 5 failed in 'work': a link.error counts
    for (const summary of listed) {
      const run = (await rec.get(summary.id))!
      expect(run.timeline.log()?.view().walked).toBe(false)
      expect(summary.links).toBe(run.timeline.events.filter((e) => e.type === 'link.end' || e.type === 'link.error').length)
    }
  })
})

describe('statistics', () => {
  it('counts runs, links and middleware calls with their errors, and gives exact percentiles of the recorded durations', async () => {
    const rec = recorder()
    const timing: Middleware<Job> = { name: 'timing', before() {}, after() {} }
    const c = jobs(rec).use(timing)
    await runAll(c, 1, 11)
    const [stats] = rec.stats({ chain: 'jobs' })
    expect(stats).toMatchObject({ chain: 'jobs', count: 10, errors: 2 })
    expect(stats!.links['take']).toMatchObject({ count: 10, errors: 0 })
    expect(stats!.links['work']).toMatchObject({ count: 10, errors: 2 })
    expect(stats!.middleware['timing chain-before']).toMatchObject({ count: 20, errors: 0 })
    expect(stats!.middleware['timing chain-after']).toMatchObject({ count: 20 })
    // The stepping clock makes every link call last exactly 1 µs: the histogram says so.
    expect(stats!.links['take']).toMatchObject({ p50: 1_000n, p99: 1_000n, max: 1_000n })
    const runs = await rec.runs({ limit: 100 })
    const durations = runs.map((s) => s.durationNs!).sort((a, b) => (a < b ? -1 : 1))
    expect(stats!.max).toBe(durations.at(-1))
    expect(stats!.p50 <= stats!.p95 && stats!.p95 <= stats!.p99 && stats!.p99 <= stats!.max).toBe(true)
    expect(rec.stats({ chain: 'other' })).toEqual([])
    await rec.close()
  })

  it('keeps statistics at every capture level, also of runs not kept', async () => {
    const rec = recorder({ sample: 0, keep: { last: 1, failed: 1 } })
    const c = jobs(rec)
    for (let n = 1; n <= 10; n++) await c.run({ n }, { capture: 'off' }).catch(() => {})
    expect(rec.stats()[0]).toMatchObject({ count: 10, errors: 2, links: { work: { count: 10, errors: 2 } } })
  })
})

/** A store that fails, or is slow, as told. */
function faultyStore(mode: { fail: boolean; delayMs: number }): RunStore & { writes: number } {
  const inner = memoryStore()
  const store = {
    ...inner,
    writes: 0,
    async write(runs: Parameters<RunStore['write']>[0]) {
      store.writes++
      await new Promise((resolve) => setTimeout(resolve, mode.delayMs))
      if (mode.fail) throw new Error('disk full')
      return inner.write(runs)
    },
  }
  return store
}

describe('a store never hurts a run', () => {
  it('reports a failing store once and counts it; runs go on; the runs wait and are written when it recovers', async () => {
    const mode = { fail: true, delayMs: 0 }
    const store = faultyStore(mode)
    const onWarning = vi.fn()
    const rec = recorder({ store, onWarning, batch: { size: 5, delayMs: 1 } })
    const c = jobs(rec)
    for (let n = 1; n <= 20; n++) await c.run({ n: n * 5 + 1 })
    await expect(rec.flush()).rejects.toThrow('disk full')
    expect(rec.health.storeFailures).toBeGreaterThan(0)
    expect(rec.health.pending).toBe(20)
    expect(onWarning).toHaveBeenCalledTimes(1)
    expect(onWarning.mock.calls[0]![0]).toMatchObject({ code: 'STORE_FAILED', message: expect.stringContaining('disk full') })
    mode.fail = false
    await rec.flush()
    expect(rec.health).toMatchObject({ pending: 0, written: 20 })
    expect(await rec.runs({ limit: 100 })).toHaveLength(20)
    await rec.close()
  })

  it('does not make a run wait for a slow store, and close() drains it', async () => {
    const store = faultyStore({ fail: false, delayMs: 200 })
    const rec = recorder({ store, batch: { size: 1, delayMs: 0 } })
    const c = jobs(rec)
    const started = performance.now()
    for (let n = 1; n <= 5; n++) await c.run({ n: n * 5 + 1 })
    expect(performance.now() - started).toBeLessThan(200)
    expect(rec.health.written).toBe(0)
    await rec.close()
    expect(rec.health).toMatchObject({ written: 5, pending: 0 })
  })

  it('flush() returns only when every run is written, even while a timed write is under way', async () => {
    const store = faultyStore({ fail: false, delayMs: 5 })
    const rec = recorder({ store, batch: { size: 4, delayMs: 0 }, keep: { last: 1_000 } })
    const c = jobs(rec)
    for (let n = 1; n <= 40; n++) {
      await c.run({ n: n * 5 + 1 })
      // Let the timer's drain start writing between runs.
      if (n % 7 === 0) await new Promise((resolve) => setTimeout(resolve, 1))
    }
    await rec.flush()
    expect(rec.health).toMatchObject({ written: 40, pending: 0, storeFailures: 0 })
    expect(await store.list({ limit: 100 })).toHaveLength(40)
    await rec.close()
    expect(rec.health.storeFailures).toBe(0)
  })

  it('keeps up to the store\'s writesInFlight batches written at once, never more, and flush() waits for all', async () => {
    const inner = memoryStore()
    let now = 0
    let most = 0
    const gates: (() => void)[] = []
    const store: RunStore = {
      ...inner,
      writesInFlight: 3,
      async write(runs) {
        most = Math.max(most, ++now)
        // Held until the test lets it go: the recorder must not start a fourth meanwhile.
        await new Promise<void>((resolve) => gates.push(resolve))
        now--
        return inner.write(runs)
      },
    }
    const rec = recorder({ store, batch: { size: 2, delayMs: 0 }, keep: { last: 1_000 } })
    const c = jobs(rec)
    for (let n = 1; n <= 20; n++) await c.run({ n: n * 5 + 1 })
    const flushed = rec.flush()
    while (rec.health.pending > 0) {
      await new Promise((resolve) => setTimeout(resolve, 1))
      gates.splice(0).forEach((open) => open())
    }
    await flushed
    expect(most).toBe(3)
    expect(rec.health).toMatchObject({ written: 20, pending: 0, storeFailures: 0 })
    expect(await inner.list({ limit: 100 })).toHaveLength(20)
    await rec.close()
  })

  it('with several batches in flight, a failed one goes back first in line and is written when the store recovers', async () => {
    const inner = memoryStore()
    let calls = 0
    const onWarning = vi.fn()
    const store: RunStore = {
      ...inner,
      writesInFlight: 4,
      async write(runs) {
        await new Promise((resolve) => setTimeout(resolve, 1))
        // The second batch fails once; the others are written.
        if (++calls === 2) throw new Error('disk full')
        return inner.write(runs)
      },
    }
    const rec = recorder({ store, onWarning, batch: { size: 3, delayMs: 10_000 }, keep: { last: 1_000 } })
    const c = jobs(rec)
    for (let n = 1; n <= 12; n++) await c.run({ n: n * 5 + 1 })
    await expect(rec.flush()).rejects.toThrow('disk full')
    expect(rec.health).toMatchObject({ written: 9, pending: 3, storeFailures: 1 })
    expect(onWarning.mock.calls.map((call) => (call[0] as { code: string }).code)).toEqual(['STORE_FAILED'])
    await rec.flush()
    expect(rec.health).toMatchObject({ written: 12, pending: 0, storeFailures: 1 })
    expect((await inner.list({ limit: 100 })).map((s) => s.id).sort()).toEqual((await rec.runs({ limit: 100 })).map((s) => s.id).sort())
    expect(await inner.list({ limit: 100 })).toHaveLength(12)
    await rec.close()
  })

  it('puts failed batches back in the order they were started, whichever failed first', async () => {
    const inner = memoryStore()
    let calls = 0
    let failing = true
    const order: number[][] = []
    const store: RunStore = {
      ...inner,
      writesInFlight: 3,
      async write(runs) {
        const call = ++calls
        // The second batch fails first, the third later: both go back, the second still ahead.
        await new Promise((resolve) => setTimeout(resolve, call === 3 ? 20 : 1))
        if (failing && call > 1) throw new Error('disk full')
        order.push(runs.map((run) => (run.document.initial.ctx as { n: number }).n))
        return inner.write(runs)
      },
    }
    const rec = recorder({ store, onWarning: () => {}, batch: { size: 2, delayMs: 10_000 }, keep: { last: 1_000 } })
    const c = jobs(rec)
    for (let n = 1; n <= 6; n++) await c.run({ n: n * 5 + 1 })
    await expect(rec.flush()).rejects.toThrow('disk full')
    expect(rec.health).toMatchObject({ written: 2, pending: 4, storeFailures: 2 })
    failing = false
    await rec.flush()
    expect(order).toEqual([[6, 11], [16, 21], [26, 31]])
    await rec.close()
  })

  it('lets the event loop turn once when its store is far behind, so a loop of runs that never yields loses nothing; a store that never answers holds no run', async () => {
    // A store that answers off the event loop, at the next turn (as a thread's or a server's answer arrives).
    const inner = memoryStore()
    const answering: RunStore = { ...inner, writesInFlight: 2, write: (runs) => new Promise((resolve) => setImmediate(() => resolve(inner.write(runs)))) }
    // Without a turn the answers are never heard: past maxPending the oldest would go.
    const rec = recorder({ store: answering, keep: { last: 10_000 }, batch: { size: 16, delayMs: 0 }, maxPending: 2_900, onWarning: () => {} })
    const c = jobs(rec)
    for (let n = 1; n <= 3_000; n++) await c.run({ n: n * 5 + 1 })
    await rec.flush()
    expect(rec.health).toMatchObject({ written: 3_000, dropped: 0, pending: 0 })
    // A store that never answers: every run still resolves (a turn each at most), the oldest dropped.
    const stuck = recorder({ store: { ...memoryStore(), writesInFlight: 2, write: () => new Promise<void>(() => {}) }, batch: { size: 4, delayMs: 0 }, maxPending: 20, onWarning: () => {} })
    const d = jobs(stuck, 'stuck')
    for (let n = 1; n <= 100; n++) await d.run({ n: n * 5 + 1 })
    // Waiting: at most maxPending in line, and the 2 batches (of 4) the store never answers, when
    // a timer's turn came in time to send them.
    const { seen, pending, dropped } = stuck.health
    expect(seen).toBe(100)
    expect(pending).toBeGreaterThanOrEqual(20)
    expect(pending).toBeLessThanOrEqual(28)
    expect(dropped).toBe(100 - pending)
  })

  it('drops the oldest waiting runs past maxPending, counted and reported once', async () => {
    const onWarning = vi.fn()
    const rec = recorder({ store: faultyStore({ fail: true, delayMs: 0 }), maxPending: 10, onWarning, batch: { size: 1_000, delayMs: 10_000 } })
    const c = jobs(rec)
    for (let n = 1; n <= 25; n++) await c.run({ n: n * 5 + 1 })
    expect(rec.health).toMatchObject({ pending: 10, dropped: 15 })
    expect(onWarning.mock.calls.map((call) => (call[0] as { code: string }).code)).toEqual(['DROPPED'])
  })

  it('keeps memory bounded however many runs pass (100,000 runs)', async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const rec = recorder({ keep: { last: 50, failed: 50 } })
    const c = jobs(rec)
    await runAll(c, 1, 5_001)
    gc()
    const before = process.memoryUsage().heapUsed
    await runAll(c, 5_001, 100_001)
    gc()
    const grown = process.memoryUsage().heapUsed - before
    expect(grown).toBeLessThan(4 * 1024 * 1024)
    // The last 50 (10 of them failed) and the 50 last failed: 90 runs.
    expect(await rec.runs({ limit: 1_000 })).toHaveLength(90)
    expect(rec.health.seen).toBe(100_000)
  }, 120_000)
})

describe('subscribers (a live view)', () => {
  it('are told of each kept run as it finishes and of each durable step as the store takes it; a throwing one is ignored', async () => {
    const rec = recorder({ store: memoryStore(), sample: 0, random: () => 0.5 })
    const events: string[] = []
    rec.subscribe(() => {
      throw new Error('a broken viewer')
    })
    const stop = rec.subscribe((e) => void events.push(e.type === 'run' ? `run ${e.run.status}` : `step ${e.document.events.filter((x) => x.type === 'link.end').length}`))
    const c = jobs(rec)
    await c.run({ n: 1 }) // successful and sampled out: not kept, not told
    await c.run({ n: 5 }).catch(() => {}) // failed: kept
    await c.run({ n: 2 }, { durable: true }) // durable: each step, then the run (always kept)
    expect(events).toEqual(['run error', 'step 0', 'step 1', 'step 2', 'run ok'])
    stop()
    await c.run({ n: 10 }).catch(() => {})
    expect(events).toHaveLength(5)
    await rec.close()
  })
})

describe('bad options', () => {
  it('are TypeErrors that say what was wrong', () => {
    expect(() => recorder({ sample: 2 })).toThrow('recorder(options): sample must be a number from 0 to 1, got 2')
    expect(() => recorder({ keep: { last: -1 } })).toThrow(/recorder\(options\): keep.last must be a whole number/)
    expect(() => recorder({ batch: { size: 0 } })).toThrow('recorder(options): batch.size must be a whole number ≥ 1, got 0')
    expect(() => recorder({ store: {} as RunStore })).toThrow('recorder(options): store must be a RunStore')
    expect(() => recorder({ store: { ...memoryStore(), writesInFlight: 0 } })).toThrow('recorder(options): store.writesInFlight must be a whole number ≥ 1, got 0')
    expect(() => chain<Job>('c', { recorder: {} as never })).toThrow("chain 'c': options: recorder must be a flight recorder made by recorder(), got")
  })
})
