// Write capture without a map entry per draft read: a draft read from a wrapper is found again in
// that wrapper's own list until an object is written through the capture; from then on every
// wrapper is also kept by target. Reads give the same wrapper from every place a draft is, as
// reading the draft itself would, and writes through any of them are reported.
import { createDraft, enableMapSet, enablePatches, finishDraft, isDraft, type Patch } from 'immer'
import { describe, expect, it } from 'vitest'
import { recordWrites, type WriteOp } from '../src/record/write-capture.js'

enableMapSet()
enablePatches()

type Tree = Record<string, any>

function capture(base: Tree): { ctx: Tree; draft: Tree; writes: [WriteOp, string, unknown][] } {
  const writes: [WriteOp, string, unknown][] = []
  const draft = createDraft(base) as Tree
  const ctx = recordWrites(draft, (op, path, value) => writes.push([op, path.join('.'), value]))
  return { ctx, draft, writes }
}

describe('write capture: wrappers of drafts', () => {
  it('reads a nested draft twice as the same wrapper, and reports writes through it with its path', () => {
    const { ctx, writes } = capture({ a: { b: { c: 1 } }, items: [{ q: 1 }, { q: 2 }] })
    expect(ctx.a).toBe(ctx.a)
    expect(ctx.a.b).toBe(ctx.a.b)
    const items: Tree[] = []
    for (const item of ctx.items) items.push(item)
    expect(items[1]).toBe(ctx.items[1])
    ctx.a.b.c = 2
    items[1]!.q = 3
    expect(writes).toEqual([['set', 'a.b.c', 2], ['set', 'items.1.q', 3]])
  })

  it('gives one wrapper for a draft put in a second place, read before and after', () => {
    const { ctx, draft, writes } = capture({ a: { v: 1 }, other: { deep: {} } })
    const a = ctx.a
    ctx.other.deep.x = a
    expect(ctx.other.deep.x).toBe(a)
    expect(ctx.other.deep.x).toBe(ctx.a)
    ctx.other.deep.x.v = 5
    expect(draft.a.v).toBe(5)
    expect(isDraft(draft.other.deep.x)).toBe(true)
    expect(writes.map(([op, path]) => `${op} ${path}`)).toEqual(['set other.deep.x', 'set a.v'])
    expect(finishDraft(draft)).toEqual({ a: { v: 5 }, other: { deep: { x: { v: 5 } } } })
  })

  it('keeps drafts read before the first object write found from a new place (array push, Map set, Set add)', () => {
    const base = { list: [] as unknown[], a: { v: 1 }, b: { v: 2 }, m: new Map<string, unknown>(), s: new Set<unknown>() }
    const { ctx, draft } = capture(base)
    const a = ctx.a
    const b = ctx.b
    ctx.list.push(a)
    expect(ctx.list[0]).toBe(a)
    ctx.m.set('k', b)
    expect(ctx.m.get('k')).toBe(b)
    const c = { fresh: true }
    ctx.s.add(c)
    ctx.list[1] = { inner: b }
    expect(ctx.list[1].inner).toBe(b)
    expect(ctx.list[1].inner).toBe(ctx.b)
    finishDraft(draft)
  })

  it('finds a raw draft written in two places as one wrapper', () => {
    const { ctx, draft } = capture({ s: new Set([{ id: 1 }]), x: {}, y: { z: {} } })
    const [member] = [...(draft.s as Set<Tree>)]
    expect(isDraft(member)).toBe(true)
    ctx.x.m = member
    ctx.y.z.m = member
    expect(ctx.x.m).toBe(ctx.y.z.m)
    finishDraft(draft)
  })

  it('tells Map and Set drafts apart from object drafts (their own traps)', () => {
    const { ctx, writes, draft } = capture({ m: new Map([['k', { v: 1 }]]), s: new Set([1]) })
    expect(ctx.m instanceof Map).toBe(true)
    expect(ctx.s instanceof Set).toBe(true)
    ctx.m.get('k').v = 2
    ctx.s.add(2)
    expect(writes).toEqual([['set', 'm.k.v', 2], ['set.add', 's', 2]])
    expect(finishDraft(draft)).toEqual({ m: new Map([['k', { v: 2 }]]), s: new Set([1, 2]) })
  })
})

describe('write capture: primitives read past immer', () => {
  it('reads what the draft holds now: before a write, after it, after a delete, inherited, after a nested change', () => {
    const base = Object.freeze({ n: 1, s: 'a', u: undefined, arr: Object.freeze([1, 2, 3]), o: Object.freeze({ x: 1 }) })
    const { ctx, draft } = capture(base)
    expect([ctx.n, ctx.s, ctx.u, ctx.arr.length, ctx.arr[1], ctx.o.x]).toEqual([1, 'a', undefined, 3, 2, 1])
    ctx.n = 2
    ctx.arr.push(4)
    ctx.o.x = 5
    delete ctx.s
    expect([ctx.n, ctx.s, ctx.arr.length, ctx.arr[3], ctx.o.x, 's' in ctx]).toEqual([2, undefined, 4, 4, 5, false])
    expect(typeof ctx.hasOwnProperty).toBe('function')
    expect(ctx.arr.map((v: number) => v * 2)).toEqual([2, 4, 6, 8])
    expect(finishDraft(draft)).toEqual({ n: 2, u: undefined, arr: [1, 2, 3, 4], o: { x: 5 } })
  })

  it('throws on a read once immer revoked the draft, as the draft itself does', () => {
    const { ctx, draft } = capture({ n: 1, o: { x: 1 } })
    const o = ctx.o
    expect(o.x).toBe(1)
    finishDraft(draft)
    expect(() => ctx.n).toThrow(TypeError)
    expect(() => o.x).toThrow(TypeError)
  })

  it('reads a class instance through immer (its getters see the draft)', () => {
    class Point {
      constructor(readonly x: number) {}
      get double(): number {
        return this.x * 2
      }
    }
    const { ctx, draft } = capture({ p: new Point(2) })
    expect(ctx.p.double).toBe(4)
    finishDraft(draft)
  })
})

describe('write capture: drafts read again past immer', () => {
  it('gives the wrapper of the draft a key holds now: after a replace, a move, a null', () => {
    const { ctx, draft, writes } = capture({ o: { x: 1 }, p: { y: 2 }, q: { z: 3 } })
    const o1 = ctx.o
    expect(ctx.o).toBe(o1)
    ctx.o = { fresh: 1 }
    expect(ctx.o).not.toBe(o1)
    expect(ctx.o).toEqual({ fresh: 1 })
    const p = ctx.p
    ctx.o = p
    expect(ctx.o).toBe(p)
    ctx.o.y = 4
    ctx.q = null
    expect(ctx.q).toBe(null)
    expect(writes.map(([op, path, value]) => `${op} ${path} ${JSON.stringify(value)}`)).toEqual(['set o {"fresh":1}', 'set o {"y":2}', 'set p.y 4', 'set q null'])
    expect(finishDraft(draft)).toEqual({ o: { y: 4 }, p: { y: 4 }, q: null })
  })
})

describe('write capture: primitives written past immer into a changed draft', () => {
  type Script = (ctx: Tree) => void
  const sharedFn = (): number => 1
  /** The script on a bare draft and through the capture: results and patches. */
  function both(base: () => Tree, script: Script): { bare: unknown; captured: unknown } {
    const run = (wrap: boolean): unknown => {
      const draft = createDraft(base()) as Tree
      const writes: string[] = []
      script(wrap ? recordWrites(draft, (op, path) => writes.push(`${op} ${path.join('.')}`)) : draft)
      let patches: Patch[] = []
      let inverse: Patch[] = []
      const result = finishDraft(draft, (p, q) => {
        patches = p
        inverse = q
      })
      return { result, patches, inverse, keys: Object.keys(result as object), hasU: Object.hasOwn(result as object, 'u') }
    }
    return { bare: run(false), captured: run(true) }
  }
  const scripts: [string, Script][] = [
    ['the same value again, and back to the base value', (c) => { c.a = 2; c.a = 2; c.b = 'x'; c.b = 'b' }],
    ['undefined to a missing key, then again, and to an existing one', (c) => { c.a = 5; c.u = undefined; c.u = undefined; c.b = undefined; c.b = undefined }],
    ['NaN over NaN, over a number, and a number over NaN', (c) => { c.a = NaN; c.a = NaN; c.n = 1; c.n = NaN }],
    ['keys of Object.prototype: toString, constructor, hasOwnProperty', (c) => { c.a = 1; c['toString'] = 'own'; c['constructor'] = 3; c['hasOwnProperty'] = false }],
    ['__proto__ after a change', (c) => { c.a = 9; c.__proto__ = 5 }],
    ['a symbol key and a function value', (c) => { c.a = 0; c[Symbol.for('k') as unknown as string] = 1; c.f = sharedFn }],
    ['a key deleted, then set again', (c) => { c.a = 3; delete c.b; c.b = 'again'; delete c.a; c.a = undefined }],
    ['a nested draft changed, then its parent written', (c) => { c.o.x = 2; c.o.x = 3; c.a = 7; c.o.y = undefined }],
    ['a new key, then many writes to it', (c) => { c.z = 1; for (let i = 0; i < 5; i++) c.z = i % 2; c.z = -0; c.z = 0 }],
    // A nested read makes immer copy the draft without marking it changed: the first write then
    // marks it (and its parents).
    ['after a nested read, the value it holds', (c) => { void c.o; c.a = 1; c.b = 'b' }],
    ['after a nested read, undefined to a missing key and to an existing one', (c) => { void c.o.x; c.u = undefined; c.b = undefined }],
    ['after a nested read, -0 over 0 and NaN over NaN', (c) => { void c.o; c.zero = -0; c.n = NaN; c.nested = c.o; c.nested = 1 }],
    ['after a nested read, a change deep down marks the parents', (c) => { void c.o.deep.v; c.o.deep.v = 2; c.o.deep.w = 3 }],
    ['after a nested read, a deep write of the value it holds', (c) => { void c.o.deep.v; c.o.deep.v = 1 }],
    ['after a nested read, a first change then a return to the base value', (c) => { void c.o; c.a = 2; c.a = 1 }],
  ]
  for (const [title, script] of scripts) {
    it(`${title}: the same result and patches as immer's own trap`, () => {
      const { bare, captured } = both(() => ({ a: 1, b: 'b', n: NaN, zero: 0, o: { x: 1, deep: { v: 1 } } }), script)
      expect(captured).toEqual(bare)
    })
  }

  it('on a null-prototype object, __proto__ is an ordinary key', () => {
    const base = (): Tree => Object.assign(Object.create(null) as Tree, { a: 1 })
    const { bare, captured } = both(base, (c) => {
      c.a = 2
      c.__proto__ = 5
      c['toString'] = 'mine'
    })
    expect(captured).toEqual(bare)
  })

  it('a setter Object.prototype was given is still called through immer', () => {
    const seen: unknown[] = []
    Object.defineProperty(Object.prototype, 'polluted', { configurable: true, set: (v: unknown) => void seen.push(v), get: () => undefined })
    try {
      const { bare, captured } = both(() => ({ a: 1, polluted: 0 }), (c) => {
        c.a = 2
        c.polluted = 'x'
      })
      expect(captured).toEqual(bare)
      expect(seen).toEqual(['x', 'x'])
    } finally {
      delete (Object.prototype as Tree)['polluted']
    }
  })

  it('a write to a changed draft once immer revoked it throws, as the draft itself does', () => {
    const { ctx, draft } = capture({ n: 1 })
    ctx.n = 2
    finishDraft(draft)
    expect(() => {
      ctx.n = 3
    }).toThrow(TypeError)
  })
})
