// Write capture in the branches of a parallel step (capture 'writes'): each branch's writes are
// recorded as it makes them, named by the branch, kept in run files (version 10), answered by
// `writesTo` and shown by the viewer on the branch's own draft.
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { chain, DocumentError, loadRun, Run, saveRun, type CtxWriteTimelineEvent, type RunDocument, type TimelineEvent } from '../src/index.js'
import { eventSubject, linkWrites, prepareRun, stateAt } from '../src/present/viewer/browser.js'
import { matchers } from '../src/testing/index.js'

expect.extend(matchers)

interface Quote {
  n: number
  tax?: number
  shipping?: { cost: number; carrier?: string }
  tags: string[]
}
const quote = (): Quote => ({ n: 10, tags: [] })

/** A step whose branches write on their own drafts: one sync, one async that writes after a wait, one that returns its draft. */
const quoting = (): ReturnType<typeof chain<Quote>> =>
  chain<Quote>('quoting')
    .link('start', (d) => void (d.n += 1))
    .parallel('quote', {
      tax: (d) => {
        d.tax = d.n * 2
        d.tags.push('taxed')
      },
      ship: async (d) => {
        await new Promise((resolve) => setTimeout(resolve, 2))
        d.shipping = { cost: 5 }
        d.shipping.carrier = 'post'
      },
      keep: (d) => d,
    })

const writes = <C>(events: readonly TimelineEvent<C>[]): CtxWriteTimelineEvent<C>[] => events.filter((e): e is CtxWriteTimelineEvent<C> => e.type === 'ctx.write')
const describeWrite = <C>(e: CtxWriteTimelineEvent<C>): string => `${e.branch ?? '-'} ${e.op} ${e.path.join('.')}`

describe("capture 'writes' in a parallel step's branches", () => {
  it('records each write of each branch as it is made, between its branch.start and branch.end, named by the branch', async () => {
    const run = await quoting().run(quote(), { capture: 'writes', stacks: true })
    const events = run.timeline.events
    expect(writes(events).map(describeWrite)).toEqual(['- set n', 'tax set tax', 'tax push tags', 'ship set shipping', 'ship set shipping.carrier'])
    for (const write of writes(events).filter((e) => e.branch !== undefined)) {
      const start = events.findIndex((e) => e.type === 'branch.start' && e.branch === write.branch)
      const end = events.findIndex((e) => e.type === 'branch.end' && e.branch === write.branch)
      expect(start).toBeLessThan(write.seq)
      expect(write.seq).toBeLessThan(end)
      expect(write.link.name).toBe('quote')
      // The step's input, as a link's writes carry their link's.
      expect(write.ctx).toBe(events[start]!.ctx)
      expect(write.stack).toMatch(/parallel-writes\.test\.ts:\d+:\d+$/)
    }
    // What the chain computes does not depend on what is recorded (a branch returning its captured draft included).
    const plain = await quoting().run(quote())
    expect(run.ctx).toEqual(plain.ctx)
    expect(run.ctx).toEqual({ n: 11, tax: 22, tags: ['taxed'], shipping: { cost: 5, carrier: 'post' } })
  })

  it('bounds the writes of one step, all its branches together, by maxWritesPerLink: the rest are counted on its link.end', async () => {
    const busy = chain<{ a: number[]; b: number[] }>('busy').parallel('fill', {
      a: (d) => {
        for (let i = 0; i < 4; i++) d.a.push(i)
      },
      b: (d) => {
        for (let i = 0; i < 4; i++) d.b.push(i)
      },
    })
    const run = await busy.run({ a: [], b: [] }, { capture: 'writes', maxWritesPerLink: 5 })
    const recorded = run.timeline.events.filter((e) => e.type === 'ctx.write')
    expect(recorded.map((e) => e.type === 'ctx.write' && e.branch)).toEqual(['a', 'a', 'a', 'a', 'b'])
    const end = run.timeline.events.find((e) => e.type === 'link.end')
    expect(end?.type === 'link.end' && end.writesDropped).toBe(3)
    expect(run.ctx).toEqual({ a: [0, 1, 2, 3], b: [0, 1, 2, 3] })
  })

  it("answers writesTo by the branch: its ctx.write events, or without 'writes' the branch.end whose patches touch the path", async () => {
    const captured = await quoting().run(quote(), { capture: 'writes' })
    expect(captured.timeline.writesTo('shipping.carrier').map((e) => e.type === 'ctx.write' && describeWrite(e))).toEqual(['ship set shipping', 'ship set shipping.carrier'])
    const patched = await quoting().run(quote())
    expect(patched.timeline.writesTo('shipping.carrier').map((e) => `${e.type} ${e.type === 'branch.end' ? e.branch : ''}`)).toEqual(['branch.end ship'])
    expect(patched.timeline.writesTo('n').map((e) => `${e.type} ${e.type === 'link.end' ? e.link.name : ''}`)).toEqual(['link.end start'])
    // The testing matcher reads both.
    expect(captured).toHaveWritten('tax', 22)
    expect(patched).toHaveWritten('shipping.carrier', 'post')
    expect(patched).not.toHaveWritten('shipping.carrier', 'ups')
  })

  it('keeps them in run files (version 10, on disk too), and refuses a branch on a write in an older version', async () => {
    const run = await quoting().run(quote(), { capture: 'writes', stacks: true })
    const doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
    expect(doc.version).toBe(10)
    const back = Run.fromJSON(doc)
    expect(writes(back.timeline.events).map(describeWrite)).toEqual(writes(run.timeline.events).map(describeWrite))
    expect(back.toJSON()).toEqual(doc)
    // On disk: saveRun writes the header before the events that raise its version to 10.
    const file = join(await mkdtemp(join(tmpdir(), 'shadowchain-branch-writes-')), 'quote.run.json')
    await saveRun(run, file)
    expect((JSON.parse(await readFile(file, 'utf8')) as RunDocument).version).toBe(10)
    expect((await loadRun(file)).toJSON()).toEqual(doc)
    // Without a branch's write, the same chain's file keeps the version it needed before.
    expect((await quoting().run(quote())).toJSON().version).toBe(7)
    const at = doc.events.findIndex((e) => e.type === 'ctx.write' && e.branch !== undefined)
    const older = { ...doc, version: 9 } as RunDocument
    expect(() => Run.fromJSON(older)).toThrow(DocumentError)
    expect(() => Run.fromJSON(older)).toThrow(`$.events[${at}].branch: this field exists from version 10 on; the document says version 9`)
  })

  it("shows a branch's write in the viewer on that branch's own draft, named by the branch", async () => {
    const run = await quoting().run(quote(), { capture: 'writes', stacks: true })
    const view = prepareRun(JSON.parse(JSON.stringify(run.toJSON())) as RunDocument)
    const seqOf = (what: string): number => view.events.findIndex((e) => e.event.type === 'ctx.write' && describeWrite(e.event as CtxWriteTimelineEvent<Quote>) === what)
    // Replayed from the step's input: the tax branch's writes, never the ship branch's (nor the reverse).
    expect(stateAt(view, seqOf('tax push tags')).ctx).toEqual({ n: 11, tax: 22, tags: ['taxed'] })
    expect(stateAt(view, seqOf('ship set shipping.carrier')).ctx).toEqual({ n: 11, tags: [], shipping: { cost: 5, carrier: 'post' } })
    expect(eventSubject(view.events[seqOf('ship set shipping')]!)).toBe('quote · branch ship · set shipping')
    const row = view.rows.find((r) => r.name === 'quote')!
    expect(linkWrites(view, row).map((w) => `${w.branch ?? '-'} ${w.op} ${w.path}`)).toEqual(['tax set tax', 'tax push tags', 'ship set shipping', 'ship set shipping.carrier'])
  })
})
