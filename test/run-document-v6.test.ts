// Version 6 of the run document: around calls (DESIGN §9), the middleware positions
// `chain-around` / `link-around` and a middleware.error's hook `around`. Written only when a run
// has an around call; refused in older versions with the path of the problem.
import { describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import { steppingClock } from './helpers.js'
import { rejection } from './helpers.js'

interface N {
  n: number
}

const wrapped = (faulty: boolean) =>
  chain<N>('c', { clock: steppingClock() })
    .use({ name: 'wrap', around: faulty ? () => { throw new Error('boom') } : (_e, next) => next() })
    .link('inc', (d) => void d.n++)

describe('run document version 6', () => {
  it('is written only when a run has an around call', async () => {
    const plain = await chain<N>('c').use({ name: 'm', before: () => {} }).link('inc', (d) => void d.n++).run({ n: 1 })
    expect(plain.toJSON().version).toBe(1)
    const doc = (await wrapped(false).run({ n: 1 })).toJSON()
    expect(doc.version).toBe(6)
    expect(doc.middleware).toEqual([{ name: 'wrap', position: 'chain-around', index: 0 }])
  })

  it('round-trips the halves and the errors of around calls', async () => {
    for (const faulty of [false, true]) {
      const run = await wrapped(faulty).run({ n: 1 })
      const back = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument)
      expect(back.toJSON()).toEqual(run.toJSON())
      expect(back.timeline.filter({ position: 'chain-around' }).map((e) => e.type)).toEqual(faulty ? ['middleware.error'] : ['middleware.before', 'middleware.after'])
    }
  })

  it('refuses around positions and hooks in an older version, with a path', async () => {
    const doc = (await wrapped(false).run({ n: 1 })).toJSON()
    expect(rejection({ ...doc, version: 5 }).message).toMatch(/^\$\.middleware\[0\]\.position: this field exists from version 6 on/)
    const failed = (await wrapped(true).run({ n: 1 })).toJSON()
    const i = failed.events.findIndex((e) => e.type === 'middleware.error')
    const relabelled = { ...failed, version: 5, middleware: [{ name: 'wrap', position: 'chain-before', index: 0 }] }
    expect(rejection(relabelled).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.hook: this field exists from version 6 on`))
    expect(rejection({ ...doc, middleware: [{ name: 'wrap', position: 'chain-inside', index: 0 }] }).message).toMatch(/^\$\.middleware\[0\]\.position/)
  })

  it('refuses hostile around events with a path: a hook that does not match the position, an around call without its link', async () => {
    const failed = (await wrapped(true).run({ n: 1 })).toJSON()
    const i = failed.events.findIndex((e) => e.type === 'middleware.error')
    const events = (change: Record<string, unknown>) => failed.events.map((e, j) => (j === i ? { ...e, ...change } : e))
    expect(rejection({ ...failed, events: events({ hook: 'before' }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.hook: hook 'before' does not match the middleware's position 'chain-around'`))
    const asBefore = { ...failed, middleware: [{ name: 'wrap', position: 'chain-before', index: 0 }] }
    expect(rejection(asBefore).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.hook: hook 'around' does not match`))
    const unlinked = failed.events.map((e, j) => (j === i ? Object.fromEntries(Object.entries(e).filter(([key]) => key !== 'link')) : e))
    expect(rejection({ ...failed, events: unlinked }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.link: an around call belongs to a link`))
    const ok = (await wrapped(false).run({ n: 1 })).toJSON()
    const k = ok.events.findIndex((e) => e.type === 'middleware.after')
    const noLink = ok.events.map((e, j) => (j === k ? Object.fromEntries(Object.entries(e).filter(([key]) => key !== 'link')) : e))
    expect(rejection({ ...ok, events: noLink }).message).toMatch(new RegExp(`^\\$\\.events\\[${k}\\]\\.link`))
  })
})
