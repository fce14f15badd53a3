// The services example as a test: two services on loopback, one order, one trace.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, expect, it } from 'vitest'
import { formatTrace, loadRun, stitchRuns } from 'shadowchain'
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

  // Stitched from the two files, as the viewer and `inspect` show them: one trace, the payments
  // run under the orders charge link.
  const traces = stitchRuns([
    { run: ordersFile, origin: 'orders' },
    { run: paymentsFile, origin: 'payments' },
  ])
  expect(traces).toHaveLength(1)
  const [trace] = traces
  expect(trace).toMatchObject({ traceId: orders.trace!.traceId, size: 2, notes: [] })
  expect(trace!.roots.map((r) => r.run.id)).toEqual([orders.id])
  expect(trace!.calls.get(chargeEnd.span!)?.map((r) => r.run.id)).toEqual([payments.id])
  const text = formatTrace(trace!)
  const chargeRow = text.split('\n').findIndex((line) => / charge /.test(line) && !line.includes('charge-card'))
  const remoteRow = text.split('\n').findIndex((line) => line.includes('remote run') && line.includes("'charge-card'"))
  expect(chargeRow).toBeGreaterThan(0)
  expect(remoteRow).toBeGreaterThan(chargeRow)
})
