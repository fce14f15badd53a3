import { describe, expect, it } from 'vitest'
import { z } from 'zod'
import { chain, ChainRunError, Run, type Middleware } from '../src/index.js'

interface Order {
  items: { sku: string; price: number }[]
  total?: number
  receipt?: string
  stampedAt?: number
  luckyDraw?: number
}

function makeShop() {
  const payments: number[] = []
  const shop = chain<Order>('shop')
    .link('price', (ctx) => void (ctx.total = ctx.items.reduce((s, i) => s + i.price, 0)))
    .link('charge', async (ctx) => {
      payments.push(ctx.total ?? 0)
      await Promise.resolve()
      ctx.receipt = `r-${payments.length}-${Math.random()}`
    })
    .link('stamp', (ctx, io) => {
      ctx.stampedAt = io.now()
      ctx.luckyDraw = io.random()
    })
  return { shop, payments }
}
const order = (): Order => ({ items: [{ sku: 'a', price: 2 }, { sku: 'b', price: 3 }] })

describe('replay', () => {
  it('replays identically, giving back the recorded now() and random() values', async () => {
    const { shop } = makeShop()
    const original = await shop.run(order())
    await new Promise((r) => setTimeout(r, 5))
    const { run, identical, divergence } = await original.replay({ stub: ['charge'] })
    expect(identical).toBe(true)
    expect(divergence).toBeUndefined()
    expect(run.id).not.toBe(original.id)
    expect(run.replayOf).toEqual({ run: original, runId: original.id })
    expect(run.ctx).toEqual(original.ctx)
    expect(run.ctx.stampedAt).toBe(original.ctx.stampedAt)
    expect(run.ctx.luckyDraw).toBe(original.ctx.luckyDraw)
  })

  it('does not execute stubbed links: their recorded outcome is played back', async () => {
    const { shop, payments } = makeShop()
    const original = await shop.run(order())
    expect(payments).toEqual([5])
    const { run, identical } = await original.replay({ stub: ['charge'] })
    expect(payments).toEqual([5])
    expect(identical).toBe(true)
    expect(run.ctx.receipt).toBe(original.ctx.receipt)
    const byPredicate = await original.replay({ stub: (link) => link.name === 'charge' })
    expect(payments).toEqual([5])
    expect(byPredicate.identical).toBe(true)
  })

  it('without the stub, the side effect runs again and its different result is the divergence', async () => {
    const { shop, payments } = makeShop()
    const original = await shop.run(order())
    const { identical, divergence } = await original.replay()
    expect(payments).toEqual([5, 5])
    expect(identical).toBe(false)
    expect(divergence).toMatchObject({ link: { name: 'charge', index: 1 }, reason: 'patches' })
  })

  it('reports the first diverging link of a changed chain, its seq in the replay, and both sides', async () => {
    const { shop } = makeShop()
    const original = await shop.run(order())
    const v2 = chain<Order>('shop')
      .link('price', (ctx) => void (ctx.total = ctx.items.reduce((s, i) => s + i.price, 0) * 2))
      .link('charge', (ctx) => void (ctx.receipt = 'different too'))
      .link('stamp', () => {})
    const { run, identical, divergence } = await original.replay({ chain: v2 })
    expect(identical).toBe(false)
    expect(divergence?.link?.name).toBe('price')
    expect(divergence?.reason).toBe('patches')
    expect(divergence?.expected).toEqual([{ op: 'add', path: ['total'], value: 5 }])
    expect(divergence?.actual).toEqual([{ op: 'add', path: ['total'], value: 10 }])
    expect(run.timeline.at(divergence!.seq)).toMatchObject({ type: 'link.end', link: { name: 'price' } })
  })

  it('reports a link that now fails, and a link that is no longer there', async () => {
    const { shop } = makeShop()
    const original = await shop.run(order())
    const failing = chain<Order>('shop')
      .link('price', (ctx) => void (ctx.total = 5))
      .link('charge', () => {
        throw new Error('gateway down')
      })
      .link('stamp', () => {})
    const failed = await original.replay({ chain: failing })
    expect(failed.divergence).toMatchObject({ reason: 'error', link: { name: 'charge' }, expected: undefined })
    expect((failed.divergence?.actual as Error).message).toBe('gateway down')
    expect(failed.run.status).toBe('error')
    const shorter = chain<Order>('shop').link('price', (ctx) => void (ctx.total = 5)).link('stamp', () => {})
    const missing = await original.replay({ chain: shorter })
    expect(missing.divergence).toMatchObject({ reason: 'link', expected: 'charge', actual: 'stamp' })
  })

  it('replays a failed run: the same failure (link and message) is identical, another message is not', async () => {
    let message = 'out of stock'
    const c = chain<Order>('fails').link('price', (ctx) => void (ctx.total = 1)).link('reserve', () => {
      throw new Error(message)
    })
    const failed = await c.run(order()).catch((e: { run: Run<Order> }) => e.run)
    expect(failed.status).toBe('error')
    const same = await failed.replay()
    expect(same.identical).toBe(true)
    expect(same.run.status).toBe('error')
    message = 'warehouse offline'
    const other = await failed.replay()
    expect(other.identical).toBe(false)
    expect(other.divergence).toMatchObject({ reason: 'error', link: { name: 'reserve' } })
  })

  it('turns drawing more io values than recorded into an io divergence, not a crash', async () => {
    const c = chain<{ picks: number[] }>('draws').link('draw', (ctx, io) => void ctx.picks.push(io.random()))
    const original = await c.run({ picks: [] })
    const greedy = chain<{ picks: number[] }>('draws').link('draw', (ctx, io) => void ctx.picks.push(io.random(), io.random()))
    const { run, identical, divergence } = await original.replay({ chain: greedy })
    expect(run.status).toBe('ok')
    expect(identical).toBe(false)
    expect(divergence).toMatchObject({ reason: 'io', link: { name: 'draw' } })
    expect(run.ctx.picks[0]).toBe(original.ctx.picks[0])
  })

  it('rejects stubs of unknown links or of links the recording never reached', async () => {
    const c = chain<Order>('partial')
      .link('price', () => {
        throw new Error('stop')
      })
      .link('charge', () => {})
    const failed = await c.run(order()).catch((e: { run: Run<Order> }) => e.run)
    await expect(failed.replay({ stub: ['nope'] })).rejects.toThrow("replay: cannot stub link 'nope': chain 'partial' has no such link (links: 'price', 'charge')")
    await expect(failed.replay({ stub: ['charge'] })).rejects.toThrow(/cannot stub link 'charge': the recording never reached it/)
  })

  it('needs a chain to replay an imported run, and works with one', async () => {
    const { shop } = makeShop()
    const original = await shop.run(order())
    const imported = Run.fromJSON<Order>(JSON.parse(JSON.stringify(original.toJSON())))
    await expect(imported.replay()).rejects.toThrow(/has no chain attached: pass \{ chain \}/)
    const { identical } = await imported.replay({ chain: shop, stub: ['charge'] })
    expect(identical).toBe(true)
  })

  it('sets lastRun of the chain it ran through, and only that one', async () => {
    const { shop } = makeShop()
    const original = await shop.run(order())
    const other = chain<Order>('shop').link('price', () => {}).link('charge', () => {}).link('stamp', () => {})
    const { run } = await original.replay({ chain: other })
    expect(other.lastRun).toBe(run)
    expect(shop.lastRun).toBe(original)
  })

  it('runs middleware on replay as on any run', async () => {
    const calls: string[] = []
    const mw: Middleware = { name: 'log', before: (e) => void calls.push(e.link.name) }
    const c = chain<{ n: number }>('mw').link('a', (ctx) => void (ctx.n += 1)).use(mw)
    const original = await c.run({ n: 0 })
    await original.replay()
    expect(calls).toEqual(['a', 'a'])
  })

  it('replays a run whose input was rejected as a rejection: identical while the chain rejects it, a divergence once it accepts it', async () => {
    const ran: number[] = []
    const strict = chain('strict', { input: z.object({ n: z.number() }) }).link('double', (ctx) => {
      ran.push(ctx.n)
      ctx.n *= 2
    })
    const rejected = await strict.run({ n: 'two' } as never).catch((e: ChainRunError<{ n: number }>) => e.run)
    expect(rejected.error?.code).toBe('INVALID_INPUT')

    const same = await rejected.replay()
    expect(ran).toEqual([])
    expect(same.identical).toBe(true)
    expect(same.divergence).toBeUndefined()
    expect(same.run.status).toBe('error')
    expect(same.run.error?.code).toBe('INVALID_INPUT')
    expect(same.run.error?.message).toBe(rejected.error?.message)
    expect(same.run.timeline.events.map((event) => event.type)).toEqual(['run.start', 'run.end'])

    // The input is checked against the chain replayed on: a looser schema lets the links run.
    const loose = chain('strict', { input: z.object({ n: z.union([z.number(), z.string()]) }) }).link('double', () => {})
    const accepted = await rejected.replay({ chain: loose as never })
    expect(accepted.run.status).toBe('ok')
    expect(accepted.identical).toBe(false)
    expect(accepted.divergence).toMatchObject({ reason: 'error', link: undefined, seq: 0, actual: undefined })
    expect(accepted.divergence?.expected).toBe(rejected.error)

    // Rejected again, but for another reason: the rejections differ, as link errors would.
    const other = chain('strict', { input: z.object({ m: z.number() }) }).link('double', () => {})
    const rejectedOtherwise = await rejected.replay({ chain: other as never })
    expect(rejectedOtherwise.run.error?.code).toBe('INVALID_INPUT')
    expect(rejectedOtherwise.divergence).toMatchObject({ reason: 'error', link: undefined, seq: 1 })
    expect(rejectedOtherwise.run.timeline.at(1)?.type).toBe('run.end')
  })

  it("refuses to replay or fork a failed run recorded with capture 'off', as it does an ok one", async () => {
    const c = chain<{ n: number }>('quiet')
      .link('a', (ctx) => void (ctx.n += 1))
      .link('b', () => {
        throw new Error('boom')
      })
    const failed = await c.run({ n: 0 }, { capture: 'off' }).catch((e: ChainRunError<{ n: number }>) => e.run)
    expect(failed.status).toBe('error')
    await expect(failed.replay()).rejects.toThrow(/recorded no link events \(capture 'off'\): record it with capture 'timeline' to replay it/)
    await expect(failed.fork({ at: 'b' })).rejects.toThrow(/recorded no link events \(capture 'off'\).*to fork it/)
    // Aborted between links: the links before ran unrecorded.
    const controller = new AbortController()
    const stopping = chain<{ n: number }>('quiet').link('a', () => controller.abort(new Error('enough'))).link('b', () => {})
    const aborted = await stopping.run({ n: 0 }, { capture: 'off', signal: controller.signal }).catch((e: ChainRunError<{ n: number }>) => e.run)
    expect(aborted.status).toBe('aborted')
    await expect(aborted.replay()).rejects.toThrow(/recorded no link events/)
  })

  it("replays runs that legitimately recorded no link event, whatever their capture: a rejected input, an abort before the first link", async () => {
    const c = chain('quiet', { input: z.object({ n: z.number() }), capture: 'off' }).link('a', (ctx) => void (ctx.n += 1))
    const rejected = await c.run({ n: 'x' } as never).catch((e: ChainRunError<{ n: number }>) => e.run)
    expect((await rejected.replay()).identical).toBe(true)
    const controller = new AbortController()
    controller.abort(new Error('not today'))
    const aborted = await c.run({ n: 1 }, { signal: controller.signal }).catch((e: ChainRunError<{ n: number }>) => e.run)
    expect(aborted.status).toBe('aborted')
    const replay = await aborted.replay({ signal: controller.signal })
    expect(replay.identical).toBe(true)
    expect(replay.run.status).toBe('aborted')
  })
})
