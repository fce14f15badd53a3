// Parallel steps (DESIGN §9) beyond the run itself: replay (stubs, divergences inside a
// branch), fork at and after a parallel step, also from a run file.
import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, Run, type BranchFn, type RunDocument } from '../src/index.js'
import { steppingClock } from './helpers.js'

interface Order {
  subtotal: number
  tax?: number
  shipping?: number
  risk?: string
  notes: string[]
}
const order = (): Order => ({ subtotal: 100, notes: [] })

const flow = (rate = 0.2, shipping: BranchFn<Order> = (ctx) => void (ctx.shipping = 7)) =>
  chain<Order>('checkout', { clock: steppingClock() })
    .link('price', (ctx) => void ctx.notes.push('priced'))
    .parallel('quote', {
      tax: (ctx) => void (ctx.tax = ctx.subtotal * rate),
      shipping,
      fraud: async (ctx) => {
        await Promise.resolve()
        ctx.risk = 'low'
      },
    })
    .link('total', (ctx) => void ctx.notes.push(`total ${ctx.subtotal + (ctx.tax ?? 0) + (ctx.shipping ?? 0)}`))

describe('replay of runs with parallel steps', () => {
  it('replays a run with a parallel step identically, also from its file', async () => {
    const run = await flow().run(order())
    expect((await run.replay()).identical).toBe(true)
    const loaded = Run.fromJSON<Order>(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument)
    const { identical, run: again } = await loaded.replay({ chain: flow() })
    expect(identical).toBe(true)
    expect(again.timeline.links()[1]?.branches?.map((b) => b.name)).toEqual(['tax', 'shipping', 'fraud'])
  })

  it('gives each branch back the io values it drew, so a run whose branches use io.random/io.now replays identically', async () => {
    const drawing = chain<Order>('draw', { clock: steppingClock() }).parallel('quote', {
      tax: (ctx, io) => void (ctx.tax = Math.round(io.random() * 100)),
      shipping: async (ctx, io) => {
        await new Promise((resolve) => setImmediate(resolve))
        ctx.shipping = io.now() % 1_000
      },
      risk: (ctx, io) => void (ctx.risk = io.random() < 2 ? `r${io.random()}` : 'none'),
    })
    const run = await drawing.run(order())
    const branches = run.timeline.links()[0]!.branches!
    expect(branches.find((b) => b.name === 'tax')!.io?.random).toHaveLength(1)
    expect(branches.find((b) => b.name === 'risk')!.io?.random).toHaveLength(2)
    expect(branches.find((b) => b.name === 'shipping')!.io?.now).toHaveLength(1)
    const { identical, run: again, divergence } = await run.replay()
    expect(divergence).toBeUndefined()
    expect(identical).toBe(true)
    expect(again.ctx).toEqual(run.ctx)
    // The file keeps them (version 8) and a loaded run replays the same way.
    const doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
    expect(doc.version).toBe(8)
    const loaded = Run.fromJSON<Order>(doc, { chain: drawing })
    expect(loaded.timeline.links()[0]!.branches!.map((b) => b.io)).toEqual(branches.map((b) => b.io))
    expect((await loaded.replay()).identical).toBe(true)
    // An older version cannot carry them: rejected with the path.
    const old = { ...doc, version: 7 }
    const at = doc.events.findIndex((e) => e.type === 'branch.end' && 'io' in e && e.io !== undefined)
    expect(() => Run.fromJSON(old)).toThrow(`$.events[${at}].io: a branch event's io needs version 8 or later; this document says version 7`)
  })

  it('a divergence inside a branch names the branch (divergence.branch)', async () => {
    const run = await flow(0.2).run(order())
    const result = await run.replay({ chain: flow(0.25) })
    expect(result.identical).toBe(false)
    expect(result.divergence?.reason).toBe('patches')
    expect(result.divergence?.link?.name).toBe('quote')
    expect(result.divergence?.reason === 'patches' && result.divergence.branch).toBe('tax')
    const failing = await run.replay({ chain: flow(0.2, () => { throw new Error('no rate') }) })
    expect(failing.divergence?.reason).toBe('error')
    expect(failing.divergence?.reason === 'error' && failing.divergence.branch).toBe('shipping')
  })

  it('stubbing a parallel step plays back its recorded merged patches, without running its branches', async () => {
    const run = await flow().run(order())
    let called = false
    const other = flow(0.9, () => {
      called = true
    })
    const { identical, run: again } = await run.replay({ chain: other, stub: ['quote'] })
    expect(called).toBe(false)
    expect(identical).toBe(true)
    expect(again.ctx).toEqual(run.ctx)
    // The stub is one link: no branch events.
    expect(again.timeline.filter({ type: ['branch.start', 'branch.end', 'branch.error'] })).toEqual([])
  })

  it('stubbing a failed parallel step fails it again', async () => {
    const failed = await flow(0.2, () => { throw new Error('no rate') })
      .run(order())
      .catch((e: ChainRunError<Order>) => e.run)
    const { identical, run: again } = await failed.replay({ chain: flow(), stub: ['quote'] })
    expect(identical).toBe(true)
    expect(again.status).toBe('error')
  })
})

describe('fork of runs with parallel steps', () => {
  it('forks before a parallel step (it runs again, with its branches) and at it (its events and merge are shared)', async () => {
    const parent = await flow().run(order())
    // A fork at a link resumes after it.
    const before = await parent.fork({ at: 'price', edit: (d) => void (d.subtotal = 200) })
    expect(before.ctx).toEqual({ subtotal: 200, tax: 40, shipping: 7, risk: 'low', notes: ['priced', 'total 247'] })
    expect(before.timeline.links()[1]?.branches?.map((b) => b.name)).toEqual(['tax', 'shipping', 'fraud'])
    const at = await parent.fork({ at: 'quote', edit: (d) => void (d.shipping = 0) })
    expect(at.ctx.notes).toEqual(['priced', 'total 120'])
    expect(at.timeline.links()[1]?.branches).toEqual(parent.timeline.links()[1]?.branches)
    const loaded = Run.fromJSON<Order>(JSON.parse(JSON.stringify(parent.toJSON())) as RunDocument)
    const fromFile = await loaded.fork({ at: 'quote', chain: flow() })
    expect(fromFile.ctx).toEqual(parent.ctx)
  })
})
