// capture: 'writes' (DESIGN §5): every single write a link makes to its draft becomes a
// `ctx.write` event (op, path, value, own timestamp, optional call site), the final ctx is the
// same as under 'timeline', `timeline.writesTo(path)` answers who changed a field, and run files
// carry the events (with redaction).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import * as fc from 'fast-check'
import { isDraft } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, Run } from '../src/index.js'
import type { CaptureLevel, CtxWriteTimelineEvent, LinkEndTimelineEvent, TimelineEvent } from '../src/index.js'

const THIS_FILE = fileURLToPath(import.meta.url)
const SOURCE_LINES = readFileSync(THIS_FILE, 'utf8').split('\n')

/** A clock that advances 1 µs at every reading. */
function stepping(): { now: () => bigint } {
  let t = 1_700_000_000_000_000_000n
  return { now: () => (t += 1000n) }
}

function writesOf<C>(events: readonly TimelineEvent<C>[]): CtxWriteTimelineEvent<C>[] {
  return events.filter((e): e is CtxWriteTimelineEvent<C> => e.type === 'ctx.write')
}

/** op, path, value of each write: what a reader of the timeline compares. */
function summary<C>(events: readonly TimelineEvent<C>[]): { op: string; path: readonly (string | number)[]; value: unknown }[] {
  return writesOf(events).map((e) => ({ op: e.op, path: e.path, value: e.value }))
}

function linkEnds<C>(events: readonly TimelineEvent<C>[]): LinkEndTimelineEvent<C>[] {
  return events.filter((e): e is LinkEndTimelineEvent<C> => e.type === 'link.end')
}

/** Where `new Error()` was created in this file: its line and column (`_written`: a write made on the same line). */
function siteOf(error: Error, _written?: unknown): { line: number; column: number } {
  for (const frame of (error.stack ?? '').split('\n')) {
    if (!frame.includes(`${THIS_FILE}:`)) continue
    const match = /:(\d+):(\d+)\)?$/.exec(frame.trim())
    if (match !== null) return { line: Number(match[1]), column: Number(match[2]) }
  }
  throw new Error(`no frame of ${THIS_FILE} in ${error.stack ?? '(no stack)'}`)
}

const escapeRe = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
const STACK_RE = new RegExp(`^${escapeRe(THIS_FILE)}:(\\d+):(\\d+)$`)

// ---- 1. what is recorded, in order ------------------------------------------------------------

interface Shop {
  a: { b: { c: number } }
  gone?: string
  list: number[]
  items: { name: string; price: number }[]
  m: Map<string, { x: number }>
  byId: Map<number, string>
  tags: Set<string>
}

const shopInput = (): Shop => ({
  a: { b: { c: 0 } },
  gone: 'bye',
  list: [3, 1, 2],
  items: [
    { name: 'book', price: 10 },
    { name: 'pen', price: 2 },
  ],
  m: new Map([
    ['j', { x: 1 }],
    ['z', { x: 0 }],
  ]),
  byId: new Map([[1, 'one']]),
  tags: new Set(['old', 'keep']),
})

const shop = chain<Shop>('shop')
  .link('edit', (ctx) => {
    ctx.a.b.c = 1
    delete ctx.gone
    ctx.list[1] = 20
    ctx.list.push(4, 5)
    ctx.list.splice(0, 1, 9)
    ctx.list.sort()
    ctx.m.set('k', { x: 2 })
    ctx.m.get('j')!.x = 7
    ctx.m.delete('z')
    ctx.byId.set(7, 'seven')
    ctx.tags.add('new')
    ctx.tags.delete('old')
  })
  .link('clear', (ctx) => {
    ctx.m.clear()
    ctx.tags.clear()
    for (const item of ctx.items) item.price += 1
    ctx.items[0]!.price = 5
  })

describe("capture: 'writes' records every write", () => {
  it('with op, path and value, in order', async () => {
    const run = await shop.run(shopInput(), { capture: 'writes', clock: stepping() })
    expect(summary(run.timeline.events)).toEqual([
      { op: 'set', path: ['a', 'b', 'c'], value: 1 },
      { op: 'delete', path: ['gone'], value: undefined },
      { op: 'set', path: ['list', 1], value: 20 },
      { op: 'push', path: ['list'], value: [4, 5] },
      { op: 'splice', path: ['list'], value: [0, 1, 9] },
      { op: 'sort', path: ['list'], value: [] },
      { op: 'map.set', path: ['m', 'k'], value: { x: 2 } },
      { op: 'set', path: ['m', 'j', 'x'], value: 7 },
      { op: 'map.delete', path: ['m', 'z'], value: undefined },
      { op: 'map.set', path: ['byId', 7], value: 'seven' },
      { op: 'set.add', path: ['tags'], value: 'new' },
      { op: 'set.delete', path: ['tags'], value: 'old' },
      { op: 'map.clear', path: ['m'], value: undefined },
      { op: 'set.clear', path: ['tags'], value: undefined },
      { op: 'set', path: ['items', 0, 'price'], value: 11 },
      { op: 'set', path: ['items', 1, 'price'], value: 3 },
      { op: 'set', path: ['items', 0, 'price'], value: 5 },
    ])
    // Array indexes are numbers, as in immer patches; object keys stay strings.
    const writes = writesOf(run.timeline.events)
    expect(typeof writes[2]!.path[1]).toBe('number')
    expect(typeof writes[14]!.path[1]).toBe('number')
    expect(run.ctx).toEqual({
      a: { b: { c: 1 } },
      list: [2, 20, 4, 5, 9], // default sort: as strings
      items: [
        { name: 'book', price: 5 },
        { name: 'pen', price: 3 },
      ],
      m: new Map(),
      byId: new Map([
        [1, 'one'],
        [7, 'seven'],
      ]),
      tags: new Set(),
    })
  })

  it('each write has its own timestamp and seq, inside its own link', async () => {
    const run = await shop.run(shopInput(), { capture: 'writes', clock: stepping() })
    const events = run.timeline.events
    events.forEach((e, i) => expect(e.seq).toBe(i))
    const writes = writesOf(events)
    expect(writes).toHaveLength(17)
    for (let i = 1; i < writes.length; i++) {
      expect(writes[i]!.seq).toBeGreaterThan(writes[i - 1]!.seq)
      expect(writes[i]!.t).toBeGreaterThan(writes[i - 1]!.t)
    }
    const records = run.timeline.links()
    expect(records.map((r) => r.name)).toEqual(['edit', 'clear'])
    const perLink = records.map((record) => {
      const own = writes.filter((e) => e.link === record.link)
      for (const e of own) {
        expect(e.seq).toBeGreaterThan(record.startSeq)
        expect(e.seq).toBeLessThan(record.endSeq)
        expect(e.t).toBeGreaterThan(record.start)
        expect(e.t).toBeLessThan(record.end)
        expect(e.link.name).toBe(record.name)
      }
      // Nothing but this link's writes between its start and end.
      expect(events.slice(record.startSeq + 1, record.endSeq)).toEqual(own)
      return own.length
    })
    expect(perLink).toEqual([12, 5])
  })

  // BUG: recordWrites' mapMember() (src/write-capture.ts) binds every Map member other than
  // set/delete/clear/get to the raw draft map (`value.bind(map)`), so entries reached by iterating
  // (for…of, values(), entries(), forEach) are unwrapped drafts: writes to them are not reported.
  it('writes to Map values reached by iteration are recorded with the map key in the path', async () => {
    const run = await chain<{ m: Map<string, { x: number }> }>('iterate', { capture: 'writes' })
      .link('each', (ctx) => {
        for (const [, v] of ctx.m) v.x += 1
        for (const v of ctx.m.values()) v.x += 1
        ctx.m.forEach((v) => void (v.x += 1))
      })
      .run({ m: new Map([['j', { x: 0 }]]) })
    expect(run.ctx.m.get('j')).toEqual({ x: 3 })
    expect(summary(run.timeline.events)).toEqual([
      { op: 'set', path: ['m', 'j', 'x'], value: 1 },
      { op: 'set', path: ['m', 'j', 'x'], value: 2 },
      { op: 'set', path: ['m', 'j', 'x'], value: 3 },
    ])
  })

  it('records the writes a link made before it threw', async () => {
    const failing = chain<{ n: number; m: number }>('fail', { capture: 'writes' }).link('boom', (ctx) => {
      ctx.n = 1
      ctx.m = 2
      throw new Error('no')
    })
    const run = await failing.run({ n: 0, m: 0 }).catch((e: { run: Run<{ n: number; m: number }> }) => e.run)
    expect(run.status).toBe('error')
    expect(run.ctx).toEqual({ n: 0, m: 0 })
    expect(run.timeline.events.map((e) => e.type)).toEqual(['run.start', 'link.start', 'ctx.write', 'ctx.write', 'link.error', 'run.end'])
  })
})

// ---- 2. the value recorded is the value at write time --------------------------------------

describe('ctx.write values', () => {
  interface Doc {
    orig: { q: number; deep: { r: number } }
    copy?: { q: number; deep: { r: number } }
    list: unknown[]
    n: number
  }
  const input = (): Doc => ({ orig: { q: 1, deep: { r: 1 } }, list: [], n: 0 })

  it('a draft subtree assigned elsewhere is recorded as a plain value, frozen at write time', async () => {
    const run = await chain<Doc>('values', { capture: 'writes' })
      .link('copy', (ctx) => {
        ctx.copy = ctx.orig
        ctx.list.push(ctx.orig.deep)
        ctx.orig.q = 2
        ctx.orig.deep.r = 2
        ctx.n = 1
        ctx.n = 2
      })
      .run(input())
    const writes = writesOf(run.timeline.events)
    expect(writes.map((e) => e.op)).toEqual(['set', 'push', 'set', 'set', 'set', 'set'])
    const [copy, push] = writes
    // Readable after the run (no revoked proxy), and as it was when written.
    expect(isDraft(copy!.value)).toBe(false)
    expect(copy!.value).toEqual({ q: 1, deep: { r: 1 } })
    expect(JSON.parse(JSON.stringify(copy!.value))).toEqual({ q: 1, deep: { r: 1 } })
    expect(push!.value).toEqual([{ r: 1 }])
    expect(writes.slice(2).map((e) => e.value)).toEqual([2, 2, 1, 2])
    // The chain computed what it would without capture.
    expect(run.ctx.copy).toEqual({ q: 2, deep: { r: 2 } })
    expect(run.ctx.list).toEqual([{ r: 2 }])
  })

  // BUG: snapshotOf() in src/write-capture.ts only undrafts the top level of a value; a plain object
  // holding a draft keeps the (wrapped) draft, which immer revokes when the link ends. If immer's
  // finalize does not happen to patch that object in place (here: it left the ctx again), the
  // event holds a revoked proxy: reading it throws, and so does run.toJSON().
  it('a plain object holding a draft is recorded with the draft resolved (readable and exportable later)', async () => {
    const run = await chain<Doc & { tmp?: { inner: unknown } }>('nested', { capture: 'writes' })
      .link('tmp', (ctx) => {
        ctx.tmp = { inner: ctx.orig }
        delete ctx.tmp
      })
      .run(input())
    const [set] = writesOf(run.timeline.events)
    expect(set!.path).toEqual(['tmp'])
    expect(() => JSON.stringify(set!.value)).not.toThrow()
    expect(set!.value).toEqual({ inner: { q: 1, deep: { r: 1 } } })
    expect(() => JSON.stringify(run.toJSON())).not.toThrow()
  })

  // BUG: immer does not draft objects a link created itself, so `ctx.customer.email` reads the
  // plain object back and recordWrites' `child()` (src/write-capture.ts, `isDraft(value) ? wrap…
  // : value`) hands it out unwrapped: writes into it are never reported.
  it('writes into an object or array the link assigned itself are recorded', async () => {
    const run = await chain<{ customer?: { name: string; email?: string }; tags?: string[] }>('fresh', { capture: 'writes' })
      .link('signup', (ctx) => {
        ctx.customer = { name: 'ada' }
        ctx.customer.email = 'ada@example.com'
        ctx.tags = []
        ctx.tags.push('vip')
      })
      .run({})
    expect(run.ctx).toEqual({ customer: { name: 'ada', email: 'ada@example.com' }, tags: ['vip'] })
    expect(summary(run.timeline.events).map(({ op, path }) => ({ op, path }))).toEqual([
      { op: 'set', path: ['customer'] },
      { op: 'set', path: ['customer', 'email'] },
      { op: 'set', path: ['tags'] },
      { op: 'push', path: ['tags'] },
    ])
  })

  // BUG: snapshotOf() records a plain value by reference, so a later write into that same object
  // (which the draft holds as is) rewrites the earlier event's value after the fact.
  it("a later write into an assigned object does not change the earlier event's value", async () => {
    const run = await chain<{ customer?: { name: string; email?: string } }>('fresh2', { capture: 'writes' })
      .link('signup', (ctx) => {
        ctx.customer = { name: 'ada' }
        ctx.customer.email = 'ada@example.com'
      })
      .run({})
    const [first] = writesOf(run.timeline.events)
    expect(first!.path).toEqual(['customer'])
    expect(first!.value).toEqual({ name: 'ada' })
  })
})

// ---- 3. async links ------------------------------------------------------------------------

describe('async links', () => {
  it('writes after an await are recorded, stamped inside the link', async () => {
    const run = await chain<{ a: number; b: number; list: number[] }>('async', { capture: 'writes', clock: stepping() })
      .link('slow', async (ctx) => {
        ctx.a = 1
        await new Promise((resolve) => setTimeout(resolve, 2))
        ctx.b = 2
        await Promise.resolve()
        ctx.list.push(3)
      })
      .link('after', async (ctx) => {
        await new Promise((resolve) => setTimeout(resolve, 1))
        ctx.a += 10
      })
      .run({ a: 0, b: 0, list: [] })
    expect(run.ctx).toEqual({ a: 11, b: 2, list: [3] })
    expect(summary(run.timeline.events)).toEqual([
      { op: 'set', path: ['a'], value: 1 },
      { op: 'set', path: ['b'], value: 2 },
      { op: 'push', path: ['list'], value: [3] },
      { op: 'set', path: ['a'], value: 11 },
    ])
    const [slow, after] = run.timeline.links()
    const writes = writesOf(run.timeline.events)
    for (const [e, record] of [
      [writes[0], slow],
      [writes[1], slow],
      [writes[2], slow],
      [writes[3], after],
    ] as const) {
      expect(e!.link).toBe(record!.link)
      expect(e!.t > record!.start && e!.t < record!.end).toBe(true)
      expect(e!.seq > record!.startSeq && e!.seq < record!.endSeq).toBe(true)
    }
  })
})

// ---- 4. stacks ------------------------------------------------------------------------------

describe('stacks: true', () => {
  interface S {
    o: { v: number; w?: number }
    list: number[]
    m: Map<string, number>
    s: Set<number>
  }
  const input = (): S => ({ o: { v: 0, w: 1 }, list: [0], m: new Map(), s: new Set() })

  it("gives each write the file:line:column of the write statement in this file", async () => {
    const sites: { line: number; column: number }[] = []
    const mark = (error: Error, _written?: unknown): void => void sites.push(siteOf(error))
    // Each write is an argument next to a marker Error on the same line: the recorded line must be that line.
    const run = await chain<S>('stacks', { capture: 'writes', stacks: true })
      .link('one', (ctx) => {
        mark(new Error(), (ctx.o.v = 1))
        mark(new Error(), ctx.list.push(2))
        mark(new Error(), (ctx.list[0] = 3))
        mark(new Error(), delete ctx.o.w)
      })
      .link('two', async (ctx) => {
        mark(new Error(), ctx.m.set('k', 1))
        await Promise.resolve()
        mark(new Error(), ctx.s.add(4))
      })
      .run(input())
    const writes = writesOf(run.timeline.events)
    expect(writes).toHaveLength(6)
    expect(sites).toHaveLength(6)
    const snippets = ['ctx.o.v = 1', 'ctx.list.push(2)', 'ctx.list[0] = 3', 'delete ctx.o.w', "ctx.m.set('k', 1)", 'ctx.s.add(4)']
    writes.forEach((e, i) => {
      expect(e.stack).toMatch(STACK_RE)
      const [, line, column] = STACK_RE.exec(e.stack!)!
      expect(Number(line)).toBe(sites[i]!.line)
      expect(SOURCE_LINES[Number(line) - 1]).toContain(snippets[i])
      // The write comes after its marker on the line.
      expect(Number(column)).toBeGreaterThan(sites[i]!.column)
    })
  })

  it('points at the writing line inside a helper function of this file', async () => {
    let site = 0
    const bump = (o: { v: number }): void => {
      site = siteOf(new Error(), (o.v += 1)).line
    }
    const run = await chain<S>('helper', { capture: 'writes', stacks: true })
      .link('viaHelper', (ctx) => bump(ctx.o))
      .run(input())
    const [e] = writesOf(run.timeline.events)
    expect(e!.path).toEqual(['o', 'v'])
    expect(e!.stack).toMatch(STACK_RE)
    expect(Number(STACK_RE.exec(e!.stack!)![1])).toBe(site)
  })

  it('without stacks, ctx.write events have no stack field', async () => {
    for (const options of [{}, { stacks: false }] as const) {
      const run = await chain<S>('nostack', { capture: 'writes', ...options })
        .link('one', (ctx) => {
          ctx.o.v = 1
          ctx.s.add(1)
        })
        .run(input())
      const writes = writesOf(run.timeline.events)
      expect(writes).toHaveLength(2)
      for (const e of writes) expect('stack' in e).toBe(false)
    }
  })
})

// ---- 5. same computation as 'timeline' --------------------------------------------------------

/** Per link: is the ctx object kept, and which top-level children are kept (immer's sharing). */
function sharing<C>(run: Run<C>): [string, boolean, string[]][] {
  return run.timeline.links().map((r) => {
    const before = r.before as Record<string, unknown>
    const after = r.after as Record<string, unknown>
    return [r.name, before === after, Object.keys(after).filter((k) => after[k] === before[k])]
  })
}

async function runAt<C>(c: ReturnType<typeof chain<C>>, input: C, capture: CaptureLevel): Promise<Run<C>> {
  return c.run(input, { capture })
}

describe("'writes' computes exactly what 'timeline' computes", () => {
  it('same final ctx and same patches on every link.end', async () => {
    const c = shop.link('more', (ctx) => {
      ctx.a = { b: { c: ctx.a.b.c + 1 } }
      ctx.items.splice(1, 1)
      ctx.items.unshift({ name: 'ink', price: 1 })
      ctx.items.reverse()
      ctx.list.sort((x, y) => y - x)
      ctx.list.length = 2
      ctx.byId.set(1, 'uno')
      // Self-assignments of drafts are no-ops for immer: no patch either way.
      ctx.tags = ctx.tags
      ctx.items[0] = ctx.items[0]!
    })
    const writes = await runAt(c, shopInput(), 'writes')
    const timeline = await runAt(c, shopInput(), 'timeline')
    expect(writes.ctx).toEqual(timeline.ctx)
    const a = linkEnds(writes.timeline.events)
    const b = linkEnds(timeline.timeline.events)
    expect(a).toHaveLength(3)
    expect(a.map((e) => [e.link.name, e.patches, e.inversePatches])).toEqual(b.map((e) => [e.link.name, e.patches, e.inversePatches]))
    expect(Object.isFrozen(writes.ctx)).toBe(true)
    expect(sharing(writes)).toEqual(sharing(timeline))
    expect(writesOf(writes.timeline.events).filter((e) => e.link.name === 'more').map((e) => `${e.op} ${e.path.join('.')}`)).toEqual([
      'set a',
      'splice items',
      'unshift items',
      'reverse items',
      'sort list',
      'set list.length',
      'map.set byId.1',
      'set tags',
      'set items.0',
    ])
  })

  // Edit scripts: each edit is exactly one write.
  type Leaf = number | string | { n: number }
  type Key = 'a' | 'b' | 'z'
  type Edit =
    | { op: 'set'; nested: boolean; key: Key; value: Leaf }
    | { op: 'delete'; nested: boolean; key: Key }
    | { op: 'push'; values: number[] }
    | { op: 'splice'; start: number; deleteCount: number; items: number[] }
    | { op: 'mapSet'; key: string; value: number }
    | { op: 'setAdd'; value: number }
  interface Box {
    obj: { a?: Leaf; b?: Leaf; z?: Leaf; c: { a?: Leaf; b?: Leaf; z?: Leaf } }
    list: number[]
    map: Map<string, number>
    set: Set<number>
  }
  const keyArb = fc.constantFrom<Key>('a', 'b', 'z')
  const leafArb: fc.Arbitrary<Leaf> = fc.oneof(fc.integer(), fc.string({ maxLength: 3 }), fc.record({ n: fc.integer() }))
  const smallInts = fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 3 })
  const editArb: fc.Arbitrary<Edit> = fc.oneof(
    fc.record({ op: fc.constant('set' as const), nested: fc.boolean(), key: keyArb, value: leafArb }),
    fc.record({ op: fc.constant('delete' as const), nested: fc.boolean(), key: keyArb }),
    fc.record({ op: fc.constant('push' as const), values: smallInts }),
    fc.record({ op: fc.constant('splice' as const), start: fc.integer({ min: -4, max: 6 }), deleteCount: fc.nat(3), items: smallInts }),
    fc.record({ op: fc.constant('mapSet' as const), key: fc.constantFrom('k1', 'k2', 'k3'), value: fc.integer() }),
    fc.record({ op: fc.constant('setAdd' as const), value: fc.integer({ min: 0, max: 5 }) }),
  )
  const clone = (v: Leaf): Leaf => (typeof v === 'object' ? { ...v } : v)

  /** Performs one edit: exactly one write to `box`. */
  function perform(box: Box, edit: Edit): void {
    switch (edit.op) {
      case 'set':
        ;(edit.nested ? box.obj.c : box.obj)[edit.key] = clone(edit.value)
        return
      case 'delete':
        delete (edit.nested ? box.obj.c : box.obj)[edit.key]
        return
      case 'push':
        box.list.push(...edit.values)
        return
      case 'splice':
        box.list.splice(edit.start, edit.deleteCount, ...edit.items)
        return
      case 'mapSet':
        box.map.set(edit.key, edit.value)
        return
      case 'setAdd':
        box.set.add(edit.value)
        return
    }
  }
  /** The ctx.write each edit must give. */
  function expected(edit: Edit): { op: string; path: (string | number)[]; value: unknown } {
    const at = (nested: boolean, key: Key): string[] => (nested ? ['obj', 'c', key] : ['obj', key])
    switch (edit.op) {
      case 'set':
        return { op: 'set', path: at(edit.nested, edit.key), value: edit.value }
      case 'delete':
        return { op: 'delete', path: at(edit.nested, edit.key), value: undefined }
      case 'push':
        return { op: 'push', path: ['list'], value: edit.values }
      case 'splice':
        return { op: 'splice', path: ['list'], value: [edit.start, edit.deleteCount, ...edit.items] }
      case 'mapSet':
        return { op: 'map.set', path: ['map', edit.key], value: edit.value }
      case 'setAdd':
        return { op: 'set.add', path: ['set'], value: edit.value }
    }
  }
  const boxInput = (): Box => ({ obj: { a: 1, c: { b: 'x' } }, list: [1, 2, 3], map: new Map([['k1', 1]]), set: new Set([1]) })

  it('keeps untouched subtrees shared exactly as immer does, also for no-op self-assignments', async () => {
    const c = chain<Shop>('noop').link('self', (ctx) => {
      ctx.tags = ctx.tags
      ctx.items[0] = ctx.items[0]!
      ctx.a.b.c = ctx.a.b.c
    })
    const w = await runAt(c, shopInput(), 'writes')
    const t = await runAt(c, shopInput(), 'timeline')
    expect(writesOf(w.timeline.events)).toHaveLength(3)
    expect(sharing(t)).toEqual([['self', true, ['a', 'gone', 'list', 'items', 'm', 'byId', 'tags']]])
    expect(sharing(w)).toEqual(sharing(t))
    expect(linkEnds(w.timeline.events)[0]!.patches).toEqual([])
  })

  it('property: random edit scripts give the same ctx and patches, and one ctx.write per edit', async () => {
    const linksArb = fc.array(fc.record({ async: fc.boolean(), edits: fc.array(editArb, { maxLength: 6 }) }), { minLength: 1, maxLength: 4 })
    await fc.assert(
      fc.asyncProperty(linksArb, async (links) => {
        let c = chain<Box>('script')
        links.forEach((spec, i) => {
          c = c.link(
            `l${i}`,
            spec.async
              ? async (ctx) => {
                  await Promise.resolve()
                  for (const edit of spec.edits) perform(ctx as Box, edit)
                }
              : (ctx) => {
                  for (const edit of spec.edits) perform(ctx as Box, edit)
                },
          )
        })
        const w = await runAt(c, boxInput(), 'writes')
        const t = await runAt(c, boxInput(), 'timeline')
        const model = boxInput()
        for (const spec of links) for (const edit of spec.edits) perform(model, edit)
        expect(w.ctx).toEqual(t.ctx)
        expect(w.ctx).toEqual(model)
        expect(linkEnds(w.timeline.events).map((e) => [e.patches, e.inversePatches])).toEqual(
          linkEnds(t.timeline.events).map((e) => [e.patches, e.inversePatches]),
        )
        const all = links.flatMap((spec) => spec.edits)
        expect(sharing(w)).toEqual(sharing(t))
        expect(writesOf(w.timeline.events)).toHaveLength(all.length)
        expect(summary(w.timeline.events)).toEqual(all.map(expected))
        // Each link's writes sit between its own start and end.
        for (const record of w.timeline.links()) {
          const own = w.timeline.events.slice(record.startSeq + 1, record.endSeq)
          expect(own.every((e) => e.type === 'ctx.write' && e.link === record.link)).toBe(true)
          expect(own).toHaveLength(links[record.index]!.edits.length)
        }
      }),
      { numRuns: 100 },
    )
  })
})

// ---- 6. writesTo ----------------------------------------------------------------------------

describe('timeline.writesTo', () => {
  interface Account {
    customer: { name: string; email: string }
    customerNote: string
    items: { name: string; price: number }[]
    total: number
  }
  const account = chain<Account>('account', { clock: stepping() })
    .link('signup', (ctx) => {
      ctx.customer.email = 'a@example.com'
      ctx.customer.name = 'Ada'
      ctx.customerNote = 'vip'
      ctx.items[0]!.price = 5
      ctx.items[1]!.price = 6
    })
    .link('import', (ctx) => {
      ctx.customer = { name: 'B', email: 'b@example.com' }
      ctx.total = 11
    })
    .link('reprice', (ctx) => {
      ctx.items[0] = { name: 'book', price: 7 }
      ctx.items[1]!.name = 'ink'
    })
    .link('untouched', (ctx) => {
      ctx.total = 12
    })
  const input = (): Account => ({
    customer: { name: 'a', email: 'old@example.com' },
    customerNote: '',
    items: [
      { name: 'book', price: 1 },
      { name: 'pen', price: 2 },
    ],
    total: 0,
  })
  const describeWrites = (events: readonly TimelineEvent<Account>[]): string[] =>
    events.map((e) => (e.type === 'ctx.write' ? `${e.link.name} ${e.op} ${e.path.join('.')}` : `${e.type} ${'link' in e ? e.link?.name : ''}`))

  it("under 'writes': writes to the path, to its parents and inside it, nothing else", async () => {
    const run = await account.run(input(), { capture: 'writes' })
    const t = run.timeline
    expect(describeWrites(t.writesTo('customer.email'))).toEqual(['signup set customer.email', 'import set customer'])
    expect(t.writesTo(['customer', 'email'])).toEqual(t.writesTo('customer.email'))
    expect(describeWrites(t.writesTo('customer'))).toEqual(['signup set customer.email', 'signup set customer.name', 'import set customer'])
    expect(describeWrites(t.writesTo(['items', 0, 'price']))).toEqual(['signup set items.0.price', 'reprice set items.0'])
    expect(describeWrites(t.writesTo('items.0.price'))).toEqual(describeWrites(t.writesTo(['items', 0, 'price'])))
    expect(describeWrites(t.writesTo(['items', 1]))).toEqual(['signup set items.1.price', 'reprice set items.1.name'])
    expect(describeWrites(t.writesTo('total'))).toEqual(['import set total', 'untouched set total'])
    expect(t.writesTo('nothing.here')).toEqual([])
    // Answers are the timeline's own events: when (t), who (link), what (value).
    for (const e of t.writesTo('customer.email')) expect(t.at(e.seq)).toBe(e)
    const [first, second] = t.writesTo('customer.email') as CtxWriteTimelineEvent<Account>[]
    expect(first!.value).toBe('a@example.com')
    expect(second!.value).toEqual({ name: 'B', email: 'b@example.com' })
    expect(first!.t).toBeLessThan(second!.t)
  })

  it("with stacks, writesTo also says from where", async () => {
    const run = await account.run(input(), { capture: 'writes', stacks: true })
    const [e] = run.timeline.writesTo('customerNote') as CtxWriteTimelineEvent<Account>[]
    expect(e!.stack).toMatch(STACK_RE)
    expect(SOURCE_LINES[Number(STACK_RE.exec(e!.stack!)![1]) - 1]).toContain("ctx.customerNote = 'vip'")
  })

  it("under 'timeline': falls back to the link.end events whose patches touch the path", async () => {
    const run = await account.run(input(), { capture: 'timeline' })
    const t = run.timeline
    expect(describeWrites(t.writesTo('customer.email'))).toEqual(['link.end signup', 'link.end import'])
    expect(describeWrites(t.writesTo(['items', 0, 'price']))).toEqual(['link.end signup', 'link.end reprice'])
    expect(describeWrites(t.writesTo('total'))).toEqual(['link.end import', 'link.end untouched'])
    expect(t.writesTo('nothing')).toEqual([])
  })

  // BUG: Timeline.writesTo (src/timeline.ts) answers from ctx.write events only as soon as the run
  // has any; a link that returned a replacement makes no ctx.write, so its change is lost — and
  // the same link IS found (via link.end) when no other link happened to write. Expected: the
  // replacing link's link.end is among the answers in a 'writes' run too.
  it("under 'writes': a link that returned a replacement is still found", async () => {
    const run = await chain<{ a: number; z?: number }>('replace', { capture: 'writes' })
      .link('write', (ctx) => {
        ctx.a = 1
      })
      .link('replace', (ctx) => ({ ...ctx, z: 2 }))
      .run({ a: 0 })
    expect(run.ctx).toEqual({ a: 1, z: 2 })
    expect(run.timeline.writesTo('z').map((e) => [e.type, 'link' in e ? e.link?.name : undefined])).toEqual([['link.end', 'replace']])
  })
})

// ---- 7. returning the draft or a replacement -----------------------------------------------

describe('links that return the draft or a replacement', () => {
  interface R {
    n: number
    nested: { a: number; deep: { b: number } }
    list: number[]
    m: Map<string, { v: number }>
    x?: number
  }
  const input = (): R => ({ n: 0, nested: { a: 1, deep: { b: 2 } }, list: [1], m: new Map([['k', { v: 1 }]]) })
  const variants: [string, ReturnType<typeof chain<R>>][] = [
    ['returns the draft', chain<R>('r1').link('self', (ctx) => {
      ctx.n = 1
      return ctx
    })],
    ['returns the draft asynchronously', chain<R>('r2').link('self', async (ctx) => {
      await Promise.resolve()
      ctx.nested.deep.b = 3
      return ctx
    })],
    ['returns the untouched draft', chain<R>('r3').link('self', (ctx) => ctx)],
    ['spreads the draft', chain<R>('r4').link('spread', (ctx) => ({ ...ctx, x: 1 }))],
    ['spreads the draft and a child', chain<R>('r5').link('spread', (ctx) => ({ ...ctx, nested: { ...ctx.nested, a: 9 }, list: [...ctx.list, 2] }))],
    ['spreads asynchronously', chain<R>('r6').link('spread', async (ctx) => {
      await Promise.resolve()
      return { ...ctx, x: 2 }
    })],
  ]

  for (const [title, c] of variants) {
    it(`${title}: same final ctx and patches as under 'timeline'`, async () => {
      const w = await runAt(c.link('then', (ctx) => void (ctx.nested.deep.b += 10)), input(), 'writes')
      const t = await runAt(c.link('then', (ctx) => void (ctx.nested.deep.b += 10)), input(), 'timeline')
      expect(w.status).toBe('ok')
      expect(w.ctx).toEqual(t.ctx)
      expect(linkEnds(w.timeline.events).map((e) => e.patches)).toEqual(linkEnds(t.timeline.events).map((e) => e.patches))
      // No draft or wrapper leaks into the result: it is frozen plain data, readable after the run.
      expect(isDraft(w.ctx) || isDraft(w.ctx.nested) || isDraft(w.ctx.nested.deep) || isDraft(w.ctx.m.get('k'))).toBe(false)
      expect(Object.isFrozen(w.ctx.nested.deep)).toBe(true)
      expect(JSON.parse(JSON.stringify({ ...w.ctx, m: [...w.ctx.m] }))).toEqual(JSON.parse(JSON.stringify({ ...t.ctx, m: [...t.ctx.m] })))
    })
  }
})

// ---- 8. run files ----------------------------------------------------------------------------

describe('run files', () => {
  it('a writes+stacks run round-trips through JSON text with every ctx.write intact', async () => {
    const run = await shop.run(shopInput(), { capture: 'writes', stacks: true, clock: stepping() })
    const text = JSON.stringify(run.toJSON())
    const back = Run.fromJSON<Shop>(JSON.parse(text))
    const before = writesOf(run.timeline.events)
    const after = writesOf(back.timeline.events)
    expect(before).toHaveLength(17)
    expect(after).toHaveLength(before.length)
    after.forEach((e, i) => {
      const o = before[i]!
      expect(e.seq).toBe(o.seq)
      expect(e.t).toBe(o.t)
      expect(e.op).toBe(o.op)
      expect(e.path).toEqual(o.path)
      expect(typeof e.path[1]).toBe(typeof o.path[1])
      expect(e.value).toEqual(o.value)
      expect(e.stack).toBe(o.stack)
      expect(e.stack).toMatch(STACK_RE)
      expect(e.link.name).toBe(o.link.name)
      expect(e.ctx).toEqual(o.ctx)
    })
    expect(back.timeline.writesTo('m.j.x').map((e) => e.seq)).toEqual(run.timeline.writesTo('m.j.x').map((e) => e.seq))
    expect(back.ctx).toEqual(run.ctx)
  })

  it('redact hides secrets written on, inside or above a redacted path', async () => {
    interface Pay {
      card?: string | { number: string }
      payment: { card: string; amount: number }
      vault: Map<string, string>
      amount: number
    }
    const run = await chain<Pay>('pay', { capture: 'writes', stacks: true })
      .link('charge', (ctx) => {
        ctx.card = 'SECRET-1111'
        ctx.payment.card = 'SECRET-2222'
        ctx.amount = 42
      })
      .link('replace', (ctx) => {
        ctx.payment = { card: 'SECRET-3333', amount: 5 }
        ctx.card = { number: 'SECRET-4444' }
        ctx.vault.set('card', 'SECRET-5555')
      })
      .run({ payment: { card: 'none', amount: 0 }, vault: new Map(), amount: 0 })
    expect(writesOf(run.timeline.events)).toHaveLength(6)
    const doc = run.toJSON({ redact: [['card'], ['payment', 'card'], ['vault', 'card']] })
    const text = JSON.stringify(doc)
    expect(text).not.toContain('SECRET')
    const back = Run.fromJSON<Pay>(JSON.parse(text))
    const writes = summary(back.timeline.events)
    expect(writes.map((e) => [e.path, e.value])).toEqual([
      [['card'], '[REDACTED]'],
      [['payment', 'card'], '[REDACTED]'],
      [['amount'], 42],
      [['payment'], '[REDACTED]'],
      [['card'], '[REDACTED]'],
      [['vault', 'card'], '[REDACTED]'],
    ])
  })
})

// ---- 9. other capture levels -------------------------------------------------------------------

describe("capture 'off' and 'timeline'", () => {
  for (const capture of ['off', 'timeline'] as const) {
    it(`'${capture}' records no ctx.write and computes the same ctx`, async () => {
      const run = await shop.run(shopInput(), { capture, stacks: true })
      expect(run.timeline.events.filter((e) => e.type === 'ctx.write')).toEqual([])
      const writes = await shop.run(shopInput(), { capture: 'writes' })
      expect(run.ctx).toEqual(writes.ctx)
    })
  }
  it('the chain default applies and a run option overrides it', async () => {
    const c = chain<{ n: number }>('defaults', { capture: 'writes' }).link('w', (ctx) => void (ctx.n = 1))
    expect(writesOf((await c.run({ n: 0 })).timeline.events)).toHaveLength(1)
    expect(writesOf((await c.run({ n: 0 }, { capture: 'timeline' })).timeline.events)).toHaveLength(0)
  })
})
