import type { Draft, Immutable } from 'immer'
import { describe, expectTypeOf, it } from 'vitest'
import { chain, Chain } from '../src/index.js'
import type { NestMapping, Run } from '../src/index.js'

interface Order {
  customer: string
  total: number
  points?: number
}
interface Loyalty {
  member: string
  spent: number
  points: number
}

describe('nested chain types', () => {
  it('nests a chain of the same ctx type without a mapping', () => {
    const inner = chain<Order>('inner').link('a', (ctx) => void (ctx.total += 1))
    const outer = chain<Order>('outer').link('inner', inner, { retry: { attempts: 2 }, when: (ctx) => ctx.total > 0 })
    expectTypeOf(outer).toEqualTypeOf<Chain<Order>>()
    expectTypeOf(chain<Order>('o').insert({ before: 'x' } as const, 'inner', inner)).toEqualTypeOf<Chain<Order>>()
    expectTypeOf(chain<Order>('o').parallel('p', { a: inner, b: (ctx) => void (ctx.points = 1) })).toEqualTypeOf<Chain<Order>>()
  })

  it('types input and output of a chain of another ctx type from both ctx types', () => {
    const loyalty = chain<Loyalty>('loyalty').link('earn', (ctx) => void (ctx.points = Math.floor(ctx.spent / 10)))
    const outer = chain<Order>('outer').link('loyalty', loyalty, {
      input: (order) => {
        expectTypeOf(order).toEqualTypeOf<Immutable<Order>>()
        return { member: order.customer, spent: order.total, points: 0 }
      },
      output: (draft, result) => {
        expectTypeOf(draft).toEqualTypeOf<Draft<Order>>()
        expectTypeOf(result).toEqualTypeOf<Immutable<Loyalty>>()
        draft.points = result.points
      },
    })
    expectTypeOf(outer).toEqualTypeOf<Chain<Order>>()
    expectTypeOf<NestMapping<Order, Loyalty>['input']>().returns.toEqualTypeOf<Loyalty>()
    expectTypeOf<NonNullable<ReturnType<Run<Order>['timeline']['child']>>>().toEqualTypeOf<Run<unknown>>()
  })

  it('refuses misuse', () => {
    const loyalty = chain<Loyalty>('loyalty')
    const outer = chain<Order>('outer')
    // @ts-expect-error a chain of another ctx type needs a mapping (input)
    outer.link('loyalty', loyalty)
    // @ts-expect-error output alone does not say how the child starts
    outer.link('loyalty', loyalty, { output: (draft: Draft<Order>, result: Immutable<Loyalty>) => void (draft.points = result.points) })
    // @ts-expect-error input must make the child's ctx type
    outer.link('loyalty', loyalty, { input: (order) => ({ member: order.customer }) })
    // @ts-expect-error output writes the parent's ctx type
    outer.link('loyalty', loyalty, { input: (o) => ({ member: o.customer, spent: o.total, points: 0 }), output: (draft, r) => void (draft.points = r.member) })
    // @ts-expect-error a branch must be a chain of the same ctx type
    outer.parallel('p', { a: loyalty })
    // @ts-expect-error input and output belong to nested chains, not to link functions
    outer.link('plain', (ctx) => void (ctx.total = 1), { input: (o: Immutable<Order>) => o })
  })
})
