/**
 * Two services, one trace: an `orders` service whose `charge` link calls a `payments` service
 * over HTTP, each a chain behind `shadowchain/http` on `node:http`, each with its own flight
 * recorder (SQLite). The W3C trace context goes out with `io.inject(headers)` and comes in
 * through the handler, so the payments run is a child of the orders `charge` link.
 *
 *   npx tsx examples/services/index.ts [dir]
 *
 * Prints the trace as an indented span tree, saves both runs as run files into `dir` (default: a
 * new temporary folder) and prints the command that shows them together in the viewer.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { propagation } from '@opentelemetry/api'
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from '@opentelemetry/core'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { chain, recorder, saveRun, type Run } from 'shadowchain'
import { handler, nodeListener, RUN_ID_HEADER } from 'shadowchain/http'
import { sqliteStore } from 'shadowchain/store/sqlite'

export interface Payment {
  order: string
  amount: number
  authorized?: boolean
  receipt?: string
}

export interface Order {
  id: string
  items: { sku: string; price: number }[]
  total?: number
  payment?: { receipt: string; runId: string }
  status?: string
}

/** The payments service's chain: authorize, then charge the card. */
export function paymentsChain() {
  return chain<Payment>('charge-card')
    .link('authorize', (ctx) => {
      if (ctx.amount <= 0) throw new Error('nothing to charge')
      ctx.authorized = true
    })
    .link('capture', async (ctx, io) => {
      await new Promise((done) => setTimeout(done, 2))
      ctx.receipt = `rcpt-${ctx.order}-${Math.round(io.random() * 1e6)}`
    })
}

/** The orders service's chain; its `charge` link calls payments at `paymentsUrl` with the trace context. */
export function ordersChain(paymentsUrl: string) {
  return chain<Order>('orders')
    .link('price', (ctx) => {
      ctx.total = ctx.items.reduce((sum, item) => sum + item.price, 0)
    })
    .link('charge', async (ctx, io) => {
      const headers = new Headers({ 'content-type': 'application/json' })
      io.inject(headers) // traceparent (this link's span), tracestate, baggage
      const response = await fetch(paymentsUrl, { method: 'POST', headers, body: JSON.stringify({ order: ctx.id, amount: ctx.total }), signal: io.signal })
      if (!response.ok) throw new Error(`payments answered ${response.status}`)
      const paid = (await response.json()) as Payment
      ctx.payment = { receipt: paid.receipt!, runId: response.headers.get(RUN_ID_HEADER)! }
    })
    .link('confirm', (ctx) => {
      ctx.status = 'confirmed'
    })
}

/** Serves a handler from node:http on 127.0.0.1 (an ephemeral port). */
async function start(h: (request: Request) => Promise<Response>): Promise<{ server: Server; url: string }> {
  const server = createServer(nodeListener(h))
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` }
}

/** Spans as an indented tree: `name  [scope]  duration`, children under their parent. */
export function spanTreeText(spans: readonly ReadableSpan[]): string {
  const ids = new Set(spans.map((s) => s.spanContext().spanId))
  const ms = (s: ReadableSpan) => (s.duration[0] * 1e3 + s.duration[1] / 1e6).toFixed(2)
  const lines: string[] = []
  const walk = (span: ReadableSpan, depth: number) => {
    lines.push(`${'  '.repeat(depth)}${span.name}  [${span.instrumentationScope.name}]  ${ms(span)} ms`)
    const children = spans.filter((s) => s.parentSpanContext?.spanId === span.spanContext().spanId)
    for (const child of children.sort((a, b) => a.startTime[0] - b.startTime[0] || a.startTime[1] - b.startTime[1])) walk(child, depth + 1)
  }
  for (const root of spans.filter((s) => s.parentSpanContext === undefined || !ids.has(s.parentSpanContext.spanId))) walk(root, 0)
  return lines.join('\n')
}

export interface ServicesResult {
  readonly spans: readonly ReadableSpan[]
  readonly orders: Run<Order>
  readonly payments: Run<Payment>
  readonly files: readonly string[]
  readonly response: { readonly status: number; readonly body: Order }
}

/** Starts both services, sends one order, and returns what the trace and the recorders hold. */
export async function runServices(dir: string): Promise<ServicesResult> {
  propagation.setGlobalPropagator(new CompositePropagator({ propagators: [new W3CTraceContextPropagator(), new W3CBaggagePropagator()] }))
  const exporter = new InMemorySpanExporter()
  const provider = new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  const paymentsRec = recorder({ store: sqliteStore(join(dir, 'payments.db')) })
  const ordersRec = recorder({ store: sqliteStore(join(dir, 'orders.db')) })
  const payments = await start(handler(paymentsChain(), { tracer: provider.getTracer('payments'), runOptions: { recorder: paymentsRec } }))
  const orders = await start(handler(ordersChain(payments.url), { tracer: provider.getTracer('orders'), runOptions: { recorder: ordersRec } }))
  try {
    const response = await fetch(orders.url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ id: 'o-1001', items: [{ sku: 'tea', price: 12 }, { sku: 'pot', price: 30 }] }) })
    const body = (await response.json()) as Order
    await Promise.all([ordersRec.flush(), paymentsRec.flush()])
    // Both flight recorders kept their run: found by the ids the responses carried.
    const ordersRun = (await ordersRec.get(response.headers.get(RUN_ID_HEADER)!)) as Run<Order> | undefined
    const paymentsRun = (await paymentsRec.get(body.payment!.runId)) as Run<Payment> | undefined
    if (ordersRun === undefined || paymentsRun === undefined) throw new Error('a flight recorder lost a run')
    const files = [join(dir, 'orders.run.json'), join(dir, 'payments.run.json')]
    await saveRun(ordersRun, files[0]!)
    await saveRun(paymentsRun, files[1]!)
    return { spans: exporter.getFinishedSpans(), orders: ordersRun, payments: paymentsRun, files, response: { status: response.status, body } }
  } finally {
    for (const { server } of [orders, payments]) {
      server.closeAllConnections()
      await new Promise<void>((done) => server.close(() => done()))
    }
    await Promise.all([ordersRec.close(), paymentsRec.close()])
    await provider.shutdown()
    propagation.disable()
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2] ?? (await mkdtemp(join(tmpdir(), 'shadowchain-services-')))
  await mkdir(dir, { recursive: true })
  const { spans, orders, payments, files, response } = await runServices(dir)
  console.log(`POST orders → ${response.status} ${JSON.stringify(response.body)}\n`)
  console.log(`trace ${orders.trace?.traceId} (${new Set(spans.map((s) => s.spanContext().traceId)).size} trace id, ${spans.length} spans):`)
  console.log(spanTreeText(spans))
  console.log(`\norders run   ${orders.id}  trace ${JSON.stringify(orders.trace)}`)
  console.log(`payments run ${payments.id}  trace ${JSON.stringify(payments.trace)}`)
  console.log(`\nrun files and stores in ${dir}; both runs as one trace in the viewer:`)
  console.log(`  npx shadowchain view ${files.join(' ')}`)
  console.log(`  npx shadowchain inspect ${files.join(' ')}   # the same tree in the terminal`)
}
