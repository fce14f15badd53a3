import { describe, expect, it } from 'vitest'
import { emptyState, snapshot } from '../src/record/snapshot.js'

describe('snapshot', () => {
  it('returns the previous snapshot when nothing changed, and shares unchanged subtrees', () => {
    const working = { a: 1, nested: { b: [1, 2] }, other: { c: 'x' } }
    const first = snapshot(working, emptyState()) as typeof working
    expect(snapshot(working, first)).toBe(first)
    working.nested.b.push(3)
    const second = snapshot(working, first) as typeof working
    expect(second).not.toBe(first)
    expect(second.other).toBe(first.other)
    expect(second.nested.b).toEqual([1, 2, 3])
    expect(first.nested.b).toEqual([1, 2])
  })

  it('freezes deeply, Map and Set included, and leaves the working object writable', () => {
    const working = { m: new Map([['k', { v: 1 }]]), s: new Set([1]), d: new Date(5) }
    const snap = snapshot(working, emptyState()) as typeof working
    expect(Object.isFrozen(snap)).toBe(true)
    expect(Object.isFrozen(snap.m.get('k'))).toBe(true)
    expect(() => snap.m.set('x', { v: 2 })).toThrow(/frozen/)
    expect(() => snap.s.add(2)).toThrow(/frozen/)
    working.m.set('x', { v: 2 })
    expect(snap.m.has('x')).toBe(false)
    expect(snapshot(working, snap)).not.toBe(snap)
  })

  it('detects key removal, undefined values, NaN and -0', () => {
    const prev = snapshot({ a: undefined, n: NaN, z: 0 }, emptyState())
    expect(snapshot({ a: undefined, n: NaN, z: 0 }, prev)).toBe(prev)
    expect(snapshot({ b: undefined, n: NaN, z: 0 }, prev)).not.toBe(prev)
    expect(Object.is((snapshot({ a: undefined, n: NaN, z: -0 }, prev) as { z: number }).z, -0)).toBe(true)
    expect(snapshot({ n: NaN, z: 0 }, prev)).not.toBe(prev)
  })

  it('keeps class instances and frozen values by reference', () => {
    class Span {
      ended = false
    }
    const span = new Span()
    const frozen = Object.freeze({ deep: { x: 1 } })
    const snap = snapshot({ span, frozen }, emptyState()) as { span: Span; frozen: unknown }
    expect(snap.span).toBe(span)
    expect(Object.isFrozen(span)).toBe(false)
    expect(snap.frozen).toBe(frozen)
  })

  it('throws a RangeError on cycles', () => {
    const cyclic: Record<string, unknown> = {}
    cyclic.me = cyclic
    expect(() => snapshot(cyclic, emptyState())).toThrow(/circular/)
  })
})
