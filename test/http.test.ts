// shadowchain/http over real loopback sockets: the handler served by nodeListener from node:http,
// called with fetch and raw sockets as clients would; every run kept by a flight recorder.
import { createServer, request as httpRequest, type Server } from 'node:http'
import { connect } from 'node:net'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { z } from 'zod'
import { chain, recorder, type FlightRecorder, type Run } from '../src/index.js'
import { handler, nodeListener, RequestBodyError, RUN_ID_HEADER, type HandlerOptions } from '../src/http/index.js'
import type { Chain } from '../src/core/chain.js'

interface Order {
  items: { price: number }[]
  total?: number
  secret?: string
}

const OrderSchema = z.object({ items: z.array(z.object({ price: z.number() })), total: z.number().optional(), secret: z.string().optional() })

const servers: Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
})

/** Serves `c` through handler + nodeListener on 127.0.0.1, an ephemeral port; closed after the test. */
async function serve<C>(c: Chain<C>, options: HandlerOptions<C> = {}, serverOptions: Parameters<typeof createServer>[0] = {}) {
  const rec = recorder({ keep: { last: 1_000, failed: 1_000 } })
  const h = handler(c, { ...options, runOptions: { recorder: rec, ...options.runOptions } })
  const server = createServer(serverOptions, nodeListener(h))
  servers.push(server)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return { rec, server, port, url: `http://127.0.0.1:${port}` }
}

const post = (url: string, body: string, headers: Record<string, string> = { 'content-type': 'application/json' }) => fetch(url, { method: 'POST', body, headers })

/** The run a response names, from the flight recorder. */
async function runOf(rec: FlightRecorder, response: Response): Promise<Run<unknown>> {
  const id = response.headers.get(RUN_ID_HEADER)
  expect(id).toMatch(/^[0-9a-f-]{36}$/)
  const run = await rec.get(id!)
  expect(run).toBeDefined()
  return run!
}

const checkout = chain('checkout', { input: OrderSchema }).link('price', (ctx) => {
  ctx.total = ctx.items.reduce((s, i) => s + i.price, 0)
})

describe('handler: answers', () => {
  it('200: the ctx as JSON, the run id in shadowchain-run-id, the run kept', async () => {
    const { rec, url } = await serve(checkout)
    const response = await post(`${url}/checkout`, JSON.stringify({ items: [{ price: 2 }, { price: 3 }] }))
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8')
    expect(await response.json()).toEqual({ items: [{ price: 2 }, { price: 3 }], total: 5 })
    const run = await runOf(rec, response)
    expect(run.status).toBe('ok')
    expect(run.trace).toBeUndefined() // no traceparent, no tracer, nothing injected
  })

  it('400: an input the schema rejects names the paths and the run', async () => {
    const { rec, url } = await serve(checkout)
    const response = await post(url, JSON.stringify({ items: [{ price: 'x' }, { price: 1 }, {}] }))
    expect(response.status).toBe(400)
    const run = await runOf(rec, response)
    const issues = (run.error?.cause as { issues: { message: string }[] }).issues
    expect(await response.json()).toEqual({
      error: {
        code: 'INVALID_INPUT',
        message: 'invalid input at items[0].price, items[2].price',
        runId: run.id,
        issues: [
          { path: ['items', 0, 'price'], at: 'items[0].price', message: issues[0]!.message },
          { path: ['items', 2, 'price'], at: 'items[2].price', message: issues[1]!.message },
        ],
      },
    })
    expect(response.headers.get('cache-control')).toBe('no-store')
    expect(run.status).toBe('error')
    expect(run.error?.code).toBe('INVALID_INPUT')
  })

  it('400: a body that is not JSON names the problem; the run is recorded as rejected without the body', async () => {
    const { rec, url } = await serve(checkout)
    const response = await post(`${url}/orders?token=abc`, '{"card": "4111111111111111", oops}')
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error: Record<string, unknown> }
    const run = await runOf(rec, response)
    expect(body).toEqual({ error: { code: 'INVALID_JSON', message: expect.stringMatching(/^the request body is not JSON: /), runId: run.id } })
    expect(run.status).toBe('error')
    expect(run.error?.code).toBe('INVALID_INPUT')
    expect(run.error?.message).toBe("invalid input for chain 'checkout': the request body is not JSON (34 bytes)")
    expect(run.error?.cause).toBeInstanceOf(RequestBodyError)
    expect(run.input).toEqual({ method: 'POST', path: '/orders', contentType: 'application/json', contentLength: '34' })
    expect(JSON.stringify(run.toJSON())).not.toContain('4111')
    // Empty bodies and GET requests are not JSON either, whatever the content type.
    const empty = await post(url, '', {})
    expect(empty.status).toBe(400)
    expect(((await empty.json()) as { error: { message: string } }).error.message).toBe('the request body is not JSON: it is empty')
    const get = await fetch(url)
    expect(get.status).toBe(400)
    expect(await get.json()).toEqual({ error: { code: 'INVALID_JSON', message: 'a GET request has no body: expected JSON', runId: get.headers.get(RUN_ID_HEADER) } })
    expect(await rec.runs({ chain: 'checkout' })).toHaveLength(3)
  })

  it('413: a body over maxBodyBytes, declared or streamed, is refused and recorded', async () => {
    const { rec, port, url } = await serve(checkout, { maxBodyBytes: 1_024 })
    const declared = await post(url, JSON.stringify({ items: [], pad: 'x'.repeat(2_000) }))
    expect(declared.status).toBe(413)
    const run = await runOf(rec, declared)
    expect(await declared.json()).toEqual({ error: { code: 'BODY_TOO_LARGE', message: 'the request body is larger than 1024 bytes (maxBodyBytes): content-length says 2021', runId: run.id } })
    expect(run.error?.message).toBe("invalid input for chain 'checkout': the request body is larger than 1024 bytes (maxBodyBytes): content-length says 2021")
    // Chunked: no content-length; reading stops at the limit, the connection closes after the 413.
    const streamed = await new Promise<{ status: number; headers: Record<string, unknown>; body: string }>((resolve, reject) => {
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        let body = ''
        res.on('data', (chunk: Buffer) => (body += chunk.toString()))
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }))
      })
      req.on('error', reject)
      req.write('{"items": [], "pad": "')
      let sent = 0
      const more = () => {
        if (sent++ < 64 && !req.destroyed) {
          req.write('y'.repeat(512))
          setTimeout(more, 1)
        }
      }
      more()
    })
    expect(streamed.status).toBe(413)
    expect(streamed.headers['connection']).toBe('close')
    expect(JSON.parse(streamed.body)).toEqual({ error: { code: 'BODY_TOO_LARGE', message: 'the request body is larger than 1024 bytes (maxBodyBytes)', runId: streamed.headers[RUN_ID_HEADER] } })
    expect((await rec.get(streamed.headers[RUN_ID_HEADER] as string))?.error?.code).toBe('INVALID_INPUT')
    // The server still serves.
    expect((await post(url, JSON.stringify({ items: [] }))).status).toBe(200)
  })

  it('500: a failed run gives its id and code, never its ctx, stack or message', async () => {
    const failing = chain<Order>('failing').link('charge', (ctx) => {
      ctx.secret = 'ctx-secret-value'
      throw new Error('db password hunter2 refused')
    })
    const { rec, url } = await serve(failing)
    const response = await post(url, JSON.stringify({ items: [{ price: 1 }], secret: 'input-secret' }))
    expect(response.status).toBe(500)
    const text = await response.text()
    const run = await runOf(rec, response)
    expect(JSON.parse(text)).toEqual({ error: { code: 'LINK_FAILED', message: 'the run failed', runId: run.id } })
    for (const leak of ['hunter2', 'secret', 'charge', ' at ', 'price', 'Error']) expect(text).not.toContain(leak)
    expect(run.status).toBe('error')
    expect(run.error?.message).toContain('hunter2') // recorded in full, for whoever reads the recorder
  })

  it('output(): called for every run; undefined means the default; its responses get the run id', async () => {
    const seen: string[] = []
    const c = chain<Order>('out').link('check', (ctx) => {
      if (ctx.items.length === 0) throw new Error('empty cart')
    })
    const { url } = await serve(c, {
      output(run, request) {
        seen.push(`${run.status}:${request.method}`)
        if (run.status === 'error' && run.error?.code === 'LINK_FAILED') return Response.json({ problem: (run.error.cause as Error).message }, { status: 422 })
        if (run.status !== 'ok') return undefined // a rejected run's ctx is what came in, not an Order
        if (run.ctx.items.length === 2) return Response.redirect('http://127.0.0.1/elsewhere', 303) // immutable headers
        if (run.ctx.items.length === 3) throw new Error('output broke')
        return undefined
      },
    })
    const chosen = await post(url, JSON.stringify({ items: [] }))
    expect(chosen.status).toBe(422)
    expect(await chosen.json()).toEqual({ problem: 'empty cart' })
    expect(chosen.headers.get(RUN_ID_HEADER)).toMatch(/^[0-9a-f-]{36}$/)
    const fallback = await post(url, JSON.stringify({ items: [{ price: 1 }] }))
    expect(fallback.status).toBe(200)
    expect(fallback.headers.get(RUN_ID_HEADER)).toMatch(/^[0-9a-f-]{36}$/)
    const redirect = await fetch(url, { method: 'POST', body: JSON.stringify({ items: [{ price: 1 }, { price: 2 }] }), redirect: 'manual' })
    expect(redirect.status).toBe(303)
    expect(redirect.headers.get(RUN_ID_HEADER)).toMatch(/^[0-9a-f-]{36}$/)
    const broken = await post(url, JSON.stringify({ items: [{ price: 1 }, { price: 2 }, { price: 3 }] }))
    expect(broken.status).toBe(500)
    expect(await broken.json()).toEqual({ error: { code: 'OUTPUT_FAILED', message: 'the response could not be made', runId: broken.headers.get(RUN_ID_HEADER) } })
    const bad = await post(url, 'nope')
    expect(bad.status).toBe(400)
    expect(seen).toEqual(['error:POST', 'ok:POST', 'ok:POST', 'ok:POST', 'error:POST'])
  })

  it('input(): gets the request with its body read; a thrown Response is sent, anything else is a 400; both recorded', async () => {
    const c = chain<Order & { user: string }>('custom').link('noop', () => {})
    const { rec, url } = await serve(c, {
      async input(request) {
        const user = request.headers.get('x-user')
        if (user === null) throw new Response('who are you?', { status: 401, headers: { 'www-authenticate': 'Bearer' } })
        if (user === 'boom') throw new Error('lookup of secret-user failed')
        const body = (await request.json()) as Order
        return { ...body, user }
      },
    })
    const ok = await post(url, JSON.stringify({ items: [] }), { 'content-type': 'application/json', 'x-user': 'ada' })
    expect(await ok.json()).toEqual({ items: [], user: 'ada' })
    const unauthorized = await post(url, JSON.stringify({ items: [] }))
    expect(unauthorized.status).toBe(401)
    expect(unauthorized.headers.get('www-authenticate')).toBe('Bearer')
    expect(await unauthorized.text()).toBe('who are you?')
    const run = await runOf(rec, unauthorized)
    expect(run.error?.message).toBe("invalid input for chain 'custom': input(request) answered 401")
    const refused = await post(url, JSON.stringify({ items: [] }), { 'content-type': 'application/json', 'x-user': 'boom' })
    expect(refused.status).toBe(400)
    const refusedText = await refused.text()
    expect(refusedText).not.toContain('secret-user')
    expect(JSON.parse(refusedText)).toEqual({ error: { code: 'INVALID_INPUT', message: 'the request could not be made into an input', runId: refused.headers.get(RUN_ID_HEADER) } })
    // A body whose content type says JSON is checked before input() sees it.
    const notJson = await post(url, '{{', { 'content-type': 'application/vnd.api+json', 'x-user': 'ada' })
    expect(notJson.status).toBe(400)
    expect(((await notJson.json()) as { error: { code: string } }).error.code).toBe('INVALID_JSON')
  })

  it('refuses malformed options when the handler is made', () => {
    expect(() => handler(checkout, { maxBodyBytes: -1 })).toThrow("handler(chain 'checkout'): maxBodyBytes must be a whole number of bytes ≥ 0 (or Infinity), got -1")
    expect(() => handler(checkout, { inputs: () => ({}) } as never)).toThrow("handler(chain 'checkout'): unknown option 'inputs'")
    expect(() => handler(checkout, { runOptions: { capture: 'all' } as never })).toThrow("handler(chain 'checkout'): runOptions: capture must be one of")
    expect(() => handler(checkout, { runOptions: { tracer: {} } as never })).toThrow()
  })
})

describe('nodeListener', () => {
  it('streams a large body in and a streamed response out (chunks, several set-cookie headers)', async () => {
    const big = chain<{ blob: string; size?: number }>('big').link('measure', (ctx) => {
      ctx.size = ctx.blob.length
    })
    const { url } = await serve(big, {
      maxBodyBytes: 8 * 1024 * 1024,
      output(run) {
        if (run.status !== 'ok') return undefined
        const size = run.ctx.size!
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            for (let i = 0; i < 5; i++) controller.enqueue(new TextEncoder().encode(`chunk ${i} of ${size}\n`))
            controller.close()
          },
        })
        const headers = new Headers({ 'content-type': 'text/plain' })
        headers.append('set-cookie', 'a=1')
        headers.append('set-cookie', 'b=2')
        return new Response(stream, { status: 201, headers })
      },
    })
    const blob = 'z'.repeat(3 * 1024 * 1024)
    const response = await post(url, JSON.stringify({ blob }))
    expect(response.status).toBe(201)
    expect(response.headers.getSetCookie()).toEqual(['a=1', 'b=2'])
    expect(response.headers.get(RUN_ID_HEADER)).toMatch(/^[0-9a-f-]{36}$/)
    expect(await response.text()).toBe([0, 1, 2, 3, 4].map((i) => `chunk ${i} of ${blob.length}\n`).join(''))
  })

  it('answers a bare 500 when the fetch handler throws, and goes on serving', async () => {
    let calls = 0
    const server = createServer(
      nodeListener(async () => {
        if (calls++ === 0) throw new Error('handler bug')
        return new Response('fine')
      }),
    )
    servers.push(server)
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
    const first = await fetch(url)
    expect(first.status).toBe(500)
    expect(await first.text()).toBe('internal error\n')
    expect(await (await fetch(url)).text()).toBe('fine')
  })
})

describe('handler: the client going away', () => {
  it('aborts the run (io.signal), which the flight recorder keeps as aborted', async () => {
    let started!: () => void
    const linkStarted = new Promise<void>((resolve) => (started = resolve))
    const slow = chain<Order>('slow').link('wait', async (_ctx, io) => {
      started()
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(resolve, 20_000)
        io.signal.addEventListener('abort', () => {
          clearTimeout(timer)
          reject(new Error('aborted'))
        })
      })
    })
    const { rec, url } = await serve(slow)
    const kept = new Promise<Run<unknown>>((resolve) => rec.subscribe((event) => event.type === 'run' && resolve(event.run)))
    const client = new AbortController()
    const pending = post(url, JSON.stringify({ items: [] }), { 'content-type': 'application/json' })
    void pending.catch(() => {})
    const request = fetch(url, { method: 'POST', body: JSON.stringify({ items: [] }), signal: client.signal })
    request.catch(() => {})
    await linkStarted
    client.abort()
    const run = await kept
    expect(run.status).toBe('aborted')
    expect(run.error?.code).toBe('ABORTED')
    expect((await rec.runs({ chain: 'slow', status: 'aborted' })).map((r) => r.id)).toContain(run.id)
  })
})

describe('hostile requests', () => {
  /** Sends raw bytes and returns everything the server answered until it closed or went quiet. */
  function raw(port: number, text: string, quietMs = 1_500): Promise<string> {
    return new Promise((resolve) => {
      const socket = connect(port, '127.0.0.1')
      let answer = ''
      let timer = setTimeout(() => socket.destroy(), quietMs)
      socket.on('data', (chunk) => {
        answer += chunk.toString()
        clearTimeout(timer)
        timer = setTimeout(() => socket.destroy(), 200)
      })
      socket.on('error', () => {})
      socket.on('close', () => {
        clearTimeout(timer)
        resolve(answer)
      })
      socket.write(text)
    })
  }
  const body = JSON.stringify({ items: [{ price: 1 }] })
  const request = (headers: string[]) => `POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n${headers.map((h) => `${h}\r\n`).join('')}connection: close\r\n\r\n${body}`

  it('oversized headers: Node answers 431, nothing crashes, the server still serves', async () => {
    const { rec, port, url } = await serve(checkout)
    const answer = await raw(port, request([`x-big: ${'a'.repeat(20_000)}`]))
    expect(answer).toMatch(/^HTTP\/1\.1 431 /)
    expect(await rec.runs()).toHaveLength(0)
    expect((await post(url, body)).status).toBe(200)
  })

  it('a malformed traceparent is ignored: no remote parent, 200', async () => {
    const { rec, port } = await serve(checkout)
    for (const bad of ['00-xyz-abc-01', `00-${'0'.repeat(32)}-${'1'.repeat(16)}-01`, `ff-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, 'x'.repeat(4_000)]) {
      const answer = await raw(port, request([`traceparent: ${bad}`]))
      expect(answer).toMatch(/^HTTP\/1\.1 200 /)
      const id = /shadowchain-run-id: ([0-9a-f-]+)/.exec(answer)![1]!
      expect((await rec.get(id))?.trace).toBeUndefined()
    }
  })

  it('duplicate traceparent headers are ignored', async () => {
    const { rec, port } = await serve(checkout)
    const tp = (span: string) => `traceparent: 00-${'a'.repeat(32)}-${span}-01`
    const answer = await raw(port, request([tp('b'.repeat(16)), tp('c'.repeat(16))]))
    expect(answer).toMatch(/^HTTP\/1\.1 200 /)
    const id = /shadowchain-run-id: ([0-9a-f-]+)/.exec(answer)![1]!
    expect((await rec.get(id))?.trace).toBeUndefined()
  })

  it('a slow client: the server times it out (408 or closed), nothing crashes, its run is recorded and none is left running', async () => {
    const { rec, port, url } = await serve(checkout, {}, { requestTimeout: 500, headersTimeout: 400, connectionsCheckingInterval: 100 })
    const started = Date.now()
    // The headers promise 100 bytes; 10 arrive, then nothing.
    const answer = await raw(port, 'POST / HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"items":', 5_000)
    expect(Date.now() - started).toBeLessThan(4_500)
    expect(answer === '' || /^HTTP\/1\.1 408 /.test(answer)).toBe(true)
    // The run that began reading the body ended as a rejected run, kept by the recorder.
    await expect.poll(async () => (await rec.runs()).length, { timeout: 5_000 }).toBe(1)
    const [summary] = await rec.runs()
    expect(summary?.status).toBe('error')
    expect((await rec.get(summary!.id))?.error?.message).toMatch(/the request (was aborted while its body was read|body could not be read)/)
    expect((await post(url, body)).status).toBe(200)
  })

  it('a header value outside ASCII does not crash the request', async () => {
    const { port, url } = await serve(checkout)
    const answer = await raw(port, request(['x-odd: caf\u00e9'.replace('\u00e9', '\u00ff')]))
    expect(answer).toMatch(/^HTTP\/1\.1 (200|400) /)
    expect((await post(url, body)).status).toBe(200)
  })
})
