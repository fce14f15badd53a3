import { describe, expect, it } from 'vitest'
import * as z from 'zod'
import { chain, ChainRunError, Run, type Middleware } from '../src/index.js'
import { logMiddleware, outline, steppingClock } from './helpers.js'

interface Order {
  items: { sku: string; price: number }[]
  total?: number
  tags?: string[]
}
/** The before and after hooks of a middleware: link-level middleware has no run hooks. */
function linkLevel(mw: Middleware): Middleware {
  return { name: mw.name, ...(mw.before !== undefined && { before: mw.before }), ...(mw.after !== undefined && { after: mw.after }) }
}
const order = (): Order => ({ items: [{ sku: 'a', price: 2 }, { sku: 'b', price: 3 }] })

describe('execution order', () => {
  it('runs chain-before, link-before, the link, link-after, chain-after for every link, each queue in the order added', async () => {
    const log: string[] = []
    const linkLog = (name: string) => () => void log.push(`link:${name}`)
    const c = chain<Order>('order')
      .link('one', linkLog('one'), { use: [linkLevel(logMiddleware('L1', log)), linkLevel(logMiddleware('L2', log))] })
      .link('two', linkLog('two'))
      .use(logMiddleware('A', log), logMiddleware('B', log))
    await c.run(order())
    expect(log).toMatchInlineSnapshot(`
      [
        "A:runStart",
        "B:runStart",
        "A:chain-before:one:0",
        "B:chain-before:one:1",
        "L1:link-before:one:0",
        "L2:link-before:one:1",
        "link:one",
        "L1:link-after:one:0",
        "L2:link-after:one:1",
        "A:chain-after:one:0",
        "B:chain-after:one:1",
        "A:chain-before:two:0",
        "B:chain-before:two:1",
        "link:two",
        "A:chain-after:two:0",
        "B:chain-after:two:1",
        "A:runEnd:ok",
        "B:runEnd:ok",
      ]
    `)
  })

  it('records one event per call in the same order', async () => {
    const c = chain<Order>('order')
      .link('one', () => {}, { use: [{ name: 'L', before() {}, after() {} }] })
      .use({ name: 'A', before() {}, after() {}, runStart() {}, runEnd() {} })
    const run = await c.run(order())
    expect(outline(run.timeline.events)).toMatchInlineSnapshot(`
      [
        "run.start",
        "middleware.before A@run-start#0",
        "middleware.before A@chain-before#0 one",
        "middleware.before L@link-before#0 one",
        "link.start one",
        "link.end one",
        "middleware.after L@link-after#0 one",
        "middleware.after A@chain-after#0 one",
        "middleware.after A@run-end#0",
        "run.end",
      ]
    `)
    expect(run.timeline.events.map((e) => e.seq)).toEqual([...run.timeline.events.keys()])
  })

  it('indexes middleware by its place in its list, also when it lacks a hook', async () => {
    const seen: string[] = []
    const c = chain<Order>('order')
      .link('one', () => {})
      .use({ name: 'only-after', after: () => void 0 }, { name: 'both', before: (e) => void seen.push(`${e.position}#${e.index}`), after: (e) => void seen.push(`${e.position}#${e.index}`) })
    await c.run(order())
    expect(seen).toEqual(['chain-before#1', 'chain-after#1'])
  })

  it('runs an empty chain: run hooks only, ctx is the input', async () => {
    const log: string[] = []
    const input = order()
    const run = await chain<Order>('empty').use(logMiddleware('A', log)).run(input)
    expect(run.status).toBe('ok')
    expect(run.ctx).toBe(input)
    expect(log).toEqual(['A:runStart', 'A:runEnd:ok'])
    expect(outline(run.timeline.events)).toEqual(['run.start', 'middleware.before A@run-start#0', 'middleware.after A@run-end#0', 'run.end'])
  })

  it('mixes sync and async links and hooks, in order', async () => {
    const log: string[] = []
    const c = chain<{ n: number[] }>('mixed')
      .link('sync', (ctx) => void ctx.n.push(1))
      .link('async', async (ctx) => {
        await new Promise((r) => setTimeout(r, 2))
        ctx.n.push(2)
      })
      .link('sync2', (ctx) => void ctx.n.push(3))
      .use({
        name: 'slow',
        async before(e) {
          await Promise.resolve()
          log.push(`before ${e.link.name}`)
        },
        after: (e) => void log.push(`after ${e.link.name}`),
      })
    const run = await c.run({ n: [] })
    expect(run.ctx.n).toEqual([1, 2, 3])
    expect(log).toEqual(['before sync', 'after sync', 'before async', 'after async', 'before sync2', 'after sync2'])
  })

  it('completes an all-synchronous run before run() returns', () => {
    const c = chain<{ n: number }>('sync').link('inc', (ctx) => void (ctx.n += 1))
    const promise = c.run({ n: 1 })
    expect(c.lastRun?.ctx.n).toBe(2)
    return promise
  })

  it('runs a 1,000-link chain without growing the stack', async () => {
    let c = chain<{ n: number }>('long')
    for (let i = 0; i < 1_000; i++) c = c.link(`l${i}`, (ctx) => void (ctx.n += 1))
    const run = await c.run({ n: 0 })
    expect(run.ctx.n).toBe(1_000)
    expect(run.timeline.links()).toHaveLength(1_000)
    let a = chain<{ n: number }>('long-async')
    for (let i = 0; i < 1_000; i++) a = a.link(`l${i}`, async (ctx) => void (ctx.n += 1))
    expect((await a.run({ n: 0 })).ctx.n).toBe(1_000)
  })
})

describe('links', () => {
  it('gives each link an immer draft and records the frozen result', async () => {
    const run = await chain<Order>('price')
      .link('price', (ctx) => void (ctx.total = ctx.items.reduce((s, i) => s + i.price, 0)))
      .run(order())
    expect(run.ctx.total).toBe(5)
    expect(Object.isFrozen(run.ctx)).toBe(true)
    expect(Object.isFrozen(run.ctx.items)).toBe(true)
  })

  it('accepts a returned replacement instead of a mutation, also one holding draft parts', async () => {
    const run = await chain<Order>('replace')
      .link('spread', (ctx) => ({ ...ctx, total: 9 }))
      .link('async-replace', async (ctx) => ({ items: ctx.items.slice(0, 1), total: ctx.total ?? 0 }))
      .run(order())
    expect(run.ctx).toEqual({ items: [{ sku: 'a', price: 2 }], total: 9 })
    expect(Object.isFrozen(run.ctx)).toBe(true)
    const spread = run.timeline.links()[0]!
    expect(spread.patches).toEqual([{ op: 'replace', path: [], value: spread.after }])
    expect(spread.inversePatches).toEqual([{ op: 'replace', path: [], value: spread.before }])
  })

  it('treats returning the draft itself as a mutation', async () => {
    const run = await chain<Order>('ret').link('x', (ctx) => {
      ctx.total = 1
      return ctx
    }).run(order())
    expect(run.ctx.total).toBe(1)
    expect(run.timeline.links()[0]!.patches).toEqual([{ op: 'add', path: ['total'], value: 1 }])
  })

  it('rejects a link that both mutates and returns a new value, naming it', async () => {
    const c = chain<Order>('both').link('bad', (ctx) => {
      ctx.total = 1
      return { items: [] }
    })
    const error = await c.run(order()).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChainRunError)
    expect((error as ChainRunError).code).toBe('LINK_FAILED')
    expect((error as ChainRunError).message).toMatch(/link 'bad'.*both modified its draft and returned a new value/)
  })

  it('passes io with run, link, metrics, signal, base, and records now() and random()', async () => {
    const seen: unknown[] = []
    const run = await chain<Order>('io')
      .link('x', (ctx, io) => {
        ctx.total = 1
        seen.push(io.run.chainName, io.link.name, io.link.index, io.signal.aborted, io.base.total)
        io.metrics.custom = 7
        seen.push(io.now(), io.random(), io.random())
      })
      .run(order())
    expect(seen.slice(0, 5)).toEqual(['io', 'x', 0, false, undefined])
    const end = run.timeline.filter({ type: 'link.end' })[0]!
    expect(end.type === 'link.end' && end.io).toEqual({ now: [seen[5]], random: [seen[6], seen[7]] })
    expect(end.metrics).toEqual({ custom: 7 })
  })

  it('never mutates the caller input; without a schema it is deep-frozen and becomes state 0', async () => {
    const input = order()
    const run = await chain<Order>('pure').link('x', (ctx) => void (ctx.items[0]!.price = 100)).run(input)
    expect(input.items[0]!.price).toBe(2)
    expect(Object.isFrozen(input)).toBe(true)
    expect(run.timeline.at(0)?.ctx).toBe(input)
    expect(run.ctx.items[1]).toBe(input.items[1])
  })

  it('supports Map and Set in ctx', async () => {
    const run = await chain<{ m: Map<string, number>; s: Set<string> }>('coll')
      .link('x', (ctx) => {
        ctx.m.set('a', 1)
        ctx.s.add('b')
      })
      .run({ m: new Map(), s: new Set() })
    expect([...run.ctx.m]).toEqual([['a', 1]])
    expect([...run.ctx.s]).toEqual(['b'])
  })
})

describe('failures', () => {
  it('a throwing link ends the run: after-middleware sees the error, later links are skipped, runEnd runs', async () => {
    const log: string[] = []
    const boom = new Error('boom')
    const c = chain<Order>('fail')
      .link('ok', (ctx) => void (ctx.total = 1))
      .link('bad', (ctx) => {
        ctx.total = 99
        throw boom
      })
      .link('never', () => void log.push('never ran'))
      .use({
        name: 'watch',
        after: (e) => void log.push(`after ${e.link.name} error=${e.error === undefined ? '-' : (e.error as Error).message} result=${e.result.total} patches=${e.patches.length}`),
        runEnd: (e) => void log.push(`runEnd ${e.status} ${(e.error as Error).message}`),
      })
    const error = (await c.run(order()).catch((e: unknown) => e)) as ChainRunError<Order>
    expect(error).toBeInstanceOf(ChainRunError)
    expect(error.code).toBe('LINK_FAILED')
    expect(error.link).toMatchObject({ name: 'bad', index: 1 })
    expect(error.cause).toBe(boom)
    expect(error.message).toBe("link 'bad' (#1) of chain 'fail' failed: boom")
    expect(log).toEqual(['after ok error=- result=1 patches=1', 'after bad error=boom result=1 patches=0', 'runEnd error boom'])
    const run = error.run
    expect(run).toBeInstanceOf(Run)
    expect(c.lastRun).toBe(run)
    expect(run.status).toBe('error')
    expect(run.error).toBe(error)
    expect(run.ctx.total).toBe(1)
    const failed = run.timeline.filter({ type: 'link.error' })[0]!
    expect(failed).toMatchObject({ link: { name: 'bad' }, error: boom })
    expect(run.timeline.at(-1)).toMatchObject({ type: 'run.end', status: 'error', error })
    expect(run.timeline.filter({ link: 'never' })).toEqual([])
  })

  it('a rejecting async link fails the same way', async () => {
    const c = chain<Order>('reject').link('bad', async () => {
      await Promise.resolve()
      throw new TypeError('nope')
    })
    await expect(c.run(order())).rejects.toMatchObject({ code: 'LINK_FAILED', link: { name: 'bad' }, cause: new TypeError('nope') })
  })

  it('an aborted signal stops the run between links with ABORTED and status aborted', async () => {
    const controller = new AbortController()
    const ran: string[] = []
    const c = chain<Order>('abort')
      .link('one', async () => {
        ran.push('one')
        controller.abort(new Error('user left'))
      })
      .link('two', () => void ran.push('two'))
      .use({ name: 'end', runEnd: (e) => void ran.push(`runEnd ${e.status}`) })
    const error = (await c.run(order(), { signal: controller.signal }).catch((e: unknown) => e)) as ChainRunError
    expect(error.code).toBe('ABORTED')
    expect(error.run.status).toBe('aborted')
    expect(error.link?.name).toBe('two')
    expect(error.message).toMatch(/aborted before link 'two': user left/)
    expect(ran).toEqual(['one', 'runEnd aborted'])
  })

  it('a link that fails because the signal aborted is ABORTED, not LINK_FAILED', async () => {
    const controller = new AbortController()
    const c = chain<Order>('abort-in-link').link('wait', async (_ctx, io) => {
      controller.abort()
      io.signal.throwIfAborted()
    })
    await expect(c.run(order(), { signal: controller.signal })).rejects.toMatchObject({ code: 'ABORTED', link: { name: 'wait' } })
  })

  it('rejects bad input with INVALID_INPUT naming the failing path, records run.start/run.end, runs no hooks', async () => {
    const Schema = z.object({ items: z.array(z.object({ sku: z.string(), price: z.number() })), total: z.number().optional() })
    const log: string[] = []
    const c = chain('typed', { input: Schema }).link('x', () => void log.push('link')).use(logMiddleware('A', log))
    const bad = { items: [{ sku: 'a', price: 'free' }] }
    const error = (await c.run(bad as never).catch((e: unknown) => e)) as ChainRunError
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toMatch(/^invalid input for chain 'typed': items\[0\]\.price: .*number/)
    expect(log).toEqual([])
    expect(outline(error.run.timeline.events)).toEqual(['run.start', 'run.end'])
    expect(c.lastRun).toBe(error.run)
    expect(Object.isFrozen(bad)).toBe(false)
  })

  it('replaces a valid input by the parsed output (unknown keys stripped), leaving the caller object alone', async () => {
    const c = chain('typed', { input: z.object({ a: z.number() }) }).link('x', (ctx) => void (ctx.a += 1))
    const input = { a: 1, extra: true }
    const run = await c.run(input)
    expect(run.ctx).toEqual({ a: 2 })
    expect(run.input).toEqual({ a: 1 })
    expect(Object.isFrozen(input)).toBe(false)
  })

  it('rejects bad run options with a TypeError that says which', async () => {
    const c = chain<Order>('opts').link('x', () => {})
    await expect(c.run(order(), { capture: 'everything' as never })).rejects.toThrow(/capture must be one of 'timeline', 'writes', 'off', got "everything"/)
    await expect(c.run(order(), { clock: {} as never })).rejects.toThrow(TypeError)
  })
})

describe('runs', () => {
  it('keeps 100 concurrent runs of one chain isolated: ctx, mwctx and metrics', async () => {
    const c = chain<{ id: number; seen: number[] }>('concurrent')
      .link('a', async (ctx, io) => {
        await new Promise((r) => setTimeout(r, io.random() * 5))
        ctx.seen.push(ctx.id)
        io.metrics.id = ctx.id
      })
      .link('b', async (ctx) => {
        await new Promise((r) => setTimeout(r, 1))
        ctx.seen.push(ctx.id * 2)
      })
      .use({
        name: 'count',
        before(e) {
          e.mwctx.calls = ((e.mwctx.calls as number | undefined) ?? 0) + 1
          e.mwctx.id = e.ctx.id
        },
        async after(e) {
          await new Promise((r) => setTimeout(r, 1))
          e.metrics.checked = e.metrics.id === undefined || e.metrics.id === e.ctx.id
        },
      })
    const runs = await Promise.all(Array.from({ length: 100 }, (_, id) => c.run({ id, seen: [] })))
    runs.forEach((run, id) => {
      expect(run.ctx.seen).toEqual([id, id * 2])
      const last = run.timeline.at(-1)!
      expect(last.mwctx).toEqual({ calls: 2, id })
      expect(run.timeline.links().map((l) => l.metrics)).toEqual([{ id, checked: true }, { checked: true }])
    })
    expect(new Set(runs.map((r) => r.id)).size).toBe(100)
  })

  it('sets lastRun per chain value and gives every run a fresh mwctx', async () => {
    const base = chain<{ n: number }>('base').link('x', (ctx) => void (ctx.n += 1))
    const other = base.use({ name: 'mw', before: (e) => void (e.mwctx.n = ((e.mwctx.n as number) ?? 0) + 1) })
    const first = await other.run({ n: 0 })
    const second = await other.run({ n: 5 })
    expect(other.lastRun).toBe(second)
    expect(base.lastRun).toBeUndefined()
    expect(first.timeline.at(-1)!.mwctx).toEqual({ n: 1 })
    expect(second.timeline.at(-1)!.mwctx).toEqual({ n: 1 })
  })

  it('stamps events with monotonic epoch nanoseconds that are not whole milliseconds', async () => {
    const c = chain<{ n: number }>('t')
    let long = c
    for (let i = 0; i < 20; i++) long = long.link(`l${i}`, (ctx) => void (ctx.n += 1))
    const run = await long.use({ name: 'mw', before() {}, after() {} }).run({ n: 0 })
    const ts = run.timeline.events.map((e) => e.t)
    for (let i = 1; i < ts.length; i++) expect(ts[i]! >= ts[i - 1]!).toBe(true)
    const nowNs = BigInt(Date.now()) * 1_000_000n
    expect(ts[0]! > nowNs - 60_000_000_000n && ts[0]! <= nowNs + 1_000_000_000n).toBe(true)
    expect(ts.some((t) => t % 1_000_000n !== 0n)).toBe(true)
    expect(new Set(ts).size).toBeGreaterThan(ts.length / 2)
    for (const link of run.timeline.links()) expect(link.durationNs).toBe(link.end - link.start)
  })

  it('uses an injected clock, and timestamps:false stamps 0n everywhere', async () => {
    const c = chain<{ n: number }>('clock').link('x', (ctx) => void (ctx.n += 1)).use({ name: 'mw', after() {} })
    const run = await c.run({ n: 0 }, { clock: steppingClock(1_000n, 10n) })
    expect(run.startedAt).toBe(1_000n)
    expect(run.timeline.links()[0]).toMatchObject({ start: 1_010n, end: 1_020n, durationNs: 10n })
    const flat = await c.run({ n: 0 }, { timestamps: false })
    expect(flat.timeline.events.every((e) => e.t === 0n)).toBe(true)
    expect(flat.timeline.events.every((e) => !('durationNs' in e) || e.durationNs === 0n)).toBe(true)
  })

  it("capture 'off' records only boundaries and errors, and computes the same ctx", async () => {
    const c = chain<{ n: number }>('off')
      .link('x', (ctx) => void (ctx.n += 1))
      .link('y', (ctx) => void (ctx.n *= 10))
      .use({ name: 'broken', after() { throw new Error('mw') } })
    const on = await c.run({ n: 1 })
    const off = await c.run({ n: 1 }, { capture: 'off' })
    expect(off.ctx).toEqual(on.ctx)
    expect(outline(off.timeline.events)).toEqual([
      'run.start',
      'middleware.error broken@chain-after#0 x',
      'middleware.error broken@chain-after#0 y',
      'run.end',
    ])
  })

  it('takes chain options as defaults and run options over them', async () => {
    const c = chain<{ n: number }>('defaults', { capture: 'off' }).link('x', (ctx) => void (ctx.n += 1))
    expect((await c.run({ n: 0 })).timeline.length).toBe(2)
    expect((await c.run({ n: 0 }, { capture: 'timeline' })).timeline.length).toBe(4)
  })
})
