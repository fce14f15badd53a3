// when and io.stop (DESIGN §9) beyond the run itself: replay, fork, OpenTelemetry (live and
// post hoc), the waterfall and the run summary.
import { beforeEach, describe, expect, it } from 'vitest'
import { chain, describeRun, formatWaterfall } from '../src/index.js'
import { eventSubject, firstDivergence, prepareRun } from '../src/present/viewer/browser.js'
import { checkLiveAndExported, memoryTracer } from './otel-helpers.js'
import { steppingClock } from './helpers.js'

interface Order {
  total: number
  cached: boolean
  notes: string[]
}
const order = (total: number, cached: boolean): Order => ({ total, cached, notes: [] })

const flow = (threshold = 100) =>
  chain<Order>('flow', { clock: steppingClock() })
    .link('price', (ctx) => void (ctx.total += 1))
    .link('review', (ctx) => void ctx.notes.push('reviewed'), { when: (ctx) => ctx.total > threshold })
    .link('quote', (ctx, io) => {
      ctx.notes.push('quoted')
      if (ctx.cached) io.stop('cached quote')
    })
    .link('charge', (ctx) => void ctx.notes.push('charged'))
    .link('email', (ctx) => void ctx.notes.push('emailed'))

describe('replay of skipped and stopped runs', () => {
  it('reproduces skips and stops identically', async () => {
    for (const input of [order(1, false), order(1, true), order(500, true)]) {
      const run = await flow().run(input)
      const { identical, run: again } = await run.replay()
      expect(identical).toBe(true)
      expect(again.stoppedBy?.name).toBe(run.stoppedBy?.name)
      expect(again.stopReason).toBe(run.stopReason)
      expect(again.timeline.links().map((l) => l.status)).toEqual(run.timeline.links().map((l) => l.status))
    }
  })

  it('reports a divergence when a skipped link now runs, or a link that ran is now skipped', async () => {
    const run = await flow(100).run(order(50, false))
    const runs = await run.replay({ chain: flow(10) })
    expect(runs.identical).toBe(false)
    expect(runs.divergence).toMatchObject({ reason: 'skip', link: { name: 'review' }, expected: 'when', actual: undefined })
    const ran = await flow(10).run(order(50, false))
    const skips = await ran.replay({ chain: flow(100) })
    expect(skips.divergence).toMatchObject({ reason: 'skip', link: { name: 'review' }, expected: undefined, actual: 'when' })
  })

  it('reports a divergence when the run is stopped by another link, or no longer stopped', async () => {
    const stopped = await flow().run(order(1, true))
    const noStop = chain<Order>('flow', { clock: steppingClock() })
      .link('price', (ctx) => void (ctx.total += 1))
      .link('review', () => {}, { when: () => false })
      .link('quote', (ctx) => void ctx.notes.push('quoted'))
      .link('charge', (ctx) => void ctx.notes.push('charged'))
      .link('email', (ctx) => void ctx.notes.push('emailed'))
    const result = await stopped.replay({ chain: noStop })
    expect(result.divergence).toMatchObject({ reason: 'skip', link: { name: 'charge' }, expected: 'stopped', actual: undefined })
    // Stopped at the last link only: every link agrees, the stop does not.
    const last = await chain<Order>('s').link('a', (_c, io) => io.stop()).run(order(1, false))
    const other = await last.replay({ chain: chain<Order>('s').link('a', () => {}) })
    expect(other.divergence).toMatchObject({ reason: 'stop', expected: 'a', actual: undefined })
  })

  it('a stubbed link that stopped the run stops the replay too; a skipped link cannot be stubbed', async () => {
    const run = await flow().run(order(1, true))
    const stubbed = await run.replay({ stub: ['quote'] })
    expect(stubbed.identical).toBe(true)
    expect(stubbed.run.stoppedBy?.name).toBe('quote')
    expect(stubbed.run.stopReason).toBe('cached quote')
    await expect(run.replay({ stub: ['review'] })).rejects.toThrow(/cannot stub link 'review': the recording skipped it \(when\)/)
  })
})

describe('fork at and after skipped links', () => {
  it('cuts after a link skipped by when, and runs the rest live', async () => {
    const parent = await flow().run(order(1, false))
    const child = await parent.fork({ at: 'review', edit: (d) => void (d.cached = false) })
    expect(child.ctx.notes).toEqual(['quoted', 'charged', 'emailed'])
    expect(child.timeline.events[child.parent!.seq]).toMatchObject({ type: 'link.skip', link: { name: 'review' } })
    expect((await child.replay()).identical).toBe(true)
  })

  it('cuts after a link skipped by a stop: the daughter goes on with the links after it', async () => {
    const parent = await flow().run(order(1, true))
    const child = await parent.fork({ at: 'charge' })
    expect(child.ctx.notes).toEqual(['quoted', 'emailed'])
    expect(child.stoppedBy).toBeUndefined()
    // A fork after the stopping link runs the links the stop skipped.
    const after = await parent.fork({ at: 'quote', edit: (d) => void (d.cached = false) })
    expect(after.ctx.notes).toEqual(['quoted', 'charged', 'emailed'])
  })

  it('a daughter whose own link stops is stopped, with skips after the fork event', async () => {
    const parent = await flow().run(order(1, false))
    const child = await parent.fork({ at: 'review', edit: (d) => void (d.cached = true) })
    expect(child.stoppedBy?.name).toBe('quote')
    expect(child.timeline.links().slice(-2).map((l) => [l.name, l.status, l.reason])).toEqual([
      ['charge', 'skipped', 'stopped'],
      ['email', 'skipped', 'stopped'],
    ])
  })
})

describe('OpenTelemetry', () => {
  const { exporter, tracer } = memoryTracer('composition')
  beforeEach(() => exporter.reset())

  it('puts skipped links as link.skip events on the run span, and stoppedBy on it, live and exported alike', async () => {
    const run = await flow().run(order(1, true), { tracer })
    const check = () => {
      const spans = exporter.getFinishedSpans()
      const runSpan = spans.find((s) => s.name === 'chain flow')!
      expect(spans.map((s) => s.name).sort()).toEqual(['chain flow', 'link price', 'link quote'])
      expect(runSpan.events.filter((e) => e.name === 'link.skip').map((e) => e.attributes)).toEqual([
        { 'shadowchain.link.name': 'review', 'shadowchain.link.index': 1, 'shadowchain.skip.reason': 'when' },
        { 'shadowchain.link.name': 'charge', 'shadowchain.link.index': 3, 'shadowchain.skip.reason': 'stopped' },
        { 'shadowchain.link.name': 'email', 'shadowchain.link.index': 4, 'shadowchain.skip.reason': 'stopped' },
      ])
      expect(runSpan.attributes).toMatchObject({ 'shadowchain.run.stopped_by': 'quote', 'shadowchain.run.stop_reason': 'cached quote' })
    }
    checkLiveAndExported(exporter, tracer, run, check)
  })
})

describe('OpenTelemetry redaction of the stop reason', () => {
  const { exporter, tracer } = memoryTracer('composition-redact')
  beforeEach(() => exporter.reset())

  it('scrubs a redacted value from shadowchain.run.stop_reason, live and exported', async () => {
    const run = await chain<{ card: string }>('r', { redact: [['card']] })
      .link('a', (ctx, io) => io.stop(`card ${ctx.card} already charged`))
      .run({ card: '4111-1111' }, { tracer })
    const reason = () => exporter.getFinishedSpans().find((s) => s.name === 'chain r')?.attributes['shadowchain.run.stop_reason']
    checkLiveAndExported(exporter, tracer, run, () => expect(reason()).toBe('card [REDACTED] already charged'))
  })
})

describe('waterfall and summary', () => {
  it('shows skipped links greyed with their reason and the stop in the header', async () => {
    const run = await flow().run(order(1, true))
    const text = formatWaterfall(run)
    const lines = text.split('\n')
    expect(lines[1]).toBe(`stopped by link 'quote' (#2): cached quote`)
    expect(lines.find((l) => l.includes('review'))).toMatch(/review .*– skipped: when$/)
    expect(lines.find((l) => l.includes('charge'))).toMatch(/charge .*– skipped: stopped$/)
    expect(lines.find((l) => l.includes('charge'))).not.toContain('█')
    const colored = formatWaterfall(run, { color: true })
    expect(colored.split('\n').find((l) => l.includes('email'))).toMatch(/^\x1b\[2m.*skipped: stopped\x1b\[0m$/)
    const summary = describeRun(run)
    expect(summary.stoppedBy).toEqual({ link: 'quote', reason: 'cached quote' })
    expect(summary.links.map((l) => [l.name, l.status, l.reason])).toEqual([
      ['price', 'ok', undefined],
      ['review', 'skipped', 'when'],
      ['quote', 'ok', undefined],
      ['charge', 'skipped', 'stopped'],
      ['email', 'skipped', 'stopped'],
    ])
  })
})

describe('the viewer model', () => {
  it('prepares a stopped run: stoppedBy, skipped rows with their reason, skip events named in the list', async () => {
    const view = prepareRun((await flow().run(order(1, true))).toJSON())
    expect(view.stoppedBy).toEqual({ name: 'quote', index: 2, reason: 'cached quote' })
    expect(view.rows.map((r) => [r.name, r.status, r.reason])).toEqual([
      ['price', 'ok', undefined],
      ['review', 'skipped', 'when'],
      ['quote', 'ok', undefined],
      ['charge', 'skipped', 'stopped'],
      ['email', 'skipped', 'stopped'],
    ])
    const skip = view.events.find((e) => e.type === 'link.skip')!
    expect(eventSubject(skip)).toBe('review · skipped: when')
    expect(eventSubject(view.events.at(-1)!)).toBe('ok, stopped by quote')
  })

  it('places a skip divergence at the link, and a stop divergence at the end', async () => {
    const skipped = prepareRun((await flow(100).run(order(50, false))).toJSON())
    const ran = prepareRun((await flow(10).run(order(50, false))).toJSON())
    const d = firstDivergence(skipped, ran)
    expect(d).toMatchObject({ reason: 'skip', link: 'review', a: { name: 'review', status: 'skipped' }, b: { name: 'review', status: 'ok' } })
    const stopped = prepareRun((await chain<Order>('s').link('a', (_c, io) => io.stop()).run(order(1, false))).toJSON())
    const plain = prepareRun((await chain<Order>('s').link('a', () => {}).run(order(1, false))).toJSON())
    expect(firstDivergence(stopped, plain)).toMatchObject({ reason: 'stop', index: 1, a: undefined, b: undefined })
  })
})
