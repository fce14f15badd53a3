// The live view (DESIGN §11): serveDevtools(recorder) pushes each kept run, and each stored step of
// a durable run, to open pages as server-sent events, over real loopback.
import { connect } from 'node:net'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chain, memoryStore, recorder, type FlightRecorder } from '../src/index.js'
import { serveDevtools, type DevtoolsServer } from '../src/http/serve-devtools.js'
import { ensureBuilt } from './built-dist.js'
import { openSse, runIds, type SseStream } from './live-helpers.js'

const servers: DevtoolsServer[] = []
const streams: SseStream[] = []
const recorders: FlightRecorder[] = []
beforeAll(() => ensureBuilt()) // the page's model.js is built by npm run build
afterEach(async () => {
  for (const s of streams.splice(0)) s.close()
  await Promise.all(servers.splice(0).map((s) => s.close()))
  await Promise.all(recorders.splice(0).map((r) => r.close()))
})

async function setUp(options: Parameters<typeof serveDevtools>[1] = {}, rec: FlightRecorder = recorder({ keep: { last: 1_000 } })) {
  recorders.push(rec)
  const server = await serveDevtools(rec, options)
  servers.push(server)
  const c = chain<{ n: number; pad?: string }>('live', { recorder: rec }).link('add', (ctx) => void (ctx.n += 1))
  return { rec, server, c }
}
async function stream(url: string): Promise<SseStream> {
  const s = await openSse(url)
  streams.push(s)
  return s
}

describe('serveDevtools: the live view', () => {
  it('pushes a run made after the page connected, with the devtools Content-Security-Policy, on 127.0.0.1', async () => {
    const { server, c } = await setUp()
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const page = await stream(new URL('/api/live', server.url).href)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-type')).toMatch(/^text\/event-stream/)
    expect(page.headers.get('content-security-policy')).toBe("default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    const run = await c.run({ n: 1 })
    await page.waitFor((events) => runIds(events).includes(run.id))
    const doc = JSON.parse(page.events.find((e) => e.event === 'run')!.data)
    expect(doc).toMatchObject({ format: 'shadowchain/run', run: { id: run.id, chainName: 'live', status: 'ok' } })
    // The page itself, and what it is told at load.
    const index = await fetch(server.url)
    expect(index.status).toBe(200)
    expect(index.headers.get('content-security-policy')).toContain("default-src 'self'")
    expect(await (await fetch(new URL('/api/runs', server.url))).json()).toEqual({ runs: [], errors: [], live: true })
    // Another site's page rebinding its name to 127.0.0.1 is refused.
    const { status } = await new Promise<{ status: number }>((resolve) => {
      const socket = connect(server.port, '127.0.0.1', () => socket.write('GET /api/live HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n'))
      let text = ''
      socket.on('data', (d) => (text += d.toString()))
      socket.on('close', () => resolve({ status: Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]) }))
    })
    expect(status).toBe(403)
    await expect(serveDevtools(recorder(), { host: '0.0.0.0' as never })).rejects.toThrow(/host must be '127.0.0.1'/)
  })

  it('gives a page that connects late the recent runs first (a bounded ring), then the new ones', async () => {
    const { server, c } = await setUp({ recent: 3 })
    const before: string[] = []
    for (let i = 0; i < 5; i++) before.push((await c.run({ n: i })).id)
    await new Promise((r) => setTimeout(r, 50))
    const late = await stream(new URL('/api/live', server.url).href)
    await late.waitFor((events) => runIds(events).length === 3)
    expect(runIds(late.events)).toEqual(before.slice(2))
    const next = await c.run({ n: 9 })
    await late.waitFor((events) => runIds(events).includes(next.id))
    expect(runIds(late.events)).toEqual([...before.slice(2), next.id])
    expect(server.stats()).toMatchObject({ clients: 1, published: 6, dropped: 0 })
  })

  it('pushes each stored step of a durable run, then the finished run', async () => {
    const rec = recorder({ store: memoryStore() })
    let release!: () => void
    const gate = new Promise<void>((r) => (release = r))
    const { server } = await setUp({}, rec)
    const durable = chain<{ n: number }>('durable', { recorder: rec })
      .link('one', (ctx) => void (ctx.n += 1))
      .link('wait', async () => gate)
      .link('two', (ctx) => void (ctx.n += 1))
    const page = await stream(new URL('/api/live', server.url).href)
    const running = durable.run({ n: 0 }, { durable: true })
    await page.waitFor((events) => events.some((e) => e.event === 'step'))
    const step = JSON.parse(page.events.find((e) => e.event === 'step')!.data) as { runId: string; document: { run: { id: string } } }
    expect(step.document.run.id).toBe(step.runId)
    release()
    const run = await running
    expect(step.runId).toBe(run.id)
    await page.waitFor((events) => runIds(events).includes(run.id))
  })

  it('a page that never reads does not slow the runs: its buffer is bounded and drops are counted', async () => {
    const { server, c } = await setUp({ bufferBytes: 3 * 1024 * 1024 })
    const reader = await stream(new URL('/api/live', server.url).href)
    // A page that connected and never reads again.
    const stuck = connect(server.port, '127.0.0.1')
    await new Promise<void>((r) => stuck.once('connect', () => r()))
    stuck.write(`GET /api/live HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`)
    stuck.pause()
    await new Promise((r) => setTimeout(r, 100))
    expect(server.stats().clients).toBe(2)
    const pad = 'x'.repeat(200_000)
    // A run held up by the stuck page would never finish (the test's timeout); none is timed here.
    const ids: string[] = []
    for (let i = 0; i < 150; i++) {
      ids.push((await c.run({ n: i, pad })).id)
      // Let the server write and the reading page read: it stays within 5 runs (~1 MiB) of the
      // runs, under its 3 MiB buffer however loaded the machine (a fixed 5 ms pause was not enough
      // once, in CI, and the reading page dropped runs too).
      if (i % 5 === 4) await reader.waitFor((events) => runIds(events).length >= i + 1 - 5, 20_000)
    }
    // The reading page got every run; the stuck one lost what its buffer could not hold.
    await reader.waitFor((events) => runIds(events).length === 150, 20_000)
    expect(runIds(reader.events)).toEqual(ids)
    await new Promise((r) => setTimeout(r, 100))
    expect(server.stats().dropped).toBeGreaterThan(0)
    expect(((await (await fetch(new URL('/api/live/stats', server.url))).json()) as { dropped: number }).dropped).toBe(server.stats().dropped)
    expect(reader.events.some((e) => e.event === 'dropped')).toBe(false)
    stuck.destroy()
  })

  it('close() ends the pages\' streams and stops listening', async () => {
    const { server } = await setUp()
    const page = await stream(new URL('/api/live', server.url).href)
    expect(server.stats().clients).toBe(1)
    await server.close()
    servers.length = 0
    await expect(fetch(server.url)).rejects.toThrow()
    void page
  })
})
