// Version 7 of the run document: parallel steps (DESIGN §9), the events branch.start,
// branch.end and branch.error. Written only when a run has a parallel step; refused in older
// versions, and hostile variants refused, with the path of the problem.
import { describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import { rejection, steppingClock } from './helpers.js'

interface Q {
  n: number
  secret?: string
  tax?: number
  tags: string[]
}

const quoted = (failing: boolean) =>
  chain<Q>('c', { clock: steppingClock() })
    .link('inc', (d) => void d.n++)
    .parallel('quote', {
      tax: (d) => void (d.tax = d.n * 2),
      tag: (d) => {
        if (failing) throw new Error('no tags')
        d.tags.push('quoted')
        d.secret = 'hunter2'
      },
    })

const roundTrip = (run: Run<Q>): Run<Q> => Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument) as Run<Q>

describe('run document version 7', () => {
  it('is written only when a run has a parallel step', async () => {
    const plain = await chain<Q>('c').link('inc', (d) => void d.n++).run({ n: 1, tags: [] })
    expect(plain.toJSON().version).toBe(1)
    const doc = (await quoted(false).run({ n: 1, tags: [] })).toJSON()
    expect(doc.version).toBe(7)
    const branchEvents = doc.events.filter((e) => e.type.startsWith('branch.'))
    expect(branchEvents.map((e) => e.type)).toEqual(['branch.start', 'branch.end', 'branch.start', 'branch.end'])
    // Branch events never carry ctx patches: the merge is the step's link.end.
    expect(branchEvents.every((e) => e.ctx === undefined)).toBe(true)
  })

  it('round-trips branch events, their patches and errors; timeline.links() and stateAt agree', async () => {
    const run = await quoted(false).run({ n: 1, tags: [] })
    const back = roundTrip(run)
    expect(back.toJSON()).toEqual(run.toJSON())
    expect(back.timeline.links()[1]?.branches?.map((b) => [b.name, b.patches])).toEqual(run.timeline.links()[1]?.branches?.map((b) => [b.name, b.patches]))
    const branchEnd = back.timeline.filter({ type: 'branch.end' })[1]
    expect(back.timeline.stateAt(branchEnd?.seq ?? -1).ctx).toEqual({ n: 2, tags: [] })
    expect(back.ctx).toEqual(run.ctx)
    const failed = await quoted(true).run({ n: 1, tags: [] }).then(
      () => undefined,
      (e: { run: Run<Q> }) => e.run,
    )
    expect(failed).toBeDefined()
    const failedBack = roundTrip(failed as Run<Q>)
    expect(failedBack.toJSON()).toEqual((failed as Run<Q>).toJSON())
    const error = failedBack.timeline.filter({ type: 'branch.error' })[0]
    expect(error?.type === 'branch.error' && (error.error as Error).message).toBe('no tags')
  })

  it('redacts inside branch patches', async () => {
    const run = await quoted(false).run({ n: 1, tags: [] })
    const text = JSON.stringify(run.toJSON({ redact: [['secret']] }))
    expect(JSON.stringify(run.toJSON())).toContain('hunter2')
    expect(text).not.toContain('hunter2')
  })

  it('refuses branch events in an older version, with a path', async () => {
    const doc = (await quoted(false).run({ n: 1, tags: [] })).toJSON()
    const i = doc.events.findIndex((e) => e.type === 'branch.start')
    expect(rejection({ ...doc, version: 6 }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.type: this event type exists from version 7 on`))
  })

  it('refuses hostile branch events with a path', async () => {
    const doc = (await quoted(false).run({ n: 1, tags: [] })).toJSON()
    const i = doc.events.findIndex((e) => e.type === 'branch.start')
    const end = doc.events.findIndex((e) => e.type === 'branch.end')
    const events = (j: number, change: Record<string, unknown>) => doc.events.map((e, k) => (k === j ? { ...e, ...change } : e))
    // A branch of another link than the open step.
    expect(rejection({ ...doc, events: events(i, { link: 0 }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.link: a branch event belongs between`))
    // An empty branch name.
    expect(rejection({ ...doc, events: events(i, { branch: '' }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.branch`))
    // An end without its start.
    expect(rejection({ ...doc, events: events(end, { branch: 'other' }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${end}\\]\\.branch: branch 'other' ends without its branch.start`))
    // A branch event that changes ctx.
    expect(rejection({ ...doc, events: events(end, { ctx: [{ op: 'replace', path: ['n'], value: 9 }] }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${end}\\]\\.ctx: a branch event does not change ctx`))
    // Patches that do not apply to the step's input.
    expect(rejection({ ...doc, events: events(end, { patches: [{ op: 'replace', path: ['missing', 'deep'], value: 1 }] }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${end}\\]\\.patches`))
    // A step that ends while a branch is open.
    const cut = doc.events.filter((_e, k) => k !== doc.events.findIndex((e) => e.type === 'branch.end' && e.branch === 'tag'))
    expect(rejection({ ...doc, events: cut.map((e, k) => ({ ...e, seq: k })) }).message).toMatch(/\.type: the step ends while branch 'tag' has not ended/)
    // A branch.end with an error field, an unknown key.
    expect(rejection({ ...doc, events: events(end, { error: 'x' }) }).message).toMatch(new RegExp(`^\\$\\.events\\[${end}\\]`))
  })
})
