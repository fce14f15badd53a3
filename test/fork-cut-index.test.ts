// Forks find their cut by link name through an index of the parent's timeline (src/lineage/
// cut-index.ts) instead of scanning back from its end at every fork. The index must answer
// exactly what the scan answered, whatever was asked before, for original runs, forks, forks of
// forks, forks onto chains that run a link of the prefix again, skipped and failed links, and
// runs rebuilt from files; and forks must cut where they cut before.
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chain, Run, type Chain, type RecordedRun, type TimelineEvent } from '../src/index.js'
import { lastLinkEnd } from '../src/lineage/cut-index.js'

interface Doc {
  log: string[]
}

/** What findCut did before the index: the last link end of that name, scanning back from the end. */
function scanned(run: RecordedRun<unknown>, name: string): number | undefined {
  const events = run.timeline.events as readonly TimelineEvent<unknown>[]
  for (let seq = events.length - 1; seq >= 0; seq--) {
    const event = events[seq] as TimelineEvent<unknown>
    if ((event.type === 'link.end' || event.type === 'link.error' || event.type === 'link.skip') && event.link.name === name) return seq
  }
  return undefined
}

/** The end of the step of the link that ended at `seq` (its after-middleware), as a fork cuts. */
function stepEnd(run: RecordedRun<unknown>, seq: number): number {
  const events = run.timeline.events as readonly { link?: unknown }[]
  let end = seq
  while (end + 1 < events.length && (events[end + 1] as { link?: unknown }).link === (events[seq] as { link?: unknown }).link) end++
  return end
}

const NAMES = ['a', 'b', 'c', 'd', 'e', 'f'] as const

/** A chain of the given link names, in order; a link in `skip` is skipped (`when`), one in `fail` throws. */
function make(names: readonly string[], skip: ReadonlySet<string> = new Set(), fail?: string): Chain<Doc> {
  let c = chain<Doc>('doc').use({ name: 'mw', after: (e) => void (e.metrics.after = e.link.name) })
  for (const name of names) {
    c = c.link(
      name,
      (ctx) => {
        if (name === fail) throw new Error(`${name} failed`)
        ctx.log.push(name)
      },
      skip.has(name) ? { when: () => false } : undefined,
    )
  }
  return c
}

/** Runs a chain; a failed run is the error's run. */
async function runOf(c: Chain<Doc>, input: Doc): Promise<Run<Doc>> {
  try {
    return await c.run(input)
  } catch (error) {
    return (error as { run: Run<Doc> }).run
  }
}

async function forkOf(parent: Run<Doc>, at: string | number, onto: Chain<Doc>): Promise<Run<Doc>> {
  try {
    return await parent.fork({ at, chain: onto })
  } catch (error) {
    const run = (error as { run?: Run<Doc> }).run
    if (run === undefined) throw error
    return run
  }
}

/**
 * A fork refused before any cut is looked for, or for a cut the chain cannot continue after (a
 * link it lacks, a parent whose own part recorded no link on that chain): as before the index.
 */
function refused(error: unknown): undefined {
  if (error instanceof TypeError && /has no link named|recorded no link events/.test(error.message)) return undefined
  throw error
}

/** Every name a query may ask: those in the timeline and one that never ran. */
const asked = [...NAMES, 'never']

function expectSameAsScan(run: Run<Doc>, order: readonly string[]): void {
  for (const name of order) expect(lastLinkEnd(run as RecordedRun<unknown>, name), `${name} in run ${run.id}`).toBe(scanned(run as RecordedRun<unknown>, name))
}

describe('the fork cut index', () => {
  it('answers what a scan back from the end answers, asked in any order, again and again', async () => {
    const parent = await runOf(make(NAMES, new Set(['c'])), { log: [] })
    expectSameAsScan(parent, ['f', 'a', 'never', 'c', 'a', 'f', 'b', 'e', 'd', 'never'])
    const other = await runOf(make(NAMES), { log: [] })
    expectSameAsScan(other, ['a', 'a', 'b', 'f', 'never', 'c'])
  })

  it('in a fork of a fork onto chains that run links of the prefix again, finds the last end, in the prefix or after it', async () => {
    const root = await runOf(make(['a', 'b', 'c', 'd']), { log: [] })
    // Cut after b, then run c, a, b again (names the prefix already holds), then d.
    const again = make(['x', 'b', 'c', 'a', 'd'])
    const child = await root.fork({ at: 'b', chain: again })
    expect(child.timeline.links().map((r) => r.name)).toEqual(['a', 'b', 'c', 'a', 'd'])
    expectSameAsScan(child, ['a', 'b', 'c', 'd', 'x', 'never'])
    // Cut the child after its first 'c' (by seq): 'a' ran again after that cut in the child.
    const firstC = child.timeline.links().find((r) => r.name === 'c')!
    const grandchild = await forkOf(child, stepEnd(child as RecordedRun<unknown>, firstC.endSeq), make(['c', 'e']))
    expect(grandchild.timeline.links().map((r) => r.name)).toEqual(['a', 'b', 'c', 'e'])
    // The child's own index was filled first, past its cut: the grandchild must still find the
    // prefix's 'a', not the child's later one.
    expectSameAsScan(child, ['a', 'd'])
    expectSameAsScan(grandchild, ['a', 'e', 'c', 'b', 'd', 'never', 'a'])
    for (const name of ['a', 'b', 'c']) {
      const daughter = await grandchild.fork({ at: name, chain: make(['a', 'b', 'c', 'e', 'f']) })
      expect(daughter.parent?.seq).toBe(stepEnd(grandchild as RecordedRun<unknown>, scanned(grandchild as RecordedRun<unknown>, name)!))
    }
  })

  it('indexes a run rebuilt from a file on its own (its events are copies of its parent’s), links run twice included', async () => {
    const c = make(['a', 'b', 'c'])
    const parent = await runOf(c, { log: [] })
    const again = make(['b', 'a', 'c'])
    const daughter = await parent.fork({ at: 'b', chain: again })
    expect(daughter.timeline.links().map((r) => r.name)).toEqual(['a', 'b', 'a', 'c'])
    const back = Run.fromJSON<Doc>(JSON.parse(JSON.stringify(daughter.toJSON())), { chain: again })
    // A scan past both ends of 'a' first ('never'), then 'a': its last end, not its first.
    expectSameAsScan(back, ['c', 'never', 'a', 'b', 'x', 'a'])
    expect((await back.fork({ at: 'c' })).parent?.seq).toBe(stepEnd(back as RecordedRun<unknown>, scanned(back as RecordedRun<unknown>, 'c')!))
    expect((await back.fork({ at: 'a' })).parent?.seq).toBe(stepEnd(back as RecordedRun<unknown>, scanned(back as RecordedRun<unknown>, 'a')!))
  })

  it('property: forks cut where the scan says, and the index agrees with the scan on every run', async () => {
    const chainArb = fc.record({
      names: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 6 }),
      skip: fc.subarray([...NAMES]),
      fail: fc.option(fc.constantFrom(...NAMES), { nil: undefined }),
    })
    const stepArb = fc.record({ from: fc.nat(), byName: fc.boolean(), pick: fc.nat(), onto: chainArb })
    await fc.assert(
      fc.asyncProperty(chainArb, fc.array(stepArb, { maxLength: 6 }), fc.array(fc.constantFrom(...asked), { maxLength: 12 }), async (first, steps, queries) => {
        const runs = [await runOf(make(first.names, new Set(first.skip), first.fail), { log: [] })]
        for (const step of steps) {
          const parent = runs[step.from % runs.length] as Run<Doc>
          const onto = make(step.onto.names, new Set(step.onto.skip), step.onto.fail)
          const ended = parent.timeline.links().map((r) => r.name)
          if (step.byName && ended.length > 0) {
            const name = ended[step.pick % ended.length] as string
            // A fork onto a chain without that link is refused; nothing to check then.
            if (onto.indexOf(name) === -1) continue
            const expected = stepEnd(parent as RecordedRun<unknown>, scanned(parent as RecordedRun<unknown>, name)!)
            const daughter = await forkOf(parent, name, onto).catch(refused)
            if (daughter === undefined) continue
            expect(daughter.parent?.seq).toBe(expected)
            runs.push(daughter)
          } else if (!step.byName) {
            const daughter = await forkOf(parent, step.pick % parent.timeline.length, onto).catch(refused)
            if (daughter !== undefined) runs.push(daughter)
          }
          for (const run of runs) expectSameAsScan(run, queries)
        }
        for (const run of runs) expectSameAsScan(run, asked)
      }),
      { numRuns: 60 },
    )
  })
})
