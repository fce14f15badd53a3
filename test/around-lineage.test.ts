// Around middleware (DESIGN §9) beyond the run itself: replay, fork, run files, OpenTelemetry
// (live and post hoc), the waterfall, describeRun and the viewer's model.
import { beforeEach, describe, expect, it } from 'vitest'
import { chain, describeRun, formatWaterfall, Run, type Middleware, type RunDocument } from '../src/index.js'
import { waterfallRows } from '../src/present/waterfall.js'
import { eventSubject, prepareRun } from '../src/present/viewer/browser.js'
import { checkLiveAndExported, memoryTracer } from './otel-helpers.js'
import { ensureBuilt } from './built-dist.js'
import { steppingClock } from './helpers.js'

interface Pay {
  notes: string[]
}

const wrap: Middleware<Pay> = { name: 'wrap', around: async (e, next) => { e.metrics.wrapped = true; await next() } }
const broken: Middleware<Pay> = { name: 'broken', around: () => { throw new Error('broken around') } }

const flow = () =>
  chain<Pay>('pay', { clock: steppingClock() })
    .use(wrap)
    .link('price', (ctx) => void ctx.notes.push('priced'), { use: [broken] })
    .link('charge', (ctx) => void ctx.notes.push('charged'))

describe('replay and fork of runs with around hooks', () => {
  it('replays a deterministic run with around hooks (faulty ones included) identically, also from its file', async () => {
    const run = await flow().run({ notes: [] })
    expect(run.ctx.notes).toEqual(['priced', 'charged'])
    expect((await run.replay()).identical).toBe(true)
    const loaded = Run.fromJSON<Pay>(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument)
    expect((await loaded.replay({ chain: flow() })).identical).toBe(true)
  })

  it('forks at and before a link with around hooks', async () => {
    const parent = await flow().run({ notes: [] })
    const at = await parent.fork({ at: 'price' })
    expect(at.ctx.notes).toEqual(['priced', 'charged'])
    expect(at.timeline.filter({ position: 'chain-around', link: 'charge' }).map((e) => e.type)).toEqual(['middleware.before', 'middleware.after'])
    const edited = await parent.fork({ at: 'price', edit: (d) => void d.notes.push('edited') })
    expect(edited.ctx.notes).toEqual(['priced', 'edited', 'charged'])
    expect((await edited.replay()).identical).toBe(true)
  })
})

describe('OpenTelemetry of around calls', () => {
  const { exporter, tracer } = memoryTracer('around')
  beforeEach(() => exporter.reset())

  it('puts each half of an around call as a middleware span event on the link span, live and exported alike', async () => {
    const run = await flow().run({ notes: [] }, { tracer })
    const events = () =>
      exporter
        .getFinishedSpans()
        .filter((s) => s.name.startsWith('link '))
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((s) => [s.name, s.events.map((e) => `${e.name} ${String(e.attributes?.['shadowchain.middleware.name'])}@${String(e.attributes?.['shadowchain.middleware.position'])}`)])
    const expected = [
      ['link charge', ['middleware.before wrap@chain-around', 'middleware.after wrap@chain-around']],
      ['link price', ['middleware.before wrap@chain-around', 'middleware.error broken@link-around', 'middleware.after wrap@chain-around']],
    ]
    checkLiveAndExported(exporter, tracer, run, () => expect(events()).toEqual(expected))
  })
})

describe('around calls in the waterfall, describeRun and the viewer', () => {
  it('counts around time as middleware time and lists around calls', async () => {
    const run = await flow().run({ notes: [] })
    const rows = waterfallRows(run.timeline.events, run.startedAt)
    const price = rows.find((r) => r.name === 'price')
    expect(price?.segments.map((s) => `${s.name}:${s.position}${s.failed ? ' failed' : ''}`)).toEqual(['wrap:chain-around', 'broken:link-around failed', 'wrap:chain-around'])
    const halves = run.timeline.filter({ middleware: 'wrap', link: 'price' })
    const sum = halves.reduce((n, e) => n + ('durationNs' in e ? e.durationNs : 0n), 0n)
    const brokenNs = run.timeline.filter({ middleware: 'broken' }).reduce((n, e) => n + ('durationNs' in e ? e.durationNs : 0n), 0n)
    expect(price?.middlewareNs).toBe(sum + brokenNs)
    expect(describeRun(run).links.find((l) => l.name === 'price')?.middlewareNs).toBe(sum + brokenNs)
    expect(formatWaterfall(run)).toContain('broken')
    const view = prepareRun(run.toJSON())
    const subjects = view.events.map((e) => eventSubject(e))
    expect(subjects).toContain('wrap (chain-around #0) · price')
    expect(subjects).toContain('broken (link-around #0) · price')
  })
})

describe('the composition example', () => {
  it('charges inside the idempotency around hook: every attempt sees the same key', async () => {
    ensureBuilt()
    const { bigInput, quoteChain } = await import('../examples/composition/index.js')
    const run = await quoteChain().run(bigInput())
    expect(run.ctx.log.filter((line) => line.startsWith('charging'))).toEqual(['charging 1150 (attempt 2, key quote-ada-1150)'])
    expect(run.timeline.filter({ position: 'link-around', link: 'charge' }).map((e) => e.type)).toEqual(['middleware.before', 'middleware.after'])
  })
})
