// The recorder's compact log (src/record/event-log.ts, issue #15): events are built when first
// read, identical on every later read, with the fields (in order), states and sharing the
// recorder used to build eagerly.
import { applyPatches, immerable, type Objectish, type Patch } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, Run } from '../src/index.js'
import { EventLog, Times } from '../src/record/event-log.js'
import { countLinkEvents } from '../src/record/events.js'
import { H } from '../src/record/log-header.js'
import { LogScan, Scan } from '../src/record/log-scan.js'
import { emptyState } from '../src/record/snapshot.js'
import { steppingClock } from './helpers.js'

interface Order {
  n: number
  tags: string[]
  customer: { tier: string }
  gone?: number
  added?: { x: number }
}

const order = (): Order => ({ n: 0, tags: ['a'], customer: { tier: 'silver' }, gone: 1 })

const counted = () =>
  chain<Order>('c', { clock: steppingClock(0n, 10n) })
    .link('inc', (ctx) => void ctx.n++)
    .link('nested', (ctx, io) => {
      ctx.customer.tier = 'gold'
      io.metrics.seen = true
    })
    .link('push', (ctx) => void ctx.tags.push('b'))
    .link('delete', (ctx) => {
      delete ctx.gone
      ctx.added = { x: 1 }
    })
    .link('nothing', () => {})
    .use(
      { name: 'counter', before: (e) => void (e.mwctx.links = ((e.mwctx.links as number | undefined) ?? 0) + 1) },
      { name: 'timing', after: (e) => void (e.metrics.ms = Number(e.durationNs)) },
    )

describe('the event log', () => {
  it('builds the events once: every read gives the same objects, whatever is read first', async () => {
    for (const first of ['events', 'at', 'links', 'length'] as const) {
      const run = await counted().run(order())
      const t = run.timeline
      const early = first === 'at' ? t.at(-2) : first === 'links' ? t.links()[2]?.metrics : first === 'events' ? t.events : t.length
      expect(early).toBeDefined()
      const events = t.events
      expect(t.events).toBe(events)
      expect(events).toHaveLength(t.length)
      events.forEach((event, i) => {
        expect(event.seq).toBe(i)
        expect(t.at(i)).toBe(event)
      })
      if (first === 'at') expect(early).toBe(events.at(-2))
      if (first === 'links') expect(early).toBe(events.find((e) => e.type === 'middleware.after' && e.link?.name === 'push')?.metrics)
    }
  })

  it('gives each event the fields, in order, and the shared states the recorder always gave', async () => {
    const run = await counted().run(order())
    const events = run.timeline.events
    const keys = (type: string) => events.filter((e) => e.type === type).map((e) => Object.keys(e).join(','))
    expect(new Set(keys('middleware.before'))).toEqual(new Set(['type,t,middleware,link,durationNs,seq,ctx,mwctx,metrics']))
    expect(new Set(keys('link.start'))).toEqual(new Set(['type,t,link,seq,ctx,mwctx,metrics']))
    expect(new Set(keys('link.end'))).toEqual(new Set(['type,t,link,patches,inversePatches,durationNs,seq,ctx,mwctx,metrics']))
    const [inc, nested, push, del, nothing] = run.timeline.links()
    expect(inc?.patches).toEqual([{ op: 'replace', path: ['n'], value: 1 }])
    expect(inc?.inversePatches).toEqual([{ op: 'replace', path: ['n'], value: 0 }])
    expect(nested?.patches).toEqual([{ op: 'replace', path: ['customer', 'tier'], value: 'gold' }])
    expect(push?.patches).toEqual([{ op: 'add', path: ['tags', 1], value: 'b' }])
    expect(push?.inversePatches).toEqual([{ op: 'remove', path: ['tags', 1] }])
    expect(del?.patches).toEqual([
      { op: 'remove', path: ['gone'] },
      { op: 'add', path: ['added'], value: { x: 1 } },
    ])
    expect(nothing?.patches).toEqual([])
    expect(nested?.metrics).toEqual({ seen: true, ms: 10 })
    expect(Object.isFrozen(nested?.metrics)).toBe(true)
    // A state that did not change is the same object from one event to the next.
    for (let i = 1; i < events.length; i++) {
      const [a, b] = [events[i - 1], events[i]]
      if (b?.type === 'middleware.before') expect(b.metrics).toBe(emptyState())
      if (b?.type === 'link.start' || b?.type === 'link.end') expect(b.mwctx).toBe(a?.mwctx)
    }
    expect(events.filter((e) => e.type === 'middleware.after').map((e) => e.mwctx)).toEqual([1, 2, 3, 4, 5].map((links) => ({ links })))
    expect(events.at(-1)?.mwctx).toBe(events.at(-2)?.mwctx)
    expect(run.timeline.stateAt(events.length - 2).mwctx).toEqual({ links: 5 })
  })

  it("finds a link's patches by diffing its two states, and asks immer for them once ctx holds a Map, a Set or an immerable instance", async () => {
    class Point {
      [immerable] = true
      x = 1
    }
    interface Bag {
      n: number
      box: { a: number; b: number }
      set?: Set<number>
      point?: Point
    }
    const seen: (readonly Patch[])[] = []
    const bag = chain<Bag>('bag')
      .link('whole', (ctx) => void (ctx.box = { a: 1, b: 3 }))
      .link('make', (ctx) => void (ctx.set = new Set([1])))
      .link('add', (ctx) => void ctx.set?.add(2))
      .link('inc', (ctx) => void ctx.n++)
      .use({ name: 'reader', after: (e) => void seen.push(e.patches) })
    const run = await bag.run({ n: 0, box: { a: 1, b: 2 } })
    const [whole, make, add, inc] = run.timeline.links()
    // A plain ctx: the diff of the link's two states (immer would replace `box` whole).
    expect(whole?.patches).toEqual([{ op: 'replace', path: ['box', 'b'], value: 3 }])
    expect(whole?.inversePatches).toEqual([{ op: 'replace', path: ['box', 'b'], value: 2 }])
    expect(make?.patches).toEqual([{ op: 'add', path: ['set'], value: new Set([1]) }])
    // Once ctx holds a Set, immer's patches: the member added, not the Set replaced.
    expect(add?.patches).toEqual([{ op: 'add', path: ['set', 1], value: 2 }])
    expect(inc?.patches).toEqual([{ op: 'replace', path: ['n'], value: 1 }])
    // What the after-middleware read is what was recorded, and the same with nothing recorded.
    expect(seen).toEqual(run.timeline.links().map((l) => l.patches))
    const recorded = seen.splice(0)
    await bag.run({ n: 0, box: { a: 1, b: 2 } }, { capture: 'off' })
    expect(seen).toEqual(recorded)
    // An input that holds one, at once (a Set; an immerable instance: immer's field patch).
    const fromInput = await chain<Bag>('in')
      .link('add', (ctx) => void ctx.set?.add(5))
      .link('move', (ctx) => void ((ctx.point as Point).x = 2))
      .run({ n: 0, box: { a: 1, b: 2 }, set: new Set([4]), point: new Point() })
    expect(fromInput.timeline.links().map((l) => l.patches)).toEqual([
      [{ op: 'add', path: ['set', 1], value: 5 }],
      [{ op: 'replace', path: ['point', 'x'], value: 2 }],
    ])
    // Each way, the patches turn each link's state into the next, and back.
    for (const r of [run, fromInput]) {
      for (const l of r.timeline.links()) {
        expect(applyPatches(l.before as Objectish, l.patches)).toEqual(l.after)
        expect(applyPatches(l.after as Objectish, l.inversePatches)).toEqual(l.before)
      }
    }
  })

  it('exports no inverse patches for a link whose patches are its diff: a reader derives the same ones', async () => {
    const run = await chain<{ a: number; b: number; c: { d: number } }>('two')
      .link('three', (ctx) => {
        ctx.b = 3
        ctx.a = 2
        ctx.c.d = 4
      })
      .run({ a: 1, b: 1, c: { d: 1 } })
    const doc = run.toJSON()
    const end = doc.events.find((e) => e.type === 'link.end')
    expect(end !== undefined && 'inversePatches' in end).toBe(false)
    const back = Run.fromJSON<{ a: number; b: number; c: { d: number } }>(JSON.parse(JSON.stringify(doc)))
    expect(back.timeline.links()[0]?.inversePatches).toEqual(run.timeline.links()[0]?.inversePatches)
    expect(run.timeline.links()[0]?.inversePatches).toHaveLength(3)
  })

  it("records immer's patches once a walk met a wide object or array, where they seal each link for less than a walk", async () => {
    interface Wide {
      list: { n: number; m: number }[]
    }
    const wide = (): Wide => ({ list: Array.from({ length: 1_000 }, (_, n) => ({ n, m: 0 })) })
    const replace = (i: number) => (ctx: Wide) => void (ctx.list[i] = { n: -1, m: 0 })
    const run = await chain<Wide>('wide').link('first', replace(5)).link('second', replace(6)).run(wide())
    const [first, second] = run.timeline.links()
    // The first link's state is walked (the 1,000 items found), and its patches are the diff...
    expect(first?.patches).toEqual([{ op: 'replace', path: ['list', 5, 'n'], value: -1 }])
    // ...after that, immer is asked: it names the item replaced whole.
    expect(second?.patches).toEqual([{ op: 'replace', path: ['list', 6], value: { n: -1, m: 0 } }])
    for (const l of run.timeline.links()) expect(applyPatches(l.before as Objectish, l.patches)).toEqual(l.after)
  })

  it('reads on from where an earlier read stopped, keeping what it built (a durable run reads as it goes)', () => {
    const links = [
      { name: 'a', index: 0, meta: {} },
      { name: 'b', index: 1, meta: {} },
    ]
    const call = Object.freeze({ name: 'm', position: 'chain-before' as const, index: 0 })
    const log = new EventLog<{ n: number }>(0, Times.Int64, links, 4)
    log.mw.set(emptyState())
    const start = { type: 'run.start', t: 1n, input: { n: 0 }, seq: 0, ctx: { n: 0 }, ...log.stateObjects() }
    log.append(start as never)
    const step = (i: number): void => {
      log.metrics.set(emptyState())
      expect(log.mw.change({ k: i + 1 })).toBe(true)
      log.hook(false, call, links[i] as never, 10n * BigInt(i), 1n, { n: i })
      log.start(links[i] as never, 10n * BigInt(i) + 2n, { n: i })
      log.end(links[i] as never, 10n * BigInt(i) + 2n, 10n * BigInt(i) + 5n, [], [], { n: i }, { n: i })
      log.metrics.set(undefined)
    }
    step(0)
    const before = log.toArray().slice()
    expect(before.map((e) => e.type)).toEqual(['run.start', 'middleware.before', 'link.start', 'link.end'])
    step(1)
    const all = log.toArray()
    before.forEach((event, i) => expect(all[i]).toBe(event))
    expect(all.map((e) => [e.type, e.t, e.mwctx])).toEqual([
      ['run.start', 1n, {}],
      ['middleware.before', 0n, { k: 1 }],
      ['link.start', 2n, { k: 1 }],
      ['link.end', 5n, { k: 1 }],
      ['middleware.before', 10n, { k: 2 }],
      ['link.start', 12n, { k: 2 }],
      ['link.end', 15n, { k: 2 }],
    ])
    expect((all[6] as { durationNs: bigint }).durationNs).toBe(3n)
    expect(all[2]?.mwctx).toBe(all[1]?.mwctx)
    expect(log.at(-1)).toBe(all[6])
  })

  it('keeps every event it built alone: the last one before run.end is appended, and after', () => {
    const links = [{ name: 'a', index: 0, meta: {} }]
    const log = new EventLog<{ n: number }>(0, Times.Int64, links, 4)
    log.mw.set(emptyState())
    log.append({ type: 'run.start', t: 1n, input: { n: 0 }, seq: 0, ctx: { n: 0 }, ...log.stateObjects() } as never)
    log.metrics.set(emptyState())
    log.start(links[0] as never, 2n, { n: 0 })
    expect(log.metrics.change({ ms: 1 })).toBe(true)
    log.end(links[0] as never, 2n, 3n, [], [], { n: 1 }, { n: 0 })
    log.metrics.set(undefined)
    const end = log.at(-1)
    expect(end?.metrics).toEqual({ ms: 1 })
    log.push({ type: 'run.end', t: 4n, seq: 3, ctx: { n: 1 }, mwctx: end?.mwctx, metrics: undefined } as never)
    const runEnd = log.at(-1)
    expect(runEnd?.type).toBe('run.end')
    const all = log.toArray()
    expect(all[2]).toBe(end)
    expect(all[3]).toBe(runEnd)
    expect(all[1]?.metrics).toBe(emptyState())
  })

  it('keeps times a clock gives past 64 bits, and none with timestamps: false', async () => {
    let t = 2n ** 70n
    const wide = await counted().run(order(), { clock: { now: () => (t += 1n) } })
    expect(wide.timeline.events.every((e, i, all) => i === 0 || e.t > (all[i - 1] as { t: bigint }).t || e.type === 'run.end')).toBe(true)
    expect(wide.timeline.events[1]?.t).toBeGreaterThan(2n ** 70n)
    const zero = await counted().run(order(), { timestamps: false })
    expect(zero.timeline.events.every((e) => e.t === 0n)).toBe(true)
  })

  it('records a long run whole (its times packed), with the states of every step', async () => {
    let c = chain<{ k: number[] }>('long', { clock: steppingClock(0n, 1n) })
    for (let i = 0; i < 1_500; i++) c = c.link(`l${i}`, (ctx) => void (ctx.k[i % 4] = i))
    const run = await c
      .use({ name: 'm', before: (e) => void (e.mwctx.at = (e.link as { index: number }).index), after: (e) => void (e.metrics.ms = 0.5) })
      .run({ k: [0, 0, 0, 0] })
    const events = run.timeline.events
    expect(events).toHaveLength(2 + 4 * 1_500)
    // The stepping clock moves 1 ns a reading: before, its end, the link, its end, after, its end.
    const steps = { 'middleware.before': 2n, 'link.start': 2n, 'link.end': 1n, 'middleware.after': 1n } as Record<string, bigint>
    events.forEach((event, i) => i > 1 && event.type !== 'run.end' && expect(event.t).toBe((events[i - 1] as { t: bigint }).t + (steps[event.type] as bigint)))
    expect(events.filter((e) => e.type === 'middleware.after').every((e) => (e as { durationNs: bigint }).durationNs === 1n)).toBe(true)
    const last = run.timeline.links().at(-1)
    expect(last?.after).toEqual({ k: [1496, 1497, 1498, 1499] })
    expect(last?.metrics).toEqual({ ms: 0.5 })
    expect(events.at(-2)?.mwctx).toEqual({ at: 1_499 })
  })

  it('counts the links that ran from the log, without building its events, over every way a link end is kept', async () => {
    // A wide ctx: immer's patches, kept as one inline replace, add or remove, a path too long to
    // inline, lists; a link that changes nothing; a failed attempt and a failed link (whole events).
    type Wide = Record<string, unknown> & { deep: { a: { b: { c: { d: { e: { f: { g: { h: number } } } } } } } } }
    const wide = (): Wide => {
      const out: Record<string, unknown> = { deep: { a: { b: { c: { d: { e: { f: { g: { h: 0 } } } } } } } } }
      for (let i = 0; i < 200; i++) out[`k${i}`] = i
      return out as Wide
    }
    let attempts = 0
    const links = chain<Wide>('kinds')
      .link('derived first', (ctx) => void (ctx['k1'] = -1))
      .link('replace', (ctx) => void (ctx['k2'] = -2))
      .link('add', (ctx) => void (ctx['new'] = 1))
      .link('remove', (ctx) => void delete ctx['k3'])
      .link('long path', (ctx) => void (ctx.deep.a.b.c.d.e.f.g.h = 1))
      .link('lists', (ctx) => {
        ctx['k4'] = -4
        ctx['k5'] = -5
      })
      .link('nothing', () => {})
      .link('retried', () => {
        if (attempts++ === 0) throw new Error('once')
      }, { retry: { attempts: 2 } })
      .use({ name: 'counter', before: (e) => void (e.mwctx.n = ((e.mwctx.n as number | undefined) ?? 0) + 1) }, { name: 'timing', after: (e) => void (e.metrics.ms = 1) })
    const ok = await links.run(wide())
    const error = await links
      .link('fails', () => {
        throw new Error('no')
      })
      .run(wide())
      .catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ChainRunError)
    const failed = (error as ChainRunError<Wide>).run
    const kinds: Record<string, number> = { 'middleware.before': H.Hook, 'middleware.after': H.Hook, 'link.start': H.Start, 'link.end': H.End }
    for (const run of [ok, failed]) {
      const log = run.timeline.log() as EventLog<unknown>
      const counted = run.timeline.linkCount()
      // What the count reads of each entry, passing its patches over: every entry's kind and link.
      const scan = new LogScan(log.view(), Scan.Kinds)
      const read: string[] = []
      while (scan.next()) read.push(scan.kind === H.Event ? `${scan.event?.type}` : `${scan.kind} ${scan.link?.name}`)
      // Counting built nothing: the log was never walked.
      expect(log.view().walked).toBe(false)
      expect(counted).toBe(countLinkEvents(run.timeline.events))
      expect(read).toEqual(run.timeline.events.map((e) => (e.type in kinds && !('error' in e) ? `${kinds[e.type]} ${'link' in e ? e.link?.name : undefined}` : e.type)))
    }
    expect(ok.timeline.linkCount()).toBe(8)
    expect(failed.timeline.linkCount()).toBe(9)
    // The encodings the count passed over are the ones meant.
    expect(ok.timeline.links().map((l) => l.patches.length)).toEqual([1, 1, 1, 1, 1, 2, 0, 0])
  })

  it("counts a fork's links: its parent's up to the cut, then its own", async () => {
    const parent = await counted().run(order())
    const fork = await parent.fork({ at: 'push' })
    expect(fork.timeline.linkCount()).toBe(countLinkEvents(fork.timeline.events))
    expect(fork.timeline.linkCount()).toBe(5)
  })
})
