// Version 8 of the run document: nested chains (DESIGN §9). A child run is embedded in its
// parent's document (`nested`), named by the parent's events (`child`); written only when a run
// has nested runs; refused in older versions, and hostile variants refused, with the path of
// the problem.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, compareRuns, loadRun, Run, saveRun, type RunDocument } from '../src/index.js'
import { rejection, steppingClock } from './helpers.js'

interface Order {
  customer: string
  card?: string
  total: number
  points?: number
  notes: string[]
}
interface Loyalty {
  member: string
  spent: number
  points: number
}

const order = (total = 120): Order => ({ customer: 'ada', card: '4111111111111111', total, notes: [] })

// A child that itself nests a chain (grand-child), of the same ctx type.
const stamp = () => chain<Order>('stamp').link('mark', (ctx) => void ctx.notes.push('stamped'))
const loyalty = () =>
  chain<Order>('loyalty')
    .link('earn', (ctx) => void (ctx.points = Math.floor(ctx.total / 10)))
    .link('stamp', stamp())
// Another ctx type, mapped in and out.
const tally = () => chain<Loyalty>('tally').link('add', (ctx) => void (ctx.points += Math.floor(ctx.spent / 100)))

let flakyCalls = 0
const flaky = () =>
  chain<Order>('flaky').link('once', (ctx) => {
    if (flakyCalls++ === 0) throw new Error('first attempt fails')
    ctx.notes.push('retried')
  })
const failing = () => chain<Order>('failing').link('boom', () => { throw new Error('child failed') })

const everything = () =>
  chain<Order>('checkout', { clock: steppingClock() })
    .link('price', (ctx) => void (ctx.total += 1))
    .link('loyalty', loyalty())
    .link('tally', tally(), {
      input: (ctx) => ({ member: ctx.customer, spent: ctx.total, points: ctx.points ?? 0 }),
      output: (draft, child) => void (draft.points = child.points),
    })
    .link('flaky', flaky(), { retry: { attempts: 2 } })
    .parallel('p', { a: stamp(), b: (ctx) => void (ctx.total += 100) })

const withFailure = () => everything().link('last', failing())

const json = (doc: RunDocument): RunDocument => JSON.parse(JSON.stringify(doc)) as RunDocument
const roundTrip = (run: Run<unknown>): Run<unknown> => Run.fromJSON(json(run.toJSON()))

async function failed(pending: Promise<Run<Order>>): Promise<Run<Order>> {
  try {
    await pending
  } catch (error) {
    if (error instanceof ChainRunError) return error.run as Run<Order>
    throw error
  }
  throw new Error('the run succeeded')
}

/** Every run of a tree, parent first, then each child's tree in `nested` order. */
function tree(run: Run<unknown>): Run<unknown>[] {
  return [run, ...[...run.timeline.nested.values()].flatMap((child) => tree(child as Run<unknown>))]
}

/** The same events (types, seqs, child ids) and states at every seq, recursively. */
function expectSameTree(original: Run<unknown>, imported: Run<unknown>): void {
  expect(imported.id).toBe(original.id)
  const shape = (run: Run<unknown>) => run.timeline.events.map((e) => [e.seq, e.type, 'child' in e ? e.child : undefined])
  expect(shape(imported)).toEqual(shape(original))
  for (let seq = 0; seq < original.timeline.length; seq++) {
    const [a, b] = [original.timeline.stateAt(seq), imported.timeline.stateAt(seq)]
    expect(b.ctx).toEqual(a.ctx)
    expect(b.mwctx).toEqual(a.mwctx)
    expect(b.metrics).toEqual(a.metrics)
  }
  expect(compareRuns(original, imported)).toBeUndefined()
  expect([...imported.timeline.nested.keys()]).toEqual([...original.timeline.nested.keys()])
  for (const [id, child] of original.timeline.nested) {
    const back = imported.timeline.child(id)
    expect(back).toBeDefined()
    expect(back?.source).toBeUndefined() // no chain attached, like any loaded run
    expectSameTree(child as Run<unknown>, back as Run<unknown>)
  }
}

describe('run document version 8', () => {
  it('is written only when a run has nested runs; older documents keep their version', async () => {
    const plain = await chain<Order>('c').link('inc', (d) => void d.total++).run(order())
    expect(plain.toJSON().version).toBe(1)
    expect(plain.toJSON()).not.toHaveProperty('nested')
    const retried = await chain<Order>('c')
      .link('inc', (d) => void d.total++, { retry: { attempts: 2 } })
      .parallel('p', { a: (d) => void d.total++ })
      .run(order())
    expect(retried.toJSON().version).toBe(7)
    flakyCalls = 0
    const doc = (await everything().run(order())).toJSON()
    expect(doc.version).toBe(8)
    // One embedded document per nested run, in the order events first name them.
    const named = doc.events.flatMap((e) => ('child' in e && e.child !== undefined ? [e.child] : []))
    expect(doc.nested?.map((d) => d.run.id)).toEqual(named)
    expect(doc.nested?.map((d) => d.run.chainName)).toEqual(['loyalty', 'tally', 'flaky', 'flaky', 'stamp'])
    expect(doc.events.filter((e) => 'child' in e && e.child !== undefined).map((e) => e.type)).toEqual(['link.end', 'link.end', 'link.attempt', 'link.end', 'branch.end'])
    // A child's document says what it needs: the grand-child makes the loyalty document 8 too.
    expect(doc.nested?.[0]?.version).toBe(8)
    expect(doc.nested?.[0]?.nested?.map((d) => d.run.chainName)).toEqual(['stamp'])
    expect(doc.nested?.[1]?.version).toBe(1)
  })

  it('round-trips nested links, mapped children, retries, branches and grand-children', async () => {
    flakyCalls = 0
    const run = (await everything().run(order())) as Run<unknown>
    expect(tree(run).map((r) => r.chainName)).toEqual(['checkout', 'loyalty', 'stamp', 'tally', 'flaky', 'flaky', 'stamp'])
    const back = roundTrip(run)
    expectSameTree(run, back)
    expect(back.toJSON()).toEqual(run.toJSON())
    // links() give the child Run after import.
    const links = back.timeline.links()
    expect(links.find((l) => l.name === 'loyalty')?.child?.chainName).toBe('loyalty')
    expect(links.find((l) => l.name === 'tally')?.child?.ctx).toEqual({ member: 'ada', spent: 121, points: 13 })
    expect(links.find((l) => l.name === 'p')?.branches?.find((b) => b.name === 'a')?.child?.chainName).toBe('stamp')
    const grand = links.find((l) => l.name === 'loyalty')?.child?.timeline.links().find((l) => l.name === 'stamp')?.child
    expect(grand?.ctx).toEqual(expect.objectContaining({ notes: ['stamped'] }))
  })

  it('round-trips a failing child (link.error names it)', async () => {
    flakyCalls = 0
    const run = (await failed(withFailure().run(order()))) as Run<unknown>
    const error = run.timeline.filter({ type: 'link.error' })[0]
    expect(error?.type === 'link.error' && error.child).toBeTruthy()
    const back = roundTrip(run)
    expectSameTree(run, back)
    const child = back.timeline.links().at(-1)?.child
    expect(child?.status).toBe('error')
    expect(child?.error?.message).toMatch(/child failed/)
  })

  it('saveRun / loadRun round-trip the tree', async () => {
    flakyCalls = 0
    const run = (await failed(withFailure().run(order()))) as Run<unknown>
    const dir = await mkdtemp(join(tmpdir(), 'v8-'))
    try {
      const path = join(dir, 'run.run.json')
      await saveRun(run, path)
      const text = await readFile(path, 'utf8')
      expect(JSON.parse(text)).toEqual(json(run.toJSON()))
      expectSameTree(run, await loadRun(path))
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('redacts children with the export paths and their own', async () => {
    flakyCalls = 0
    const run = await chain<Order>('c', { redact: [['card']] })
      .link('loyalty', loyalty())
      .run(order())
    // The child inherits the run's redact paths; an export's paths apply to every document.
    const text = JSON.stringify(run.toJSON({ redact: [['customer']] }))
    expect(text).not.toContain('4111111111111111')
    expect(text).not.toContain('"ada"')
    const doc = run.toJSON({ redact: [['customer']] })
    expect(doc.nested?.[0]?.redacted?.paths).toEqual([['card'], ['customer']])
    expect(doc.nested?.[0]?.nested?.[0]?.redacted?.paths).toEqual([['card'], ['customer']])
  })

  it('scrubs a secret of one document wherever another copied it', async () => {
    // The parent redacts the card; a mapped child of another ctx type holds it at another path.
    const mapped = await chain<Order>('c', { redact: [['card']] })
      .link('tally', tally(), { input: (ctx) => ({ member: ctx.card ?? '', spent: ctx.total, points: 0 }) })
      .run(order())
    expect(JSON.stringify(mapped.toJSON())).not.toContain('4111111111111111')
    expect(mapped.toJSON().nested?.[0]?.initial.ctx).toEqual({ member: '[REDACTED]', spent: 120, points: 0 })
    // A child redacts its member; its failure, copied into the parent's link.error, is scrubbed too.
    const secretive = chain<Loyalty>('secretive', { redact: [['member']] }).link('x', (ctx) => {
      throw new Error(`bad member ${ctx.member}`)
    })
    const run = await failed(chain<Order>('c').link('s', secretive, { input: (ctx) => ({ member: ctx.card ?? '', spent: 0, points: 0 }) }).run(order()))
    expect(JSON.stringify(run.toJSON())).toContain('bad member')
    expect(JSON.stringify(run.toJSON())).not.toContain('4111111111111111')
    expect(Run.fromJSON(json(run.toJSON())).timeline.nested.size).toBe(1)
  })

  it('a fork embeds the nested runs its shared events name; a loaded run replays against its children', async () => {
    const simple = () =>
      chain<Order>('checkout', { clock: steppingClock() })
        .link('price', (ctx) => void (ctx.total += 1))
        .link('loyalty', loyalty())
        .link('done', (ctx) => void ctx.notes.push('done'))
    const run = (await simple().run(order())) as Run<unknown>
    const fork = (await (run as Run<Order>).fork({ at: 'loyalty', edit: (ctx) => void (ctx.total = 0) })) as Run<unknown>
    const doc = fork.toJSON()
    expect(doc.version).toBe(8)
    expect(doc.nested?.map((d) => d.run.id)).toEqual([...run.timeline.nested.keys()])
    expectSameTree(fork, Run.fromJSON(json(doc)))
    // A loaded run, given its chain, replays each nested chain against the embedded child.
    const loaded = Run.fromJSON<Order>(json(run.toJSON()), { chain: simple() })
    const { identical, divergence } = await loaded.replay()
    expect(divergence).toBeUndefined()
    expect(identical).toBe(true)
  })

  it('reads version 1 documents still', () => {
    const v1 = {
      format: 'shadowchain/run',
      version: 1,
      run: { id: 'r1', chainName: 'c', status: 'ok', startedAt: '1', endedAt: '9', children: [] },
      links: [{ name: 'inc', index: 0 }],
      middleware: [],
      initial: { ctx: { n: 1 }, mwctx: {} },
      events: [
        { seq: 0, t: 0, type: 'run.start' },
        { seq: 1, t: 1, type: 'link.start', link: 0 },
        { seq: 2, t: 2, type: 'link.end', link: 0, ctx: [{ op: 'replace', path: ['n'], value: 2 }], durationNs: 1 },
        { seq: 3, t: 3, type: 'run.end', status: 'ok' },
      ],
    }
    const run = Run.fromJSON(v1)
    expect(run.ctx).toEqual({ n: 2 })
    expect(run.timeline.nested.size).toBe(0)
  })
})

describe('hostile version-8 documents', () => {
  const base = async (): Promise<RunDocument> => {
    flakyCalls = 0
    return json((await everything().run(order())).toJSON())
  }
  const at = (doc: RunDocument, type: string, nth = 0): number => doc.events.map((e, i) => [e, i] as const).filter(([e]) => e.type === type && 'child' in e && e.child !== undefined)[nth]?.[1] ?? -1
  const withEvent = (doc: RunDocument, i: number, change: Record<string, unknown>): RunDocument => ({ ...doc, events: doc.events.map((e, k) => (k === i ? ({ ...e, ...change } as typeof e) : e)) })
  const path = (text: string): RegExp => new RegExp(`^${text.replace(/[$.[\]]/g, (c) => `\\${c}`)}: `)

  it('refuses a child or nested in a document older than version 8', async () => {
    const doc = await base()
    const i = at(doc, 'link.end')
    expect(rejection({ ...doc, version: 7 }).message).toMatch(path('$.nested'))
    expect(rejection({ ...doc, version: 7, nested: undefined }).message).toMatch(new RegExp(`^\\$\\.events\\[${i}\\]\\.child: this field exists from version 8 on`))
  })

  it('refuses a child naming no embedded document, and an embedded document no event names', async () => {
    const doc = await base()
    const i = at(doc, 'link.end')
    expect(rejection(withEvent(doc, i, { child: 'nobody' })).message).toMatch(path(`$.events[${i}].child`))
    expect(rejection(withEvent(doc, i, { child: 'nobody' })).message).toMatch(/no nested document has the id "nobody"/)
    // Unnamed: the event that named nested[0] no longer does.
    const { child: _child, ...plain } = doc.events[i] as { child?: string }
    const unnamed = { ...doc, events: doc.events.map((e, k) => (k === i ? plain : e)) }
    expect(rejection(unnamed).message).toMatch(path('$.nested[0].run.id'))
    expect(rejection(unnamed).message).toMatch(/no event names run/)
  })

  it('refuses duplicate ids and cycles', async () => {
    const doc = await base()
    const nested = doc.nested as RunDocument[]
    // The same document twice.
    expect(rejection({ ...doc, nested: [...nested, nested[0]] }).message).toMatch(path(`$.nested[${nested.length}].run.id`))
    // A nested run with the parent's id.
    const own = { ...nested[1], run: { ...nested[1]?.run, id: doc.run.id } }
    const renamed = { ...withEvent(doc, at(doc, 'link.end', 1), { child: doc.run.id }), nested: nested.map((d, k) => (k === 1 ? own : d)) }
    expect(rejection(renamed).message).toMatch(path('$.nested[1].run.id'))
    expect(rejection(renamed).message).toMatch(/cycle/)
    // A grand-child with its grand-parent's id: the path goes through both levels.
    const loyal = nested[0] as RunDocument
    const j = at(loyal, 'link.end')
    const cyclic = {
      ...withEvent(loyal, j, { child: doc.run.id }),
      nested: [{ ...(loyal.nested as RunDocument[])[0], run: { ...(loyal.nested as RunDocument[])[0]?.run, id: doc.run.id } }],
    }
    expect(rejection({ ...doc, nested: nested.map((d, k) => (k === 0 ? cyclic : d)) }).message).toMatch(path('$.nested[0].nested[0].run.id'))
  })

  it('refuses child on an event type that cannot have it, and a non-string child', async () => {
    const doc = await base()
    const start = doc.events.findIndex((e) => e.type === 'link.start')
    const named = (nested: RunDocument | undefined) => (nested as RunDocument).run.id
    expect(rejection(withEvent(doc, start, { child: named(doc.nested?.[0]) })).message).toMatch(path(`$.events[${start}].child`))
    const i = at(doc, 'link.end')
    expect(rejection(withEvent(doc, i, { child: 42 })).message).toMatch(path(`$.events[${i}].child`))
    expect(rejection(withEvent(doc, i, { child: '' })).message).toMatch(path(`$.events[${i}].child`))
  })

  it('validates every nested document fully, with its path', async () => {
    const doc = await base()
    const nested = doc.nested as RunDocument[]
    const change = (k: number, d: RunDocument) => ({ ...doc, nested: nested.map((n, m) => (m === k ? d : n)) })
    const tally = nested[1] as RunDocument
    const e = tally.events.findIndex((ev) => ev.type === 'link.end')
    const badPatch = withEvent(tally, e, { ctx: [{ op: 'replace', path: ['__proto__'], value: 1 }] })
    expect(rejection(change(1, badPatch)).message).toMatch(path(`$.nested[1].events[${e}].ctx[0].path[0]`))
    expect(rejection(change(1, { ...tally, version: 99 } as unknown as RunDocument)).message).toMatch(path('$.nested[1].version'))
    expect(rejection(change(1, { ...tally, format: 'x' } as unknown as RunDocument)).message).toMatch(path('$.nested[1].format'))
    expect(rejection(change(1, { ...tally, extra: 1 } as unknown as RunDocument)).message).toMatch(path('$.nested[1]'))
    expect(rejection(change(1, { ...tally, events: tally.events.slice(0, -1) })).message).toMatch(/^\$\.nested\[1\]\.events\[\d+\]\.type: the last event must be run\.end/)
    // Branch patches of a grand-child: the path goes through both levels.
    const loyal = nested[0] as RunDocument
    const grand = (loyal.nested as RunDocument[])[0] as RunDocument
    const g = grand.events.findIndex((ev) => ev.type === 'link.end')
    const deep = { ...loyal, nested: [withEvent(grand, g, { ctx: [{ op: 'remove', path: ['missing'] }] })] }
    expect(rejection(change(0, deep)).message).toMatch(path(`$.nested[0].nested[0].events[${g}].ctx[0]`))
    expect(rejection({ ...doc, nested: 'x' }).message).toMatch(path('$.nested'))
    expect(rejection({ ...doc, nested: [null] }).message).toMatch(path('$.nested[0]'))
  })

  it('refuses nesting deeper than the limit (100 levels by default, maxNesting)', async () => {
    const doc = await base()
    // Level k is the loyalty document renamed 'lk', its stamp link naming level k + 1.
    const loyal = (doc.nested as RunDocument[])[0] as RunDocument
    const j = at(loyal, 'link.end')
    const leaf = (loyal.nested as RunDocument[])[0] as RunDocument
    const levels = (n: number): RunDocument => {
      let inner: RunDocument = leaf
      for (let k = n; k >= 1; k--) inner = { ...withEvent(loyal, j, { child: inner.run.id }), run: { ...loyal.run, id: `l${k}` }, nested: [inner] }
      return inner
    }
    const top = (n: number): RunDocument => {
      const first = levels(n - 1)
      const i = at(doc, 'link.end')
      return { ...withEvent(doc, i, { child: first.run.id }), nested: (doc.nested as RunDocument[]).map((d, k) => (k === 0 ? first : d)) }
    }
    // 100 levels load; 101 do not.
    const ok = Run.fromJSON(top(100))
    let run: Run<unknown> | undefined = ok
    let depth = 0
    while (run !== undefined && run.timeline.nested.size > 0) {
      run = [...run.timeline.nested.values()][0] as Run<unknown>
      depth++
    }
    expect(depth).toBe(100)
    expect(rejection(top(101)).message).toMatch(/^\$(\.nested\[0\]){100}\.nested: nested runs go deeper than 100 levels/)
    expect(() => Run.fromJSON(top(3), { maxNesting: 2 })).toThrow(/^\$\.nested\[0\]\.nested\[0\]\.nested: nested runs go deeper than 2 levels/)
  })
})
