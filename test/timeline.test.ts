import { applyPatches } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, Timeline } from '../src/index.js'
import { steppingClock } from './helpers.js'

interface Cart {
  items: string[]
  total: number
  customer: { name: string }
}

const cart = chain<Cart>('cart', { clock: steppingClock(0n, 100n) })
  .link('add', (ctx) => void ctx.items.push('book'))
  .link('price', (ctx) => void (ctx.total = 12))
  .link('fail', (ctx) => {
    ctx.total = -1
    throw new Error('no stock')
  })
  .use({ name: 'm', before: (e) => void (e.metrics.seen = true), after: () => {} })

async function failedRun() {
  return cart.run({ items: [], total: 0, customer: { name: 'ada' } }).catch((e: { run: unknown }) => e.run as Awaited<ReturnType<typeof cart.run>>)
}

describe('Timeline', () => {
  it('exposes events, length and at() (negative from the end)', async () => {
    const run = await failedRun()
    const t = run.timeline
    expect(t).toBeInstanceOf(Timeline)
    expect(t.length).toBe(t.events.length)
    expect(t.at(0)?.type).toBe('run.start')
    expect(t.at(-1)?.type).toBe('run.end')
    expect(t.at(999)).toBeUndefined()
  })

  it('stateAt returns the very state objects of that moment', async () => {
    const run = await failedRun()
    const end = run.timeline.filter({ type: 'link.end', link: 'price' })[0]!
    const state = run.timeline.stateAt(end.seq)
    expect(state.ctx).toBe(end.ctx)
    expect(state.ctx.total).toBe(12)
    expect(state.metrics).toEqual({ seen: true })
    expect(run.timeline.stateAt(0).ctx).toEqual({ items: [], total: 0, customer: { name: 'ada' } })
    expect(() => run.timeline.stateAt(500)).toThrow(/seq 500 is out of range: this timeline has \d+ events/)
    expect(() => run.timeline.stateAt(1.5)).toThrow(RangeError)
  })

  it('filters by type, link, middleware, position, or a predicate', async () => {
    const t = (await failedRun()).timeline
    expect(t.filter({ type: 'link.start' }).map((e) => 'link' in e && e.link?.name)).toEqual(['add', 'price', 'fail'])
    expect(t.filter({ type: ['link.end', 'link.error'] }).map((e) => e.type)).toEqual(['link.end', 'link.end', 'link.error'])
    expect(t.filter({ link: 'price' }).map((e) => e.type)).toEqual(['middleware.before', 'link.start', 'link.end', 'middleware.after'])
    expect(t.filter({ middleware: 'm', position: 'chain-after' })).toHaveLength(3)
    expect(t.filter({ middleware: 'nope' })).toEqual([])
    expect(t.filter((e) => e.seq < 2)).toHaveLength(2)
  })

  it('links() gives one record per link execution, failures included', async () => {
    const records = (await failedRun()).timeline.links()
    expect(records.map((r) => [r.name, r.index, r.status, r.patches.length])).toEqual([
      ['add', 0, 'ok', 1],
      ['price', 1, 'ok', 1],
      ['fail', 2, 'error', 0],
    ])
    const [add, , fail] = records
    expect(add!.durationNs).toBe(add!.end - add!.start)
    expect(add!.durationNs).toBe(100n)
    expect(add!.after.items).toEqual(['book'])
    expect(add!.metrics).toEqual({ seen: true })
    expect((fail!.error as Error).message).toBe('no stock')
    expect(fail!.after).toBe(fail!.before)
  })

  it('diff(from, to) gives the patches between two moments, forwards and backwards', async () => {
    const t = (await failedRun()).timeline
    const last = t.length - 1
    const forward = t.diff(0, last)
    expect(applyPatches(t.stateAt(0).ctx, forward)).toEqual(t.stateAt(last).ctx)
    const backward = t.diff(last, 0)
    expect(applyPatches(t.stateAt(last).ctx, backward)).toEqual(t.stateAt(0).ctx)
    expect(t.diff(3, 3)).toEqual([])
    expect(() => t.diff(0, 10_000)).toThrow(RangeError)
  })
})
