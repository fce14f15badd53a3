/** The chain under test: pricing logic plus a side-effecting payment call. */
import { chain } from 'shadowchain'

export interface Order {
  items: { sku: string; price: number; qty: number }[]
  coupon?: string
  total?: number
  receipt?: string
  placedAt?: number
}

/** A payment provider: calling it for real in a test would charge a card. */
export const payments = {
  calls: 0,
  async charge(amount: number): Promise<string> {
    payments.calls++
    await new Promise((resolve) => setTimeout(resolve, 1))
    return `rcpt-${Math.round(amount * 100)}-${Math.random().toString(36).slice(2, 8)}`
  },
}

export const checkout = chain<Order>('checkout')
  .link('price', (ctx) => {
    ctx.total = ctx.items.reduce((sum, item) => sum + item.price * item.qty, 0)
  })
  .link('coupon', (ctx) => {
    if (ctx.coupon === 'TENOFF') ctx.total = Math.max(0, (ctx.total ?? 0) - 10)
  })
  .link('charge', async (ctx) => {
    ctx.receipt = await payments.charge(ctx.total ?? 0)
  })
  .link('stamp', (ctx, io) => {
    ctx.placedAt = io.now()
  })
