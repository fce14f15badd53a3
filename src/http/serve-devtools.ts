// The live devtools (DESIGN §11): the viewer served from a running process, each run a flight
// recorder keeps (and each step of a durable run) pushed to open pages as server-sent events.
// Nothing here is ever awaited by a run: the recorder's listener only queues; encoding and
// writing happen later, and a page that reads slowly loses messages (counted), never time.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { admitted, assertViewerBuilt, SECURITY_HEADERS, send, sendText, servePage } from './viewer-files.js'
import type { RunDocument } from '../files/run-document.js'
import type { FlightRecorder } from '../store/flight-recorder.js'

/** Options of {@link serveDevtools}. */
export interface ServeDevtoolsOptions {
  /** The port; 0 (default) for any free one. */
  readonly port?: number | undefined
  /** Where to listen: `'127.0.0.1'` only (the default); anything else is a `TypeError`. */
  readonly host?: '127.0.0.1' | undefined
  /** How many recent runs a page that connects late gets first (1 to 1,000; default 50). */
  readonly recent?: number | undefined
  /** Bytes of messages kept for one page that reads slowly before further ones are dropped (default 4 MiB). */
  readonly bufferBytes?: number | undefined
  /** Most pages connected at once (default 32; more get 503). */
  readonly maxClients?: number | undefined
}

/** What a live devtools server has done. */
export interface LiveStats {
  /** Pages connected now. */
  readonly clients: number
  /** Messages (runs and steps) published. */
  readonly published: number
  /** Messages not delivered to a page because it read too slowly (over all pages), or because runs came faster than they could be encoded. */
  readonly dropped: number
}

/** A running live devtools server. */
export interface DevtoolsServer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  readonly port: number
  /** What it has done so far (also served as JSON at `/api/live/stats`). */
  stats(): LiveStats
  /** Stops listening, ends every page's stream and stops listening to the recorder. */
  close(): Promise<void>
}

/** @internal A live server fed by its caller (`serveDevtools` feeds it from a recorder; `shadowchain view --live` from a store). */
export interface LiveServer extends DevtoolsServer {
  /**
   * Queues a run (`'run'`: finished) or a durable run's document so far (`'step'`) for the
   * pages. Returns at once: `document()` is called later, off the caller's path.
   */
  publish(kind: 'run' | 'step', runId: string, document: () => RunDocument): void
}

/** Runs queued faster than they can be encoded: beyond this many, the oldest are dropped. */
const MAX_QUEUED = 10_000

function whole(value: number | undefined, name: string, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (!Number.isSafeInteger(value) || value < min || value > max) throw new TypeError(`serveDevtools: ${name} must be a whole number from ${min} to ${max}, got ${String(value)}`)
  return value
}

/** One page's event stream: writes while the socket takes them, then a bounded queue, then drops. */
class Client {
  #queue: string[] = []
  #bytes = 0
  #waiting = false
  #dropped = 0
  #reported = 0
  constructor(
    readonly response: ServerResponse,
    readonly limit: number,
    readonly onDrop: () => void,
  ) {}

  send(text: string): void {
    if (this.#waiting) {
      if (this.#bytes + text.length > this.limit) {
        this.#dropped++
        this.onDrop()
        return
      }
      this.#queue.push(text)
      this.#bytes += text.length
      return
    }
    this.#write(text)
  }

  #write(text: string): void {
    if (this.response.write(text)) return
    this.#waiting = true
    this.response.once('drain', () => this.#drain())
  }

  #drain(): void {
    this.#waiting = false
    // The page learns how many messages it missed.
    if (this.#dropped > this.#reported) {
      this.#reported = this.#dropped
      this.#write(`event: dropped\ndata: {"dropped":${this.#dropped}}\n\n`)
    }
    while (this.#queue.length > 0 && !this.#waiting) {
      const text = this.#queue.shift() as string
      this.#bytes -= text.length
      this.#write(text)
    }
  }
}

/** @internal Starts a live devtools server that its caller feeds with {@link LiveServer.publish}. */
export async function startLiveServer(options: ServeDevtoolsOptions = {}): Promise<LiveServer> {
  if (options.host !== undefined && options.host !== '127.0.0.1') throw new TypeError(`serveDevtools: host must be '127.0.0.1' (the devtools show business data: loopback only), got '${String(options.host)}'`)
  const port = whole(options.port, 'port', 0, 0, 65_535)
  const recent = whole(options.recent, 'recent', 50, 1, 1_000)
  const limit = whole(options.bufferBytes, 'bufferBytes', 4 * 1024 * 1024, 1_024, 1024 * 1024 * 1024)
  const maxClients = whole(options.maxClients, 'maxClients', 32, 1, 1_000)
  await assertViewerBuilt()
  // The last message of each of the `recent` latest runs: what a page that connects late gets first.
  const ring = new Map<string, string>()
  const clients = new Set<Client>()
  let queued: { kind: 'run' | 'step'; runId: string; document: () => RunDocument }[] = []
  let scheduled: ReturnType<typeof setImmediate> | undefined
  let published = 0
  let dropped = 0
  let closed = false

  const flush = (): void => {
    scheduled = undefined
    const batch = queued
    queued = []
    for (const item of batch) {
      let text: string
      try {
        const document = item.document()
        const data = item.kind === 'run' ? document : { runId: item.runId, document }
        text = `event: ${item.kind}\ndata: ${JSON.stringify(data)}\n\n`
      } catch {
        continue // a run that cannot be encoded is not shown; the run itself is not concerned
      }
      published++
      ring.delete(item.runId)
      ring.set(item.runId, text)
      if (ring.size > recent) ring.delete(ring.keys().next().value as string)
      for (const client of clients) client.send(text)
    }
  }
  const publish = (kind: 'run' | 'step', runId: string, document: () => RunDocument): void => {
    if (closed) return
    queued.push({ kind, runId, document })
    if (queued.length > MAX_QUEUED) {
      queued.shift()
      dropped++
    }
    scheduled ??= setImmediate(flush)
  }

  let origin = ''
  const server = createServer((request, response) => {
    void handle(request, response).catch(() => sendText(response, 500, 'devtools: internal error'))
  })
  const handle = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    if (!admitted(request, response, origin)) return
    // The page asks what is served: nothing up front, the stream brings the recent runs first.
    if (url.pathname === '/api/runs') return send(response, 200, 'application/json; charset=utf-8', JSON.stringify({ runs: [], errors: [], live: true }))
    if (url.pathname === '/api/live/stats') return send(response, 200, 'application/json; charset=utf-8', JSON.stringify(stats()))
    if (url.pathname === '/api/live') return stream(request, response)
    if (!(await servePage(url.pathname, response))) sendText(response, 404, 'not found')
  }
  const stream = (request: IncomingMessage, response: ServerResponse): void => {
    if (closed || clients.size >= maxClients) return sendText(response, 503, 'too many live pages')
    response.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', Connection: 'keep-alive' })
    if (request.method === 'HEAD') return void response.end()
    response.socket?.setNoDelay(true)
    const client = new Client(response, limit, () => void dropped++)
    clients.add(client)
    request.socket.once('close', () => clients.delete(client))
    client.send('retry: 1000\n\n')
    for (const text of ring.values()) client.send(text)
  }
  // Keeps idle connections (and proxies) from timing out; a waiting client skips it.
  const ping = setInterval(() => {
    for (const client of clients) client.send(': ping\n\n')
  }, 15_000)
  ping.unref()
  await new Promise<void>((done, fail) => {
    server.once('error', fail)
    server.listen(port, '127.0.0.1', done)
  })
  const bound = (server.address() as AddressInfo).port
  origin = `127.0.0.1:${bound}`
  const stats = (): LiveStats => ({ clients: clients.size, published, dropped })
  return {
    url: `http://${origin}/`,
    port: bound,
    stats,
    publish,
    close: async () => {
      if (closed) return
      closed = true
      clearInterval(ping)
      if (scheduled !== undefined) clearImmediate(scheduled)
      for (const client of clients) client.response.end()
      clients.clear()
      await new Promise<void>((done) => {
        server.close(() => done())
        server.closeAllConnections()
      })
    },
  }
}

/**
 * Serves the devtools viewer from a running process, on 127.0.0.1 only, and pushes each run the
 * recorder keeps, and each stored step of a durable run, to the open pages as it happens
 * (server-sent events at `/api/live`). A page that connects late gets the `recent` latest runs
 * first. The recorder's listener only queues: runs are encoded and written later, never awaited;
 * a page that reads slowly has a bounded buffer (`bufferBytes`) and loses what does not fit
 * (counted: `stats().dropped`, `/api/live/stats`, and shown on the page). Same Content-Security-
 * Policy as `shadowchain view`. `close()` stops it; a SIGTERM ends it with the process.
 *
 * @example
 * const rec = recorder({ store: sqliteStore('runs.db') })
 * const devtools = await serveDevtools(rec, { port: 4400 })   // open http://127.0.0.1:4400/
 */
export async function serveDevtools(recorder: FlightRecorder, options: ServeDevtoolsOptions = {}): Promise<DevtoolsServer> {
  if (recorder === null || typeof recorder !== 'object' || typeof recorder.subscribe !== 'function') throw new TypeError('serveDevtools(recorder): recorder must be a flight recorder (recorder() from shadowchain)')
  const live = await startLiveServer(options)
  const unsubscribe = recorder.subscribe((event) => {
    if (event.type === 'run') live.publish('run', event.run.id, () => event.run.toJSON() as RunDocument)
    else live.publish('step', event.runId, () => event.document)
  })
  return {
    url: live.url,
    port: live.port,
    stats: live.stats,
    close: async () => {
      unsubscribe()
      await live.close()
    },
  }
}
