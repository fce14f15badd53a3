// retry and timeoutMs (DESIGN §9) beyond the run itself: replay, fork, OpenTelemetry (live and
// post hoc).
import { beforeEach, describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import { attemptsLabel, eventSubject, prepareRun } from '../src/present/viewer/browser.js'
import { checkLiveAndExported, memoryTracer } from './otel-helpers.js'
import { steppingClock } from './helpers.js'

interface Pay {
  notes: string[]
  charged: number
}
const pay = (): Pay => ({ notes: [], charged: 0 })

/** Deterministic: `charge` fails its first `failures` attempts (after writing to its draft). */
const flow = (failures = 2) =>
  chain<Pay>('pay', { clock: steppingClock() })
    .link('price', (ctx) => void ctx.notes.push('priced'))
    .link('charge', (ctx, io) => {
      ctx.notes.push(`charge ${io.attempt}`)
      if (io.attempt <= failures) throw new Error(`declined ${io.attempt}`)
      ctx.charged += 1
    }, { retry: { attempts: 3 } })
    .link('email', (ctx) => void ctx.notes.push('emailed'))

describe('replay of retried runs', () => {
  it('replays a deterministic run with retries identically', async () => {
    const run = await flow().run(pay())
    const { identical, run: again } = await run.replay()
    expect(identical).toBe(true)
    expect(again.timeline.links().map((l) => l.attempts)).toEqual([undefined, 3, undefined])
  })

  it('compares final outcomes only: a replay that needs fewer attempts for the same result is identical', async () => {
    const charge = (failures: number) =>
      chain<Pay>('pay').link('charge', (ctx, io) => {
        ctx.notes.push('try')
        if (io.attempt <= failures) throw new Error('declined')
        ctx.charged += 1
      }, { retry: { attempts: 3 } })
    const run = await charge(2).run(pay())
    expect(run.timeline.links()[0]?.attempts).toBe(3)
    const replay = await run.replay({ chain: charge(0) })
    expect(replay.identical).toBe(true)
    expect(replay.run.timeline.links()[0]?.attempts).toBeUndefined()
  })

  it("gives each attempt back what the same attempt drew (io.random, io.now), from the run and from its file", async () => {
    // A flaky service: an attempt fails when its draw says so, and the draws are the run's only
    // source of chance. Replay must give attempt k the draws of attempt k, not the last one's.
    const gamble = chain<Pay>('gamble').link('charge', (ctx, io) => {
      const roll = io.random()
      ctx.notes.push(`attempt ${io.attempt} at ${io.now()} rolled ${roll.toFixed(3)}`)
      if (roll < 0.7) throw new Error(`declined (${roll.toFixed(3)})`)
      ctx.charged += 1
    }, { retry: { attempts: 50 } })
    let run = await gamble.run(pay())
    while ((run.timeline.links()[0]?.attempts ?? 1) < 2) run = await gamble.run(pay())
    const attempts = run.timeline.events.filter((e) => e.type === 'link.attempt')
    expect(attempts.every((e) => e.type === 'link.attempt' && e.io?.random?.length === 1 && e.io.now?.length === 1)).toBe(true)
    for (const recorded of [run, Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument, { chain: gamble })]) {
      const { identical, run: again } = await recorded.replay()
      expect(identical).toBe(true)
      expect(again.ctx.notes).toEqual(run.ctx.notes)
      expect(again.timeline.links()[0]?.attempts).toBe(run.timeline.links()[0]?.attempts)
    }
    const doc = run.toJSON()
    expect(doc.version).toBe(10)
    const at = doc.events.findIndex((e) => e.type === 'link.attempt')
    expect(() => Run.fromJSON({ ...doc, version: 9 })).toThrow(`$.events[${at}].io: this field exists from version 10 on; the document says version 9`)
  })

  it('reports a divergence when the final outcome differs', async () => {
    const run = await flow(2).run(pay())
    const { identical, divergence } = await run.replay({ chain: flow(5) })
    expect(identical).toBe(false)
    expect(divergence?.link?.name).toBe('charge')
  })
})

describe('fork of retried runs', () => {
  it('forks at a retried link (the daughter starts after it) and after it', async () => {
    const parent = await flow().run(pay())
    const at = await parent.fork({ at: 'charge' })
    expect(at.ctx.notes).toEqual(['priced', 'charge 3', 'emailed'])
    expect(at.timeline.filter({ type: 'link.attempt' })).toHaveLength(2)
    const before = await parent.fork({ at: 'price', edit: (d) => void d.notes.push('edited') })
    expect(before.ctx.notes).toEqual(['priced', 'edited', 'charge 3', 'emailed'])
    expect(before.timeline.links()[1]?.attempts).toBe(3)
    expect((await before.replay()).identical).toBe(true)
  })
})

describe('OpenTelemetry of retries', () => {
  const { exporter, tracer } = memoryTracer('retry')
  beforeEach(() => exporter.reset())

  it('puts each failed attempt as a link.attempt event on the link span, with its number and error, live and exported alike', async () => {
    const run = await flow().run(pay(), { tracer })
    const check = () => {
      const spans = exporter.getFinishedSpans()
      expect(spans.map((s) => s.name).sort()).toEqual(['chain pay', 'link charge', 'link email', 'link price'])
      const charge = spans.find((s) => s.name === 'link charge')!
      expect(charge.events.filter((e) => e.name === 'link.attempt').map((e) => e.attributes)).toEqual([
        { 'shadowchain.attempt': 1, 'shadowchain.attempt.error.type': 'Error', 'shadowchain.attempt.error.message': 'declined 1', 'shadowchain.attempt.duration_ns': 1000 },
        { 'shadowchain.attempt': 2, 'shadowchain.attempt.error.type': 'Error', 'shadowchain.attempt.error.message': 'declined 2', 'shadowchain.attempt.duration_ns': 1000 },
      ])
      expect(charge.status.code).toBe(0)
    }
    checkLiveAndExported(exporter, tracer, run, check)
  })

  it('a run that timed out: the run span says TIMEOUT, live and exported alike', async () => {
    const run = await chain<Pay>('t')
      .link('slow', () => new Promise<void>(() => {}), { timeoutMs: 1 })
      .run(pay(), { tracer })
      .catch((e: { run: import('../src/index.js').Run<Pay> }) => e.run)
    const code = () => exporter.getFinishedSpans().find((s) => s.name === 'chain t')?.attributes['shadowchain.error.code']
    checkLiveAndExported(exporter, tracer, run, () => expect(code()).toBe('TIMEOUT'))
  })
})

describe('the viewer model of a retried run', () => {
  it('gives the retried row its failed attempts, labels the count, and names attempt events', async () => {
    const view = prepareRun((await flow().run(pay())).toJSON())
    expect(view.rows.map((r) => [r.name, attemptsLabel(r), r.failedAttempts.map((a) => [a.attempt, (a.error as Error).message])])).toEqual([
      ['price', '', []],
      ['charge', '3 attempts', [[1, 'declined 1'], [2, 'declined 2']]],
      ['email', '', []],
    ])
    const charge = view.rows[1]!
    expect(charge.failedAttempts.every((a) => a.start >= charge.linkStart && a.end <= charge.linkEnd)).toBe(true)
    const attempt = view.events.find((e) => e.type === 'link.attempt')!
    expect(eventSubject(attempt)).toBe('charge · attempt 1 failed, retried')
  })
})
