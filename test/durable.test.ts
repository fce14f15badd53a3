// Durable runs and resume (DESIGN §10): each completed step reaches the store before the next
// starts; a process killed mid-run leaves the run 'interrupted' with every completed step, and
// resume() continues it, in another process, from its last completed link.
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { chain, memoryStore, recorder, resume, ResumeError, Run, type RunStore } from '../src/index.js'
import { openStore, orderChain, type Order } from './durable-chain.js'
import { durableSummary, splitDurable } from './store/fixtures.js'

const order = (): Order => ({ id: 'o-1', steps: [], total: 0 })
const dir = mkdtempSync(join(tmpdir(), 'shadowchain-durable-'))
const url = inject('pgUrl')
const schemas: string[] = []
afterAll(async () => {
  rmSync(dir, { recursive: true, force: true })
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.end()
})

describe('a durable run', () => {
  it('stores its start and each completed step before the next step starts', async () => {
    const store = memoryStore()
    const rec = recorder({ store })
    const seen: string[][] = []
    const c = chain<Order>('order', { recorder: rec })
      .link('validate', (ctx) => void ctx.steps.push('validate'))
      .link('price', async (ctx, io) => {
        // What the store holds while this step runs: the start and the step before it.
        const doc = (await store.read(io.run.id))!
        seen.push(doc.events.map((e) => e.type))
        ctx.total = 42
      })
      .link('charge', async (_ctx, io) => {
        const doc = (await store.read(io.run.id))!
        seen.push(doc.events.map((e) => e.type))
      })
    const run = await c.run(order(), { durable: true })
    expect(seen).toEqual([
      ['run.start', 'link.start', 'link.end', 'run.end'],
      ['run.start', 'link.start', 'link.end', 'link.start', 'link.end', 'run.end'],
    ])
    await rec.flush()
    // Finished: the whole run replaces what was appended.
    const [summary] = await store.list()
    expect(summary).toMatchObject({ id: run.id, status: 'ok', links: 3 })
    expect((await store.read(run.id))!.events.at(-1)).toMatchObject({ type: 'run.end', status: 'ok' })
  })

  it('can be read back while it runs when a link\'s meta needs a newer version (a sparse array)', async () => {
    const store = memoryStore()
    const rec = recorder({ store })
    const sparse: number[] = []
    sparse[0] = 1
    sparse[2] = 3
    let meta: unknown
    const c = chain<Order>('order', { recorder: rec })
      .link('validate', (ctx) => void ctx.steps.push('validate'), { meta: { sparse } })
      .link('price', async (_ctx, io) => {
        meta = Run.fromJSON((await store.read(io.run.id))!).timeline.links()[0]?.link.meta
      })
    await c.run(order(), { durable: true })
    expect(meta).toEqual({ sparse })
    expect(1 in (meta as { sparse: number[] }).sparse).toBe(false)
    await rec.close()
  })

  it('needs a recorder with a store and a recording capture level: a TypeError that says which', async () => {
    const c = chain<Order>('order').link('a', () => {})
    await expect(c.run(order(), { durable: true })).rejects.toThrow("chain 'order': durable: true needs a recorder with a store (recorder({ store })) and a capture level other than 'off': it has no recorder")
    await expect(c.run(order(), { durable: true, recorder: recorder() })).rejects.toThrow('its recorder has no store')
    await expect(c.run(order(), { durable: true, recorder: recorder({ store: memoryStore() }), capture: 'off' })).rejects.toThrow("capture 'off' records no steps")
    expect(() => chain<Order>('o', { durable: 'yes' as never })).toThrow("chain 'o': options: durable must be a boolean, got")
  })

  it('goes on, reported, when the store fails or does not answer, and is written whole at its end', async () => {
    for (const fault of ['fails', 'hangs'] as const) {
      const inner = memoryStore()
      const store: RunStore = { ...inner, appendSteps: () => (fault === 'fails' ? Promise.reject(new Error('disk full')) : new Promise<void>(() => {})) }
      const warnings: string[] = []
      const rec = recorder({ store, durableTimeoutMs: 50, onWarning: (w) => void warnings.push(w.message) })
      const run = await orderChain(rec, () => {}).run(order(), { durable: true })
      expect(run.ctx.steps).toEqual(['validate', 'price', 'reserve', 'charged 42'])
      expect(warnings).toHaveLength(1)
      expect(warnings[0]).toContain(fault === 'fails' ? 'disk full' : 'did not answer within 50 ms')
      expect(rec.health.storeFailures).toBe(1)
      await rec.flush()
      expect((await inner.list())[0]).toMatchObject({ id: run.id, status: 'ok' })
    }
  })

  it("is let go by a recorder's keep.interruptedMs once it was left unfinished that long, even when no run of its chain finishes", async () => {
    const store = memoryStore()
    // A durable run of 'order' whose process died two days ago, its first step stored.
    const { head, batches } = splitDurable((await chain<Order>('order').link('validate', (ctx) => void ctx.steps.push('validate')).run(order())).toJSON())
    const dead = { ...head, run: { ...head.run, startedAt: String(BigInt(Date.now() - 2 * 86_400_000) * 1_000_000n) } }
    await store.begin(durableSummary(dead), dead)
    await store.appendSteps(dead.run.id, batches[0]!)
    // This process's run of 'order' stalls in 'reserve' (it dies too): nothing of the chain is written whole.
    const rec = recorder({ store, keep: { last: 5, interruptedMs: 86_400_000 } })
    let stalled!: () => void
    const reached = new Promise<void>((resolve) => (stalled = resolve))
    void orderChain(rec, () => {}, () => (stalled(), new Promise<void>(() => {}))).run(order(), { durable: true })
    await reached
    await rec.flush()
    const left = await store.list({ chain: 'order' })
    expect(left).toHaveLength(1)
    expect(left[0]).toMatchObject({ status: 'interrupted' })
    expect(left[0]!.id).not.toBe(dead.run.id)
    expect(await store.read(dead.run.id)).toBeUndefined()
    expect(() => recorder({ store, keep: { interruptedMs: -5 } })).toThrow('recorder(options): keep.interruptedMs must be a number of milliseconds ≥ 0, got -5')
  })

  it('stores what changed, not the state: 1,000 steps appending 1 KB each stay under 2 MB in SQLite', async () => {
    const path = join(dir, 'growth.db')
    const rec = recorder({ store: openStore('sqlite', path) })
    let c = chain<{ notes: string[] }>('growth', { recorder: rec })
    for (let i = 0; i < 1_000; i++) c = c.link(`step${i}`, (ctx) => void ctx.notes.push(`${i}`.padEnd(1_024, '.')))
    const run = await c.run({ notes: [] }, { durable: true })
    expect(run.ctx.notes).toHaveLength(1_000)
    await rec.close()
    // What the database holds: its pages in use (freed pages are reused by later writes).
    const db = new Database(path, { readonly: true })
    const pragma = (name: string) => Number(db.pragma(name, { simple: true }))
    const bytes = (pragma('page_count') - pragma('freelist_count')) * pragma('page_size')
    db.close()
    expect(bytes).toBeGreaterThan(1_000 * 1_024)
    expect(bytes).toBeLessThan(2 * 1024 * 1024)
  }, 60_000)
})

describe('resume', () => {
  /** A durable run stalled in its third step, in this process: its id, once two steps are stored. */
  async function stalled(store: RunStore): Promise<string> {
    const rec = recorder({ store })
    let ready: (id: string) => void = () => {}
    const id = new Promise<string>((resolve) => (ready = resolve))
    void orderChain(rec, () => {}, async () => {
      ready((await store.list({ status: 'interrupted' }))[0]!.id)
      await new Promise<void>(() => {})
    }).run(order(), { durable: true })
    return id
  }

  it('continues from the last completed link, as a fork of the interrupted run; exactly one of two resumers wins', async () => {
    const store = memoryStore()
    const id = await stalled(store)
    const ran: string[] = []
    const c = orderChain(recorder({ store }), (step) => void ran.push(step))
    const results = await Promise.allSettled([resume(id, { chain: c, store }), resume(id, { chain: c, store })])
    const won = results.filter((r): r is PromiseFulfilledResult<Run<Order>> => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    expect(won).toHaveLength(1)
    expect(lost).toHaveLength(1)
    expect(lost[0]!.reason).toBeInstanceOf(ResumeError)
    expect(lost[0]!.reason).toMatchObject({ code: 'RUN_OWNED', runId: id })
    const run = won[0]!.value
    expect(ran).toEqual(['reserve', 'charge'])
    expect(run.ctx.steps).toEqual(['validate', 'price', 'reserve', 'charged 42'])
    expect(run.parent?.runId).toBe(id)
    const stored = await store.list({ limit: 10 })
    expect(stored.find((s) => s.id === run.id)).toMatchObject({ status: 'ok', parentId: id })
    expect(stored.find((s) => s.id === id)).toMatchObject({ status: 'interrupted', links: 2 })
  })

  it('refuses an unknown run and a finished one with a typed error', async () => {
    const store = memoryStore()
    const rec = recorder({ store })
    const c = orderChain(rec, () => {})
    await expect(resume('no-such-run', { chain: c, store })).rejects.toMatchObject({ code: 'RUN_NOT_FOUND' })
    const done = await c.run(order(), { durable: true })
    await rec.flush()
    await expect(resume(done.id, { chain: c, store })).rejects.toMatchObject({ code: 'RUN_NOT_INTERRUPTED', message: expect.stringContaining("it ended 'ok'") })
  })
})

/** Starts the child process, waits until two steps are stored, kills it: the run's id and stored link count. */
function killMidRun(args: readonly string[]): Promise<{ id: string; links: number }> {
  const script = fileURLToPath(new URL('./durable-process.ts', import.meta.url))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const match = /READY (\S+) (\d+)/.exec(out)
      if (match !== null) {
        child.kill('SIGKILL')
        resolve({ id: match[1] as string, links: Number(match[2]) })
      }
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`the durable process ended by itself (${code}):\n${err}`))
    })
  })
}

describe.each([
  ['sqlite', () => ({ args: ['sqlite', join(dir, `${randomUUID()}.db`)] })],
  [
    'postgres',
    () => {
      const schema = `sc_durable_${randomUUID().replace(/-/g, '').slice(0, 12)}`
      schemas.push(schema)
      return { args: ['postgres', url, schema] }
    },
  ],
])('a process killed mid-run (%s)', (_kind, place) => {
  it('leaves the run interrupted with every completed step; another process resumes it from there', async () => {
    const { args } = place()
    const { id, links } = await killMidRun(args)
    expect(links).toBe(2)
    const store = openStore(args[0] as string, args[1] as string, args[2])
    try {
      const [summary] = await store.list({ status: 'interrupted' })
      expect(summary).toMatchObject({ id, chain: 'order', status: 'interrupted', links: 2 })
      const interrupted = Run.fromJSON<Order>(await store.read(id))
      expect(interrupted.timeline.links().map((l) => [l.name, l.status])).toEqual([
        ['validate', 'ok'],
        ['price', 'ok'],
      ])
      expect(interrupted.error?.code).toBe('INTERRUPTED')
      expect(interrupted.timeline.stateAt(interrupted.timeline.length - 1).ctx).toEqual({ id: 'o-1', steps: ['validate', 'price'], total: 42 })
      const ran: string[] = []
      const run = await resume(id, { chain: orderChain(recorder({ store }), (step) => void ran.push(step)), store })
      expect(ran).toEqual(['reserve', 'charge'])
      expect(run.ctx).toEqual({ id: 'o-1', steps: ['validate', 'price', 'reserve', 'charged 42'], total: 42 })
      expect((await store.list({ limit: 10 })).find((s) => s.id === run.id)).toMatchObject({ status: 'ok', parentId: id })
    } finally {
      await store.close()
    }
  }, 60_000)
})
