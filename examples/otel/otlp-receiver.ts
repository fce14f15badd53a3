/**
 * A minimal OTLP/HTTP (JSON) trace receiver on 127.0.0.1, standing in for Jaeger, Grafana Tempo
 * or an OpenTelemetry Collector when none runs. It keeps what it receives and stops by itself
 * after `lifetimeMs`.
 */
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

/** One span as OTLP/JSON carries it (the fields we look at). */
export interface ReceivedSpan {
  traceId: string
  spanId: string
  parentSpanId?: string
  name: string
  startTimeUnixNano: string
  endTimeUnixNano: string
  attributes?: { key: string; value: Record<string, unknown> }[]
  events?: { name: string; timeUnixNano: string }[]
  links?: { traceId: string; spanId: string }[]
  status?: { code?: number; message?: string }
}

export interface Receiver {
  /** The base endpoint, for OTEL_EXPORTER_OTLP_ENDPOINT (traces go to `${endpoint}/v1/traces`). */
  readonly endpoint: string
  readonly spans: ReceivedSpan[]
  /** Resolves once at least `count` spans arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedSpan[]>
  close(): Promise<void>
}

export async function startReceiver(lifetimeMs = 30_000): Promise<Receiver> {
  const spans: ReceivedSpan[] = []
  const waiters: (() => void)[] = []
  const server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      if (request.method === 'POST' && request.url === '/v1/traces') {
        const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
          resourceSpans?: { scopeSpans?: { spans?: ReceivedSpan[] }[] }[]
        }
        for (const resource of body.resourceSpans ?? []) for (const scope of resource.scopeSpans ?? []) spans.push(...(scope.spans ?? []))
        waiters.splice(0).forEach((wake) => wake())
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}')
      } else {
        response.writeHead(404).end()
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const stop = setTimeout(() => server.close(), lifetimeMs)
  stop.unref()
  const { port } = server.address() as AddressInfo
  return {
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs
      while (spans.length < count) {
        if (Date.now() > deadline) throw new Error(`received ${spans.length} spans, expected ${count}`)
        await new Promise<void>((resolve) => {
          waiters.push(resolve)
          setTimeout(resolve, 50).unref()
        })
      }
      return spans
    },
    close: () =>
      new Promise<void>((resolve) => {
        clearTimeout(stop)
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}
