// One tree across services (DESIGN §11): stitchRuns places a remote run under the link that called it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Run, type RunDocument } from '../src/index.js'
import { describeTrace, formatTrace, stitchRuns } from '../src/present/stitch.js'
import { twoServices, useW3C } from './stitch-fixture.js'

let stop: () => void
beforeAll(() => { stop = useW3C() })
afterAll(() => stop())

/** A run document with its trace changed (hostile input is made of documents). */
function withTrace(run: Run<unknown>, trace: { traceId: string; spanId: string; remoteParent?: string }, id = run.id): Run<unknown> {
  const doc = run.toJSON() as RunDocument
  return Run.fromJSON({ ...doc, run: { ...doc.run, id, trace } } as RunDocument) as Run<unknown>
}

describe('stitchRuns', () => {
  it('places each remote run under the link whose io.inject carried the trace, whatever order the runs come in', async () => {
    const { orders, payment, audit } = await twoServices()
    expect(payment.trace?.traceId).toBe(orders.trace?.traceId)
    const [trace, ...others] = stitchRuns([{ run: audit, origin: 'audit.db' }, { run: payment, origin: 'payments.db' }, { run: orders, origin: 'orders.db' }])
    expect(others).toEqual([])
    expect(trace?.traceId).toBe(orders.trace?.traceId)
    expect(trace?.size).toBe(3)
    expect(describeTrace(trace!)).toMatchObject({
      roots: [{ id: orders.id, chain: 'orders', origin: 'orders.db', remote: [
        { id: payment.id, chain: 'payments', origin: 'payments.db', calledBy: { runId: orders.id, link: 'charge' }, remote: [] },
        { id: audit.id, chain: 'audit', calledBy: { runId: orders.id, link: 'notify' } },
      ] }],
      notes: [],
    })
    const chargeEnd = orders.timeline.filter({ type: 'link.end', link: 'charge' })[0] as { span?: string }
    expect(trace!.calls.get(chargeEnd.span!)?.map((n) => n.run)).toEqual([payment])
  })

  it('draws the remote runs indented under their calling links, on the caller\'s time axis', async () => {
    const { orders, payment, audit } = await twoServices()
    const [trace] = stitchRuns([orders, { run: payment, origin: 'payments' }, audit])
    const text = formatTrace(trace!)
    const lines = text.split('\n')
    expect(lines[0]).toBe(`trace ${orders.trace?.traceId}  3 runs`)
    const charge = lines.findIndex((l) => /^\s+1\s+charge/.test(l))
    expect(lines[charge + 1]).toMatch(new RegExp(`^\\s{5}▾ ⇢ remote run ${payment.id.slice(-8)} 'payments' \\(payments\\)  ok  \\+`))
    expect(lines[charge + 2]).toMatch(/^\s{4}\s+0\s+authorize/)
    expect(lines[charge + 3]).toMatch(/^\s{4}\s+1\s+capture/)
    expect(lines[charge + 4]).toMatch(/^\s+2\s+notify/)
    expect(lines[charge + 5]).toMatch(new RegExp(`⇢ remote run ${audit.id.slice(-8)} 'audit'`))
    // Collapsed: one line each.
    const flat = formatTrace(trace!, { nested: false })
    expect(flat).toContain(`▸ ⇢ remote run ${payment.id.slice(-8)}`)
    expect(flat).not.toMatch(/authorize/)
  })

  it('keeps runs of other traces, and runs without a trace, apart', async () => {
    const a = await twoServices()
    const b = await twoServices()
    const traces = stitchRuns([a.orders, b.payment, a.payment, b.orders])
    expect(traces.map((t) => t.roots.map((r) => r.run.chainName))).toEqual([['orders'], ['orders']])
    expect(traces.map((t) => t.size)).toEqual([2, 2])
    // A payments run whose caller is missing is a root of its trace.
    const [alone] = stitchRuns([a.payment])
    expect(alone?.roots.map((r) => r.run)).toEqual([a.payment])
  })

  it('survives hostile input: duplicates, a span recorded twice, a run under itself, a cycle', async () => {
    const { orders, payment } = await twoServices()
    const traceId = orders.trace!.traceId
    const chargeSpan = (orders.timeline.filter({ type: 'link.end', link: 'charge' })[0] as { span: string }).span
    const paySpan = '1111111111111111'
    // Duplicates: the first kept.
    const dup = stitchRuns([orders, payment, orders, payment])
    expect(dup[0]?.size).toBe(2)
    expect(dup[0]?.notes.some((n) => n.includes('given twice'))).toBe(true)
    // A run naming its own span: a root.
    const self = withTrace(orders as Run<unknown>, { traceId, spanId: orders.trace!.spanId, remoteParent: chargeSpan })
    const [selfTrace] = stitchRuns([self])
    expect(selfTrace?.roots.map((r) => r.run)).toEqual([self])
    expect(selfTrace?.notes.join()).toMatch(/span of its own/)
    // A cycle: orders under payments (which it calls). The earlier-started run becomes the root.
    const paymentCalling = (() => {
      const doc = payment.toJSON() as RunDocument
      const events = doc.events.map((e) => (e.type === 'link.end' && e.seq === doc.events.find((x) => x.type === 'link.end')?.seq ? { ...e, span: paySpan } : e))
      return Run.fromJSON({ ...doc, events } as RunDocument) as Run<unknown>
    })()
    const ordersCalled = withTrace(orders as Run<unknown>, { traceId, spanId: orders.trace!.spanId, remoteParent: paySpan })
    const traces = stitchRuns([paymentCalling, ordersCalled])
    expect(traces).toHaveLength(1)
    expect(traces[0]?.roots.map((r) => r.run.chainName)).toEqual(['orders'])
    expect(traces[0]?.roots[0]?.remote.map((r) => r.run.chainName)).toEqual(['payments'])
    expect(traces[0]?.notes.join()).toMatch(/cycle/)
    expect(formatTrace(traces[0]!)).toContain('⇢ remote run')
    // The span recorded twice (two copies of orders under two ids): the first call site kept.
    const twin = withTrace(orders as Run<unknown>, orders.trace as never, 'twin-of-orders')
    const [twice] = stitchRuns([orders, twin, payment])
    expect(twice?.roots.map((r) => r.run.id)).toEqual([orders.id, 'twin-of-orders'])
    expect(twice?.roots[0]?.remote.map((r) => r.run)).toEqual([payment])
    expect(twice?.notes.join()).toMatch(/recorded twice/)
    // Several runs naming one span (a retried request): both under it.
    const retry = withTrace(payment as Run<unknown>, payment.trace as never, 'retry-of-payment')
    const [retried] = stitchRuns([orders, payment, retry])
    expect(retried?.roots[0]?.remote.filter((r) => r.calledBy?.link.name === 'charge')).toHaveLength(2)
  })

  it('a long chain of calls and a big cycle finish quickly', async () => {
    const { orders } = await twoServices()
    const traceId = orders.trace!.traceId
    const base = orders.toJSON() as RunDocument
    const n = 2_000
    const docs: Run<unknown>[] = []
    const firstEnd = base.events.findIndex((e) => e.type === 'link.end')
    for (let i = 0; i < n; i++) {
      const span = (i + 1).toString(16).padStart(16, "0")
      const parent = (((i + n - 1) % n) + 1).toString(16).padStart(16, "0")
      const events = base.events.map((e, j) => (j === firstEnd ? { ...e, span } : e.type === 'link.end' ? { ...e, span: undefined } : e))
      docs.push(Run.fromJSON({ ...base, events, run: { ...base.run, id: `r${i}`, trace: { traceId, spanId: span, remoteParent: parent } } } as RunDocument) as Run<unknown>)
    }
    const started = Date.now()
    const [trace] = stitchRuns(docs)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(trace?.roots).toHaveLength(1)
    expect(trace?.size).toBe(n)
  })
})
