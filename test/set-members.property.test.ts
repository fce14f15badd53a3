// Sets and Maps holding objects, through random chains: export then import gives the same states
// at every seq (Set members in their order), the viewer's reader agrees, and timeline.diff
// between any two moments folds, forwards and backwards, live and imported. Map entries are
// compared, not their order: an entry deleted and set again within one link moves to the end
// live, and immer records no change of order (docs/run-format.md §4.2); nor is member order kept
// by immer's applyPatches, so the diff checks compare Set members too.
import fc from 'fast-check'
import { applyPatches, enableMapSet, enablePatches } from 'immer'
import type { Objectish } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, Run, type Chain } from '../src/index.js'
import { prepareRun } from '../src/present/viewer/browser.js'

enablePatches()
enableMapSet()

interface Member {
  id: number
  n?: number
}
type Item = Member | number | Date
interface Ctx {
  s: Set<Item>
  m: Map<string, Member | Set<Member>>
}

type Op =
  | { kind: 'add' | 'addPrimitive' | 'addDate'; id: number }
  | { kind: 'delete' | 'readd'; at: number }
  | { kind: 'mutate'; at: number; n: number }
  | { kind: 'clear' }
  | { kind: 'mapSet' | 'mapSetOfSet' | 'innerAdd'; key: string; id: number }
  | { kind: 'mapDelete' | 'innerDelete'; key: string }
  | { kind: 'mapMutate'; key: string; n: number }

const id = fc.nat(5)
const key = fc.constantFrom('x', 'y')
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constantFrom('add', 'addPrimitive', 'addDate'), id }),
  fc.record({ kind: fc.constantFrom('delete', 'readd'), at: fc.nat() }),
  fc.record({ kind: fc.constant('mutate'), at: fc.nat(), n: fc.nat(9) }),
  fc.record({ kind: fc.constant('clear') }),
  fc.record({ kind: fc.constantFrom('mapSet', 'mapSetOfSet', 'innerAdd'), key, id }),
  fc.record({ kind: fc.constantFrom('mapDelete', 'innerDelete'), key }),
  fc.record({ kind: fc.constant('mapMutate'), key, n: fc.nat(9) }),
) as fc.Arbitrary<Op>

function nth<T>(set: Set<T>, at: number): T | undefined {
  return set.size === 0 ? undefined : [...set][at % set.size]
}

function apply(ctx: Ctx, op: Op): void {
  switch (op.kind) {
    case 'add':
      return void ctx.s.add({ id: op.id })
    case 'addPrimitive':
      return void ctx.s.add(op.id)
    case 'addDate':
      return void ctx.s.add(new Date(op.id))
    case 'delete': {
      const member = nth(ctx.s, op.at)
      if (member !== undefined) ctx.s.delete(member)
      return
    }
    case 'readd': {
      // Moves the member to the end of the iteration order.
      const member = nth(ctx.s, op.at)
      if (member !== undefined) ctx.s.delete(member)
      if (member !== undefined) ctx.s.add(member)
      return
    }
    case 'mutate': {
      const member = nth(ctx.s, op.at)
      if (typeof member === 'object' && !(member instanceof Date)) member.n = op.n
      return
    }
    case 'clear':
      return ctx.s.clear()
    case 'mapSet':
      return void ctx.m.set(op.key, { id: op.id })
    case 'mapSetOfSet':
      return void ctx.m.set(op.key, new Set([{ id: op.id }]))
    case 'innerAdd': {
      const inner = ctx.m.get(op.key)
      if (inner instanceof Set) inner.add({ id: op.id })
      return
    }
    case 'mapDelete':
      return void ctx.m.delete(op.key)
    case 'innerDelete': {
      const inner = ctx.m.get(op.key)
      const first = inner instanceof Set ? nth(inner, 0) : undefined
      if (inner instanceof Set && first !== undefined) inner.delete(first)
      return
    }
    case 'mapMutate': {
      const value = ctx.m.get(op.key)
      if (value !== undefined && !(value instanceof Set)) value.n = op.n
      return
    }
  }
}

function build(links: readonly (readonly Op[])[]): Chain<Ctx> {
  let c = chain<Ctx>('sets')
  links.forEach((ops, i) => {
    c = c.link(`l${i}`, (ctx) => {
      for (const op of ops) apply(ctx as Ctx, op)
    })
  })
  return c
}

const initialArb = fc.record({
  s: fc.array(fc.oneof(id.map((n) => ({ id: n }) as Item), id), { maxLength: 4 }),
  m: fc.array(fc.tuple(key, id), { maxLength: 2 }),
})

/** A state as plain data: Map entries sorted, Set members in order (or sorted), Dates as times. */
function shape(value: unknown, setOrder = true): unknown {
  if (value instanceof Date) return { date: value.getTime() }
  if (value instanceof Set) {
    const members = [...value].map((member) => JSON.stringify(shape(member, setOrder)))
    return { set: setOrder ? members : members.sort() }
  }
  if (value instanceof Map) return { map: [...value].map(([k, v]) => JSON.stringify([k, shape(v, setOrder)])).sort() }
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, shape((value as Record<string, unknown>)[k], setOrder)]))
  }
  return value
}

describe('Sets and Maps holding objects', () => {
  it('export then import gives identical states at every seq, and the viewer agrees', async () => {
    await fc.assert(
      fc.asyncProperty(initialArb, fc.array(fc.array(opArb, { maxLength: 5 }), { minLength: 1, maxLength: 5 }), async (initial, links) => {
        const input: Ctx = { s: new Set(initial.s), m: new Map(initial.m.map(([k, n]) => [k, { id: n }])) }
        const run = await build(links).run(input)
        const text = JSON.stringify(run.toJSON())
        const back = Run.fromJSON<Ctx>(JSON.parse(text))
        const view = prepareRun(JSON.parse(text))
        expect(back.timeline.length).toBe(run.timeline.length)
        run.timeline.events.forEach((event, i) => {
          expect(shape(back.timeline.events[i]!.ctx)).toEqual(shape(event.ctx))
          expect(shape(view.run.timeline.stateAt(i).ctx)).toEqual(shape(event.ctx))
        })
      }),
      { numRuns: 150 },
    )
  })

  it('timeline.diff(a, b) applied to stateAt(a) gives stateAt(b), both ways, live and imported', async () => {
    await fc.assert(
      fc.asyncProperty(
        initialArb,
        fc.array(fc.array(opArb, { maxLength: 5 }), { minLength: 1, maxLength: 5 }),
        fc.nat(),
        fc.nat(),
        async (initial, links, x, y) => {
          const input: Ctx = { s: new Set(initial.s), m: new Map(initial.m.map(([k, n]) => [k, { id: n }])) }
          const run = await build(links).run(input)
          const back = Run.fromJSON<Ctx>(JSON.parse(JSON.stringify(run.toJSON())))
          for (const r of [run, back]) {
            const t = r.timeline
            const [a, b] = [x % t.length, y % t.length]
            const state = (seq: number) => t.stateAt(seq).ctx as Objectish
            expect(shape(applyPatches(state(a), t.diff(a, b)), false)).toEqual(shape(state(b), false))
            expect(shape(applyPatches(state(b), t.diff(b, a)), false)).toEqual(shape(state(a), false))
            expect(shape(applyPatches(state(0), t.diff(0, t.length - 1)), false)).toEqual(shape(r.ctx, false))
            expect(shape(applyPatches(r.ctx as Objectish, t.diff(t.length - 1, 0)), false)).toEqual(shape(state(0), false))
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})
