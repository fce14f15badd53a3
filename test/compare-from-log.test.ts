// A comparison of runs read from the actual run's event log (src/record/log-ends.ts,
// src/lineage/agree-from-log.ts): the links that agree are found without building the run's
// events; whatever it finds, compareRuns and replay report exactly what the event-level
// comparison reports (checked here against runs whose timelines are plain event arrays, which
// the log path cannot read).
import { describe, expect, it } from 'vitest'
import { chain, compareRuns, Timeline, type Chain, type Middleware, type RecordedRun, type Run } from '../src/index.js'
import { agreedFromLog } from '../src/lineage/agree-from-log.js'
import { steppingClock } from './helpers.js'

interface Order {
  n: number
  tags: string[]
  customer: { tier: string; zip?: string }
  gone?: number
  added?: { x: number }
  at?: number
  a?: number
  b?: number
}

const order = (): Order => ({ n: 0, tags: ['a'], customer: { tier: 'silver' }, gone: 1 })

/** Chain-level middleware that change mwctx and metrics one key at a time (the log keeps the change). */
const counter: Middleware = { name: 'counter', before: (e) => void (e.mwctx['links'] = ((e.mwctx['links'] as number | undefined) ?? 0) + 1) }
const timing: Middleware = { name: 'timing', after: (e) => void (e.metrics['ms'] = Number(e.durationNs) / 1e6) }

type Step = (ctx: Order, io: { now(): number; stop(reason?: string): void }) => unknown

/** The links of the reference chain; a variant replaces some by name (or renames, adds, drops them). */
const steps: [string, Step][] = [
  ['inc', (ctx) => void ctx.n++],
  ['nested', (ctx) => void (ctx.customer.tier = 'gold')],
  ['push', (ctx) => void ctx.tags.push('b')],
  ['delete', (ctx) => void delete ctx.gone],
  ['add', (ctx) => void (ctx.added = { x: 1 })],
  ['deep', (ctx) => void (ctx.customer.zip = '75002')],
  ['nothing', () => undefined],
  ['two', (ctx) => void ((ctx.a = 1), (ctx.b = 2))],
  ['stamp', (ctx, io) => void (ctx.at = io.now())],
  ['replace', (ctx) => ({ ...ctx, n: ctx.n + 10 })],
]

function build(list: [string, Step][], name = 'order'): Chain<Order> {
  let c = chain<Order>(name, { clock: steppingClock() })
  for (const [link, step] of list) c = c.link(link, step as never)
  return c.use(counter as never, timing as never)
}

function variant(change: (list: [string, Step][]) => [string, Step][]): Chain<Order> {
  return build(change(steps.map(([name, step]) => [name, step] as [string, Step])))
}

/** `run` as a recorded run whose timeline is a plain array of its events: compared event by event only. */
function eventsOnly(run: RecordedRun<unknown>): RecordedRun<unknown> {
  const { id, chainName, status, input, ctx, error, stoppedBy, parent } = run
  return { id, chainName, status, input, ctx, error, stoppedBy, parent, timeline: new Timeline([...run.timeline.events], run.timeline.nested) }
}

const variants: [string, Chain<Order>][] = [
  ['other patches', variant((l) => l.map(([n, s]) => (n === 'nested' ? [n, (ctx: Order) => void (ctx.customer.tier = 'bronze')] : [n, s])))],
  ['patches of another shape', variant((l) => l.map(([n, s]) => (n === 'push' ? [n, (ctx: Order) => void (ctx.tags = ['a', 'b'])] : [n, s])))],
  ['same state, other patch order', variant((l) => l.map(([n, s]) => (n === 'two' ? [n, (ctx: Order) => void ((ctx.b = 2), (ctx.a = 1))] : [n, s])))],
  ['a renamed link', variant((l) => l.map(([n, s]) => [n === 'deep' ? 'deeper' : n, s]))],
  ['a link more', variant((l) => [...l, ['extra', (ctx: Order) => void ctx.n++]])],
  ['a link less', variant((l) => l.slice(0, -1))],
  ['a link that fails', variant((l) => l.map(([n, s]) => (n === 'add' ? [n, () => { throw new Error('boom') }] : [n, s])))],
  ['a link that stops the run', variant((l) => l.map(([n, s]) => (n === 'add' ? [n, (ctx: Order, io: { stop(): void }) => void ((ctx.added = { x: 1 }), io.stop())] : [n, s])))],
  ['a link that changes nothing now', variant((l) => l.map(([n, s]) => (n === 'inc' ? [n, () => undefined] : [n, s])))],
  ['the replacement of another value', variant((l) => l.map(([n, s]) => (n === 'replace' ? [n, (ctx: Order) => ({ ...ctx, n: 99 })] : [n, s])))],
]

describe('comparing runs from the event log', () => {
  it('reads each link that ran from the log as timeline.links() gives it', async () => {
    const run = await build(steps).run(order())
    const ends = run.timeline.linkEnds()
    const links = run.timeline.links()
    expect(ends).toBeDefined()
    expect(ends?.map((e) => e.link)).toEqual(links.map((l) => l.link))
    ends?.forEach((end, i) => {
      expect(end.link).toBe(links[i]?.link)
      expect(end.ctx).toBe(links[i]?.after)
      expect(end.patches).toEqual(links[i]?.patches)
    })
    // Once the events are built, a comparison reads them instead (and says the same).
    expect(run.timeline.linkEnds()).toBeUndefined()
  })

  it('finds an identical replay agreeing from the log alone', async () => {
    const recorded = await build(steps).run(order())
    const { run, identical } = await recorded.replay()
    expect(identical).toBe(true)
    const want = recorded.timeline.links()
    expect(agreedFromLog(recorded as RecordedRun<unknown>, run as RecordedRun<unknown>, want as never)).toBe(want.length)
    expect(compareRuns(recorded, run)).toBeUndefined()
    expect(compareRuns(recorded, eventsOnly(run as RecordedRun<unknown>))).toBeUndefined()
  })

  it.each(variants)('reports what the event-level comparison reports: %s', async (_, changed) => {
    const recorded = await build(steps).run(order())
    const replay = await recorded.replay({ chain: changed })
    const expected = compareRuns(recorded, eventsOnly(replay.run as RecordedRun<unknown>))
    expect(replay.divergence).toEqual(expected)
    expect(replay.identical).toBe(expected === undefined)
    expect(compareRuns(recorded, replay.run)).toEqual(expected)
    // Either way round, and between two fresh runs (whose events nobody read).
    const fresh = await changed.run(order()).catch((e: { run: Run<Order> }) => e.run)
    expect(compareRuns(fresh, recorded)).toEqual(compareRuns(eventsOnly(fresh as RecordedRun<unknown>), eventsOnly(recorded as RecordedRun<unknown>)))
    const again = await changed.run(order()).catch((e: { run: Run<Order> }) => e.run)
    expect(compareRuns(recorded, again)).toEqual(compareRuns(recorded, eventsOnly(again as RecordedRun<unknown>)))
  })

  it('agrees on the links before the first that differs, and leaves the rest to the events', async () => {
    const recorded = await build(steps).run(order())
    const [, changed] = variants[0] as [string, Chain<Order>]
    const other = await changed.run(order())
    const want = recorded.timeline.links()
    expect(agreedFromLog(recorded as RecordedRun<unknown>, other as RecordedRun<unknown>, want as never)).toBe(1)
    expect(compareRuns(recorded, other)).toMatchObject({ reason: 'patches', link: { name: 'nested' } })
  })

  it('leaves runs it cannot read to the events (skips, errors, retries, branches, writes, nested runs, forks)', async () => {
    const child = chain<Order>('child').link('earn', (ctx) => void ctx.n++)
    const runs: Run<Order>[] = [
      await chain<Order>('when').link('a', (ctx) => void ctx.n++).link('b', (ctx) => void ctx.n++, { when: () => false }).run(order()),
      await chain<Order>('fails').link('a', () => { throw new Error('x') }).run(order()).catch((e: { run: Run<Order> }) => e.run),
      await chain<Order>('retry').link('a', (() => { let k = 0; return (ctx: Order) => { if (k++ === 0) throw new Error('once'); ctx.n++ } })(), { retry: { attempts: 2 } }).run(order()),
      await chain<Order>('par').parallel('p', { x: (ctx) => void (ctx.a = 1), y: (ctx) => void (ctx.b = 2) }).run(order()),
      await chain<Order>('writes').link('a', (ctx) => void ctx.n++).run(order(), { capture: 'writes' }),
      await chain<Order>('nest').link('child', child as never).run(order()),
    ]
    const parent = await build(steps).run(order())
    runs.push(await parent.fork({ at: 'push', edit: (ctx) => void (ctx.n = 5) }))
    for (const run of runs) {
      const replay = await run.replay()
      expect(replay.divergence).toEqual(compareRuns(run, eventsOnly(replay.run as RecordedRun<unknown>)))
      expect(compareRuns(run, replay.run)).toEqual(replay.divergence)
      // Every one of these recorded an event the log walk does not follow (or shares a prefix).
      expect(run.timeline.linkEnds()).toBeUndefined()
    }
  })

  it('reads logs naming many middleware calls, and runs without timestamps', async () => {
    const many: Middleware[] = Array.from({ length: 70 }, (_, i) => ({ name: `m${i}`, before: (e) => void (e.mwctx[`k${i % 3}`] = i) }))
    const c = build(steps).use(...(many as never[]))
    for (const options of [{}, { timestamps: false }]) {
      const recorded = await c.run(order(), options)
      const ends = recorded.timeline.linkEnds()
      expect(ends?.map((e) => e.ctx)).toEqual(recorded.timeline.links().map((l) => l.after))
      const { identical } = await recorded.replay()
      expect(identical).toBe(true)
    }
  })
})
