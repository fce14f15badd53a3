// Around (onion) middleware (DESIGN §9): the link runs inside the hooks' calls (their async
// context), exactly once whatever a hook does; each call is recorded as two halves.
import { AsyncLocalStorage } from 'node:async_hooks'
import { describe, expect, it } from 'vitest'
import { chain, type AroundOutcome, type Middleware } from '../src/index.js'
import { steppingClock } from './helpers.js'

interface N {
  n: number
}

const inc = (d: N): void => void d.n++

describe('around middleware', () => {
  it('runs the link inside the async context an around hook sets (AsyncLocalStorage)', async () => {
    const als = new AsyncLocalStorage<string>()
    let seen: string | undefined
    const run = await chain<N>('c')
      .use({ name: 'ctx', around: (_e, next) => als.run('request-1', next) })
      .link('read', async (d) => {
        await Promise.resolve()
        seen = als.getStore()
        d.n++
      })
      .run({ n: 1 })
    expect(seen).toBe('request-1')
    expect(run.ctx.n).toBe(2)
  })

  it('nests the first added outermost, chain-level outside link-level, ordered by priority, LIFO on the way out', async () => {
    const order: string[] = []
    const mw = (name: string, priority = 0): Middleware<N> => ({
      name,
      priority,
      async around(_e, next) {
        order.push(`${name}>`)
        await next()
        order.push(`<${name}`)
      },
    })
    await chain<N>('c')
      .use(mw('a'))
      .use(mw('b', 5))
      .link('inc', (d) => void (order.push('link'), d.n++), { use: [mw('l')] })
      .run({ n: 1 })
    expect(order).toEqual(['b>', 'a>', 'l>', 'link', '<l', '<a', '<b'])
  })

  it('runs inside the before hooks and outside the link: before, around, link, around, after', async () => {
    const order: string[] = []
    await chain<N>('c')
      .use({ name: 'm', before: () => void order.push('before'), after: () => void order.push('after'), around: (_e, next) => (order.push('around>'), next().then(() => void order.push('<around'))) })
      .link('inc', (d) => void (order.push('link'), d.n++))
      .run({ n: 1 })
    expect(order).toEqual(['before', 'around>', 'link', '<around', 'after'])
  })

  it('next() resolves to the outcome, also of a failed link, and never rejects', async () => {
    const outcomes: AroundOutcome<N>[] = []
    const mw: Middleware<N> = { name: 'o', around: async (_e, next) => void outcomes.push(await next()) }
    await chain<N>('c').use(mw).link('inc', inc).run({ n: 1 })
    await chain<N>('c').use(mw).link('bad', () => { throw new Error('nope') }).run({ n: 1 }).catch(() => undefined)
    expect(outcomes[0]).toMatchObject({ result: { n: 2 }, patches: [{ op: 'replace', path: ['n'], value: 2 }] })
    expect(outcomes[0]?.error).toBeUndefined()
    expect(typeof outcomes[0]?.durationNs).toBe('bigint')
    expect(outcomes[1]).toMatchObject({ result: { n: 1 }, patches: [] })
    expect((outcomes[1]?.error as Error).message).toBe('nope')
  })

  const faulty: [string, Middleware<N>['around']][] = [
    ['throws before next', () => { throw new Error('boom') }],
    ['throws after next', (_e, next) => { void next(); throw new Error('boom') }],
    ['returns without next', () => undefined],
    ['settles without next', async () => {}],
    ['rejects without next', async () => { throw new Error('boom') }],
    ['rejects after next', async (_e, next) => { await next(); throw new Error('boom') }],
    ['calls next twice', async (_e, next) => { await next(); await next() }],
    ['calls next twice at once', (_e, next) => { void next(); return next().then(() => undefined) }],
  ]
  it.each(faulty)('runs the link exactly once when an around hook %s, recording one middleware.error', async (_what, around) => {
    let calls = 0
    const run = await chain<N>('c')
      .use({ name: 'bad', around: around as NonNullable<Middleware<N>['around']> })
      .link('inc', (d) => void (calls++, d.n++))
      .run({ n: 1 })
    expect(calls).toBe(1)
    expect(run.ctx.n).toBe(2)
    expect(run.status).toBe('ok')
    const errors = run.timeline.filter({ type: 'middleware.error' })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ hook: 'around', middleware: { name: 'bad', position: 'chain-around' }, link: { name: 'inc' } })
  })

  it('fails the run with safe: false when an around hook fails, the link having run once', async () => {
    let calls = 0
    const error = await chain<N>('c', { safe: false })
      .use({ name: 'bad', around: () => { throw new Error('boom') } })
      .link('inc', (d) => void (calls++, d.n++))
      .run({ n: 1 })
      .catch((e: unknown) => e)
    expect(calls).toBe(1)
    expect((error as { code: string }).code).toBe('MIDDLEWARE_FAILED')
  })

  it('cannot change the outcome: what a hook returns is ignored', async () => {
    const run = await chain<N>('c')
      .use({ name: 'x', around: async (_e, next) => { await next(); return { n: 99 } } } as Middleware<N>)
      .link('inc', inc)
      .run({ n: 1 })
    expect(run.ctx.n).toBe(2)
  })

  it('bounds an around hook that never settles by hookTimeoutMs, before or after next', async () => {
    for (const around of [() => new Promise<void>(() => {}), (_e: unknown, next: () => Promise<unknown>) => next().then(() => new Promise<void>(() => {}))]) {
      let calls = 0
      const run = await chain<N>('c', { hookTimeoutMs: 10 })
        .use({ name: 'stuck', around })
        .link('inc', (d) => void (calls++, d.n++))
        .run({ n: 1 })
      expect(calls).toBe(1)
      expect(run.ctx.n).toBe(2)
      const [error] = run.timeline.filter({ type: 'middleware.error' })
      expect((error as { error: Error }).error.name).toBe('TimeoutError')
    }
  })

  it('a slow link does not count against the hook timeout', async () => {
    const run = await chain<N>('c', { hookTimeoutMs: 5 })
      .use({ name: 'wrap', around: async (_e, next) => void (await next()) })
      .link('slow', async (d) => { await new Promise((r) => setTimeout(r, 30)); d.n++ })
      .run({ n: 1 })
    expect(run.timeline.filter({ type: 'middleware.error' })).toHaveLength(0)
    expect(run.ctx.n).toBe(2)
  })

  it('stops waiting when the run is aborted while waiting for an around hook', async () => {
    const controller = new AbortController()
    const pending = chain<N>('c')
      .use({ name: 'stuck', around: () => new Promise<void>(() => {}) })
      .link('inc', inc)
      .run({ n: 1 }, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 5)
    const error = await pending.catch((e: unknown) => e)
    expect((error as { code: string }).code).toBe('ABORTED')
  })

  it('gives the hook its position and the ctx the link will receive', async () => {
    const seen: string[] = []
    const look: Middleware<N> = { name: 'look', around: (e, next) => (seen.push(`${e.position} ${e.link.name} n=${e.ctx.n}`), next()) }
    await chain<N>('c').use(look).link('inc', inc, { use: [look] }).run({ n: 1 })
    expect(seen).toEqual(['chain-around inc n=1', 'link-around inc n=1'])
  })

  it('when aborted while waiting for a hook before next(), calls the link once with io.signal already aborted', async () => {
    const controller = new AbortController()
    let aborted: boolean | undefined
    const pending = chain<N>('c')
      .use({ name: 'stuck', around: () => new Promise<void>(() => {}) })
      .link('inc', (d, io) => void ((aborted = io.signal.aborted), d.n++))
      .run({ n: 1 }, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 5)
    const error = (await pending.catch((e: unknown) => e)) as { code: string; run: { timeline: { filter(q: object): { error?: unknown }[] } } }
    expect(aborted).toBe(true)
    expect(error.code).toBe('ABORTED')
    expect(error.run.timeline.filter({ type: 'middleware.error', middleware: 'stuck' })).toHaveLength(1)
  })

  it('stops waiting when the run is aborted while an around hook finishes after next()', async () => {
    const controller = new AbortController()
    let calls = 0
    const pending = chain<N>('c')
      .use({ name: 'slow-exit', around: (_e, next) => next().then(() => new Promise<void>(() => {})) })
      .link('inc', (d) => void (calls++, d.n++))
      .run({ n: 1 }, { signal: controller.signal })
    setTimeout(() => controller.abort(new Error('stop')), 5)
    const error = (await pending.catch((e: unknown) => e)) as { code: string; run: { timeline: { filter(q: object): unknown[] } } }
    expect(calls).toBe(1)
    expect(error.code).toBe('ABORTED')
    expect(error.run.timeline.filter({ type: 'middleware.error', middleware: 'slow-exit' })).toHaveLength(1)
  })

  it('wraps all attempts of a retried link once', async () => {
    let arounds = 0
    let attempts = 0
    const run = await chain<N>('c')
      .use({ name: 'wrap', around: (_e, next) => (arounds++, next()) })
      .link('flaky', (d, io) => { attempts++; if (io.attempt < 3) throw new Error('again'); d.n++ }, { retry: { attempts: 3 } })
      .run({ n: 1 })
    expect([arounds, attempts, run.ctx.n]).toEqual([1, 3, 2])
  })

  it('records each call as two halves around the link, filterable by position, with exact states', async () => {
    const run = await chain<N>('c', { clock: steppingClock() })
      .use({ name: 'outer', around: async (e, next) => { e.metrics.outer = 1; await next() } })
      .link('inc', inc, { use: [{ name: 'inner', around: (_e, next) => next() }] })
      .run({ n: 1 })
    const seen = run.timeline.events.map((e) => `${e.type}${'middleware' in e ? ` ${e.middleware.name}:${e.middleware.position}` : ''}`)
    expect(seen).toEqual([
      'run.start',
      'middleware.before outer:chain-around',
      'middleware.before inner:link-around',
      'link.start',
      'link.end',
      'middleware.after inner:link-around',
      'middleware.after outer:chain-around',
      'run.end',
    ])
    expect(run.timeline.filter({ position: 'link-around' }).map((e) => e.type)).toEqual(['middleware.before', 'middleware.after'])
    const before = run.timeline.filter({ type: 'middleware.before', middleware: 'outer' })[0]
    const after = run.timeline.filter({ type: 'middleware.after', middleware: 'outer' })[0]
    expect(run.timeline.stateAt(before?.seq ?? -1).ctx).toEqual({ n: 1 })
    expect(run.timeline.stateAt(after?.seq ?? -1).ctx).toEqual({ n: 2 })
    const ts = run.timeline.events.map((e) => e.t)
    expect([...ts].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))).toEqual(ts)
  })

  it('rejects an around that is not a function at build time, chain-level or link-level', () => {
    expect(() => chain<N>('c').use({ name: 'x', around: 3 } as unknown as Middleware<N>)).toThrow(/'around' that is number, not a function/)
    expect(() => chain<N>('c').link('l', inc, { use: [{ name: 'x', around: 'no' } as unknown as Middleware<N>] })).toThrow(TypeError)
    expect(() => chain<N>('c').link('l', inc, { use: [{ name: 'x', around: (_e, next) => next() }] })).not.toThrow()
  })
})
