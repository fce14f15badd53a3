// The viewer opens a run at once whatever its size (issue #15): `openRun` reads the document's
// events and waterfall without rebuilding any state, rebuilds a state only when it is shown
// (stepping to the next event applies that event's patches only), and leaves the library's
// validation (`Run.fromJSON`) to `checkRun` (the page runs it in a worker) or to the first read
// of `run`. What it shows is what `Run.fromJSON` rebuilds.
import { beforeAll, describe, expect, it } from 'vitest'
import { chain, DocumentError, Run, type RunDocument } from '../src/index.js'
import { checkRun, eventSubject, linkDiff, openRun, prepareRun, rowOfEvent, stateAt, type ViewerRun } from '../src/present/viewer/browser.js'
import { steppingClock } from './helpers.js'

interface Order {
  n: number
  items: string[]
  tags: Set<string>
}

let run: Run<Order>
let doc: RunDocument

beforeAll(async () => {
  let c = chain<Order>('long', { clock: steppingClock() })
  for (let i = 0; i < 2_000; i++) c = c.link(`l${i}`, (ctx) => void ((ctx.n += 1), i % 500 === 0 && ctx.items.push(`at ${i}`), i === 1_000 && ctx.tags.add('half')))
  run = await c.use({ name: 'm', before: (e) => void (e.mwctx['links'] = ((e.mwctx['links'] as number | undefined) ?? 0) + 1), after: (e) => void (e.metrics['i'] = e.link.index) }).run({ n: 0, items: [], tags: new Set() })
  doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
})

describe('openRun', () => {
  it('reads the events and the waterfall without rebuilding a state, then rebuilds only up to what is shown', () => {
    const view = openRun(doc)
    expect(view.events).toHaveLength(run.timeline.length)
    expect(view.rows).toHaveLength(2_000)
    expect(view.opened.statesBuilt).toBe(0)
    expect(stateAt(view, 10).ctx).toStrictEqual(run.timeline.stateAt(10).ctx)
    expect(view.opened.statesBuilt).toBe(11)
    // A step forward applies one event's patches.
    stateAt(view, 11)
    expect(view.opened.statesBuilt).toBe(12)
    // Going back costs nothing: the states rebuilt are kept (copy-on-write).
    stateAt(view, 3)
    expect(view.opened.statesBuilt).toBe(12)
  })

  it('shows what Run.fromJSON rebuilds: events, times, states, a link’s change', () => {
    const view = openRun(doc)
    const loaded = Run.fromJSON(doc)
    for (const seq of [0, 1, 2, 3, 4, 999, 4_001, 4_002, run.timeline.length - 1]) {
      const [mine, library] = [view.events[seq]!, loaded.timeline.at(seq)!]
      expect([mine.seq, mine.type, mine.t, mine.link?.name, mine.middleware?.name, mine.durationNs]).toEqual([
        library.seq, library.type, library.t - loaded.startedAt, 'link' in library ? library.link?.name : undefined, 'middleware' in library ? library.middleware.name : undefined, 'durationNs' in library ? library.durationNs : undefined,
      ])
      expect(stateAt(view, seq)).toStrictEqual({ ...loaded.timeline.stateAt(seq), exact: true })
      expect(eventSubject(mine)).toBe(eventSubject(prepareRun(doc).events[seq]!))
    }
    const row = rowOfEvent(view.allRows, 4_001)!
    const record = loaded.timeline.links()[row.index]!
    const diff = linkDiff(view, row)
    expect([diff.before, diff.after, diff.patches]).toStrictEqual([record.before, record.after, record.patches])
    expect(view.rows.map((r) => [r.name, r.linkStart, r.linkNs])).toEqual(prepareRun(doc).rows.map((r) => [r.name, r.linkStart, r.linkNs]))
  })

  it('validates when `run` is first read, and checkRun validates as the library does', () => {
    const view: ViewerRun = openRun(doc)
    expect(view.run.timeline.length).toBe(run.timeline.length)
    expect(checkRun(doc)).toBe(run.timeline.length)
    // A patch that does not apply, deep in the run: opened at once; refused by the check, and where it is shown.
    const damaged = JSON.parse(JSON.stringify(doc)) as RunDocument
    const at = damaged.events.findIndex((event, i) => i > 6_000 && event.ctx !== undefined)
    damaged.events[at]!.ctx = [{ op: 'replace', path: ['nowhere', 'deep'], value: 1 }]
    const opened = openRun(damaged)
    expect(stateAt(opened, 10).ctx).toStrictEqual(run.timeline.stateAt(10).ctx)
    const refusal = (f: () => unknown): DocumentError => {
      try {
        f()
      } catch (error) {
        if (error instanceof DocumentError) return error
        throw error
      }
      throw new Error('expected a DocumentError')
    }
    const library = refusal(() => Run.fromJSON(damaged))
    expect(refusal(() => checkRun(damaged)).path).toBe(library.path)
    expect(refusal(() => stateAt(opened, at)).path).toBe(`$.events[${at}].ctx[0]`)
    expect(refusal(() => opened.run).path).toBe(library.path)
    expect(refusal(() => prepareRun(damaged)).path).toBe(library.path)
  })

  it('refuses at once what it cannot read: not a run document, events out of order, a truncated run', () => {
    const path = (bad: unknown): string => {
      try {
        openRun(bad)
      } catch (error) {
        if (error instanceof DocumentError) return error.path
        throw error
      }
      return 'accepted'
    }
    expect(path([])).toBe('$')
    expect(path({ ...doc, format: 'other' })).toBe('$.format')
    expect(path({ ...doc, version: 99 })).toBe('$.version')
    expect(path({ ...doc, events: doc.events.slice(0, -1) })).toBe(`$.events[${doc.events.length - 2}].type`)
    expect(path({ ...doc, events: [doc.events[0], doc.events[2], ...doc.events.slice(3)] })).toBe('$.events[1].seq')
    expect(path({ ...doc, events: doc.events.map((e, i) => (i === 5 ? { ...e, link: 99_999 } : e)) })).toBe('$.events[5].link')
  })
})
