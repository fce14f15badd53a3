// The services example as a test: two services on loopback, one order, one trace.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { loadRun } from 'shadowchain'
import { runServices, spanTreeText, type Order, type Payment } from './index.js'

let dir: string | undefined
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

it('orders calls payments over HTTP: one trace, the payments run under the orders charge link', async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-services-test-'))
  const { spans, orders, payments, files, response } = await runServices(dir)
  expect(response.status).toBe(200)
  expect(response.body).toMatchObject({ id: 'o-1001', total: 42, status: 'confirmed', payment: { runId: payments.id } })

  // One trace id for every span of both services.
  expect(new Set(spans.map((s) => s.spanContext().traceId))).toEqual(new Set([orders.trace!.traceId]))
  const span = (name: string) => spans.find((s) => s.name === name)!
  const chargeLink = span('link charge')
  const paymentsRun = span('chain charge-card')
  expect(paymentsRun.parentSpanContext?.spanId).toBe(chargeLink.spanContext().spanId)
  expect(chargeLink.parentSpanContext?.spanId).toBe(span('chain orders').spanContext().spanId)
  expect(spanTreeText(spans).split('\n').map((line) => line.replace(/\s+\[.*$/, ''))).toEqual([
    'chain orders',
    '  link price',
    '  link charge',
    '    chain charge-card',
    '      link authorize',
    '      link capture',
    '  link confirm',
  ])

  // The runs: payments names the orders charge link's span (recorded on its link.end) as its remote parent.
  const chargeEnd = orders.timeline.filter({ type: 'link.end', link: 'charge' })[0] as { span?: string }
  expect(chargeEnd.span).toBe(chargeLink.spanContext().spanId)
  expect(payments.trace).toEqual({ traceId: orders.trace!.traceId, spanId: paymentsRun.spanContext().spanId, remoteParent: chargeEnd.span })
  expect(orders.trace).toEqual({ traceId: orders.trace!.traceId, spanId: span('chain orders').spanContext().spanId })

  // The run files keep it.
  const [ordersFile, paymentsFile] = await Promise.all([loadRun<Order>(files[0]!), loadRun<Payment>(files[1]!)])
  expect(paymentsFile.trace).toEqual(payments.trace)
  expect((ordersFile.timeline.filter({ type: 'link.end', link: 'charge' })[0] as { span?: string }).span).toBe(chargeEnd.span)
})
