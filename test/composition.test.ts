import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, type Middleware } from '../src/index.js'
import { matchers } from '../src/testing/index.js'
import { logMiddleware, outline, steppingClock } from './helpers.js'

interface Order {
  total: number
  cached?: boolean
  notes: string[]
}
const order = (total = 10, cached = false): Order => ({ total, cached, notes: [] })

const flow = (log: string[] = []) =>
  chain<Order>('flow', { clock: steppingClock() })
    .link('price', (ctx) => void (ctx.total += 1))
    .link('review', (ctx) => void ctx.notes.push('reviewed'), { when: (ctx) => ctx.total > 100 })
    .link('quote', (ctx, io) => {
      ctx.notes.push('quoted')
      if (ctx.cached === true) io.stop('cached quote')
    })
    .link('charge', (ctx) => void ctx.notes.push('charged'))
    .link('email', (ctx) => void ctx.notes.push('emailed'))
    .use(logMiddleware('log', log))

describe('when (DESIGN §9)', () => {
  it('skips the link and every hook around it when false, recording link.skip', async () => {
    const log: string[] = []
    const run = await flow(log).run(order(10))
    expect(run.ctx.notes).toEqual(['quoted', 'charged', 'emailed'])
    expect(log.some((line) => line.includes(':review:'))).toBe(false)
    const skip = run.timeline.filter({ type: 'link.skip' })
    expect(skip).toHaveLength(1)
    expect(skip[0]).toMatchObject({ link: { name: 'review', index: 1 }, reason: 'when', metrics: undefined })
    const lines = outline(run.timeline.events)
    const at = lines.indexOf('link.skip review')
    expect(lines.slice(at - 1, at + 2)).toEqual(['middleware.after log@chain-after#0 price', 'link.skip review', 'middleware.before log@chain-before#0 quote'])
    expect(run.stoppedBy).toBeUndefined()
  })

  it('runs the link when true, and asks with the ctx the link would receive', async () => {
    const seen: number[] = []
    const run = await chain<Order>('w')
      .link('price', (ctx) => void (ctx.total = 500))
      .link('review', (ctx) => void ctx.notes.push('reviewed'), { when: (ctx) => (seen.push(ctx.total), Object.isFrozen(ctx) && ctx.total > 100) })
      .run(order())
    expect(seen).toEqual([500])
    expect(run.ctx.notes).toEqual(['reviewed'])
    expect(run.timeline.filter({ type: 'link.skip' })).toHaveLength(0)
  })

  it('fails the run as the link\'s failure when when() throws or does not return a boolean; no hook of the link runs', async () => {
    for (const when of [() => { throw new Error('no rule') }, () => 'yes' as unknown as boolean, () => Promise.resolve(true) as unknown as boolean]) {
      const log: string[] = []
      const error = await chain<Order>('w')
        .link('a', () => {})
        .link('b', () => {}, { when })
        .use(logMiddleware('log', log))
        .run(order())
        .catch((e: unknown) => e)
      expect(error).toBeInstanceOf(ChainRunError)
      const failure = error as ChainRunError<Order>
      expect(failure.code).toBe('LINK_FAILED')
      expect(failure.link?.name).toBe('b')
      expect(failure.message).toMatch(/link 'b' \(#1\) of chain 'w' failed: its condition \(when\) failed/)
      expect(log.filter((line) => line.includes(':b:'))).toEqual([])
      expect(log.at(-1)).toBe('log:runEnd:error')
      expect(failure.run.timeline.filter({ link: 'b' })).toEqual([])
    }
  })

  it('rejects a when that is not a function when the chain is built', () => {
    expect(() => chain<Order>('w').link('a', () => {}, { when: true as unknown as () => boolean })).toThrow(/options.when must be a function/)
    expect(() => chain<Order>('w').link('a', () => {}).insert({ after: 'a' }, 'b', () => {}, { when: null as unknown as () => boolean })).toThrow(TypeError)
  })

  it('records skips at capture timeline but not at capture off; the ctx is the same', async () => {
    const off = await flow().run(order(), { capture: 'off' })
    expect(off.timeline.filter({ type: 'link.skip' })).toHaveLength(0)
    expect(off.ctx).toEqual((await flow().run(order())).ctx)
  })
})

describe('io.stop (DESIGN §9)', () => {
  it('ends the run ok after the current link, its changes and after-middleware included; the rest are skipped', async () => {
    const log: string[] = []
    const run = await flow(log).run(order(10, true))
    expect(run.status).toBe('ok')
    expect(run.ctx.notes).toEqual(['quoted'])
    expect(run.stoppedBy).toMatchObject({ name: 'quote', index: 2 })
    expect(run.stopReason).toBe('cached quote')
    expect(log.slice(-3)).toEqual(['log:chain-before:quote:0', 'log:chain-after:quote:0', 'log:runEnd:ok'])
    expect(outline(run.timeline.events).slice(-7)).toEqual([
      'link.start quote',
      'link.end quote',
      'middleware.after log@chain-after#0 quote',
      'link.skip charge',
      'link.skip email',
      'middleware.after log@run-end#0',
      'run.end',
    ])
    const end = run.timeline.events.at(-1)
    expect(end).toMatchObject({ type: 'run.end', status: 'ok', stoppedBy: { name: 'quote' }, stopReason: 'cached quote' })
    expect(run.timeline.filter({ type: 'link.skip' }).map((e) => (e as { reason: string }).reason)).toEqual(['when', 'stopped', 'stopped'])
  })

  it('has no reason when stop() is given none, and no skips when the last link stops', async () => {
    const run = await chain<Order>('s').link('a', () => {}).link('b', (_ctx, io) => io.stop()).run(order())
    expect(run.stoppedBy?.name).toBe('b')
    expect(run.stopReason).toBeUndefined()
    expect('stopReason' in (run.timeline.events.at(-1) as object)).toBe(false)
    expect(run.timeline.filter({ type: 'link.skip' })).toEqual([])
  })

  it('is forgotten when the link fails after calling it (the run fails)', async () => {
    const error = (await chain<Order>('s')
      .link('a', (_ctx, io) => {
        io.stop('done')
        throw new Error('but broke')
      })
      .link('b', () => {})
      .run(order())
      .catch((e: unknown) => e)) as ChainRunError<Order>
    expect(error.code).toBe('LINK_FAILED')
    expect(error.run.stoppedBy).toBeUndefined()
    expect(error.run.timeline.filter({ type: 'link.skip' })).toEqual([])
  })

  it('works from an async link, and a non-string reason fails the link', async () => {
    const run = await chain<Order>('s')
      .link('a', async (_ctx, io) => {
        await Promise.resolve()
        io.stop('later')
      })
      .link('b', () => {})
      .run(order())
    expect(run.stopReason).toBe('later')
    const error = (await chain<Order>('s')
      .link('a', (_ctx, io) => io.stop(42 as unknown as string))
      .run(order())
      .catch((e: unknown) => e)) as ChainRunError<Order>
    expect(error.message).toMatch(/reason must be a string/)
  })

  it('a stop overrides nothing: safe:false still fails a stopped run with middleware errors, without stoppedBy', async () => {
    const bad: Middleware = { name: 'bad', after: () => { throw new Error('x') } }
    const error = (await chain<Order>('s', { safe: false })
      .link('a', (_ctx, io) => io.stop())
      .link('b', () => {})
      .use(bad)
      .run(order())
      .catch((e: unknown) => e)) as ChainRunError<Order>
    expect(error.code).toBe('MIDDLEWARE_FAILED')
    expect(error.run.stoppedBy).toBeUndefined()
  })
})

describe('timeline of skipped links', () => {
  it('links() lists skipped links with their reason, not as executed, and stateAt is exact at a skip', async () => {
    const run = await flow().run(order(10, true))
    const records = run.timeline.links()
    expect(records.map((r) => [r.name, r.status, r.reason])).toEqual([
      ['price', 'ok', undefined],
      ['review', 'skipped', 'when'],
      ['quote', 'ok', undefined],
      ['charge', 'skipped', 'stopped'],
      ['email', 'skipped', 'stopped'],
    ])
    const review = records[1]!
    expect(review.durationNs).toBe(0n)
    expect(review.patches).toEqual([])
    expect(review.before).toBe(review.after)
    expect(run.timeline.stateAt(review.startSeq).ctx).toBe(records[0]!.after)
    expect(run.timeline.stateAt(records[3]!.startSeq).ctx).toBe(run.ctx)
    expect(run.timeline.stateAt(records[3]!.startSeq).metrics).toBeUndefined()
  })
})

describe('shadowchain/testing', () => {
  it('toHaveRunLinks counts only the links that executed, not the skipped ones', async () => {
    expect.extend(matchers)
    const run = await flow().run(order(10, true))
    ;(expect(run) as unknown as { toHaveRunLinks(names: string[]): void }).toHaveRunLinks(['price', 'quote'])
    ;(expect(run).not as unknown as { toHaveRunLinks(names: string[]): void }).toHaveRunLinks(['price', 'review', 'quote', 'charge', 'email'])
  })
})
