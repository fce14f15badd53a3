import { applyPatches, type Patch } from 'immer'
import { describe, expect, expectTypeOf, it } from 'vitest'
import { z } from 'zod'
import {
  chain,
  ChainRunError,
  compareRuns,
  formatDivergence,
  Run,
  type Divergence,
  type ForkDivergence,
  type InputDivergence,
  type LinkInfo,
  type Middleware,
} from '../src/index.js'

interface Bill {
  n: number
  vip?: boolean
  doubled?: number
  note?: string
}

const audit: Middleware<Bill> = { name: 'audit', before() {}, after() {} }

/** Three links; 'double' reads what the fork edits change, so it would be blamed without them. */
function billing() {
  return chain<Bill>('bill')
    .link('inc', (ctx) => void (ctx.n += 1))
    .link('double', (ctx) => void (ctx.doubled = ctx.n * 2))
    .link('note', (ctx) => void (ctx.note = ctx.vip === true ? 'vip' : 'plain'))
    .use(audit)
}

const roundTrip = <C>(run: Run<C>): Run<C> => Run.fromJSON<C>(JSON.parse(JSON.stringify(run.toJSON())))

describe('compareRuns', () => {
  it('finds a run equal to itself loaded from its file when a link wrote Errors into ctx (compared by name, message, code, cause)', async () => {
    class Declined extends Error {
      code = 'E_DECLINED'
    }
    const c = chain<{ e?: Error; f?: Error }>('errors')
      .link('a', (ctx) => void (ctx.e = new TypeError('bad', { cause: new Declined('root') })))
      .link('b', (ctx) => void (ctx.f = new Declined('declined')))
    const run = await c.run({})
    const loaded = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    expect(compareRuns(run, loaded)).toBeUndefined()
    const other = await chain<{ e?: Error; f?: Error }>('errors')
      .link('a', (ctx) => void (ctx.e = new TypeError('bad', { cause: new Declined('other root') })))
      .link('b', (ctx) => void (ctx.f = new Declined('declined')))
      .run({})
    expect(compareRuns(run, other)).toMatchObject({ reason: 'patches', link: { name: 'a' } })
  })

  it('reports different inputs as an input divergence, with the patches between them, before blaming any link', async () => {
    const c = billing()
    const a = await c.run({ n: 1 })
    const b = await c.run({ n: 5, vip: true })
    const divergence = compareRuns(a, b)
    expect(divergence).toEqual({
      reason: 'input',
      link: undefined,
      seq: 0,
      expected: { n: 1 },
      actual: { n: 5, vip: true },
      patches: [
        { op: 'replace', path: ['n'], value: 5 },
        { op: 'add', path: ['vip'], value: true },
      ],
    })
    expect(b.timeline.at(divergence!.seq)?.type).toBe('run.start')
    const patches = (divergence as InputDivergence).patches as Patch[]
    expect(applyPatches(a.input as object, patches)).toEqual(b.input)
    // Equal inputs compare by content (two files, two objects): no input divergence.
    expect(compareRuns(roundTrip(a), await c.run({ n: 1 }))).toBeUndefined()
  })

  it('reports a fork edit as a fork divergence at the fork event, carrying the edit, not the link after it', async () => {
    const parent = await billing().run({ n: 1 })
    const fork = await parent.fork({ at: 'inc', edit: (ctx) => void (ctx.n = 10) })
    const divergence = compareRuns(parent, fork)
    expect(divergence).toMatchObject({
      reason: 'fork',
      link: { name: 'inc', index: 0 },
      expected: undefined,
      actual: [{ op: 'replace', path: ['n'], value: 10 }],
      patches: [{ op: 'replace', path: ['n'], value: 10 }],
    })
    expect(fork.timeline.at(divergence!.seq)?.type).toBe('fork')

    // The other way round: the edit is the expected side's, and `patches` (expected → actual) undo it.
    const back = compareRuns(fork, parent) as ForkDivergence
    expect(back).toMatchObject({ reason: 'fork', link: { name: 'inc' }, actual: undefined, expected: [{ op: 'replace', path: ['n'], value: 10 }] })
    expect(back.patches).toEqual([{ op: 'replace', path: ['n'], value: 2 }])
    // The seq is the first event after the cut in the parent: where the fork's own events begin.
    expect(back.seq).toBe(fork.parent!.seq + 1)
    expect(parent.timeline.at(back.seq - 1)).toBe(fork.timeline.at(back.seq - 1))
  })

  it('reports two forks edited differently at one point with both edits and the difference of their states', async () => {
    const parent = await billing().run({ n: 1 })
    const left = await parent.fork({ at: 'double', edit: (ctx) => void (ctx.vip = true) })
    const right = await parent.fork({ at: 'double', edit: (ctx) => void (ctx.n = 7) })
    const divergence = compareRuns(left, right)
    expect(divergence).toMatchObject({
      reason: 'fork',
      link: { name: 'double' },
      seq: right.parent!.seq + 1,
      expected: [{ op: 'add', path: ['vip'], value: true }],
      actual: [{ op: 'replace', path: ['n'], value: 7 }],
      patches: [
        { op: 'remove', path: ['vip'] },
        { op: 'replace', path: ['n'], value: 7 },
      ],
    })
    // A fork that is not edited, or edited to the same state, is no divergence.
    expect(compareRuns(parent, await parent.fork({ at: 'double' }))).toBeUndefined()
    expect(compareRuns(left, await parent.fork({ at: 'double', edit: (ctx) => void (ctx.vip = true) }))).toBeUndefined()
  })

  it('finds fork edits before the first link, after the last one, after a failed link, and in a fork of a fork', async () => {
    const parent = await billing().run({ n: 1 })
    const early = await parent.fork({ at: 0, edit: (ctx) => void (ctx.n = 3) })
    expect(compareRuns(parent, early)).toMatchObject({ reason: 'fork', link: undefined, seq: early.parent!.seq + 1 })

    // No link runs after the edit: without the fork check the runs would compare as identical.
    const late = await parent.fork({ at: 'note', edit: (ctx) => void (ctx.note = 'edited') })
    expect(compareRuns(parent, late)).toMatchObject({ reason: 'fork', link: { name: 'note' }, actual: [{ op: 'replace', path: ['note'], value: 'edited' }] })

    // Forked at the same cut (a fork's 'note' is its parent's): a sibling edit, not one on top of the other.
    const sibling = await late.fork({ at: 'note', edit: (ctx) => void (ctx.vip = true) })
    expect(compareRuns(late, sibling)).toMatchObject({
      reason: 'fork',
      expected: [{ op: 'replace', path: ['note'], value: 'edited' }],
      actual: [{ op: 'add', path: ['vip'], value: true }],
      patches: [
        { op: 'replace', path: ['note'], value: 'plain' },
        { op: 'add', path: ['vip'], value: true },
      ],
    })
    // A fork of a fork holds both edits: against the grandparent, the first difference is the first edit.
    const deep = await early.fork({ at: 'double', edit: (ctx) => void (ctx.vip = true) })
    expect(compareRuns(parent, deep)).toMatchObject({ reason: 'fork', link: undefined, actual: [{ op: 'replace', path: ['n'], value: 3 }] })
    expect(compareRuns(early, deep)).toMatchObject({ reason: 'fork', link: { name: 'double' } })

    const failing = chain<Bill>('bill')
      .link('inc', (ctx) => void (ctx.n += 1))
      .link('check', (ctx) => {
        if (ctx.vip !== true) throw new Error('not vip')
      })
      .link('note', (ctx) => void (ctx.note = 'passed'))
    const failed = await failing.run({ n: 1 }).catch((e: ChainRunError<Bill>) => e.run)
    const rescued = await failed.fork({ at: 'check', edit: (ctx) => void (ctx.vip = true) })
    expect(compareRuns(failed, rescued)).toMatchObject({ reason: 'fork', link: { name: 'check' }, actual: [{ op: 'add', path: ['vip'], value: true }] })
  })

  it('keeps comparing fork and replay runs link by link: a replay of a fork is identical, a changed link after the edit is blamed', async () => {
    const parent = await billing().run({ n: 1 })
    const fork = await parent.fork({ at: 'inc', edit: (ctx) => void (ctx.n = 10) })
    expect(compareRuns(fork, (await fork.replay()).run)).toBeUndefined()
    const changed = chain<Bill>('bill')
      .link('inc', (ctx) => void (ctx.n += 1))
      .link('double', (ctx) => void (ctx.doubled = ctx.n * 3))
      .link('note', (ctx) => void (ctx.note = ctx.vip === true ? 'vip' : 'plain'))
    const { divergence } = await fork.replay({ chain: changed })
    expect(divergence).toMatchObject({ reason: 'patches', link: { name: 'double' } })
  })

  it('compares inputs the schema rejected: the same rejection agrees, a rejection on one side only is an error without link', async () => {
    const strict = chain('strict', { input: z.object({ n: z.number() }) }).link('inc', (ctx) => void (ctx.n += 1))
    const reject = (input: unknown) => strict.run(input as { n: number }).catch((e: ChainRunError<{ n: number }>) => e.run)
    const [one, two] = [await reject({ n: 'x' }), await reject({ n: 'x' })]
    expect(compareRuns(one, two)).toBeUndefined()
    const ok = await strict.run({ n: 1 })
    expect(compareRuns(one, ok)).toMatchObject({ reason: 'error', link: undefined, seq: 0, actual: undefined })
    expect(compareRuns(ok, one)).toMatchObject({ reason: 'error', link: undefined, seq: 1, expected: undefined })
    expect(compareRuns(one, await reject({ m: 1 }))).toMatchObject({ reason: 'error', link: undefined })
  })

  it('types each reason: expected and actual narrow when you switch on reason', () => {
    const describe = (d: Divergence): string => {
      switch (d.reason) {
        case 'input':
          expectTypeOf(d.link).toEqualTypeOf<undefined>()
          expectTypeOf(d.patches).toEqualTypeOf<readonly Patch[]>()
          return 'input'
        case 'fork':
          expectTypeOf(d.link).toEqualTypeOf<LinkInfo | undefined>()
          expectTypeOf(d.actual).toEqualTypeOf<readonly Patch[] | undefined>()
          return `fork after ${d.link?.name ?? 'start'}`
        case 'patches':
          expectTypeOf(d.expected).toEqualTypeOf<readonly Patch[]>()
          return d.link.name
        case 'link':
          expectTypeOf(d.expected).toEqualTypeOf<string | undefined>()
          return d.link.name
        case 'status':
          expectTypeOf(d.actual).toEqualTypeOf<'ok' | 'error' | 'aborted'>()
          return d.actual
        case 'skip':
          expectTypeOf(d.expected).toEqualTypeOf<'when' | 'stopped' | undefined>()
          return d.link.name
        case 'child':
          expectTypeOf(d.child).toEqualTypeOf<Divergence>()
          expectTypeOf(d.actual).toEqualTypeOf<string>()
          return `${d.link.name} > ${d.child.reason}`
        case 'stop':
          expectTypeOf(d.actual).toEqualTypeOf<string | undefined>()
          return d.reason
        case 'io':
        case 'error':
          return d.reason
      }
    }
    expect(describe({ reason: 'status', link: undefined, seq: 1, expected: 'ok', actual: 'error' })).toBe('error')
  })
})

describe('formatDivergence', () => {
  it('prints an input divergence with both inputs and what changed', async () => {
    const c = billing()
    const text = formatDivergence(compareRuns(await c.run({ n: 1 }), await c.run({ n: 5 }))!, ['a', 'b'])
    expect(text).toBe(['diverged at the input (input)', '  a:       input {"n":1}', '  b:       input {"n":5}', '  changes: replace n = 5'].join('\n'))
  })

  it('prints a fork divergence with the edit of each side', async () => {
    const parent = await billing().run({ n: 1 })
    const fork = await parent.fork({ at: 'inc', edit: (ctx) => void (ctx.n = 10) })
    expect(formatDivergence(compareRuns(parent, fork)!, ['parent', 'fork'])).toBe(
      ["diverged at the fork after link #0 'inc' (fork)", '  parent: (not forked here)', '  fork:   fork edit: replace n = 10'].join('\n'),
    )
    const early = await parent.fork({ at: 0, edit: (ctx) => void (ctx.n = 3) })
    expect(formatDivergence(compareRuns(parent, early)!)).toMatch(/^diverged at a fork before the first link \(fork\)/)
  })

  it('prints an input the chain rejected on one side only', async () => {
    const strict = chain('strict', { input: z.object({ n: z.number() }) }).link('inc', (ctx) => void (ctx.n += 1))
    const rejected = await strict.run({ n: 'x' } as never).catch((e: ChainRunError<{ n: number }>) => e.run)
    const text = formatDivergence(compareRuns(rejected, await strict.run({ n: 1 }))!)
    expect(text.split('\n')).toEqual(['diverged at the input check (error)', `  recorded: error: ${rejected.error!.message}`, '  replayed: (no error)'])
  })
})
