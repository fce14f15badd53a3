// Regression tests for defects found in review: each failed before its fix.
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Span, Tracer } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import * as z from 'zod'
import { chain, ChainRunError, describeRun, formatWaterfall, loadRun, Run, saveRun } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'
import { matchers } from '../src/testing/index.js'
import { memoryTracer } from './otel-helpers.js'

expect.extend(matchers)

describe('replay', () => {
  it('treats a stubbed link as identical although immer replays its patches in another order', async () => {
    const c = chain<{ payment: { id?: string }; order: { status?: string } }>('pay').link('charge', (ctx) => {
      ctx.payment.id = 'p1'
      ctx.order.status = 'paid'
    })
    const run = await c.run({ payment: {}, order: {} })
    const { identical, divergence } = await run.replay({ stub: ['charge'] })
    expect(divergence).toBeUndefined()
    expect(identical).toBe(true)
  })

  it('does not parse a recorded input again with a transforming schema', async () => {
    const c = chain('qty', { input: z.object({ qty: z.string().transform(Number) }) }).link('double', (ctx) => void (ctx.qty *= 2))
    const run = await c.run({ qty: '21' } as never)
    expect(run.ctx.qty).toBe(42)
    const { identical, run: replay } = await run.replay()
    expect(replay.status).toBe('ok')
    expect(identical).toBe(true)
  })

  it('replays a fork from its cut, with its edit', async () => {
    const c = chain<{ total: number; vip?: boolean; discount?: number }>('shop')
      .link('price', (ctx) => void (ctx.total = 100))
      .link('discount', (ctx) => void (ctx.discount = ctx.vip === true ? 10 : 0))
    const parent = await c.run({ total: 0 })
    const fork = await parent.fork({ at: 'price', edit: (ctx) => void (ctx.vip = true) })
    const { identical, run } = await fork.replay()
    expect(identical).toBe(true)
    expect(run.ctx).toEqual({ total: 100, vip: true, discount: 10 })
    expect(run.timeline.at(0)).toBe(parent.timeline.at(0))
  })

  it("records the links of a replay even when the chain's default capture is 'off', and refuses to replay or fork an 'off' recording", async () => {
    const c = chain<{ n: number }>('quiet', { capture: 'off' }).link('a', (ctx) => void (ctx.n += 1))
    const recorded = await c.run({ n: 0 }, { capture: 'timeline' })
    expect((await recorded.replay()).identical).toBe(true)
    const silent = await c.run({ n: 0 })
    await expect(silent.replay()).rejects.toThrow(/recorded no link events \(capture 'off'\): record it with capture 'timeline' to replay it/)
    await expect(silent.fork({ at: 0 })).rejects.toThrow(/to fork it/)
  })
})

describe('the runner never hangs and never throws raw errors', () => {
  it('settles a traced async run whose tracer throws, and keeps the run', async () => {
    const { tracer } = memoryTracer()
    /** A tracer whose spans are the SDK's with one method replaced. */
    const patched = (real: Tracer, patch: (span: Span) => void) =>
      ({
        startSpan(...args: Parameters<Tracer['startSpan']>) {
          const span = real.startSpan(...args)
          patch(span)
          return span
        },
      }) as unknown as Tracer
    const broken = patched(tracer, (span) => {
      span.addEvent = () => {
        throw new Error('exporter exploded')
      }
    })
    const c = chain<{ n: number }>('t')
      .link('a', async (ctx) => void (ctx.n += 1))
      .use({ name: 'mw', before() {} })
    const run = await c.run({ n: 0 }, { tracer: broken })
    expect(run.status).toBe('ok')
    expect(run.ctx.n).toBe(1)
    const throwing = { startSpan: () => { throw new Error('no spans today') } } as unknown as typeof tracer
    expect((await c.run({ n: 0 }, { tracer: throwing })).status).toBe('ok')
    // A span whose every method throws, spanContext() and isRecording() included, recording or not.
    for (const recording of [true, false]) {
      let calls = 0
      const hostileSpan = new Proxy({}, {
        get: (_target, key) => key === 'isRecording' && calls++ === 0 ? () => recording : () => { throw new Error(`span.${String(key)} broke`) },
      })
      const hostile = { startSpan: () => hostileSpan } as unknown as typeof tracer
      const traced = await c.run({ n: 0 }, { tracer: hostile })
      expect(traced.status).toBe('ok')
      expect(traced.ctx.n).toBe(1)
    }
    // A run span begun and then unusable is still ended: a span never ended is never exported.
    const { exporter, tracer: real } = memoryTracer()
    const halfBroken = patched(real, (span) => {
      span.isRecording = () => {
        throw new Error('cannot tell')
      }
    })
    expect((await c.run({ n: 0 }, { tracer: halfBroken })).status).toBe('ok')
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['chain t'])
  })

  it('fails a run whose link throws an unprintable value with a ChainRunError, sync or async', async () => {
    const odd = () => Object.assign(Object.create(null) as object, { n: 1n })
    for (const fn of [() => { throw odd() }, async () => { throw odd() }]) {
      const error = (await chain<{ n: number }>('odd').link('x', fn).run({ n: 0 }).catch((e: unknown) => e)) as ChainRunError
      expect(error).toBeInstanceOf(ChainRunError)
      expect(error.code).toBe('LINK_FAILED')
      expect(error.message).toContain('"n":"1n"')
      expect(error.run.status).toBe('error')
    }
  })

  it('turns a schema that throws (or is async) into INVALID_INPUT with a recorded run', async () => {
    const throwing = chain('t', { input: z.object({ n: z.number().transform((n) => { if (n < 0) throw new Error('negative'); return n }) }) })
    const error = (await throwing.run({ n: -1 }).catch((e: unknown) => e)) as ChainRunError
    expect(error.code).toBe('INVALID_INPUT')
    expect(error.message).toMatch(/the input schema threw: negative/)
    expect(throwing.lastRun).toBe(error.run)
    const asyncSchema = chain('a', { input: z.object({ n: z.number().refine(async () => true) }) })
    await expect(asyncSchema.run({ n: 1 })).rejects.toMatchObject({ code: 'INVALID_INPUT' })
  })

  it('blames only the middleware that wrote a cycle into mwctx; later writes are recorded, the cycle as a marker', async () => {
    const c = chain<{ n: number }>('cyc')
      .link('a', () => {})
      .link('b', () => {})
      .use({
        name: 'looper',
        before(e) {
          if (e.link.name !== 'a') return
          const self: Record<string, unknown> = {}
          self.self = self
          e.mwctx.cycle = self
        },
      }, { name: 'counter', after: (e) => void (e.mwctx.count = ((e.mwctx.count as number) ?? 0) + 1) })
    const run = await c.run({ n: 0 })
    expect(run.timeline.filter({ type: 'middleware.error' })).toHaveLength(1)
    expect(run.timeline.at(-1)!.mwctx).toEqual({ count: 2, cycle: { self: '[Circular]' } })
  })
})

describe('forks of forks', () => {
  it('show and export only their own links', async () => {
    const c = chain<{ n: number }>('deep').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1)).link('c', (ctx) => void (ctx.n += 1)).link('d', (ctx) => void (ctx.n += 1))
    const root = await c.run({ n: 0 })
    const f1 = await root.fork({ at: 'a' })
    const f2 = await f1.fork({ at: 'c' })
    expect(describeRun(f2).links.filter((link) => !link.inherited).map((link) => link.name)).toEqual(['d'])
    expect(formatWaterfall(f2).split('\n')[0]).toMatch(/ 1 link$/)
    const { exporter, tracer } = memoryTracer()
    exportRun(f2, { tracer })
    expect(exporter.getFinishedSpans().map((span) => span.name).sort()).toEqual(['chain deep', 'link d'])
  })
})

describe('run files', () => {
  it('lets two saves to one path race without corrupting it', async () => {
    const run = await chain<{ n: number }>('race').link('a', (ctx) => void (ctx.n += 1)).run({ n: 0 })
    const file = join(await mkdtemp(join(tmpdir(), 'shadowchain-race-')), 'r.run.json')
    await Promise.all([saveRun(run, file), saveRun(run, file), saveRun(run, file)])
    expect((await loadRun(file)).id).toBe(run.id)
  })

  it('redacts Map entries whose keys are text when the path says a number (as the command line does)', async () => {
    const run = await chain<{ users: Map<string, { password: string }> }>('m').run({ users: new Map([['123', { password: 'hunter2' }]]) })
    expect(JSON.stringify(run.toJSON({ redact: [['users', 123, 'password']] }))).not.toContain('hunter2')
  })

  it('keeps Maps with object keys intact through a file', async () => {
    const key = { id: 1 }
    const run = await chain<{ m: Map<object, number> }>('objkeys').link('bump', (ctx) => void ctx.m.set([...ctx.m.keys()][0]!, 2)).run({ m: new Map([[key, 1]]) })
    const back = Run.fromJSON<{ m: Map<object, number> }>(JSON.parse(JSON.stringify(run.toJSON())))
    expect([...back.ctx.m.entries()]).toEqual([[{ id: 1 }, 2]])
  })
})

describe('testing matchers', () => {
  it('toHaveWritten sees a value written by a replacement or inside a parent object', async () => {
    const run = await chain<{ total?: number; customer?: { email: string } }>('w')
      .link('replace', (ctx) => ({ ...ctx, total: 5 }))
      .link('parent', (ctx) => void (ctx.customer = { email: 'ada@example.com' }))
      .run({})
    expect(run).toHaveWritten('total', 5)
    expect(run).toHaveWritten('customer.email', 'ada@example.com')
    expect(run).not.toHaveWritten('customer.email', 'bob@example.com')
  })
})

describe('options', () => {
  const c = chain<{ n: number }>('opts').link('a', () => {})
  it('rejects unknown or malformed options with the option named', async () => {
    expect(() => chain('x', { captrue: 'off' } as never)).toThrow("chain 'x': options: unknown option 'captrue' (did you mean 'capture'?)")
    expect(() => c.link('b', () => {}, { uses: [] } as never)).toThrow(/link 'b' options: unknown option 'uses' \(did you mean 'use'\?\)/)
    await expect(c.run({ n: 0 }, { timestamp: false } as never)).rejects.toThrow(/unknown option 'timestamp' \(did you mean 'timestamps'\?\)/)
    const run = await c.run({ n: 0 })
    await expect(run.replay({ stubs: ['a'] } as never)).rejects.toThrow(/unknown option 'stubs'/)
    await expect(run.replay({ stub: 'a' as never })).rejects.toThrow(/stub must be an array of link names or a predicate/)
    await expect(run.fork({ at: 'a', edit: 'no' as never })).rejects.toThrow(/edit must be a function/)
    await expect(c.run({ n: 0 }, { clock: { now: () => 5 as never } })).rejects.toThrow(/clock.now\(\) must return epoch nanoseconds as a bigint, got number/)
  })
})
