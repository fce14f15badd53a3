// The flight recorder with a store encodes each run once, right after the turn it finished in:
// waiting runs are documents' text, still readable through `get`, and a run that cannot be encoded
// is dropped and said, never holding up the runs behind it.
import { describe, expect, it } from 'vitest'
import { chain, memoryStore, recorder, type RecorderWarning, type RunStore } from '../src/index.js'
import { RECORDER_PORT } from '../src/core/recording.js'
import { steppingClock } from './helpers.js'

interface Job {
  n: number
  done?: boolean
}

const jobs = (rec: ReturnType<typeof recorder>) =>
  chain<Job>('jobs', { recorder: rec, clock: steppingClock() })
    .link('take', (ctx) => void (ctx.n += 1))
    .link('work', (ctx) => void (ctx.done = true))

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** A memory store whose writes wait until `open()` is called. */
function gatedStore(): { store: RunStore; open: () => void; writes: () => number } {
  const inner = memoryStore()
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  let writes = 0
  const store: RunStore = {
    ...inner,
    write: async (runs) => {
      writes++
      await gate
      return inner.write(runs)
    },
  }
  return { store, open: () => release(), writes: () => writes }
}

describe('a flight recorder with a store encodes runs as they finish', () => {
  it('gives back a waiting run in full, before and after it is encoded, before the store has it', async () => {
    const { store, open } = gatedStore()
    const rec = recorder({ store, batch: { size: 1_000, delayMs: 10_000 }, onWarning: () => {} })
    const c = jobs(rec)
    const run = await c.run({ n: 1 })
    // Not yet encoded: the run itself.
    expect(await rec.get(run.id)).toBe(run)
    await turn()
    // Encoded and waiting: rebuilt from its document, the same record.
    const waiting = await rec.get(run.id)
    expect(waiting).not.toBe(run)
    expect(waiting?.toJSON()).toEqual(run.toJSON())
    expect(waiting?.ctx).toEqual({ n: 2, done: true })
    expect(rec.health.pending).toBe(1)
    // It can still be replayed: the chain is attached.
    expect((await waiting!.replay()).identical).toBe(true)
    open()
    await rec.flush()
    expect(rec.health).toMatchObject({ pending: 0, written: 1 })
    expect((await store.read(run.id))?.run.id).toBe(run.id)
    await rec.close()
  })

  it('drops a run whose document cannot be made, says so once, and writes the runs behind it', async () => {
    const warnings: RecorderWarning[] = []
    const store = memoryStore()
    const rec = recorder({ store, onWarning: (w) => void warnings.push(w) })
    const c = jobs(rec)
    const before = await c.run({ n: 1 })
    // A run object whose record cannot be read: what exporting a broken run would meet.
    const broken = Object.create(before, { timeline: { get: () => { throw new Error('no timeline') } }, id: { value: 'broken-run' } })
    rec[RECORDER_PORT].runFinished(broken, c)
    rec[RECORDER_PORT].runFinished(broken, c)
    const after = await c.run({ n: 2 })
    await rec.flush()
    expect((await rec.runs({ limit: 10 })).map((s) => s.id).sort()).toEqual([before.id, after.id].sort())
    expect(warnings.map((w) => w.code)).toEqual(['ENCODE_FAILED'])
    expect(warnings[0]?.message).toMatch(/run broken-run of chain 'jobs' could not be encoded.*no timeline/)
    expect(rec.health).toMatchObject({ dropped: 2, written: 2, storeFailures: 0, pending: 0 })
    await rec.close()
  })

  it('counts runs that wait to be encoded against maxPending, dropping the oldest', async () => {
    const { store, open } = gatedStore()
    const warnings: string[] = []
    const rec = recorder({ store, maxPending: 3, batch: { size: 1_000, delayMs: 10_000 }, onWarning: (w) => void warnings.push(w.code) })
    const c = jobs(rec)
    const runs = []
    for (let n = 0; n < 5; n++) runs.push(await c.run({ n }))
    expect(rec.health).toMatchObject({ pending: 3, dropped: 2 })
    open()
    await rec.flush()
    expect((await rec.runs({ limit: 10 })).map((s) => s.id).sort()).toEqual(runs.slice(2).map((r) => r.id).sort())
    expect(warnings).toEqual(['DROPPED'])
    await rec.close()
  })

  it('keeps at most 128 runs of one turn as they are: older ones are encoded at once', async () => {
    const { store, open } = gatedStore()
    const rec = recorder({ store, batch: { size: 1_000, delayMs: 10_000 }, onWarning: () => {} })
    const c = jobs(rec)
    const runs = []
    // No turn of the event loop between these runs.
    for (let n = 0; n < 130; n++) runs.push(await c.run({ n }))
    const first = await rec.get(runs[0]!.id)
    expect(first).not.toBe(runs[0])
    expect(first?.toJSON()).toEqual(runs[0]!.toJSON())
    expect(await rec.get(runs[129]!.id)).toBe(runs[129])
    expect(rec.health.pending).toBe(130)
    open()
    await rec.flush()
    expect(rec.health).toMatchObject({ pending: 0, written: 130 })
    await rec.close()
  })

  it('loses nothing in a loop of runs that never yields to the event loop, when the store writes as it is called', async () => {
    const warnings: string[] = []
    const rec = recorder({ store: memoryStore(), keep: { last: 20_000 }, maxPending: 1_000, onWarning: (w) => void warnings.push(w.code) })
    const c = jobs(rec)
    let most = 0
    for (let n = 0; n < 5_000; n++) {
      await c.run({ n })
      most = Math.max(most, rec.health.pending)
    }
    // Written as the loop went, never more than a few batches behind.
    expect(rec.health.written).toBeGreaterThan(4_500)
    expect(most).toBeLessThanOrEqual(3 * 64)
    await rec.flush()
    expect(rec.health).toMatchObject({ written: 5_000, dropped: 0, pending: 0 })
    expect(warnings).toEqual([])
    await rec.close()
  })
})
