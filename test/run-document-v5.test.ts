// Version 5 of the run document: `link.attempt` events (DESIGN §9, retry), written only when a
// run has them, round-tripped through a file, refused in older versions or in hostile shapes
// with the path of the problem. A TIMEOUT failure needs no new version (error codes are open).
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, ChainRunError, loadRun, Run, saveRun } from '../src/index.js'
import { steppingClock } from './helpers.js'
import { rejection } from './helpers.js'

interface Pay {
  card: string
  charged: number
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-v5-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const flow = (failures: number, redact = false) =>
  chain<Pay>('pay', { clock: steppingClock(), ...(redact && { redact: [['card']] }) })
    .link('price', (ctx) => void (ctx.charged = 0))
    .link('charge', (ctx, io) => {
      ctx.charged = io.attempt
      if (io.attempt <= failures) throw new Error(`card ${ctx.card} declined (${io.attempt})`)
    }, { retry: { attempts: 3 } })

describe('run document version 5', () => {
  it('is written only when a run has a link.attempt: a retry that succeeded at once, or a TIMEOUT, stays version 1', async () => {
    expect((await flow(0).run({ card: '4111', charged: 0 })).toJSON().version).toBe(1)
    const timedOut = await chain<Pay>('t')
      .link('slow', () => new Promise<void>(() => {}), { timeoutMs: 1 })
      .run({ card: '4111', charged: 0 })
      .catch((e: ChainRunError<Pay>) => e.run)
    const doc = timedOut.toJSON()
    expect(doc.version).toBe(1)
    expect(doc.run.error?.code).toBe('TIMEOUT')
    expect(Run.fromJSON(doc).error?.code).toBe('TIMEOUT')
    const retried = (await flow(2).run({ card: '4111', charged: 0 })).toJSON()
    expect(retried.version).toBe(5)
    expect(retried.events.filter((e) => e.type === 'link.attempt')).toMatchObject([
      { type: 'link.attempt', link: 1, attempt: 1 },
      { type: 'link.attempt', link: 1, attempt: 2 },
    ])
  })

  it('scrubs a redacted value out of an attempt\'s error', async () => {
    const doc = (await flow(1, true).run({ card: '4111-1111', charged: 0 })).toJSON()
    expect(JSON.stringify(doc)).not.toContain('4111-1111')
    expect(JSON.stringify(doc.events.find((e) => e.type === 'link.attempt'))).toContain('[REDACTED]')
  })

  it('round-trips attempts through a file, with exact states and links() attempts', async () => {
    const run = await flow(2).run({ card: '4111-1111', charged: 0 })
    const file = join(dir, 'retried.run.json')
    await saveRun(run, file)
    const text = await readFile(file, 'utf8')
    expect(JSON.parse(text.split('\n')[0]! + ']}').version).toBe(5)
    const back = await loadRun<Pay>(file)
    expect(back.timeline.links().map((l) => [l.name, l.status, l.attempts])).toEqual([['price', 'ok', undefined], ['charge', 'ok', 3]])
    expect(back.timeline.links()).toHaveLength(run.timeline.links().length)
    for (let seq = 0; seq < run.timeline.length; seq++) expect(back.timeline.stateAt(seq).ctx).toEqual(run.timeline.stateAt(seq).ctx)
    const attempt = back.timeline.events.find((e) => e.type === 'link.attempt')
    expect(attempt).toMatchObject({ type: 'link.attempt', attempt: 1, link: { name: 'charge' } })
    expect((attempt as { error: Error }).error.message).toBe('card 4111-1111 declined (1)')
    expect(back.toJSON()).toEqual(run.toJSON())
  })

  it('rejects link.attempt in an older version, and hostile variants, with a path', async () => {
    const doc = (await flow(1).run({ card: '4111', charged: 0 })).toJSON()
    const at = doc.events.findIndex((e) => e.type === 'link.attempt')
    const events = (change: (e: Record<string, unknown>) => Record<string, unknown>) =>
      doc.events.map((e, i) => (i === at ? change({ ...(e as unknown as Record<string, unknown>) }) : e))
    expect(rejection({ ...doc, version: 4 }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.type: this event type exists from version 5`))
    expect(rejection({ ...doc, version: 11 }).message).toMatch(/^\$\.version: unsupported version 11/)
    for (const [field, value] of [['attempt', 0], ['attempt', 1.5], ['attempt', '1'], ['link', 99], ['durationNs', 1.5]] as const) {
      expect(rejection({ ...doc, events: events((e) => ({ ...e, [field]: value })) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.${field}`))
    }
    expect(rejection({ ...doc, events: events((e) => ({ ...e, extra: 1 })) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]`))
    const { attempt: _attempt, ...noAttempt } = doc.events[at] as unknown as Record<string, unknown>
    expect(rejection({ ...doc, events: events(() => noAttempt) }).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.attempt`))
  })
})
