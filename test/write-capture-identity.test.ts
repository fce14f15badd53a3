// Write capture without a map entry per draft read: a draft read from a wrapper is found again in
// that wrapper's own list until an object is written through the capture; from then on every
// wrapper is also kept by target. Reads give the same wrapper from every place a draft is, as
// reading the draft itself would, and writes through any of them are reported.
import { createDraft, enableMapSet, finishDraft, isDraft } from 'immer'
import { describe, expect, it } from 'vitest'
import { recordWrites, type WriteOp } from '../src/record/write-capture.js'

enableMapSet()

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
