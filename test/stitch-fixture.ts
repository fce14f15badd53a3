// Two "services" in one process (DESIGN §11): an `orders` run whose `charge` link injects its
// trace context into a request, and a `payments` run started from those headers, as the HTTP
// handler would start it. No network: the headers are a record.
import { propagation, ROOT_CONTEXT } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { chain, type Run } from '../src/index.js'

export function useW3C(): () => void {
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }))
  return () => propagation.disable()
}

interface Order { total: number; receipt?: string; notified?: boolean }
interface Payment { amount: number; receipt?: string }

const payments = chain<Payment>('payments')
  .link('authorize', (ctx) => { ctx.receipt = `r-${ctx.amount}` })
  .link('capture', () => {})

const audit = chain<{ seen: boolean }>('audit').link('write', (ctx) => { ctx.seen = true })

/** An orders run that calls payments (from `charge`) and audit (from `notify`), and the called runs. */
export async function twoServices(): Promise<{ orders: Run<Order>; payment: Run<Payment>; audit: Run<{ seen: boolean }> }> {
  let payment: Run<Payment> | undefined
  let audited: Run<{ seen: boolean }> | undefined
  const orders = await chain<Order>('orders')
    .link('validate', () => {})
    .link('charge', async (ctx, io) => {
      const headers: Record<string, string> = {}
      io.inject(headers)
      payment = await payments.run({ amount: ctx.total }, { traceContext: propagation.extract(ROOT_CONTEXT, headers) })
      if (payment.ctx.receipt !== undefined) ctx.receipt = payment.ctx.receipt
    })
    .link('notify', async (ctx, io) => {
      const headers: Record<string, string> = {}
      io.inject(headers)
      audited = await audit.run({ seen: false }, { traceContext: propagation.extract(ROOT_CONTEXT, headers) })
      ctx.notified = true
    })
    .run({ total: 42 })
  return { orders, payment: payment as Run<Payment>, audit: audited as Run<{ seen: boolean }> }
}
