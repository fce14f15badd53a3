import { applyPatches } from 'immer'
import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { chain, ChainRunError, Run } from '../src/index.js'
import { outline } from './helpers.js'

interface Cart {
  items: string[]
  total: number
  steps: string[]
}
const cart = (): Cart => ({ items: ['book'], total: 0, steps: [] })

function makeCart() {
  const hooks: string[] = []
  const c = chain<Cart>('cart')
    .link('add', (ctx) => void ctx.steps.push('add'))
    .link('price', (ctx) => {
      ctx.total = ctx.items.length * 10
      ctx.steps.push('price')
    })
    .link('tax', (ctx) => {
      ctx.total = Math.round(ctx.total * 1.2)
      ctx.steps.push('tax')
    })
    .link('done', (ctx) => void ctx.steps.push('done'))
    .use({
      name: 'count',
      runStart: (e) => {
        hooks.push('runStart')
        e.mwctx.links = 0
      },
      before: (e) => void (e.mwctx.links = (e.mwctx.links as number) + 1),
      after: (e) => void (e.metrics.after = e.link.name),
      runEnd: () => void hooks.push('runEnd'),
    })
  return { c, hooks }
}

describe('fork', () => {
  it('starts from the state after a link, edited, shares the prefix events, and runs the rest live', async () => {
    const { c, hooks } = makeCart()
    const parent = await c.run(cart())
    const daughter = await parent.fork({ at: 'price', edit: (ctx) => void ctx.items.push('pen') })
    expect(daughter.ctx).toEqual({ items: ['book', 'pen'], total: 12, steps: ['add', 'price', 'tax', 'done'] })
    expect(parent.ctx.total).toBe(12)
    // The cut is after price's last after-middleware event.
    const cut = daughter.parent!.seq
    const priceEnd = parent.timeline.filter({ link: 'price' }).at(-1)!.seq
    expect(cut).toBe(priceEnd)
    for (let seq = 0; seq <= cut; seq++) expect(daughter.timeline.events[seq]).toBe(parent.timeline.events[seq])
    const fork = daughter.timeline.at(cut + 1)!
    expect(fork).toMatchObject({ type: 'fork', parent: { runId: parent.id, seq: cut }, patches: [{ op: 'add', path: ['items', 1], value: 'pen' }] })
    expect(outline(daughter.timeline.events.slice(cut + 1))).toEqual([
      'fork',
      'middleware.before count@chain-before#0 tax',
      'link.start tax',
      'link.end tax',
      'middleware.after count@chain-after#0 tax',
      'middleware.before count@chain-before#0 done',
      'link.start done',
      'link.end done',
      'middleware.after count@chain-after#0 done',
      'middleware.after count@run-end#0',
      'run.end',
    ])
    expect(daughter.timeline.events.map((e) => e.seq)).toEqual([...daughter.timeline.events.keys()])
    expect(daughter.parent).toEqual({ run: parent, runId: parent.id, seq: cut })
    expect(parent.children).toEqual([daughter])
    expect(daughter.input).toBe(parent.input)
    // runStart ran once (the parent's); runEnd ran for both.
    expect(hooks).toEqual(['runStart', 'runEnd', 'runEnd'])
    // mwctx went on from the cut: 2 links before it, 2 after.
    expect(daughter.timeline.at(-1)!.mwctx).toEqual({ links: 4 })
  })

  it('answers stateAt for every event of a fork, and diff across the fork event', async () => {
    const { c } = makeCart()
    const parent = await c.run(cart())
    const daughter = await parent.fork({ at: 'add', edit: (ctx) => void (ctx.items = ['a', 'b', 'c']) })
    for (const event of daughter.timeline.events) expect(daughter.timeline.stateAt(event.seq).ctx).toBe(event.ctx)
    const last = daughter.timeline.length - 1
    expect(applyPatches(daughter.timeline.stateAt(0).ctx, daughter.timeline.diff(0, last))).toEqual(daughter.ctx)
    expect(applyPatches(daughter.ctx, daughter.timeline.diff(last, 0))).toEqual(daughter.timeline.stateAt(0).ctx)
  })

  it('snaps an event seq back to the end of the last completed link', async () => {
    const { c } = makeCart()
    const parent = await c.run(cart())
    const taxStart = parent.timeline.filter({ type: 'link.start', link: 'tax' })[0]!.seq
    const daughter = await parent.fork({ at: taxStart })
    expect(daughter.parent?.seq).toBe(parent.timeline.filter({ link: 'price' }).at(-1)!.seq)
    expect(daughter.ctx).toEqual(parent.ctx)
    const fromStart = await parent.fork({ at: 0 })
    expect(fromStart.parent?.seq).toBe(1)
    expect(outline(fromStart.timeline.events.slice(0, 3))).toEqual(['run.start', 'middleware.before count@run-start#0', 'fork'])
    expect(fromStart.ctx).toEqual(parent.ctx)
  })

  it('builds a lineage tree three levels deep, sharing prefixes all the way down', async () => {
    const { c } = makeCart()
    const root = await c.run(cart())
    const child = await root.fork({ at: 'add', edit: (ctx) => void ctx.items.push('x') })
    const grandchild = await child.fork({ at: 'price', edit: (ctx) => void (ctx.total = 100) })
    const great = await grandchild.fork({ at: 'tax', edit: (ctx) => void (ctx.total = 1) })
    const sibling = await root.fork({ at: 'tax' })
    expect(root.children).toEqual([child, sibling])
    expect(child.children).toEqual([grandchild])
    expect(grandchild.children).toEqual([great])
    expect(great.parent?.run).toBe(grandchild)
    expect(grandchild.ctx.total).toBe(120)
    expect(great.ctx.total).toBe(1)
    // The great-grandchild's first event is the root's own object.
    expect(great.timeline.events[0]).toBe(root.timeline.events[0])
    const childFork = child.timeline.filter({ type: 'fork' })[0]!
    expect(great.timeline.events[childFork.seq]).toBe(childFork)
    expect(great.timeline.filter({ type: 'fork' })).toHaveLength(3)
    expect(root.childIds).toEqual([child.id, sibling.id])
  })

  it('completes a failed run when forked with a fixed chain', async () => {
    const broken = chain<Cart>('cart')
      .link('add', (ctx) => void ctx.steps.push('add'))
      .link('price', () => {
        throw new Error('price service down')
      })
      .link('done', (ctx) => void ctx.steps.push('done'))
    const failed = await broken.run(cart()).catch((e: ChainRunError<Cart>) => e.run)
    expect(failed.status).toBe('error')
    const fixed = broken.insert({ after: 'price' }, 'price-v2', (ctx) => {
      ctx.total = 10
      ctx.steps.push('price-v2')
    })
    const completed = await failed.fork({ at: 'add', chain: chain<Cart>('cart').link('add', () => {}).link('price', (ctx) => void (ctx.total = 10)).link('done', (ctx) => void ctx.steps.push('done')) })
    expect(completed.status).toBe('ok')
    expect(completed.ctx).toEqual({ items: ['book'], total: 10, steps: ['add', 'done'] })
    const viaInsert = await failed.fork({ at: 'price', chain: fixed })
    expect(viaInsert.ctx.steps).toEqual(['add', 'price-v2', 'done'])
    expect(failed.children).toEqual([completed, viaInsert])
  })

  it('rejects like chain.run when the daughter fails, and the failed daughter is still listed', async () => {
    const { c } = makeCart()
    const parent = await c.run(cart())
    const failing = c.insert({ after: 'price' }, 'explode', () => {
      throw new Error('boom')
    })
    const error = (await parent.fork({ at: 'price', chain: failing }).catch((e: unknown) => e)) as ChainRunError<Cart>
    expect(error).toBeInstanceOf(ChainRunError)
    expect(error.code).toBe('LINK_FAILED')
    expect(parent.children).toEqual([error.run])
  })

  it('explains bad fork points', async () => {
    const { c } = makeCart()
    const parent = await c.run(cart())
    await expect(parent.fork({ at: 'nope' })).rejects.toThrow(/fork: link 'nope' never ran in run .* \(links that ran: 'add', 'price', 'tax', 'done'\)/)
    await expect(parent.fork({ at: 10_000 })).rejects.toThrow(/fork: seq 10000 is out of range/)
    await expect(parent.fork({ at: 'tax', chain: chain<Cart>('cart').link('other', () => {}) })).rejects.toThrow("fork: chain 'cart' has no link named 'tax' to continue after")
    const imported = Run.fromJSON<Cart>(parent.toJSON())
    await expect(imported.fork({ at: 'tax' })).rejects.toThrow(/has no chain attached/)
  })

  it('saves a fork to a file with its lineage and fork event', async () => {
    const { c } = makeCart()
    const parent = await c.run(cart())
    const daughter = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.total = 50) })
    const back = Run.fromJSON<Cart>(JSON.parse(JSON.stringify(daughter.toJSON())))
    expect(back.parent).toEqual({ run: undefined, runId: parent.id, seq: daughter.parent!.seq })
    expect(back.timeline.filter({ type: 'fork' })[0]).toEqual(daughter.timeline.filter({ type: 'fork' })[0])
    expect(back.ctx).toEqual(daughter.ctx)
    const parentBack = Run.fromJSON<Cart>(parent.toJSON())
    expect(parentBack.childIds).toEqual([daughter.id])
  })

  it('refuses to fork a run whose input was rejected: links would run on the input the schema refused', async () => {
    const ran: unknown[] = []
    const strict = chain('strict', { input: z.object({ n: z.number() }) }).link('a', (ctx) => void ran.push(ctx.n))
    const rejected = await strict.run({ n: 'x' } as never).catch((e: ChainRunError<{ n: number }>) => e.run)
    await expect(rejected.fork({ at: 0 })).rejects.toThrow(/its input was rejected \(INVALID_INPUT\), so no link ran to branch after/)
    await expect(rejected.fork({ at: 0, edit: (ctx) => void (ctx.n = 1) })).rejects.toThrow(TypeError)
    expect(ran).toEqual([])
    expect(rejected.children).toEqual([])
  })
})
