import type { Draft } from 'immer'
import { describe, expectTypeOf, it } from 'vitest'
import { chain, Chain } from '../src/index.js'
import type { BranchFn, BranchIO, BranchRecord, MergeMode, ParallelOptions } from '../src/index.js'

interface Order {
  subtotal: number
  tax?: number
  notes: string[]
}

describe('parallel step types', () => {
  it('types every branch from C, with io.branch a string', () => {
    const c = chain<Order>('p').parallel('quote', {
      tax: (ctx, io) => {
        expectTypeOf(ctx).toEqualTypeOf<Draft<Order>>()
        expectTypeOf(io).toEqualTypeOf<BranchIO<Order>>()
        expectTypeOf(io.branch).toEqualTypeOf<string>()
        ctx.tax = ctx.subtotal * 0.2
      },
      shipping: async (ctx) => {
        ctx.notes.push('shipped')
      },
      replace: (ctx) => ({ ...ctx, tax: 1 }),
    })
    expectTypeOf(c).toEqualTypeOf<Chain<Order>>()
    expectTypeOf<MergeMode>().toEqualTypeOf<'strict' | 'ordered'>()
    expectTypeOf<BranchRecord['status']>().toEqualTypeOf<'ok' | 'error'>()
    expectTypeOf<BranchFn<Order>>().parameter(1).toEqualTypeOf<BranchIO<Order>>()
    expectTypeOf<ParallelOptions<Order>['merge']>().toEqualTypeOf<MergeMode | undefined>()
  })

  it('refuses misuse', () => {
    const c = chain<Order>('p')
    // @ts-expect-error tax is a number
    c.parallel('s', { a: (ctx) => void (ctx.tax = 'high') })
    // @ts-expect-error a branch returns an Order, not another shape
    c.parallel('s', { a: () => ({ other: 1 }) })
    // @ts-expect-error a branch is a function
    c.parallel('s', { a: 3 })
    // @ts-expect-error merge is 'strict' or 'ordered'
    c.parallel('s', { a: () => {} }, { merge: 'last' })
    // @ts-expect-error a parallel step has no retry
    c.parallel('s', { a: () => {} }, { retry: { attempts: 2 } })
    // @ts-expect-error io.branch is readonly
    c.parallel('s', { a: (_ctx, io) => void (io.branch = 'b') })
  })
})
