// `nodeListener(handler)`: a fetch-standard handler served from `node:http` (or `node:https`):
// the request body streamed in (with backpressure), the response streamed out, and a client that
// goes away aborting the request's signal. Only types come from Node: this module loads anywhere.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { diag } from '@opentelemetry/api'
import { describeError } from '../core/errors.js'
import { knownText } from './responses.js'

/** A fetch-standard handler: what {@link handler} returns, or any other. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** The request's URL: its Host header when it is a valid host, else `localhost`. */
function urlOf(req: IncomingMessage): string {
  const scheme = (req.socket as { encrypted?: boolean } | null)?.encrypted === true ? 'https' : 'http'
  let base = `${scheme}://localhost`
  const host = req.headers.host
  if (typeof host === 'string' && /^[A-Za-z0-9.\-:[\]]{1,255}$/.test(host)) {
    try {
      base = new URL(`${scheme}://${host}`).origin
    } catch {
      // keep localhost
    }
  }
  const path = req.url ?? '/'
  try {
    return new URL(path.startsWith('/') ? path : `/${path}`, base).href
  } catch {
    return `${base}/`
  }
}

function headersOf(req: IncomingMessage): Headers {
  const headers = new Headers()
  const raw = req.rawHeaders
  for (let i = 0; i + 1 < raw.length; i += 2) {
    try {
      headers.append(raw[i]!, raw[i + 1]!)
    } catch {
      // A header Node's parser let through that fetch's Headers refuses: dropped.
    }
  }
  return headers
}

/**
 * The request's body as a web stream, pulled with backpressure. Cancelling it (a body past
 * `maxBodyBytes`) stops reading without destroying the connection, so the 413 can still be sent;
 * `state.unread` then makes the response close the connection.
 */
function bodyOf(req: IncomingMessage, state: { unread: boolean }): ReadableStream<Uint8Array> {
  let done = false
  const finish = () => {
    done = true
    req.removeAllListeners('data')
  }
  return new ReadableStream<Uint8Array>({
    start(controller) {
      req.on('data', (chunk: Buffer) => {
        if (done) return
        controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
        if ((controller.desiredSize ?? 0) <= 0) req.pause()
      })
      req.once('end', () => {
        if (done) return
        state.unread = false
        finish()
        controller.close()
      })
      req.once('error', (error) => {
        if (done) return
        finish()
        controller.error(error)
      })
      req.once('aborted', () => {
        if (done) return
        finish()
        controller.error(new Error('the client aborted the request'))
      })
    },
    pull() {
      req.resume()
    },
    cancel() {
      finish()
      req.pause()
    },
  }, { highWaterMark: 1 })
}

async function writeResponse(response: Response, res: ServerResponse, closeAfter: boolean): Promise<void> {
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, key) => {
    if (key !== 'set-cookie') headers[key] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  if (closeAfter) headers['connection'] = 'close'
  const statusText = response.statusText === '' ? undefined : response.statusText
  const text = knownText(response)
  if (text !== undefined) {
    // A response the handler made: its text at once, no stream to read back.
    headers['content-length'] = String(Buffer.byteLength(text))
    res.writeHead(response.status, statusText, headers).end(text)
    return
  }
  res.writeHead(response.status, statusText, headers)
  if (response.body === null) {
    res.end()
    return
  }
  const reader = response.body.getReader()
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (res.destroyed) break
      if (!res.write(value)) {
        await new Promise<void>((resolve) => {
          const go = () => {
            res.off('drain', go)
            res.off('close', go)
            resolve()
          }
          res.on('drain', go)
          res.on('close', go)
        })
      }
    }
  } finally {
    if (res.destroyed) reader.cancel().catch(() => {})
    else res.end()
  }
}

/**
 * Serves a fetch-standard handler from `node:http`: `http.createServer(nodeListener(h))`.
 *
 * The request body is streamed into the `Request` (read only as the handler reads it: a handler
 * that stops at its `maxBodyBytes` leaves the rest unread, and the connection is then closed after
 * the response), the response body is streamed out with backpressure, and a client that goes away
 * before the response is finished aborts `request.signal` (so a {@link handler}'s run is aborted
 * and recorded as such). The URL's host is the Host header when it is a well-formed host, else
 * `localhost`. A handler that throws gets a bare 500 (reported through OTel's `diag`).
 *
 * @example
 * const server = http.createServer({ requestTimeout: 30_000 }, nodeListener(handler(checkout)))
 * server.listen(3000, '127.0.0.1')
 */
export function nodeListener(fetchHandler: FetchHandler): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof fetchHandler !== 'function') throw new TypeError('nodeListener(handler): handler must be a function (request) => Response')
  return (req, res) => {
    const controller = new AbortController()
    const state = { unread: true }
    res.once('close', () => {
      if (!res.writableFinished) controller.abort(new Error('the client went away'))
    })
    const method = req.method ?? 'GET'
    const init: RequestInit & { duplex?: 'half' } = { method, headers: headersOf(req), signal: controller.signal }
    if (method !== 'GET' && method !== 'HEAD') {
      init.body = bodyOf(req, state)
      init.duplex = 'half'
    } else {
      state.unread = false
    }
    let request: Request
    try {
      request = new Request(urlOf(req), init)
    } catch (error) {
      diag.warn(`shadowchain/http: a request could not be read: ${describeError(error)}`)
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' }).end('bad request\n')
      return
    }
    Promise.resolve()
      .then(() => fetchHandler(request))
      .then((response) => (res.destroyed ? undefined : writeResponse(response, res, state.unread && !req.complete)))
      .catch((error: unknown) => {
        diag.error(`shadowchain/http: the handler failed: ${describeError(error)}`)
        if (res.destroyed) return
        if (res.headersSent) res.destroy()
        else res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('internal error\n')
      })
  }
}
