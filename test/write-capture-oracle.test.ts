// The write capture (src/record/write-capture.ts) was rewritten for speed; what it records and
// what a link reads through it must not change. This file runs random scripts of reads and writes
// through the current capture and through the capture as it was before (test/write-capture-
// reference.ts, kept unchanged as the oracle), each on its own immer draft of the same state, and
// compares write by write (op, path, value), read by read (what the link sees: values, identity,
// kinds of objects, keys, errors), and the drafts' results and patches.
import * as fc from 'fast-check'
import { createDraft, enableMapSet, enablePatches, finishDraft, type Patch } from 'immer'
import { describe, expect, it } from 'vitest'
import { recordWrites } from '../src/record/write-capture.js'
import { recordWrites as recordWritesBefore } from './write-capture-reference.js'

enablePatches()
enableMapSet()

interface State {
  a: { b: { c?: number }; list: number[] }
  items: { n: number; tags: string[] }[]
  m: Map<string, { x: number }>
  s: Set<number>
  d: Date
  deep: { one: { two: { v: number } } }
  grid: number[][]
  fresh?: { v: number; inner: { w: number }; list: number[] } | undefined
  alias?: unknown
  kept?: unknown
  ro?: { ro: number; fixed: number }
}

/** Sloppy-mode code (a `Function` body is not a module): a refused write or delete is ignored there, not thrown. */
const sloppyWrite = new Function('ctx', 'value', 'ctx.ro.ro = value; delete ctx.ro.fixed; return [ctx.ro.ro, ctx.ro.fixed]') as (ctx: unknown, value: number) => unknown

const base = (): State => ({
  a: { b: { c: 1 }, list: [3, 1, 2] },
  items: [
    { n: 1, tags: ['x'] },
    { n: 2, tags: [] },
  ],
  m: new Map([
    ['j', { x: 1 }],
    ['k', { x: 2 }],
  ]),
  s: new Set([1, 2]),
  d: new Date(1_000),
  deep: { one: { two: { v: 0 } } },
  grid: [[1], [2, 3]],
})

/** What a link sees of a value: comparable across the two captures (no proxy identity). */
function seen(value: unknown): unknown {
  if (typeof value === 'function') return `function ${typeof value}`
  if (typeof value !== 'object' || value === null) return value
  return {
    array: Array.isArray(value),
    map: value instanceof Map,
    set: value instanceof Set,
    date: value instanceof Date,
    proto: Object.getPrototypeOf(value) === Object.prototype ? 'Object' : Object.getPrototypeOf(value) === null ? 'null' : (Object.getPrototypeOf(value) as { constructor?: { name?: string } }).constructor?.name,
    keys: Object.keys(value),
    json: value instanceof Map || value instanceof Set ? JSON.stringify([...value]) : JSON.stringify(value),
  }
}

type Ctx = State
type Action = (ctx: Ctx, r: number, i: number) => unknown

/** Objects a script read and holds on to across actions (each capture its own). */
let held: unknown[] = []
const heldAt = (i: number): Record<string, unknown> | undefined => {
  const h = held[i % Math.max(1, held.length)]
  return typeof h === 'object' && h !== null ? (h as Record<string, unknown>) : undefined
}

/** Each action reads or writes through the wrapped ctx; what it returns is what the link saw. */
const ACTIONS: Action[] = [
  // Objects read and held while their parents are written, replaced, moved or truncated (a
  // wrapper read and not yet drafted must then be the draft the read would have made).
  (ctx) => void held.push(ctx.deep.one),
  (ctx) => void held.push(ctx.items[0]),
  (ctx) => void held.push(ctx.a.b),
  (ctx) => void held.push(ctx.a),
  (ctx) => void held.push(ctx.a.list),
  (_ctx, _r, i) => {
    const h = heldAt(i)
    if (h !== undefined) for (const k of Object.keys(h)) if (typeof h[k] === 'object' && h[k] !== null) held.push(h[k])
  },
  (_ctx, r, i) => {
    const h = heldAt(i)
    if (h !== undefined) h[Array.isArray(h) ? '0' : 'extra'] = r
  },
  (_ctx, r, i) => {
    const h = heldAt(i)
    if (h !== undefined) h['c'] = { deeper: r }
  },
  (_ctx, _r, i) => seen(heldAt(i)),
  (_ctx, _r, i) => {
    const h = heldAt(i)
    return h === undefined ? undefined : [Object.keys(h), h['v'], (h['two'] as { v?: unknown } | undefined)?.v]
  },
  (ctx, _r, i) => void (ctx.alias = heldAt(i)),
  (ctx) => void (ctx.deep = { one: { two: { v: 7 } } }),
  (ctx) => void (ctx.a = { b: {}, list: [] }),
  (ctx, r) => void (ctx.items.length = Math.max(0, r % 2)),
  (ctx) => void ctx.items.reverse(),
  (ctx) => seen(ctx.a),
  (ctx) => seen(ctx.a.b.c),
  (ctx, r) => void (ctx.a.b.c = r),
  (ctx) => void delete ctx.a.b.c,
  (ctx, r) => void (ctx.fresh = { v: r, inner: { w: r }, list: [r] }),
  (ctx, r) => ctx.fresh !== undefined && void (ctx.fresh.inner.w = r),
  (ctx, r) => ctx.fresh !== undefined && ctx.fresh.list.push(r, r + 1),
  (ctx) => void delete ctx.fresh,
  // Aliases: an object read in one place and written to another.
  (ctx) => void (ctx.alias = ctx.a),
  (ctx) => void (ctx.alias = ctx.fresh),
  (ctx, r) => ctx.alias !== undefined && ctx.alias !== null && typeof ctx.alias === 'object' && void ((ctx.alias as { v?: number }).v = r),
  (ctx) => seen(ctx.alias),
  (ctx) => void (ctx.kept = { held: ctx.items[0], list: [ctx.a.list] }),
  (ctx) => seen(ctx.kept),
  // Arrays and their methods.
  (ctx, r) => ctx.a.list.push(r),
  (ctx) => ctx.a.list.pop(),
  (ctx) => ctx.a.list.shift(),
  (ctx, r) => ctx.a.list.unshift(r),
  (ctx, r, i) => ctx.a.list.splice(i % 3, 1, r),
  (ctx) => seen(ctx.a.list.sort()),
  (ctx) => seen(ctx.a.list.reverse()),
  (ctx, r) => seen(ctx.a.list.fill(r, 0, 1)),
  (ctx) => seen(ctx.a.list.copyWithin(0, 1)),
  (ctx, r) => void (ctx.a.list.length = Math.max(0, r)),
  (ctx, r, i) => void (ctx.a.list[i % 4] = r),
  (ctx) => ctx.a.list.map((x) => x * 2),
  (ctx, r, i) => {
    const item = ctx.items[i % 3]
    if (item !== undefined) item.n = r
    return seen(item)
  },
  (ctx, _r, i) => ctx.items[i % 2]?.tags.push('t'),
  (ctx, r) => ctx.items.push({ n: r, tags: [] }),
  (ctx) => {
    let sum = 0
    for (const item of ctx.items) {
      sum += item.n
      item.n += 1
    }
    return sum
  },
  (ctx) => ctx.items.find((item) => item.n > 1)?.tags.length,
  (ctx) => seen(ctx.items.slice(0, 1)),
  (ctx, r, i) => (ctx.grid[i % 2] as number[]).push(r),
  (ctx) => void (ctx.items[0] = ctx.items[0] as State['items'][number]),
  // Maps and Sets.
  (ctx, r, i) => void ctx.m.set(['j', 'k', 'z'][i % 3] as string, { x: r }),
  (ctx, r, i) => {
    const v = ctx.m.get(['j', 'k', 'z'][i % 3] as string)
    if (v !== undefined) v.x = r
    return seen(v)
  },
  (ctx, _r, i) => ctx.m.delete(['j', 'k', 'z'][i % 3] as string),
  (ctx) => void ctx.m.clear(),
  (ctx) => {
    for (const [, v] of ctx.m) v.x += 1
  },
  (ctx) => ctx.m.forEach((v) => void (v.x += 10)),
  (ctx) => [...ctx.m.values()].map((v) => v.x),
  (ctx) => [...ctx.m.keys()],
  (ctx) => ctx.m.size,
  (ctx, r) => void ctx.s.add(r),
  (ctx, r) => ctx.s.delete(r),
  (ctx) => void ctx.s.clear(),
  (ctx) => [...ctx.s],
  (ctx) => ctx.s.has(1),
  // Dates.
  (ctx, r) => void (ctx.d = new Date(r * 1_000)),
  (ctx) => seen(ctx.d),
  (ctx) => ctx.d.getTime(),
  // Identity, keys, membership, serialisation.
  (ctx) => [ctx.a === ctx.a, ctx.items[0] === ctx.items[0], ctx.deep.one === ctx.deep.one, ctx.m.get('j') === ctx.m.get('j'), ctx.alias === ctx.a],
  (ctx) => [Object.keys(ctx.a), 'b' in ctx.a, 'zz' in ctx.a, Object.keys(ctx)],
  (ctx) => JSON.stringify(ctx.deep),
  (ctx) => seen(ctx.deep.one.two),
  (ctx, r) => void (ctx.deep.one.two.v = r),
  (ctx) => void (ctx.deep.one = { two: { v: 9 } }),
  (ctx) => void (ctx.a.b = ctx.a.b),
  // Keys that are not array indexes, on an array and an object.
  (ctx, r) => void ((ctx.a.list as unknown as Record<string, number>)['01'] = r),
  (ctx, r) => void ((ctx.a.list as unknown as Record<string, number>)['1.0'] = r),
  (ctx, r) => void ((ctx.a as unknown as Record<symbol, number>)[Symbol.for('key')] = r),
  // The ctx itself, held somewhere in it: the same wrapper, stored as the draft.
  (ctx) => {
    ctx.kept = { root: ctx }
    const same = (ctx.kept as { root: unknown }).root === ctx
    delete ctx.kept
    return same
  },
  // A container the link made with a property it cannot write or delete: refused, as without
  // capture (ignored in sloppy code, thrown in strict code).
  (ctx, r) => {
    const o = {}
    Object.defineProperty(o, 'ro', { value: 1, writable: false, enumerable: true, configurable: true })
    Object.defineProperty(o, 'fixed', { value: 2, writable: true, enumerable: true, configurable: false })
    ctx.ro = o as NonNullable<State['ro']>
    // (Its keys are not listed: a wrapper of an object with a non-configurable property cannot
    // report it, before the rewrite as after.)
    return [sloppyWrite(ctx, r), ctx.ro?.ro, ctx.ro?.fixed]
  },
  (ctx, r) => ctx.ro !== undefined && void (ctx.ro.ro = r),
  // A container the link made, read through the ctx, then frozen through the link's own hold
  // on it: read as it is afterwards (no longer wrapped).
  (ctx) => {
    const o = { inner: { w: 1 } }
    ctx.fresh = o as unknown as State['fresh']
    const first = (ctx.fresh as unknown as typeof o).inner
    Object.freeze(o.inner)
    const second = (ctx.fresh as unknown as typeof o).inner
    return [first.w, second.w, first === second, Object.isFrozen(second)]
  },
  // A container the link made, then froze: read as it is afterwards.
  (ctx) => {
    if (ctx.fresh === undefined) return undefined
    Object.freeze((ctx as unknown as { fresh: unknown }).fresh)
    return seen(ctx.fresh)
  },
]

/** Runs a script through one capture on a fresh draft: every write, every read, the result. */
function perform(record: typeof recordWrites, script: readonly (readonly [number, number, number])[]) {
  const writes: { op: string; path: readonly (string | number)[]; value: unknown }[] = []
  const reads: unknown[] = []
  held = []
  const draft = createDraft(base())
  const ctx = record(draft as object, (op, path, value) => void writes.push({ op, path: [...path], value })) as Ctx
  for (const [action, r, i] of script) {
    try {
      reads.push(ACTIONS[action % ACTIONS.length]!(ctx, r, i))
    } catch (error) {
      reads.push(`threw ${(error as Error).constructor.name}`)
    }
  }
  let patches: Patch[] = []
  let inverse: Patch[] = []
  const result = finishDraft(draft, (p, q) => {
    patches = p
    inverse = q
  })
  return { writes, reads, result, patches, inverse }
}

describe('write capture: the same as before its rewrite', () => {
  it('property: random scripts record the same writes, read the same values and end in the same state', () => {
    const step = fc.tuple(fc.nat(ACTIONS.length - 1), fc.integer({ min: -2, max: 5 }), fc.nat(5))
    fc.assert(
      fc.property(fc.array(step, { maxLength: 25 }), (script) => {
        const now = perform(recordWrites, script)
        const before = perform(recordWritesBefore, script)
        expect(now.reads).toEqual(before.reads)
        expect(now.writes).toEqual(before.writes)
        // Array indexes stay numbers, keys strings: toEqual tells 1 from '1'.
        expect(now.writes.map((w) => w.path.map((k) => typeof k))).toEqual(before.writes.map((w) => w.path.map((k) => typeof k)))
        expect(now.result).toEqual(before.result)
        expect(now.patches).toEqual(before.patches)
        expect(now.inverse).toEqual(before.inverse)
      }),
      { numRuns: 400 },
    )
  })

  it('every action, alone and after every other, on both captures', () => {
    for (let a = 0; a < ACTIONS.length; a++) {
      for (let b = 0; b < ACTIONS.length; b++) {
        const script = [[a, 3, 1] as const, [b, 4, 2] as const, [a, 2, 0] as const]
        const now = perform(recordWrites, script)
        const before = perform(recordWritesBefore, script)
        expect({ reads: now.reads, writes: now.writes, result: now.result, patches: now.patches, inverse: now.inverse }, `actions ${a}, ${b}`).toEqual({
          reads: before.reads,
          writes: before.writes,
          result: before.result,
          patches: before.patches,
          inverse: before.inverse,
        })
      }
    }
  })
})
