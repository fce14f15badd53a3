import type { Draft, Immutable, Patch } from 'immer'
import { describe, expectTypeOf, it } from 'vitest'
import * as z from 'zod'
import { chain, Chain, compareRuns, Run } from '../src/index.js'
import type {
  AfterEvent,
  BeforeEvent,
  Divergence,
  ForkOptions,
  RecordedRun,
  ReplayOptions,
  ReplayResult,
  LinkEndTimelineEvent,
  LinkIO,
  LinkInfo,
  LinkRecord,
  Middleware,
  RunEndEvent,
  RunStartEvent,
  TimelineEvent,
} from '../src/index.js'

// Mixed readonly and mutable fields, so that Order, Draft<Order> and Immutable<Order> are three
// different types (for a fully mutable type Draft<T> and T are structurally equal).
interface Order {
  readonly id: string
  items: { sku: string; price: number }[]
  total?: number
  meta: { readonly tags: readonly string[] }
}

const order: Order = { id: 'o1', items: [{ sku: 'a', price: 1 }], meta: { tags: [] } }

describe('ctx type inference through the builder', () => {
  it('gives every link a Draft of the chain ctx and a typed io', () => {
    chain<Order>('x').link('a', (ctx, io) => {
      expectTypeOf(ctx).toEqualTypeOf<Draft<Order>>()
      expectTypeOf(io).toEqualTypeOf<LinkIO<Order>>()
      expectTypeOf(io.base).toEqualTypeOf<Immutable<Order>>()
      expectTypeOf(io.now()).toEqualTypeOf<number>()
      expectTypeOf(io.random()).toEqualTypeOf<number>()
      expectTypeOf(io.signal).toEqualTypeOf<AbortSignal>()
      expectTypeOf(ctx).not.toEqualTypeOf<Order>()
      // The draft is writable, deep down, even where Order itself is readonly.
      ctx.id = 'o2'
      ctx.total = 3
      ctx.items.push({ sku: 'b', price: 2 })
      ctx.meta.tags.push('x')
    })
  })

  it('keeps Chain<Order> through link, use and insert', () => {
    const base = chain<Order>('x')
    expectTypeOf(base).toEqualTypeOf<Chain<Order>>()
    const linked = base.link('a', () => {})
    expectTypeOf(linked).toEqualTypeOf<Chain<Order>>()
    const used = linked.use({ name: 'm' })
    expectTypeOf(used).toEqualTypeOf<Chain<Order>>()
    const before = used.insert({ before: 'a' }, 'b', (ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<Draft<Order>>()
    })
    expectTypeOf(before).toEqualTypeOf<Chain<Order>>()
    const after = before.insert({ after: 'a' }, 'c', (ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<Draft<Order>>()
    })
    expectTypeOf(after).toEqualTypeOf<Chain<Order>>()
    expectTypeOf(after.lastRun).toEqualTypeOf<Run<Order> | undefined>()
  })

  it('resolves run() to Run<Order> with a frozen, typed ctx', async () => {
    const c = chain<Order>('x').link('a', () => {})
    expectTypeOf(c.run).parameter(0).toEqualTypeOf<Order>()
    expectTypeOf(c.run(order)).toEqualTypeOf<Promise<Run<Order>>>()
    const run = await c.run(order)
    expectTypeOf(run).toEqualTypeOf<Run<Order>>()
    expectTypeOf(run.ctx).toEqualTypeOf<Immutable<Order>>()
    expectTypeOf(run.ctx).not.toEqualTypeOf<Order>()
    expectTypeOf(run.ctx.items[0]!.price).toEqualTypeOf<number>()
    expectTypeOf(run.startedAt).toEqualTypeOf<bigint>()
    // @ts-expect-error the final ctx is readonly
    run.ctx.total = 1
    // @ts-expect-error readonly deep down too (Order.items itself is a mutable array)
    run.ctx.items.push({ sku: 'c', price: 3 })
    // @ts-expect-error the input must be an Order
    void c.run({ items: 'nope' })
  })

  it('infers C from a zod input schema', async () => {
    const schema = z.object({ id: z.string(), qty: z.number().default(1) })
    const c = chain('x', { input: schema })
    expectTypeOf(c).toEqualTypeOf<Chain<{ id: string; qty: number }>>()
    const linked = c.link('a', (ctx) => {
      expectTypeOf(ctx).toEqualTypeOf<Draft<{ id: string; qty: number }>>()
      // @ts-expect-error no such key in the schema
      ctx.missing = 1
    })
    const run = await linked.run({ id: 'a', qty: 2 })
    expectTypeOf(run.ctx).toEqualTypeOf<Immutable<{ id: string; qty: number }>>()
    // @ts-expect-error the inferred input type is enforced
    void linked.run({ id: 1, qty: 2 })
  })

  it('rejects a schema that contradicts an explicit ctx type', () => {
    // @ts-expect-error the schema outputs { id: number }, not an Order
    chain<Order>('x', { input: z.object({ id: z.number() }) })
  })
})

describe('links', () => {
  it('may mutate and return nothing, return a replacement, or be async', () => {
    chain<Order>('x')
      .link('mutate', (ctx) => {
        ctx.total = 1
      })
      .link('replace', () => order)
      .link('return-draft', (ctx) => ctx)
      .link('async', async (ctx) => {
        ctx.total = 2
      })
      .link('async-replace', async () => order)
  })

  it('rejects a link that returns a value of the wrong type', () => {
    // @ts-expect-error a number is not an Order
    chain<Order>('x').link('a', () => 42)
    // @ts-expect-error an object of another shape is not an Order
    chain<Order>('x').link('a', () => ({ other: 'x' }))
    // @ts-expect-error nor a promise of one
    chain<Order>('x').link('a', async () => 'nope')
    // @ts-expect-error insert checks the link too
    chain<Order>('x').link('a', () => {}).insert({ after: 'a' }, 'b', () => 42)
  })

  it('rejects a write of the wrong type on the draft', () => {
    chain<Order>('x').link('a', (ctx) => {
      // @ts-expect-error total is a number
      ctx.total = 'ten'
    })
  })
})

describe('middleware events', () => {
  it('gives before hooks a readonly, immutable ctx and writable mwctx / metrics', () => {
    const mw: Middleware<Order> = {
      name: 'm',
      before(e) {
        expectTypeOf(e).toEqualTypeOf<BeforeEvent<Order>>()
        expectTypeOf(e.ctx).toEqualTypeOf<Immutable<Order>>()
        expectTypeOf(e.position).toEqualTypeOf<'chain-before' | 'link-before'>()
        // @ts-expect-error ctx cannot be replaced
        e.ctx = order
        // @ts-expect-error nor changed
        e.ctx.total = 1
        // @ts-expect-error nor changed deep down
        e.ctx.items.push({ sku: 'b', price: 2 })
        e.mwctx['count'] = 1
        e.metrics['ms'] = 2
      },
    }
    expectTypeOf(mw).toMatchTypeOf<Middleware<Order>>()
  })

  it('gives after hooks result, patches and durationNs: bigint', () => {
    expectTypeOf<AfterEvent<Order>['result']>().toEqualTypeOf<Immutable<Order>>()
    expectTypeOf<AfterEvent<Order>['ctx']>().toEqualTypeOf<Immutable<Order>>()
    expectTypeOf<AfterEvent<Order>['patches']>().toEqualTypeOf<readonly Patch[]>()
    expectTypeOf<AfterEvent<Order>['durationNs']>().toEqualTypeOf<bigint>()
    expectTypeOf<AfterEvent<Order>['error']>().toEqualTypeOf<unknown>()
    expectTypeOf<AfterEvent<Order>['position']>().toEqualTypeOf<'link-after' | 'chain-after'>()
    const mw: Middleware<Order> = {
      name: 'm',
      after(e) {
        // @ts-expect-error result is readonly
        e.result = order
        // @ts-expect-error patches cannot be added to
        e.patches.push({ op: 'add', path: [], value: 1 })
        // @ts-expect-error durationNs is a bigint, not a number
        const ms: number = e.durationNs
        void ms
      },
    }
    void mw
  })

  it('gives run hooks the run ctx, runEnd the status', () => {
    expectTypeOf<RunStartEvent<Order>['ctx']>().toEqualTypeOf<Immutable<Order>>()
    expectTypeOf<RunEndEvent<Order>['status']>().toEqualTypeOf<'ok' | 'error' | 'aborted'>()
  })

  it('accepts a Middleware (of unknown ctx) on any chain, at both levels', () => {
    const generic: Middleware = { name: 'g', before: (e) => void e.ctx, after: (e) => void e.result }
    expectTypeOf(generic).toEqualTypeOf<Middleware<unknown>>()
    chain<Order>('x').use(generic)
    chain<{ other: string }>('y').use(generic)
    chain<number>('z').use(generic)
    chain<Order>('x').link('a', () => {}, { use: [generic] })
    chain<Order>('x').link('a', () => {}).insert({ before: 'a' }, 'b', () => {}, { use: [generic] })
  })

  it('rejects a Middleware<Order> on a chain of another ctx', () => {
    const forOrders: Middleware<Order> = { name: 'o', before: (e) => void e.ctx.items.length }
    chain<Order>('x').use(forOrders)
    // @ts-expect-error an Order middleware cannot observe { other: string }
    chain<{ other: string }>('y').use(forOrders)
    // @ts-expect-error not as link-level middleware either
    chain<{ other: string }>('y').link('a', () => {}, { use: [forOrders] })
  })

  it('rejects malformed middleware', () => {
    // @ts-expect-error a name is required
    chain<Order>('x').use({ before: () => {} })
    // @ts-expect-error hooks are functions
    chain<Order>('x').use({ name: 'm', before: 1 })
  })
})

describe('timeline events', () => {
  it('narrow by type', async () => {
    const run = await chain<Order>('x').link('a', () => {}).run(order)
    const event = run.timeline.events[0]!
    expectTypeOf(event).toEqualTypeOf<TimelineEvent<Order>>()
    expectTypeOf(event.seq).toEqualTypeOf<number>()
    expectTypeOf(event.t).toEqualTypeOf<bigint>()
    expectTypeOf(event.ctx).toEqualTypeOf<Immutable<Order>>()
    // @ts-expect-error patches exist only on link.end
    void event.patches
    if (event.type === 'link.end') {
      expectTypeOf(event).toEqualTypeOf<LinkEndTimelineEvent<Order>>()
      expectTypeOf(event.patches).toEqualTypeOf<readonly Patch[]>()
      expectTypeOf(event.inversePatches).toEqualTypeOf<readonly Patch[]>()
      expectTypeOf(event.durationNs).toEqualTypeOf<bigint>()
    }
    if (event.type === 'run.start') expectTypeOf(event.input).toEqualTypeOf<unknown>()
    if (event.type === 'run.end') expectTypeOf(event.status).toEqualTypeOf<'ok' | 'error' | 'aborted'>()
    if (event.type === 'middleware.error') {
      expectTypeOf(event.hook).toEqualTypeOf<'before' | 'after' | 'runStart' | 'runEnd'>()
      expectTypeOf(event.error).toEqualTypeOf<unknown>()
    }
    if (event.type === 'link.start') {
      // @ts-expect-error a link.start has no patches
      void event.patches
    }
  })

  it('types links() records and stateAt() with the ctx', async () => {
    const run = await chain<Order>('x').link('a', () => {}).run(order)
    expectTypeOf(run.timeline.links()).toEqualTypeOf<LinkRecord<Order>[]>()
    const record = run.timeline.links()[0]!
    expectTypeOf(record.before).toEqualTypeOf<Immutable<Order>>()
    expectTypeOf(record.after).toEqualTypeOf<Immutable<Order>>()
    expectTypeOf(run.timeline.stateAt(0).ctx).toEqualTypeOf<Immutable<Order>>()
  })
})

describe('hardening options and codes (issue #10)', () => {
  it('takes hookTimeoutMs and maxWritesPerLink as numbers, on a chain and on a run', () => {
    const c = chain<{ n: number }>('opts', { hookTimeoutMs: 1_000, maxWritesPerLink: 100 })
    expectTypeOf(c.run).toBeCallableWith({ n: 1 }, { hookTimeoutMs: Infinity, maxWritesPerLink: 0 })
    // @ts-expect-error a timeout is a number of milliseconds
    chain<{ n: number }>('bad', { hookTimeoutMs: '5s' })
    // @ts-expect-error a write cap is a number
    void c.run({ n: 1 }, { maxWritesPerLink: true })
  })

  it("lists 'INTERNAL' among the error codes", () => {
    expectTypeOf<'INTERNAL'>().toMatchTypeOf<import('../src/index.js').ChainRunErrorCode>()
  })
})

describe('replay, fork and compare (Run reaches them through its chain’s engine)', () => {
  it('types run.replay() and run.fork() with the run’s ctx', async () => {
    const c = chain<Order>('x').link('a', () => {})
    const run = await c.run(order)
    expectTypeOf(run).toEqualTypeOf<Run<Order>>()
    expectTypeOf(run.replay).parameter(0).toEqualTypeOf<ReplayOptions<Order> | undefined>()
    expectTypeOf(run.replay).toBeCallableWith()
    expectTypeOf(run.replay()).resolves.toEqualTypeOf<ReplayResult<Order>>()
    const replayed = await run.replay({ chain: c, stub: ['a'] })
    expectTypeOf(replayed.run).toEqualTypeOf<Run<Order>>()
    expectTypeOf(replayed.divergence).toEqualTypeOf<Divergence | undefined>()
    expectTypeOf(run.fork).parameter(0).toEqualTypeOf<ForkOptions<Order>>()
    expectTypeOf(run.fork({ at: 'a' })).resolves.toEqualTypeOf<Run<Order>>()
    await run.fork({ at: 'a', edit: (ctx) => { ctx.total = 1 }, chain: c })
    // @ts-expect-error a fork needs a cut
    void run.fork({})
    // @ts-expect-error a replay runs on a chain of the same ctx
    void run.replay({ chain: chain<{ other: string }>('y') })
    expectTypeOf(c.lastRun).toEqualTypeOf<Run<Order> | undefined>()
  })

  it('compares any recorded runs: a Run is a RecordedRun', async () => {
    const a = await chain<Order>('x').run(order)
    const b = await chain<{ n: number }>('y').run({ n: 1 })
    expectTypeOf(a).toMatchTypeOf<RecordedRun<Order>>()
    expectTypeOf(compareRuns(a, b)).toEqualTypeOf<Divergence | undefined>()
    expectTypeOf(compareRuns(a, (await a.replay()).run)).toEqualTypeOf<Divergence | undefined>()
  })
})

describe('composition types (DESIGN §9)', () => {
  it('types when from C: it receives Immutable<C> and must return a boolean', () => {
    chain<Order>('o').link('a', () => {}, {
      when: (ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<Immutable<Order>>()
        return ctx.items.length > 0
      },
    })
    // @ts-expect-error when reads the ctx type: Order has no 'missing'
    chain<Order>('o').link('a', () => {}, { when: (ctx) => ctx.missing > 0 })
    // @ts-expect-error when must return a boolean, not a promise
    chain<Order>('o').link('a', () => {}, { when: async () => true })
    // @ts-expect-error when cannot write to the ctx it is given
    chain<Order>('o').link('a', () => {}, { when: (ctx) => ((ctx.total = 1), true) })
  })

  it('types io.stop, the run\'s stoppedBy and middleware priority', async () => {
    const c = chain<Order>('o').link('a', (_ctx, io) => {
      expectTypeOf(io.stop).toEqualTypeOf<(reason?: string) => void>()
      // @ts-expect-error a reason is a string
      io.stop(42)
    })
    const run = await c.run({ id: '1', items: [], meta: { tags: [] } })
    expectTypeOf(run.stoppedBy).toEqualTypeOf<LinkInfo | undefined>()
    expectTypeOf(run.stopReason).toEqualTypeOf<string | undefined>()
    expectTypeOf<LinkRecord<Order>['status']>().toEqualTypeOf<'ok' | 'error' | 'skipped'>()
    const mw: Middleware<Order> = { name: 'm', priority: 5 }
    // @ts-expect-error a priority is a number
    const bad: Middleware<Order> = { name: 'm', priority: 'high' }
    void mw
    void bad
  })
})

describe('retry and timeout types (DESIGN §9)', () => {
  it('types retry, timeoutMs, io.attempt, the after event\'s attempts and the TIMEOUT code', () => {
    chain<Order>('o').link('charge', (_ctx, io) => {
      expectTypeOf(io.attempt).toEqualTypeOf<number>()
      // @ts-expect-error io.attempt is the runner's to set
      io.attempt = 2
    }, {
      retry: {
        attempts: 3,
        delayMs: 100,
        backoff: 2,
        retryIf: (error) => {
          expectTypeOf(error).toEqualTypeOf<unknown>()
          return true
        },
      },
      timeoutMs: 2_000,
    })
    // @ts-expect-error attempts is required
    chain<Order>('o').link('a', () => {}, { retry: { delayMs: 10 } })
    // @ts-expect-error attempts is a number
    chain<Order>('o').link('a', () => {}, { retry: { attempts: '3' } })
    // @ts-expect-error retryIf returns a boolean
    chain<Order>('o').link('a', () => {}, { retry: { attempts: 2, retryIf: () => 'yes' } })
    // @ts-expect-error timeoutMs is a number
    chain<Order>('o').link('a', () => {}, { timeoutMs: '5s' })
    // @ts-expect-error retry has no 'tries'
    chain<Order>('o').link('a', () => {}, { retry: { attempts: 2, tries: 3 } })
    const mw: Middleware<Order> = { name: 'm', after: (event) => void expectTypeOf(event.attempts).toEqualTypeOf<number | undefined>() }
    void mw
    expectTypeOf<LinkRecord<Order>['attempts']>().toEqualTypeOf<number | undefined>()
    expectTypeOf<'TIMEOUT'>().toMatchTypeOf<import('../src/index.js').ChainRunErrorCode>()
  })
})

describe('around types (DESIGN §9)', () => {
  it('types around from C: the event, next() and its outcome', () => {
    const mw: Middleware<Order> = {
      name: 'ctx',
      async around(event, next) {
        expectTypeOf(event.ctx).toEqualTypeOf<Immutable<Order>>()
        expectTypeOf(event.position).toEqualTypeOf<'chain-around' | 'link-around'>()
        const outcome = await next()
        expectTypeOf(outcome.result).toEqualTypeOf<Immutable<Order>>()
        expectTypeOf(outcome.error).toEqualTypeOf<unknown>()
        expectTypeOf(outcome.patches).toEqualTypeOf<readonly Patch[]>()
        expectTypeOf(outcome.durationNs).toEqualTypeOf<bigint>()
        // @ts-expect-error the outcome is read-only: an around hook cannot change it
        outcome.result = event.ctx
        // @ts-expect-error next takes no arguments: the hook cannot pass the link another ctx
        await next(event.ctx)
      },
    }
    chain<Order>('o').use(mw).link('a', () => {}, { use: [mw] })
    // @ts-expect-error around is a function
    const bad: Middleware<Order> = { name: 'm', around: true }
    void bad
    // @ts-expect-error next() resolves to an outcome of Order, not of another ctx
    const other: Middleware<Order> = { name: 'm', around: async (_e, next) => { const o = await next(); const n: { x: number } = o.result; void n } }
    void other
  })
})
