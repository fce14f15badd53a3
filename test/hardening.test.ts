// Issue #10, the runner's part: the record is never wrong, never lost, never a way to hang or
// leak. Each test failed before its fix.
import { getEventListeners } from 'node:events'
import { describe, expect, it, vi } from 'vitest'
import * as z from 'zod'
import { chain, ChainRunError, type Middleware } from '../src/index.js'
import type { LinkEndTimelineEvent, LinkErrorTimelineEvent, MiddlewareErrorTimelineEvent } from '../src/index.js'

const realSetTimeout = globalThis.setTimeout

const failureOf = (promise: Promise<unknown>): Promise<ChainRunError> =>
  promise.then(
    () => {
      throw new Error('expected the run to fail')
    },
    (error: unknown) => error as ChainRunError,
  )

const exportsCleanly = (run: { toJSON(): unknown }): void => {
  expect(() => JSON.stringify(run.toJSON())).not.toThrow()
}

describe('Dates in ctx are frozen like the rest of a state', () => {
  interface Stamped {
    at?: Date
    n: number
  }

  it('a later link that changes a Date in place fails, naming the link and the path; no earlier state changes', async () => {
    const c = chain<Stamped>('dates')
      .link('stamp', (ctx) => void (ctx.at = new Date(Date.UTC(2020, 0, 1))))
      .link('bump', (ctx) => void (ctx.n += 1))
      .link('rewrite', (ctx) => void ctx.at!.setFullYear(2030))
    for (const capture of ['timeline', 'writes', 'off'] as const) {
      const error = await failureOf(c.run({ n: 0 }, { capture }))
      expect(error.code).toBe('LINK_FAILED')
      expect(error.link?.name).toBe('rewrite')
      expect(error.message).toMatch(/link 'rewrite' .* failed: the Date at ctx\.at cannot be changed in place \(setFullYear\)/)
      expect(error.cause).toBeInstanceOf(TypeError)
      const years = error.run.timeline.events.map((e) => (e.ctx as Stamped).at?.getUTCFullYear())
      expect(years.every((y) => y === undefined || y === 2020)).toBe(true)
      expect((error.run.ctx as Stamped).at?.getUTCFullYear()).toBe(2020)
    }
  })

  it('a Date from the input is frozen too, and stays a working Date', async () => {
    const input = { at: new Date(Date.UTC(2021, 5, 1)), n: 0 }
    const run = await chain<Stamped>('in').link('read', (ctx) => void (ctx.n = ctx.at!.getUTCMonth())).run(input)
    expect(run.ctx.n).toBe(5)
    expect(run.ctx.at).toBeInstanceOf(Date)
    expect(run.ctx.at?.toISOString()).toBe('2021-06-01T00:00:00.000Z')
    expect(() => (run.ctx.at as Date).setTime(0)).toThrow(TypeError)
    expect(run.ctx.at?.getTime()).toBe(Date.UTC(2021, 5, 1))
    exportsCleanly(run)
  })

  it('assigning a new Date is recorded as a patch, and a Date made in the same link may be changed before it ends', async () => {
    const run = await chain<Stamped>('new')
      .link('stamp', (ctx) => {
        const at = new Date(Date.UTC(2020, 0, 1))
        at.setUTCFullYear(2024)
        ctx.at = at
      })
      .link('restamp', (ctx) => void (ctx.at = new Date(Date.UTC(2025, 0, 1))))
      .run({ n: 0 })
    const [first, second] = run.timeline.links()
    expect(first?.patches).toEqual([{ op: 'add', path: ['at'], value: new Date(Date.UTC(2024, 0, 1)) }])
    expect(second?.patches).toEqual([{ op: 'replace', path: ['at'], value: new Date(Date.UTC(2025, 0, 1)) }])
    expect(run.ctx.at?.getUTCFullYear()).toBe(2025)
  })

  it('middleware cannot change a Date of ctx; a Date written to metrics is recorded as it was', async () => {
    const kept: Date[] = []
    const run = await chain<Stamped>('mw')
      .link('stamp', (ctx, io) => {
        ctx.at = new Date(Date.UTC(2020, 0, 1))
        const seen = new Date(Date.UTC(2000, 0, 1))
        io.metrics.seen = seen
        kept.push(seen)
      })
      .use({ name: 'meddler', after: (e) => void (e.result as Stamped).at?.setUTCFullYear(1999) })
      .run({ n: 0 })
    expect(run.timeline.filter({ type: 'middleware.error' })).toHaveLength(1)
    expect(run.ctx.at?.getUTCFullYear()).toBe(2020)
    kept[0]!.setUTCFullYear(2042)
    expect((run.timeline.links()[0]?.metrics as { seen: Date }).seen.getUTCFullYear()).toBe(2000)
  })
})

describe('cycles in ctx', () => {
  it('a link that makes ctx circular fails, naming the cycle; the run exports', async () => {
    for (const capture of ['timeline', 'off'] as const) {
      const error = await failureOf(
        chain<Record<string, unknown>>('cyc')
          .link('loop', (ctx) => void (ctx.self = ctx))
          .run({ x: 1 }, { capture }),
      )
      expect(error.code).toBe('LINK_FAILED')
      expect(error.message).toMatch(/ctx\.self refers back to ctx/)
      expect(error.run.ctx).toEqual({ x: 1 })
      exportsCleanly(error.run)
    }
  })

  it('a circular input is rejected as INVALID_INPUT naming the path, before any hook runs', async () => {
    const input: Record<string, unknown> = { a: { b: {} } }
    ;((input.a as Record<string, unknown>).b as Record<string, unknown>).up = input.a
    const log: string[] = []
    const error = await failureOf(chain<Record<string, unknown>>('cyc-in').link('x', () => void log.push('x')).use({ name: 'm', runStart: () => void log.push('runStart') }).run(input))
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toMatch(/input\.a\.b\.up refers back to input\.a/)
    expect(log).toEqual([])
    expect(error.run.timeline.at(0)?.ctx).toEqual({ a: { b: { up: '[Circular]' } } })
    exportsCleanly(error.run)
  })
})

describe('what a link throws is captured when it is caught', () => {
  interface Order {
    customer: { name: string }
  }
  const order = (): Order => ({ customer: { name: 'Ada' } })

  it('an Error whose cause is a draft: the run exports, the cause is the value it had', async () => {
    const error = await failureOf(
      chain<Order>('draft-cause')
        .link('decline', (ctx) => {
          ctx.customer.name = 'Bob'
          throw new Error('declined', { cause: ctx.customer })
        })
        .run(order()),
    )
    const cause = error.cause as Error
    expect(cause).toBeInstanceOf(Error)
    expect(cause.message).toBe('declined')
    expect(cause.cause).toEqual({ name: 'Bob' })
    const event = error.run.timeline.filter({ type: 'link.error' })[0] as LinkErrorTimelineEvent
    expect(event.error).toBe(cause)
    exportsCleanly(error.run)
  })

  it('a thrown plain object holding the draft gets a readable message, not [object Object]', async () => {
    const error = await failureOf(
      chain<Order>('plain')
        .link('throw', (ctx) => {
          throw { order: ctx }
        })
        .run(order()),
    )
    expect(error.message).toBe(`link 'throw' (#0) of chain 'plain' failed: {"order":{"customer":{"name":"Ada"}}}`)
    expect(error.cause).toEqual({ order: { customer: { name: 'Ada' } } })
    exportsCleanly(error.run)
  })

  it('keeps an ordinary error as it is (the same object)', async () => {
    const thrown = new RangeError('plain')
    const error = await failureOf(
      chain<Order>('same').link('x', () => {
        throw thrown
      }).run(order()),
    )
    expect(error.cause).toBe(thrown)
  })

  it('replaces cycles, throwing getters and too deep cause chains; the copy is still an instance of its class', async () => {
    class PaymentError extends Error {}
    const cyclic = new PaymentError('loop')
    ;(cyclic as unknown as { self: unknown }).self = cyclic
    Object.defineProperty(cyclic, 'detail', { enumerable: true, get: () => { throw new Error('no detail') } })
    let deep: Error = new Error('root')
    for (let i = 0; i < 2_000; i++) deep = new Error(`level ${i}`, { cause: deep })
    for (const [thrown, check] of [
      [cyclic, (cause: unknown) => {
        expect(cause).toBeInstanceOf(PaymentError)
        expect((cause as { self: unknown }).self).toBe('[Circular]')
        expect((cause as { detail: unknown }).detail).toBe('[getter threw: no detail]')
      }],
      [deep, (cause: unknown) => {
        let at: unknown = cause
        let depth = 0
        while (at instanceof Error) {
          at = at.cause
          depth++
        }
        expect(depth).toBeLessThanOrEqual(1_001)
        expect(String(at)).toMatch(/^\[cut: nested more than 1000 levels deep\]$/)
      }],
      [Symbol('odd'), (cause: unknown) => expect(typeof cause).toBe('symbol')],
    ] as const) {
      const error = await failureOf(chain<Order>('hostile').link('x', () => { throw thrown }).run(order()))
      check(error.cause)
      exportsCleanly(error.run)
      if (typeof thrown === 'symbol') expect(error.message).toMatch(/failed: Symbol\(odd\)$/)
    }
  })

  it('a thrown Proxy whose get throws, or a revoked Proxy, fails the link (safe or not) and the run exports', async () => {
    const hostile = new Proxy({}, { get: () => { throw new Error('trap') }, getPrototypeOf: () => { throw new Error('trap') } })
    const { proxy: revoked, revoke } = Proxy.revocable({}, {})
    revoke()
    for (const thrown of [hostile, revoked]) {
      for (const safe of [true, false]) {
        const error = await failureOf(chain<Order>('proxy').link('x', () => { throw thrown }).run(order(), { safe }))
        expect(error.code).toBe('LINK_FAILED')
        expect(error.run.timeline.filter({ type: 'link.error' })).toHaveLength(1)
        expect(typeof error.message).toBe('string')
        exportsCleanly(error.run)
      }
    }
  })

  it('middleware that throws a revoked Proxy still lets a safe: false run settle', async () => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    const error = await failureOf(chain<Order>('mw-proxy').link('x', () => {}).use({ name: 'bad', before: () => { throw proxy } }).run(order(), { safe: false }))
    expect(error.code).toBe('MIDDLEWARE_FAILED')
    exportsCleanly(error.run)
  })

  it("a returned object whose 'then' getter throws: a hook's is ignored, a link's fails the link", async () => {
    const trap = (): object => Object.defineProperty({}, 'then', { enumerable: true, get: () => { throw new Error('then trap') } })
    const ok = await chain<Order>('then-hook').link('x', () => {}).use({ name: 'odd', before: trap as () => void }).run(order())
    expect(ok.status).toBe('ok')
    const error = await failureOf(chain<Order>('then-link').link('x', trap as () => Order).run(order()))
    expect(error.code).toBe('LINK_FAILED')
    expect(error.message).toMatch(/then trap/)
  })
})

describe('metrics and mwctx are recorded, or their loss is visible', () => {
  it('a draft put into io.metrics is recorded by its value, with the rest of the metrics', async () => {
    let seenByAfter: unknown
    const run = await chain<{ customer: { name: string } }>('m')
      .link('who', (ctx, io) => {
        io.metrics.count = 1
        ctx.customer.name = 'Bob'
        io.metrics.who = ctx.customer
      })
      .use({ name: 'reader', after: (e) => void (seenByAfter = JSON.parse(JSON.stringify(e.metrics))) })
      .run({ customer: { name: 'Ada' } })
    expect(run.timeline.links()[0]?.metrics).toEqual({ count: 1, who: { name: 'Bob' } })
    expect(seenByAfter).toEqual({ count: 1, who: { name: 'Bob' } })
    const end = run.timeline.filter({ type: 'link.end' })[0] as LinkEndTimelineEvent & { metricsError?: unknown }
    expect(end.metricsError).toBeUndefined()
    exportsCleanly(run)
  })

  it('a cycle in io.metrics is recorded as a marker and named in metricsError on the link event', async () => {
    const run = await chain<{ n: number }>('m-cycle')
      .link('loop', (_ctx, io) => {
        const self: Record<string, unknown> = { ok: true }
        self.self = self
        io.metrics.count = 1
        io.metrics.self = self
      })
      .run({ n: 0 })
    expect(run.timeline.links()[0]?.metrics).toEqual({ count: 1, self: { ok: true, self: '[Circular]' } })
    const end = run.timeline.filter({ type: 'link.end' })[0] as LinkEndTimelineEvent & { metricsError?: Error }
    expect(end.metricsError?.message).toBe('metrics could not be recorded in full: metrics.self.self [Circular]')
    exportsCleanly(run)
  })

  it('a throwing getter left in mwctx is a middleware error naming it, the rest recorded', async () => {
    const run = await chain<{ n: number }>('mw-getter')
      .link('x', () => {})
      .use({
        name: 'tricky',
        before(e) {
          e.mwctx.fine = 1
          Object.defineProperty(e.mwctx, 'bad', { enumerable: true, configurable: true, get: () => { throw new Error('nope') } })
        },
      })
      .run({ n: 0 })
    const error = run.timeline.filter({ type: 'middleware.error' })[0] as MiddlewareErrorTimelineEvent
    expect((error.error as Error).message).toBe('mwctx could not be recorded in full: mwctx.bad [getter threw: nope]')
    expect(run.timeline.at(-1)?.mwctx).toEqual({ fine: 1, bad: '[getter threw: nope]' })
    exportsCleanly(run)
  })
})

describe('a returned replacement', () => {
  it('keeps the order of a Set (NaN included) and never changes the object the link returned', async () => {
    interface Tagged {
      item: { sku: string }
      tags: Set<unknown>
      list: unknown[]
    }
    let returned: Tagged | undefined
    let tags: Set<unknown> | undefined
    let list: unknown[] | undefined
    const run = await chain<Tagged>('replace')
      .link('swap', (ctx) => {
        tags = new Set<unknown>([NaN, ctx.item, 'z', 'a'])
        list = [ctx.item, 1]
        returned = { item: ctx.item, tags, list } as Tagged
        return returned
      })
      .run({ item: { sku: 'a-1' }, tags: new Set(), list: [] })
    expect([...run.ctx.tags]).toEqual([NaN, { sku: 'a-1' }, 'z', 'a'])
    expect(run.ctx.list).toEqual([{ sku: 'a-1' }, 1])
    // The link's own objects still hold what it put there (drafts, now revoked), untouched.
    // (Booleans: a failing matcher would print the revoked drafts, and throw doing it.)
    expect(returned!.tags === tags && returned!.list === list).toBe(true)
    expect(run.ctx.tags === tags).toBe(false)
    expect(Number.isNaN([...tags!][0]) && [...tags!][2] === 'z' && tags!.size === 4).toBe(true)
    expect(Object.isFrozen(returned)).toBe(false)
  })

  it('a returned Set of plain values with NaN is kept as it is (no change, no reorder)', async () => {
    const set = new Set<unknown>([NaN, 'b', 'a'])
    const run = await chain<{ tags: Set<unknown> }>('nan').link('swap', () => ({ tags: set })).run({ tags: new Set() })
    expect(run.ctx.tags).toBe(set)
    expect([...run.ctx.tags]).toEqual([NaN, 'b', 'a'])
  })
})

describe('nothing can hang a run', () => {
  const never = (): Promise<void> => new Promise<void>(() => {})

  it('a hook that never settles is a middleware.error after hookTimeoutMs, and the run goes on', async () => {
    const lateWrites: string[] = []
    const stuck: Middleware = {
      name: 'stuck',
      async before(e) {
        if (e.link.name !== 'a') return
        await new Promise((resolve) => setTimeout(resolve, 150))
        e.mwctx.late = true
        lateWrites.push('late')
      },
    }
    const c = chain<{ n: number }>('hang', { hookTimeoutMs: 40 })
      .link('a', (ctx) => void (ctx.n += 1))
      .link('b', (ctx) => void (ctx.n += 1))
      .use(stuck)
    const started = performance.now()
    const run = await c.run({ n: 0 })
    expect(performance.now() - started).toBeLessThan(140)
    expect(run.status).toBe('ok')
    expect(run.ctx.n).toBe(2)
    const errors = run.timeline.filter({ type: 'middleware.error' }) as MiddlewareErrorTimelineEvent[]
    expect(errors).toHaveLength(1)
    expect(errors[0]?.link?.name).toBe('a')
    expect((errors[0]?.error as Error).name).toBe('TimeoutError')
    expect((errors[0]?.error as Error).message).toMatch(/middleware 'stuck' \(before at chain-before of link 'a'\) did not settle within 40 ms/)
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(lateWrites).toEqual(['late'])
    // Late writes through the event are discarded.
    expect(run.timeline.events.some((e) => 'late' in e.mwctx)).toBe(false)
    const strict = await failureOf(c.run({ n: 0 }, { safe: false, hookTimeoutMs: 20 }))
    expect(strict.code).toBe('MIDDLEWARE_FAILED')
  })

  it('a run option overrides the chain default, and a bad value is a TypeError', async () => {
    const c = chain<{ n: number }>('opt', { hookTimeoutMs: 10_000 }).link('a', () => {}).use({ name: 'stuck', before: never })
    const run = await c.run({ n: 0 }, { hookTimeoutMs: 20 })
    expect(run.timeline.filter({ type: 'middleware.error' })).toHaveLength(1)
    for (const bad of [0, -1, Number.NaN, '5']) {
      await expect(c.run({ n: 0 }, { hookTimeoutMs: bad as number })).rejects.toThrow(/hookTimeoutMs must be a number of milliseconds above 0/)
      expect(() => chain('bad', { hookTimeoutMs: bad as number })).toThrow(TypeError)
    }
  })

  it('an abort stops waiting for a pending hook at once: the link never starts, the run is aborted', async () => {
    const controller = new AbortController()
    const log: string[] = []
    const c = chain<{ n: number }>('abort-hook')
      .link('a', () => void log.push('link a'))
      .use({
        name: 'stuck',
        before: () => {
          setTimeout(() => controller.abort(new Error('user left')), 20)
          return never()
        },
        runEnd: (e) => void log.push(`runEnd ${e.status}`),
      })
    const started = performance.now()
    const error = await failureOf(c.run({ n: 0 }, { signal: controller.signal }))
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(error.code).toBe('ABORTED')
    expect(error.run.status).toBe('aborted')
    expect(error.message).toMatch(/aborted while waiting for middleware 'stuck' \(before at chain-before of link 'a'\): user left/)
    expect(log).toEqual(['runEnd aborted'])
    const hookError = error.run.timeline.filter({ type: 'middleware.error' })[0] as MiddlewareErrorTimelineEvent
    expect((hookError.error as Error).message).toBe('user left')
    expect(error.run.timeline.filter({ type: 'link.start' })).toHaveLength(0)
  })

  it('an abort stops waiting for a pending link at once; its late writes are discarded', async () => {
    const controller = new AbortController()
    let lateWrite: unknown
    const c = chain<{ n: number }>('abort-link').link('slow', async (ctx) => {
      setTimeout(() => controller.abort(new Error('enough')), 20)
      await new Promise((resolve) => setTimeout(resolve, 100))
      try {
        ctx.n = 99
      } catch (error) {
        lateWrite = error
      }
    })
    const started = performance.now()
    const error = await failureOf(c.run({ n: 0 }, { signal: controller.signal }))
    expect(performance.now() - started).toBeLessThan(90)
    expect(error.code).toBe('ABORTED')
    expect(error.link?.name).toBe('slow')
    expect((error.run.ctx as { n: number }).n).toBe(0)
    expect(error.run.timeline.filter({ type: 'link.error' })).toHaveLength(1)
    await new Promise((resolve) => setTimeout(resolve, 120))
    expect(lateWrite).toBeInstanceOf(TypeError)
  })

  it('arms no timer for synchronous hooks, unrefs and clears the timer of an async one', async () => {
    const spy = vi.spyOn(globalThis, 'setTimeout')
    try {
      await chain<{ n: number }>('sync').link('a', () => {}).use({ name: 'sync', before: () => {} }).run({ n: 0 })
      expect(spy).not.toHaveBeenCalled()
    } finally {
      spy.mockRestore()
    }
    const armed: ReturnType<typeof setTimeout>[] = []
    const set = vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
      const timer = realSetTimeout(fn, ms)
      armed.push(timer)
      return timer
    }) as typeof setTimeout)
    const signal = new AbortController().signal
    const c = chain<{ n: number }>('async').link('a', () => {}).use({ name: 'async', before: () => Promise.resolve() })
    try {
      for (let i = 0; i < 20; i++) await c.run({ n: 0 }, { signal })
    } finally {
      set.mockRestore()
    }
    // One timer per async call, unref'd (it never keeps the process alive); no abort listener
    // is left on a signal that many runs share.
    expect(armed).toHaveLength(20)
    expect(armed.every((timer) => !timer.hasRef())).toBe(true)
    expect(getEventListeners(signal, 'abort')).toHaveLength(0)
    // And each timer is cleared when its call settles: none is left pending.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    try {
      for (let i = 0; i < 5; i++) await c.run({ n: 0 }, { signal })
      expect(vi.getTimerCount()).toBe(0)
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('errors say what failed and where', () => {
  it('INVALID_INPUT keeps the ZodError as its cause', async () => {
    const c = chain('typed', { input: z.object({ n: z.number() }) }).link('x', () => {})
    const error = await failureOf(c.run({ n: 'one' } as never))
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.cause).toBeInstanceOf(z.ZodError)
    expect((error.cause as z.ZodError).issues[0]?.path).toEqual(['n'])
  })

  it("the library's own failure is INTERNAL, blames no link, and the run settles recorded", async () => {
    // A clock that breaks: at the 4th reading (link b's start), or at the last (the run's end).
    const breaking = (at: number) => {
      let calls = 0
      return {
        now: () => {
          if (++calls === at) throw new Error('clock broke')
          return BigInt(calls) * 1_000n
        },
      }
    }
    const c = chain<{ n: number }>('internal').link('a', () => {}).link('b', () => {})
    const settled = await c.run({ n: 0 }, { clock: breaking(6) })
    expect(settled.timeline.at(-1)?.type).toBe('run.end')
    const error = await failureOf(c.run({ n: 0 }, { clock: breaking(4) }))
    expect(error.code).toBe('INTERNAL')
    expect(error.link).toBeUndefined()
    expect(error.message).toMatch(/an internal error of shadowchain.*clock broke/)
    expect(error.run.status).toBe('error')
    expect(error.run.timeline.at(-1)?.type).toBe('run.end')
  })

  it('insert() with a bad position is a TypeError naming the argument', () => {
    const c = chain<{ n: number }>('ins').link('a', () => {})
    for (const bad of [null, 'a', {}, { before: 'a', after: 'a' }, { before: 1 }, []]) {
      expect(() => c.insert(bad as never, 'b', () => {})).toThrow(TypeError)
      expect(() => c.insert(bad as never, 'b', () => {})).toThrow(/insert\(\) position/)
    }
  })

  it('a middleware whose getter throws is rejected by use() and link() as a TypeError', () => {
    const hostile = { name: 'evil', get before(): never { throw new Error('getter') } } as unknown as Middleware
    expect(() => chain('g').use(hostile)).toThrow(TypeError)
    expect(() => chain('g').use(hostile)).toThrow(/middleware 'evil': reading 'before' threw: getter/)
    expect(() => chain('g').link('a', () => {}, { use: [hostile] })).toThrow(TypeError)
  })
})

describe("capture: 'writes' is bounded", () => {
  it('records at most maxWritesPerLink writes a link, counts the rest in writesDropped', async () => {
    const c = chain<{ n: number }>('hot').link('loop', (ctx) => {
      for (let i = 0; i < 20; i++) ctx.n = i
    }).link('quiet', (ctx) => void (ctx.n = -1))
    const run = await c.run({ n: 0 }, { capture: 'writes', maxWritesPerLink: 5 })
    expect(run.timeline.filter({ type: 'ctx.write' })).toHaveLength(6)
    const [loop, quiet] = run.timeline.filter({ type: 'link.end' }) as (LinkEndTimelineEvent & { writesDropped?: number })[]
    expect(loop?.writesDropped).toBe(15)
    expect(quiet && 'writesDropped' in quiet).toBe(false)
    expect(run.ctx.n).toBe(-1)
  })

  it('defaults to 10,000 writes a link', async () => {
    const run = await chain<{ n: number }>('hot').link('loop', (ctx) => {
      for (let i = 0; i < 10_003; i++) ctx.n = i
    }).run({ n: 0 }, { capture: 'writes' })
    expect(run.timeline.filter({ type: 'ctx.write' })).toHaveLength(10_000)
    expect((run.timeline.filter({ type: 'link.end' })[0] as { writesDropped?: number }).writesDropped).toBe(3)
    expect(() => chain('bad', { maxWritesPerLink: -1 })).toThrow(/maxWritesPerLink must be a whole number/)
  })
})

describe("capture: 'writes' records a Date as it was written", () => {
  it('a Date changed later in the same link does not change the recorded write', async () => {
    const run = await chain<{ at?: Date }>('w').link('stamp', (ctx) => {
      const at = new Date(Date.UTC(2020, 0, 1))
      ctx.at = at
      at.setUTCFullYear(2024)
    }).run({}, { capture: 'writes' })
    const write = run.timeline.filter({ type: 'ctx.write' })[0] as { value: Date }
    expect(write.value.getUTCFullYear()).toBe(2020)
    expect(run.ctx.at?.getUTCFullYear()).toBe(2024)
    expect(() => write.value.setTime(0)).toThrow(TypeError)
  })
})

describe('a fork seals the state it starts from', () => {
  it("a Date put in by a fork's edit is frozen; a cycle made by the edit is rejected", async () => {
    interface Doc {
      n: number
      at?: Date
      self?: unknown
    }
    const c = chain<Doc>('fork-dates').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1))
    const parent = await c.run({ n: 0 })
    const edited = await parent.fork({ at: 'a', edit: (ctx) => void (ctx.at = new Date(Date.UTC(2020, 0, 1))) })
    expect(() => (edited.ctx.at as Date).setUTCFullYear(2030)).toThrow(TypeError)
    expect(edited.ctx.at?.getUTCFullYear()).toBe(2020)
    const error = await failureOf(parent.fork({ at: 'a', edit: (ctx) => void (ctx.self = ctx) }))
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toMatch(/self refers back to/)
    exportsCleanly(error.run)
  })
})

describe('metrics read the same at every capture level', () => {
  it("after-middleware read a draft the link put in metrics by its value, also with capture: 'off'", async () => {
    const seen: unknown[] = []
    const c = chain<{ customer: { name: string } }>('m-off')
      .link('who', (ctx, io) => {
        io.metrics.who = ctx.customer
        io.metrics.list = [ctx.customer]
      })
      .use({ name: 'reader', after: (e) => void seen.push(JSON.parse(JSON.stringify(e.metrics))) })
    for (const capture of ['off', 'timeline'] as const) {
      const run = await c.run({ customer: { name: 'Ada' } }, { capture })
      expect(run.timeline.filter({ type: 'middleware.error' })).toHaveLength(0)
    }
    expect(seen).toEqual([
      { who: { name: 'Ada' }, list: [{ name: 'Ada' }] },
      { who: { name: 'Ada' }, list: [{ name: 'Ada' }] },
    ])
  })
})

describe('Dates anywhere in a new state are frozen', () => {
  it('in Map values, Set members and arrays that shifted, at every capture level', async () => {
    interface Doc {
      m: Map<string, { at: Date }>
      s: Set<unknown>
      list: { at: Date }[]
    }
    const c = chain<Doc>('deep-dates').link('add', (ctx) => {
      ctx.m.set('k', { at: new Date(1) })
      ctx.s.add(new Date(2))
      ctx.list.unshift({ at: new Date(3) })
      ctx.list.push({ at: new Date(4) })
    })
    for (const capture of ['off', 'timeline', 'writes'] as const) {
      const run = await c.run({ m: new Map(), s: new Set(), list: [{ at: new Date(0) }] }, { capture })
      const dates = [run.ctx.m.get('k')!.at, [...run.ctx.s][0] as Date, ...run.ctx.list.map((i) => i.at)]
      expect(dates.map((d) => d.getTime())).toEqual([1, 2, 3, 0, 4])
      for (const date of dates) expect(() => date.setTime(99)).toThrow(TypeError)
    }
  })
})
