// Version 4 of the run document: `link.skip` events and a run's `stoppedBy` / `stopReason`
// (DESIGN §9), written only when a run has them, round-tripped through a file, and refused in
// older versions or in hostile shapes with the path of the problem.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, loadRun, Run, saveRun } from '../src/index.js'
import { steppingClock } from './helpers.js'
import { rejection } from './helpers.js'

interface Order {
  total: number
  cached: boolean
  notes: string[]
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-v4-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const flow = () =>
  chain<Order>('flow', { clock: steppingClock() })
    .link('price', (ctx) => void (ctx.total += 1))
    .link('review', (ctx) => void ctx.notes.push('reviewed'), { when: (ctx) => ctx.total > 100 })
    .link('quote', (ctx, io) => {
      ctx.notes.push('quoted')
      if (ctx.cached) io.stop('cached quote')
    })
    .link('charge', (ctx) => void ctx.notes.push('charged'))

describe('run document version 4', () => {
  it('is written only when a run has a skip or a stop; others stay version 1', async () => {
    expect((await chain<Order>('plain').link('a', () => {}).run({ total: 0, cached: false, notes: [] })).toJSON().version).toBe(1)
    const skipped = (await flow().run({ total: 1, cached: false, notes: [] })).toJSON()
    expect(skipped.version).toBe(4)
    expect(skipped.run.stoppedBy).toBeUndefined()
    expect(skipped.events.find((e) => e.type === 'link.skip')).toMatchObject({ type: 'link.skip', reason: 'when' })
    // A stop on the last link skips nothing: the run alone needs version 4 (capture 'off' too).
    const stopOnly = await chain<Order>('s').link('a', (_c, io) => io.stop('enough')).run({ total: 0, cached: false, notes: [] }, { capture: 'off' })
    const doc = stopOnly.toJSON()
    expect(doc.version).toBe(4)
    expect(doc.run).toMatchObject({ stoppedBy: 0, stopReason: 'enough' })
    expect(doc.links[0]).toMatchObject({ name: 'a' })
    expect(Run.fromJSON(doc).stoppedBy?.name).toBe('a')
  })

  it('round-trips skips, stoppedBy and stopReason through a file, with exact states', async () => {
    const run = await flow().run({ total: 500, cached: true, notes: [] })
    const file = join(dir, 'stopped.run.json')
    await saveRun(run, file)
    expect(JSON.parse((await readFile(file, 'utf8')).split('\n')[0]! + ']}').version).toBe(4)
    const back = await loadRun<Order>(file)
    expect(back.stoppedBy).toEqual(run.stoppedBy)
    expect(back.stopReason).toBe('cached quote')
    expect(back.timeline.links().map((l) => [l.name, l.status, l.reason])).toEqual(run.timeline.links().map((l) => [l.name, l.status, l.reason]))
    for (let seq = 0; seq < run.timeline.length; seq++) expect(back.timeline.stateAt(seq).ctx).toEqual(run.timeline.stateAt(seq).ctx)
    expect(back.timeline.events.at(-1)).toMatchObject({ type: 'run.end', stoppedBy: { name: 'quote' }, stopReason: 'cached quote' })
    expect(back.toJSON()).toEqual(run.toJSON())
  })

  it('scrubs a redacted value out of the stop reason', async () => {
    const run = await chain<{ card: string }>('r', { redact: [['card']] })
      .link('a', (ctx, io) => io.stop(`card ${ctx.card} already charged`))
      .run({ card: '4111-1111' })
    expect(run.stopReason).toBe('card 4111-1111 already charged')
    const doc = run.toJSON()
    expect(doc.run.stopReason).toBe('card [REDACTED] already charged')
    expect(JSON.stringify(doc)).not.toContain('4111-1111')
  })

  it('rejects link.skip and stoppedBy in an older version, and hostile variants, with a path', async () => {
    const doc = (await flow().run({ total: 1, cached: true, notes: [] })).toJSON()
    const at = doc.events.findIndex((e) => e.type === 'link.skip')
    const events = (change: (e: Record<string, unknown>) => Record<string, unknown>) =>
      doc.events.map((e, i) => (i === at ? change({ ...(e as unknown as Record<string, unknown>) }) : e))
    expect(rejection({ ...doc, version: 3 }).message).toMatch(/^\$\.(events\[\d+\]\.type|run\.stoppedBy): this (event type|field) exists from version 4 on/)
    expect(rejection({ ...doc, run: { ...doc.run, stoppedBy: undefined, stopReason: undefined }, version: 3 }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.type: this event type exists from version 4`))
    expect(rejection({ ...doc, events: events((e) => ({ ...e, reason: 'because' })) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.reason`))
    expect(rejection({ ...doc, events: events((e) => ({ ...e, link: 99 })) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.link`))
    expect(rejection({ ...doc, events: events((e) => ({ ...e, extra: 1 })) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]`))
    expect(rejection({ ...doc, run: { ...doc.run, stoppedBy: 42 } }).message).toMatch(/^\$\.run\.stoppedBy/)
    expect(rejection({ ...doc, run: { ...doc.run, stoppedBy: -1 } }).message).toMatch(/^\$\.run\.stoppedBy/)
    expect(rejection({ ...doc, run: { ...doc.run, stoppedBy: undefined } }).message).toMatch(/^\$\.run\.stopReason: stopReason without stoppedBy/)
    expect(rejection({ ...doc, run: { ...doc.run, stopReason: 7 } }).message).toMatch(/^\$\.run\.stopReason/)
    // A stopped run ended well: a failed one that claims a stop is refused.
    const last = doc.events.length - 1
    const failed = {
      ...doc,
      run: { ...doc.run, status: 'error', error: { code: 'LINK_FAILED', message: 'x' } },
      events: doc.events.map((e, i) => (i === last ? { ...e, status: 'error' } : e)),
    }
    expect(rejection(failed).message).toMatch(/^\$\.run\.stoppedBy: a stopped run ended 'ok'; this one says 'error'/)
  })
})
