// Trace context into shadowchain/http over loopback, with the real OTel SDK: a caller's span
// travels in `traceparent` and becomes the run span's parent; the run records it and its file
// keeps it. And the same handler inside Hono: `app.fetch`, and served by @hono/node-server.
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { propagation, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { serve as honoServe } from '@hono/node-server'
import { Hono } from 'hono'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chain, recorder, Run } from '../src/index.js'
import { handler, nodeListener, RUN_ID_HEADER } from '../src/http/index.js'
import { memoryTracer } from './otel-helpers.js'

beforeAll(() => {
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }))
})
afterAll(() => propagation.disable())

const closers: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

async function listen(server: Server): Promise<string> {
  closers.push(async () => {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

interface Payment {
  amount: number
  baggage?: string
  receipt?: string
}

describe('trace context in', () => {
  it('traceparent makes the run span a child of the caller span; run.trace and the run file name the caller', async () => {
    const { tracer, exporter } = memoryTracer('service')
    const rec = recorder()
    const payments = chain<Payment>('payments').link('charge-card', (ctx, io) => {
      const headers: Record<string, string> = {}
      io.inject(headers)
      ctx.baggage = headers['baggage']
      ctx.receipt = 'r-1'
    })
    const url = await listen(createServer(nodeListener(handler(payments, { tracer, runOptions: { recorder: rec } }))))
    // The caller: a span of its own, injected into the request's headers.
    const caller = tracer.startSpan('caller')
    const headers: Record<string, string> = { 'content-type': 'application/json', 'tracestate': 'vendor=x' }
    propagation.inject(propagation.setBaggage(trace.setSpan(ROOT_CONTEXT, caller), propagation.createBaggage({ tenant: { value: 'acme' } })), headers)
    const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ amount: 5 }) })
    caller.end()
    expect(response.status).toBe(200)
    expect(await response.json()).toEqual({ amount: 5, baggage: 'tenant=acme', receipt: 'r-1' })
    const spans = exporter.getFinishedSpans()
    const callerSpan = spans.find((s) => s.name === 'caller')!
    const runSpan = spans.find((s) => s.name === 'chain payments')!
    const linkSpan = spans.find((s) => s.name === 'link charge-card')!
    expect(runSpan.spanContext().traceId).toBe(callerSpan.spanContext().traceId)
    expect(runSpan.parentSpanContext?.spanId).toBe(callerSpan.spanContext().spanId)
    expect(runSpan.parentSpanContext?.isRemote).toBe(true)
    expect(linkSpan.parentSpanContext?.spanId).toBe(runSpan.spanContext().spanId)
    const run = (await rec.get(response.headers.get(RUN_ID_HEADER)!))!
    expect(run.trace).toEqual({ traceId: callerSpan.spanContext().traceId, spanId: runSpan.spanContext().spanId, remoteParent: callerSpan.spanContext().spanId })
    const loaded = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    expect(loaded.trace).toEqual(run.trace)
  })

  it('without a tracer the run still joins the caller\'s trace (its own span id, the caller as remote parent)', async () => {
    const rec = recorder()
    const c = chain<Payment>('untraced').link('a', () => {})
    const url = await listen(createServer(nodeListener(handler(c, { runOptions: { recorder: rec } }))))
    const traceId = '0af7651916cd43dd8448eb211c80319c'
    const response = await fetch(url, { method: 'POST', body: '{"amount":1}', headers: { traceparent: `00-${traceId}-b7ad6b7169203331-01` } })
    const run = (await rec.get(response.headers.get(RUN_ID_HEADER)!))!
    expect(run.trace).toMatchObject({ traceId, remoteParent: 'b7ad6b7169203331' })
    // Listed by its trace, as a store lists it (the recorder's own memory, no store).
    await fetch(url, { method: 'POST', body: '{"amount":2}' })
    expect((await rec.runs({ trace: traceId })).map((s) => [s.id, s.traceId])).toEqual([[run.id, traceId]])
    expect(await rec.runs({ trace: 'f'.repeat(32) })).toEqual([])
    expect(await rec.runs()).toHaveLength(2)
  })
})

describe('Hono', () => {
  const payments = chain<Payment>('payments').link('charge-card', (ctx) => {
    if (ctx.amount <= 0) throw new Error('nothing to charge')
    ctx.receipt = 'r-2'
  })

  it('app.fetch with the handler as a route: 200, 400, 500, each with the run id', async () => {
    const rec = recorder()
    const h = handler(payments, { runOptions: { recorder: rec } })
    const app = new Hono()
    app.post('/pay', (c) => h(c.req.raw))
    const ok = await app.fetch(new Request('http://localhost/pay', { method: 'POST', body: '{"amount":3}', headers: { 'content-type': 'application/json' } }))
    expect(ok.status).toBe(200)
    expect(await ok.json()).toEqual({ amount: 3, receipt: 'r-2' })
    const bad = await app.fetch(new Request('http://localhost/pay', { method: 'POST', body: '{' }))
    expect(bad.status).toBe(400)
    const failed = await app.fetch(new Request('http://localhost/pay', { method: 'POST', body: '{"amount":0}' }))
    expect(failed.status).toBe(500)
    expect(await failed.json()).toEqual({ error: { code: 'LINK_FAILED', message: 'the run failed', runId: failed.headers.get(RUN_ID_HEADER) } })
    for (const response of [ok, bad, failed]) expect(await rec.get(response.headers.get(RUN_ID_HEADER)!)).toBeDefined()
    expect((await app.fetch(new Request('http://localhost/other', { method: 'POST', body: '{}' }))).status).toBe(404)
  })

  it('served by @hono/node-server over loopback, with the caller\'s traceparent', async () => {
    const { tracer, exporter } = memoryTracer('hono')
    const rec = recorder()
    const h = handler(payments, { tracer, runOptions: { recorder: rec } })
    const app = new Hono()
    app.post('/pay', (c) => h(c.req.raw))
    const url = await new Promise<string>((resolve) => {
      const server = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, (info) => resolve(`http://127.0.0.1:${info.port}`))
      closers.push(() => {
        ;(server as Server).closeAllConnections()
        return new Promise<void>((done) => server.close(() => done()))
      })
    })
    const caller = tracer.startSpan('caller')
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    propagation.inject(trace.setSpan(ROOT_CONTEXT, caller), headers)
    const response = await fetch(`${url}/pay`, { method: 'POST', headers, body: '{"amount":7}' })
    caller.end()
    expect(response.status).toBe(200)
    const run = (await rec.get(response.headers.get(RUN_ID_HEADER)!))!
    expect(run.trace?.remoteParent).toBe(caller.spanContext().spanId)
    expect(exporter.getFinishedSpans().find((s) => s.name === 'chain payments')?.parentSpanContext?.spanId).toBe(caller.spanContext().spanId)
    const tooBig = await fetch(`${url}/pay`, { method: 'POST', body: JSON.stringify({ amount: 1, pad: 'x'.repeat(2 * 1024 * 1024) }) })
    expect(tooBig.status).toBe(413)
  })
})
