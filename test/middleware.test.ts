import { applyPatches } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, type AfterEvent, type BeforeEvent, type Middleware } from '../src/index.js'
import { outline } from './helpers.js'

interface Doc {
  title: string
  meta: { views: number }
}
const doc = (): Doc => ({ title: 't', meta: { views: 0 } })

describe('middleware events', () => {
  it('gives every call a fresh event object and never mutates the middleware instance', async () => {
    const events: object[] = []
    const mw: Middleware = { name: 'spy', before: (e) => void events.push(e), after: (e) => void events.push(e) }
    Object.freeze(mw)
    const run = await chain<Doc>('doc').link('a', () => {}).link('b', () => {}).use(mw).run(doc())
    expect(run.status).toBe('ok')
    expect(new Set(events).size).toBe(4)
  })

  it('describes the link as frozen, readonly info with its meta', async () => {
    let seen: BeforeEvent | undefined
    await chain<Doc>('doc')
      .link('a', () => {}, { meta: { owner: 'billing' } })
      .use({ name: 'spy', before: (e) => void (seen = e) })
      .run(doc())
    expect(seen?.link).toEqual({ name: 'a', index: 0, meta: { owner: 'billing' } })
    expect(Object.isFrozen(seen?.link)).toBe(true)
    expect(Object.isFrozen(seen?.link.meta)).toBe(true)
    expect(() => ((seen!.link as { name: string }).name = 'x')).toThrow(TypeError)
  })

  it('shows ctx before and result after the link, with patches and the link-only duration', async () => {
    let after: AfterEvent<Doc> | undefined
    await chain<Doc>('doc')
      .link('title', (ctx) => void (ctx.title = 'new'))
      .use({ name: 'spy', after: (e) => void (after = e as AfterEvent<Doc>) })
      .run(doc())
    expect(after?.ctx.title).toBe('t')
    expect(after?.result.title).toBe('new')
    expect(after?.patches).toEqual([{ op: 'replace', path: ['title'], value: 'new' }])
    expect(typeof after?.durationNs).toBe('bigint')
    expect(after && 'error' in after).toBe(false)
  })

  it("gives after-middleware patches that turn ctx into result, also with capture 'off' (derived on read)", async () => {
    const seen: { capture: string; ok: boolean; count: number }[] = []
    let level: 'off' | 'timeline' = 'off'
    const c = chain<Doc>('doc')
      .link('edit', (ctx) => {
        ctx.title = 'x'
        ctx.meta.views += 1
      })
      .link('replace', () => ({ title: 'new', meta: { views: 9 } }))
      .use({
        name: 'check',
        after: (e) => void seen.push({ capture: String(e.mwctx.capture), ok: JSON.stringify(applyPatches(e.ctx as Doc, e.patches as never)) === JSON.stringify(e.result), count: e.patches.length }),
        // mwctx written at run start is what the after hooks of that run read, at every level.
        runStart: (e) => void (e.mwctx.capture = level),
      })
    for (level of ['off', 'timeline'] as const) await c.run(doc(), { capture: level })
    // Patch counts differ by level ('off' derives a replacement's patches by a diff, the
    // timeline records one root replace); each set must turn ctx into result.
    expect(seen.map(({ capture, ok }) => ({ capture, ok }))).toEqual([
      { capture: 'off', ok: true },
      { capture: 'off', ok: true },
      { capture: 'timeline', ok: true },
      { capture: 'timeline', ok: true },
    ])
    expect(seen.every((s) => s.count > 0)).toBe(true)
  })

  it('measures the link duration without the middleware around it', async () => {
    const busy = (ms: number) => {
      const end = performance.now() + ms
      while (performance.now() < end);
    }
    const run = await chain<Doc>('doc')
      .link('quick', () => {})
      .use({ name: 'slow', before: () => busy(20), after: () => busy(20) })
      .run(doc())
    const link = run.timeline.links()[0]!
    expect(link.durationNs < 10_000_000n).toBe(true)
    const slow = run.timeline.filter({ middleware: 'slow' })
    expect(slow.every((e) => e.type === 'middleware.before' || e.type === 'middleware.after' ? e.durationNs >= 19_000_000n : false)).toBe(true)
  })

  it('shares one mwctx between all middleware of a run, recorded as frozen snapshots', async () => {
    const c = chain<Doc>('doc')
      .link('a', () => {}, { use: [{ name: 'inner', before: (e) => void (e.mwctx.inner = e.mwctx.outer) }] })
      .link('b', () => {})
      .use({
        name: 'outer',
        runStart: (e) => void (e.mwctx.outer = 'start'),
        before: (e) => void (e.mwctx.seen = [...((e.mwctx.seen as string[]) ?? []), e.link.name]),
        runEnd: (e) => void (e.mwctx.done = e.mwctx.seen),
      })
    const run = await c.run(doc())
    const last = run.timeline.at(-1)!.mwctx
    expect(last).toEqual({ outer: 'start', seen: ['a', 'b'], inner: 'start', done: ['a', 'b'] })
    expect(Object.isFrozen(last)).toBe(true)
    const states = run.timeline.events.map((e) => e.mwctx)
    expect(states[0]).toEqual({})
    const innerEvent = run.timeline.filter({ middleware: 'inner' })[0]!
    expect(innerEvent.mwctx).toEqual({ outer: 'start', seen: ['a'], inner: 'start' })
  })

  it('gives each link execution fresh metrics, seen by the link and every middleware around it', async () => {
    const seen: unknown[] = []
    const c = chain<Doc>('doc')
      .link('a', (_ctx, io) => {
        seen.push({ ...io.metrics })
        io.metrics.byLink = 'a'
      })
      .link('b', (_ctx, io) => void seen.push({ ...io.metrics }))
      .use({
        name: 'm',
        before: (e) => void (e.metrics.before = e.link.name),
        after: (e) => void seen.push({ ...e.metrics }),
      })
    const run = await c.run(doc())
    expect(seen).toEqual([{ before: 'a' }, { before: 'a', byLink: 'a' }, { before: 'b' }, { before: 'b' }])
    expect(run.timeline.links().map((l) => l.metrics)).toEqual([{ before: 'a', byLink: 'a' }, { before: 'b' }])
    expect(run.timeline.at(0)!.metrics).toBeUndefined()
    expect(run.timeline.at(-1)!.metrics).toBeUndefined()
  })
})

describe('non-interruption', () => {
  it('records a throwing middleware as middleware.error and goes on', async () => {
    const boom = new Error('mw broke')
    const c = chain<Doc>('doc')
      .link('a', (ctx) => void (ctx.title = 'a'))
      .link('b', (ctx) => void (ctx.title += 'b'))
      .use({ name: 'bad', before: (e) => { if (e.link.name === 'a') throw boom } })
    const run = await c.run(doc())
    expect(run.status).toBe('ok')
    expect(run.ctx.title).toBe('ab')
    const errors = run.timeline.filter({ type: 'middleware.error' })
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ middleware: { name: 'bad', position: 'chain-before', index: 0 }, hook: 'before', link: { name: 'a' }, error: boom })
    expect(outline(run.timeline.events).filter((l) => l.includes('bad'))).toEqual(['middleware.error bad@chain-before#0 a', 'middleware.before bad@chain-before#0 b'])
  })

  it('records a rejecting async middleware, run hooks included', async () => {
    const c = chain<Doc>('doc')
      .link('a', () => {})
      .use({
        name: 'async-bad',
        async after() {
          await Promise.resolve()
          throw new Error('later')
        },
        async runStart() {
          throw new Error('at start')
        },
        runEnd() {
          throw new Error('at end')
        },
      })
    const run = await c.run(doc())
    expect(run.status).toBe('ok')
    expect(run.timeline.filter({ type: 'middleware.error' }).map((e) => e.type === 'middleware.error' && [e.hook, (e.error as Error).message])).toEqual([
      ['runStart', 'at start'],
      ['after', 'later'],
      ['runEnd', 'at end'],
    ])
  })

  it('cannot change ctx: a write to the frozen ctx is a recorded error and the ctx is unchanged', async () => {
    const c = chain<Doc>('doc')
      .link('a', () => {})
      .use({
        name: 'meddler',
        before: (e) => void ((e.ctx as Doc).title = 'hacked'),
        after: (e) => void ((e.result as Doc).meta.views = 1_000),
      })
    const run = await c.run(doc())
    expect(run.ctx).toEqual(doc())
    const errors = run.timeline.filter({ type: 'middleware.error' })
    expect(errors).toHaveLength(2)
    for (const e of errors) expect(e.type === 'middleware.error' && e.error).toBeInstanceOf(TypeError)
  })

  it('ignores what hooks return: a middleware cannot replace ctx or stop the run', async () => {
    const c = chain<Doc>('doc')
      .link('a', (ctx) => void (ctx.title = 'a'))
      .use({ name: 'returns', before: () => ({ title: 'x' }) as never, after: () => false as never })
    expect((await c.run(doc())).ctx.title).toBe('a')
  })

  it('safe:false fails the run with MIDDLEWARE_FAILED after it completes', async () => {
    const boom = new Error('broken timer')
    const ran: string[] = []
    const c = chain<Doc>('doc')
      .link('a', (ctx) => void (ctx.title = 'a'))
      .link('b', () => void ran.push('b'))
      .use({ name: 'timer', before: (e) => { if (e.link.name === 'a') throw boom } })
    const error = (await c.run(doc(), { safe: false }).catch((e: unknown) => e)) as ChainRunError<Doc>
    expect(error).toBeInstanceOf(ChainRunError)
    expect(error.code).toBe('MIDDLEWARE_FAILED')
    expect(error.cause).toBe(boom)
    expect(error.link?.name).toBe('a')
    expect(error.message).toBe("middleware 'timer' failed at chain-before of link 'a' in chain 'doc': broken timer")
    expect(ran).toEqual(['b'])
    expect(error.run.status).toBe('error')
    expect(error.run.ctx.title).toBe('a')
    expect(error.run.timeline.at(-1)).toMatchObject({ type: 'run.end', status: 'error' })
  })

  it('safe:false keeps LINK_FAILED when a link failed too', async () => {
    const c = chain<Doc>('doc')
      .link('a', () => { throw new Error('link') })
      .use({ name: 'bad', after() { throw new Error('mw') } })
    await expect(c.run(doc(), { safe: false })).rejects.toMatchObject({ code: 'LINK_FAILED' })
  })

  it('turns a circular mwctx into a middleware error and records the rest, the cycle as a marker', async () => {
    const c = chain<Doc>('doc')
      .link('a', () => {})
      .use({
        name: 'loop',
        before(e) {
          e.mwctx.ok = 1
        },
        after(e) {
          const self: Record<string, unknown> = {}
          self.self = self
          e.mwctx.cycle = self
        },
      })
    const run = await c.run(doc())
    expect(run.status).toBe('ok')
    const error = run.timeline.filter({ type: 'middleware.error' })[0]
    expect(error).toMatchObject({ middleware: { name: 'loop' }, hook: 'after' })
    expect(String((error as { error: Error }).error.message)).toBe('mwctx could not be recorded in full: mwctx.cycle.self [Circular]')
    expect(run.timeline.at(-1)!.mwctx).toEqual({ ok: 1, cycle: { self: '[Circular]' } })
    expect(() => run.toJSON()).not.toThrow()
  })
})
