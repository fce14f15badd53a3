// The devtools viewer's model (src/present/viewer/, bundled for the page as
// devtools/viewer/model.js), on real documents: runs made by the library, exported with
// run.toJSON() and round-tripped through JSON text, exactly what the page receives from the
// server or from a dropped file. Imported from the bundle's own entry: what is tested here is
// what the page runs.
import { beforeAll, describe, expect, it } from 'vitest'
import { chain, ChainRunError, compareRuns, DocumentError, formatPatch, type Middleware, type Run, type RunDocument } from '../src/index.js'
import {
  changedPaths, compareSteps, eventSubject, eventTime, filterEvents, firstDivergence, forkEdit, forkTree, linkDiff, linkWrites, pathKey,
  prepareRun, rowOfEvent, stateAt, valueText, valueTree, type TreeNode, type ViewerEvent, type ViewerRun,
} from '../src/present/viewer/browser.js'
import { steppingClock } from './helpers.js'

interface Cart {
  items: string[]
  tags: Set<string>
  stock: Map<string, number>
  note: string
  at?: Date
  big?: bigint
  odd?: { nan: number; negZero: number; inf: number; nothing: undefined; dollar: Record<string, number> }
  total?: number
  gone?: boolean
}

const HOSTILE = '<img src=x onerror=alert(1)>'
const cart = (): Cart => ({ items: ['a', 'b', 'c'], tags: new Set(['x', 'y']), stock: new Map([['a', 1], ['b', 2]]), note: HOSTILE, gone: true })

/** Chain-level: counts links in mwctx, a metric per link. */
const counter: Middleware = {
  name: 'counter',
  before: (e) => void (e.mwctx.count = ((e.mwctx.count as number | undefined) ?? 0) + 1),
  after: (e) => void (e.metrics.seen = e.link.name),
}
const broken: Middleware = {
  name: 'broken',
  after: (e) => {
    if (e.link.name === 'shrink') throw new Error('sink down')
  },
}

/** Touches every kind of patch: object add/replace/remove, array insert/remove, Map set/delete, Set add/delete, tags. */
function cartChain(options: { priceOffset?: number; failLast?: string; extraLink?: boolean } = {}) {
  let c = chain<Cart>('cart', { clock: steppingClock() })
    .link('grow', (ctx) => {
      ctx.items.splice(1, 0, 'inserted')
      ctx.tags.add('z')
      ctx.stock.set('c', 3)
      ctx.at = new Date(Date.UTC(2024, 0, 2))
      ctx.big = 12345678901234567890n
    })
    .link('shrink', (ctx) => {
      ctx.items.shift()
      ctx.tags.delete('x')
      ctx.stock.delete('a')
      delete ctx.gone
      ctx.odd = { nan: NaN, negZero: -0, inf: -Infinity, nothing: undefined, dollar: { $weird: 1 } }
    })
    .link('price', (ctx) => {
      ctx.total = ctx.items.length * 10 + (options.priceOffset ?? 0)
      if (options.failLast !== undefined) throw new Error(options.failLast)
    }, { use: [broken] })
  if (options.extraLink === true) c = c.link('audit', () => {})
  return c.use(counter, broken)
}

/** A `ctx.write` event's op. */
const opOf = (view: ViewerEvent): string | undefined => (view.event.type === 'ctx.write' ? view.event.op : undefined)

/** What the page receives: the document as JSON text, parsed. */
const roundTrip = (run: Run<unknown>): RunDocument => JSON.parse(JSON.stringify(run.toJSON())) as RunDocument

async function failed(promise: Promise<unknown>): Promise<Run<unknown>> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ChainRunError) return error.run as Run<unknown>
    throw error
  }
  throw new Error('expected the run to fail')
}

let original: Run<Cart>
let fork: Run<Cart>
let replay: Run<Cart>
let view: ViewerRun

beforeAll(async () => {
  original = await cartChain().run(cart(), { capture: 'writes', stacks: true })
  fork = await original.fork({ at: 'shrink', edit: (ctx) => void ctx.items.push('edited'), clock: steppingClock(original.endedAt + 1_000_000n) })
  replay = (await original.replay({ chain: cartChain({ priceOffset: 5 }) })).run
  view = prepareRun(roundTrip(original as Run<unknown>))
})

describe('states', () => {
  it.each([
    ['a run with captured writes', () => original],
    ['a fork (prefix, fork edit, own links)', () => fork],
    ['a replay', () => replay],
  ])('rebuilds ctx, mwctx and metrics at every event of %s', (_name, pick) => {
    const run = pick() as Run<unknown>
    const prepared = prepareRun(roundTrip(run))
    expect(prepared.events).toHaveLength(run.timeline.length)
    for (let seq = 0; seq < run.timeline.length; seq++) {
      const live = run.timeline.stateAt(seq)
      expect(prepared.run.timeline.stateAt(seq), `seq ${seq}`).toStrictEqual({ ctx: live.ctx, mwctx: live.mwctx, metrics: live.metrics })
      // Shown as recorded, except at a write (stepped through below).
      if (prepared.events[seq]!.type !== 'ctx.write') expect(stateAt(prepared, seq), `seq ${seq}`).toStrictEqual({ ...live, exact: true })
    }
  })

  it('decodes every tag: bigint, Map, Set, Date, undefined, NaN, -0, ±Infinity, $object, $error, $instance', () => {
    const last = stateAt(view, view.events.length - 1).ctx as Cart
    expect(last.big).toBe(12345678901234567890n)
    expect(last.at).toStrictEqual(new Date(Date.UTC(2024, 0, 2)))
    expect([...last.tags]).toEqual(['y', 'z'])
    expect([...last.stock]).toEqual([['b', 2], ['c', 3]])
    expect(Object.is(last.odd!.negZero, -0) && Number.isNaN(last.odd!.nan) && last.odd!.inf === -Infinity).toBe(true)
    expect('nothing' in last.odd! && last.odd!.nothing === undefined).toBe(true)
    expect(last.odd!.dollar).toStrictEqual({ $weird: 1 })
    // Decoded by the library's reader: tags in a document's states, as the page receives them.
    const withMwctx = (mwctx: unknown) => ({ ...roundTrip(original as Run<unknown>), initial: { ...roundTrip(original as Run<unknown>).initial, mwctx } })
    const tagged = prepareRun(withMwctx({
      e: { $error: { name: 'TypeError', message: 'bad', code: { $bigint: '7' } } },
      p: { $instance: { class: 'Point', fields: { x: { $number: 'Infinity' } } } },
    }))
    const mwctx = tagged.run.timeline.stateAt(0).mwctx as { e: Error & { code: unknown }; p: unknown }
    expect([mwctx.e instanceof Error, mwctx.e.name, mwctx.e.message, mwctx.e.code]).toEqual([true, 'TypeError', 'bad', 7n])
    expect(mwctx.p).toStrictEqual({ x: Infinity })
    expect(() => prepareRun(withMwctx({ p: { $nope: 1 } }))).toThrow(/^\$\.initial\.mwctx\.p\.\$nope: unknown tag/)
    const polluted = JSON.parse(JSON.stringify(withMwctx({})).replace('"mwctx":{', '"mwctx":{"__proto__":{"polluted":true}'))
    expect(() => prepareRun(polluted)).toThrow(/^\$\.initial\.mwctx\.__proto__: .*'__proto__' is not allowed/)
  })

  it('rebuilds states copy-on-write: an earlier state is untouched and unchanged subtrees are shared', () => {
    const price = view.allRows.find((row) => row.name === 'price')!
    const before = stateAt(view, price.startSeq).ctx as Cart
    const after = stateAt(view, price.endSeq).ctx as Cart
    expect([before.total, after.total]).toEqual([undefined, 30])
    expect(after.items).toBe(before.items)
    expect(after.stock).toBe(before.stock)
  })

  it('refuses a document the library refuses, with the library’s error naming the path of the first problem', () => {
    const doc = roundTrip(original as Run<unknown>)
    const refusal = (bad: unknown): DocumentError => {
      try {
        prepareRun(bad)
      } catch (error) {
        if (error instanceof DocumentError) return error
        throw error
      }
      throw new Error('expected the document to be refused')
    }
    expect(refusal({ ...doc, format: 'other' }).message).toMatch(/^\$\.format: .*not a shadowchain run document/)
    expect(refusal({ ...doc, version: 11 }).message).toMatch(/^\$\.version: unsupported version 11/)
    expect(refusal({ ...doc, events: doc.events.slice(0, -1) })).toMatchObject({ path: `$.events[${doc.events.length - 2}].type`, message: expect.stringMatching(/truncated/) })
    expect(refusal([]).message).toMatch(/^\$: .*JSON object/)
    // What the library checks that the page's own decoder once did not: unknown keys in the header.
    expect(refusal({ ...doc, initial: { ...doc.initial, extra: 1 } }).path).toBe('$.initial')
  })
})

describe('waterfall', () => {
  it('has one row per link with the times and durations the library records', () => {
    const { rows, inherited, totalNs } = view
    const links = original.timeline.links()
    expect(inherited).toBe(0)
    expect(totalNs).toBe(original.endedAt - original.startedAt)
    expect(rows.map((row) => [row.name, row.index, row.status, row.linkStart, row.linkEnd, row.linkNs, row.startSeq, row.endSeq])).toEqual(
      links.map((link) => [link.name, link.index, link.status, link.start - original.startedAt, link.end - original.startedAt, link.durationNs, link.startSeq, link.endSeq]),
    )
  })

  it('keeps middleware time apart from the link: one segment per call, inside the step', () => {
    const rows = view.rows
    const price = rows.find((row) => row.name === 'price')!
    // counter before; counter, broken (chain-after) and broken (link-after) after.
    expect(price.segments.map((s) => `${s.name}@${s.position}`)).toEqual(['counter@chain-before', 'broken@link-after', 'counter@chain-after', 'broken@chain-after'])
    const calls = original.timeline.filter({ link: 'price' }).filter((e) => e.type.startsWith('middleware'))
    expect(price.middlewareNs).toBe(calls.reduce((sum, e) => sum + ('durationNs' in e ? e.durationNs : 0n), 0n))
    expect(price.middlewareNs).toBeGreaterThan(0n)
    for (const row of rows) {
      expect(row.stepStart).toBeLessThan(row.linkStart)
      expect(row.stepEnd).toBeGreaterThan(row.linkEnd)
      for (const s of row.segments) expect(s.start >= row.stepStart && s.end <= row.stepEnd && (s.end <= row.linkStart || s.start >= row.linkEnd)).toBe(true)
    }
    const shrink = rows.find((row) => row.name === 'shrink')!
    expect(shrink.segments.filter((s) => s.failed).map((s) => s.name)).toEqual(['broken'])
  })

  it('shows a fork’s own links only, counting the inherited ones, and marks a failed link', async () => {
    const prepared = prepareRun(roundTrip(fork as Run<unknown>))
    const { rows, inherited } = prepared
    expect(rows.map((row) => row.name)).toEqual(['price'])
    expect(inherited).toBe(2)
    expect(prepared.allRows.map((row) => row.name)).toEqual(['grow', 'shrink', 'price'])
    expect(rows[0]!.linkStart).toBeGreaterThanOrEqual(0n)
    const failedRow = prepareRun(roundTrip(await failed(cartChain({ failLast: 'price service down' }).run(cart())))).rows.at(-1)!
    expect([failedRow.name, failedRow.status, (failedRow.error as Error).message]).toEqual(['price', 'error', 'price service down'])
  })
})

describe('event list and trees', () => {
  it('filters events by type, link and middleware', () => {
    expect(filterEvents(view, { type: 'link.end' }).map((e) => e.link?.name)).toEqual(['grow', 'shrink', 'price'])
    expect(filterEvents(view, { link: 'shrink', middleware: 'broken' }).map((e) => e.type)).toEqual(['middleware.error'])
    expect(filterEvents(view, {}).length).toBe(original.timeline.length)
  })

  it('builds trees with paths, type labels and text; deep containers start collapsed', () => {
    const tree = valueTree({ a: { b: { c: { d: 1 } } }, list: [1n], m: new Map([['k', new Date(0)]]), s: new Set([true]), u: undefined, n: null })
    const child = (node: TreeNode, key: string) => node.children!.find((c) => c.key === key)!
    expect(tree.children!.map((c) => `${c.key}:${c.type}`)).toEqual(['a:object', 'list:array(1)', 'm:Map(1)', 's:Set(1)', 'u:undefined', 'n:null'])
    const c = child(child(child(tree, 'a'), 'b'), 'c')
    expect(c.path).toEqual(['a', 'b', 'c'])
    expect([child(tree, 'a').collapsed, child(child(tree, 'a'), 'b').collapsed, c.collapsed]).toEqual([false, false, true])
    expect(child(child(tree, 'list'), '0').text).toBe('1n')
    expect(child(child(tree, 'm'), 'k').text).toBe('1970-01-01T00:00:00.000Z')
    expect(valueTree({ a: { b: { c: { d: 1 } } } }, { changed: new Set([pathKey(['a', 'b', 'c'])]) }).children![0]!.children![0]!.children![0]!.collapsed).toBe(false)
    const many = valueTree(Array.from({ length: 250 }, (_, i) => i), { limit: 100 })
    expect([many.children!.length, many.children!.at(-1)!.text]).toEqual([101, '150 more'])
  })

  it('keeps a hostile string as plain text', () => {
    const node = valueTree(stateAt(view, 0).ctx).children!.find((c) => c.key === 'note')!
    expect([node.type, node.text]).toEqual(['string', JSON.stringify(HOSTILE)])
    expect(valueText(HOSTILE)).toBe('"<img src=x onerror=alert(1)>"')
  })

  it('marks the paths an event changed, with their ancestors and nothing else', () => {
    const end = view.events.find((e) => e.type === 'link.end' && e.link?.name === 'price')!
    const changed = changedPaths(view, end.seq)
    expect([...changed.ctx].sort()).toEqual([pathKey([]), pathKey(['total'])].sort())
    expect(changed.mwctx.size).toBe(0)
    const firstBefore = view.events.find((e) => e.type === 'middleware.before')!
    expect(changedPaths(view, firstBefore.seq).mwctx.has(pathKey(['count']))).toBe(true)
    expect(changedPaths(view, firstBefore.seq).metrics.has(pathKey([]))).toBe(true)
    const tree = valueTree(stateAt(view, end.seq).ctx, { changed: changed.ctx })
    expect(tree.children!.filter((c) => c.changed).map((c) => c.key)).toEqual(['total'])
  })
})

describe('links', () => {
  it('gives a link’s before/after states and its patches as readable lines', () => {
    const rows = view.allRows
    const grow = rows.find((row) => row.name === 'grow')!
    const record = original.timeline.links()[0]!
    const diff = linkDiff(view, grow)
    expect(diff.before).toStrictEqual(record.before)
    expect(diff.after).toStrictEqual(record.after)
    expect(diff.lines).toContain('replace items.1 = "inserted"')
    expect(diff.lines).toContain('add tags.2 = "z"')
    expect(diff.lines).toContain('add big = 12345678901234567890n')
    expect(diff.lines).toHaveLength(record.patches.length)
    expect(diff.changed.has(pathKey(['items']))).toBe(true)
    expect(rowOfEvent(rows, grow.endSeq + 1)).toBe(grow)
    expect(rowOfEvent(rows, 0)).toBeUndefined()
  })

  it('shows the state as of each ctx.write: the link’s writes replayed one by one from its start', () => {
    const writes = view.events.filter((e) => e.type === 'ctx.write')
    const at = (op: string) => stateAt(view, writes.find((e) => e.link?.name === 'shrink' && opOf(e) === op)!.seq).ctx as Cart
    // shrink: shift items, then delete 'x' from tags, then delete 'a' from stock, …
    expect([at('shift').items, [...at('shift').tags], [...at('shift').stock.keys()]]).toEqual([['inserted', 'b', 'c'], ['x', 'y', 'z'], ['a', 'b', 'c']])
    expect([[...at('set.delete').tags], [...at('set.delete').stock.keys()]]).toEqual([['y', 'z'], ['a', 'b', 'c']])
    expect([...at('map.delete').stock.keys()]).toEqual(['b', 'c'])
    expect('gone' in at('map.delete') && !('gone' in at('delete'))).toBe(true)
    // After a link's last write, the state is the link's result, at every link.
    for (const row of view.allRows) {
      const last = writes.filter((e) => e.link?.name === row.name).at(-1)!
      expect(stateAt(view, last.seq)).toMatchObject({ exact: true })
      expect(stateAt(view, last.seq).ctx, row.name).toStrictEqual(original.timeline.stateAt(row.endSeq).ctx)
    }
    // The write's path is what changed there.
    expect([...changedPaths(view, writes.find((e) => opOf(e) === 'map.delete')!.seq).ctx]).toEqual([pathKey([]), pathKey(['stock']), pathKey(['stock', 'a'])])
    // Any other event keeps the document's states.
    expect(stateAt(view, 1)).toStrictEqual({ ...view.run.timeline.stateAt(1), exact: true })
  })

  it('replays writes on a copy, when asked: a write’s own value stays as recorded, a 5,000-push link costs nothing on load', async () => {
    const run = await chain<{ list: number[]; box?: { id: string } }>('pushes')
      .link('fill', (ctx) => {
        for (let i = 0; i < 5_000; i++) ctx.list.push(i)
        ctx.box = { id: 'a' }
        ctx.box.id = 'b'
      })
      .run({ list: [] }, { capture: 'writes' })
    const prepared = prepareRun(roundTrip(run as Run<unknown>))
    const writes = prepared.events.filter((e) => e.type === 'ctx.write')
    expect(writes).toHaveLength(5_002)
    expect(stateAt(prepared, writes.at(-1)!.seq).ctx).toStrictEqual(run.ctx)
    expect(stateAt(prepared, writes.at(-2)!.seq).ctx).toMatchObject({ box: { id: 'a' } })
    const written = writes.at(-2)!.event
    expect(written.type === 'ctx.write' && written.value).toStrictEqual({ id: 'a' })
    expect((stateAt(prepared, writes[9]!.seq).ctx as { list: number[] }).list).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  })

  it('lists a link’s ctx.write events with their call sites', () => {
    const shrink = view.allRows.find((row) => row.name === 'shrink')!
    const writes = linkWrites(view, shrink)
    expect(writes.map((w) => `${w.op} ${w.path}`)).toEqual(['shift items', 'set.delete tags', 'map.delete stock.a', 'delete gone', 'set odd'])
    expect(writes.every((w) => w.stack?.includes('devtools-prepare.test.ts'))).toBe(true)
    expect(writes[1]!.value).toBe('"x"')
    expect(linkWrites(prepareRun(roundTrip(replay as Run<unknown>)), shrink)).toEqual([])
  })
})

describe('lineage and comparison', () => {
  it('builds the fork tree of the loaded runs; a run whose parent is missing is a root', () => {
    const runs = [fork, replay, original].map((run) => prepareRun(roundTrip(run as Run<unknown>)))
    const tree = forkTree(runs)
    expect(tree.map((node) => [node.run.id, node.kind])).toEqual([[original.id, 'root']])
    expect(tree[0]!.children.map((node) => [node.run.id, node.kind])).toEqual([[fork.id, 'fork'], [replay.id, 'replay']])
    const orphans = forkTree(runs.slice(0, 2))
    expect(orphans.map((node) => [node.kind, node.missingParent])).toEqual([['fork', original.id], ['replay', original.id]])
  })

  it('names a fork by the link it was cut after and times inherited events from the parent’s start, never negative', async () => {
    const prepared = prepareRun(roundTrip(fork as Run<unknown>))
    const cut = prepared.events[prepared.forkSeq]!
    expect([cut.type, prepared.forkAfter, cut.after]).toEqual(['fork', 'shrink', 'shrink'])
    expect(eventSubject(cut)).toBe(`from ${original.id.slice(-8)} after 'shrink'`)
    expect(prepared.events[0]!.t).toBeLessThan(0n)
    const times = prepared.events.map((event) => eventTime(prepared, event))
    expect(times.filter((time) => time.text.startsWith('-'))).toEqual([])
    expect(times.map((time) => time.inherited)).toEqual(prepared.events.map((event) => event.seq < prepared.forkSeq))
    // Inherited: as in the parent's own timeline.
    expect(times.slice(0, prepared.forkSeq).map((time) => time.ns)).toEqual(view.events.slice(0, prepared.forkSeq).map((event) => event.t))
    // A replay of a fork has the same own part.
    const replayed = prepareRun(roundTrip((await fork.replay()).run as Run<unknown>))
    expect(replayed.events[replayed.forkSeq]!.type).toBe('fork')
    expect(replayed.rows.map((row) => row.name)).toEqual(['price'])
  })

  it('shows a fork’s edit at its fork event: before, after, and the edit’s patches', () => {
    const prepared = prepareRun(roundTrip(fork as Run<unknown>))
    const edit = forkEdit(prepared, prepared.forkSeq)
    expect(edit.cutAfter).toBe('shrink')
    expect(edit.lines).toEqual(['add items.3 = "edited"'])
    expect((edit.before as Cart).items).toEqual(['inserted', 'b', 'c'])
    expect((edit.after as Cart).items).toEqual(['inserted', 'b', 'c', 'edited'])
    expect(edit.changed.has(pathKey(['items', 3]))).toBe(true)
  })

  it('compares in the order a run meets things: its input, each fork edit at its place among the links, the links, then how it ended', async () => {
    const steps = (run: ViewerRun) => compareSteps(run).map((step) => (step.kind === 'link' ? step.name : step.kind))
    expect(steps(view)).toEqual(['input', 'grow', 'shrink', 'price'])
    expect(steps(prepareRun(roundTrip(fork as Run<unknown>)))).toEqual(['input', 'grow', 'shrink', 'edit', 'price'])
    const before = await original.fork({ at: 0, edit: (ctx) => void (ctx.note = 'early'), clock: steppingClock(original.endedAt + 1_000_000n) })
    expect(steps(prepareRun(roundTrip(before as Run<unknown>)))).toEqual(['input', 'edit', 'grow', 'shrink', 'price'])
    // Every link agrees, the runs ended differently: a middleware failed with safe: false.
    const plain = chain<{ n: number }>('ends').link('inc', (ctx) => void (ctx.n += 1))
    const ok = prepareRun(roundTrip((await plain.run({ n: 1 })) as Run<unknown>))
    const sink: Middleware = { name: 'sink', after: () => { throw new Error('sink down') } }
    const notOk = prepareRun(roundTrip(await failed(plain.use(sink).run({ n: 1 }, { safe: false }))))
    expect(firstDivergence(ok, notOk)).toMatchObject({ reason: 'status', index: 1, a: undefined, b: undefined })
  })

  it('compares a run with its fork: the edit is the first difference, as compareRuns says', () => {
    const prepared = prepareRun(roundTrip(fork as Run<unknown>))
    const library = compareRuns(original, fork)!
    const divergence = firstDivergence(view, prepared)!
    expect([divergence.reason, divergence.index, divergence.link]).toEqual([library.reason, 2, library.link?.name])
    expect([divergence.a, divergence.b?.kind, divergence.b?.lines, divergence.lines]).toEqual([undefined, 'edit', ['add items.3 = "edited"'], ['add items.3 = "edited"']])
    const reverse = firstDivergence(prepared, view)!
    expect([reverse.reason, reverse.a?.kind, reverse.b, reverse.lines]).toEqual(['fork', 'edit', undefined, ['remove items.3']])
    expect(firstDivergence(prepared, prepareRun(roundTrip(fork as Run<unknown>)))).toBeUndefined()
  })

  it('compares runs of different inputs: the input is the first difference, before any link', async () => {
    const other = await cartChain({ priceOffset: 5 }).run({ ...cart(), note: 'other' })
    const divergence = firstDivergence(view, prepareRun(roundTrip(other as Run<unknown>)))!
    const library = compareRuns(original, other)
    expect([divergence.reason, library?.reason]).toEqual(['input', 'input'])
    // The library's own account of what changed (compareRuns' patches, formatPatch's lines): the
    // note only, though each input's Set of tags is another object (here, decoded on its own).
    expect(divergence.lines).toEqual(library?.reason === 'input' ? library.patches.map(formatPatch) : [])
    expect(divergence.lines).toEqual(['replace note = "other"'])
    expect([divergence.a?.kind, divergence.b?.kind]).toEqual(['input', 'input'])
  })

  it('finds the first divergence with a run of a changed chain, as compareRuns does', async () => {
    const changed = prepareRun(roundTrip(replay as Run<unknown>))
    const divergence = firstDivergence(view, changed)!
    const library = compareRuns(original, replay)!
    expect([divergence.index, divergence.reason, divergence.b?.name]).toEqual([2, library.reason, library.link?.name])
    expect([divergence.a?.lines, divergence.b?.lines]).toEqual([['add total = 30'], ['add total = 35']])
    expect(firstDivergence(view, prepareRun(roundTrip((await cartChain().run(cart())) as Run<unknown>)))).toBeUndefined()
    const failing = prepareRun(roundTrip(await failed(cartChain({ failLast: 'price service down' }).run(cart()))))
    expect(firstDivergence(view, failing)).toMatchObject({ index: 2, reason: 'error', b: { message: 'price service down' } })
    const failingOtherwise = prepareRun(roundTrip(await failed(cartChain({ failLast: 'timeout' }).run(cart()))))
    expect(firstDivergence(failing, failingOtherwise)).toMatchObject({ index: 2, reason: 'error', a: { message: 'price service down' }, b: { message: 'timeout' } })
    const failingAlike = prepareRun(roundTrip(await failed(cartChain({ failLast: 'price service down' }).run(cart()))))
    expect(firstDivergence(failing, failingAlike)).toBeUndefined()
    const longer = prepareRun(roundTrip((await cartChain({ extraLink: true }).run(cart())) as Run<unknown>))
    expect(firstDivergence(view, longer)).toMatchObject({ index: 3, reason: 'link', a: undefined, b: { name: 'audit' } })
  })
})
