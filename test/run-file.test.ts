import { mkdtemp, readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { chain, DocumentError, loadRun, saveRun } from '../src/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-files-'))
})
afterEach(() => vi.restoreAllMocks())

const orders = chain<{ items: string[]; total: number }>('orders')
  .link('add', (ctx) => void ctx.items.push('book'))
  .link('price', (ctx) => void (ctx.total = 12))

describe('saveRun / loadRun', () => {
  it('writes a file that loads back into the same run, with the chain attached', async () => {
    const run = await orders.run({ items: [], total: 0 })
    const file = join(dir, 'orders.run.json')
    await saveRun(run, file)
    const back = await loadRun(file, { chain: orders })
    expect(back.id).toBe(run.id)
    expect(back.ctx).toEqual(run.ctx)
    expect(back.timeline.events.map((e) => [e.seq, e.t, e.type])).toEqual(run.timeline.events.map((e) => [e.seq, e.t, e.type]))
    expect(back.source).toBe(orders)
    const text = await readFile(file, 'utf8')
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(run.toJSON())))
    expect(text.split('\n').length).toBeGreaterThan(run.timeline.length)
  })

  it('applies redaction when saving', async () => {
    const run = await chain<{ card: string }>('pay').link('x', (ctx) => void (ctx.card = '4242-SECRET')).run({ card: '' })
    const file = join(dir, 'pay.run.json')
    await saveRun(run, file, { redact: [['card']] })
    expect(await readFile(file, 'utf8')).not.toContain('4242')
  })

  it('saves and loads a 100,000-event run without building one JSON string of it', async () => {
    let c = chain<{ n: number }>('big')
    for (let i = 0; i < 25_000; i++) c = c.link(`l${i}`, (ctx) => void (ctx.n += 1))
    const run = await c.use({ name: 'm', before() {}, after() {} }).run({ n: 0 })
    expect(run.timeline.length).toBe(100_002)
    const stringify = vi.spyOn(JSON, 'stringify')
    const file = join(dir, 'big.run.json')
    await saveRun(run, file)
    const size = (await stat(file)).size
    const longest = stringify.mock.results.reduce((max, r) => Math.max(max, typeof r.value === 'string' ? r.value.length : 0), 0)
    expect(longest).toBeLessThan(size / 10)
    stringify.mockRestore()
    const back = await loadRun<{ n: number }>(file)
    expect(back.timeline.length).toBe(100_002)
    expect(back.ctx.n).toBe(25_000)
    expect(back.timeline.stateAt(50_001).ctx.n).toBe(run.timeline.stateAt(50_001).ctx.n)
  }, 60_000)

  it('leaves no file behind when saving fails', async () => {
    const run = await orders.run({ items: [], total: 0 })
    const target = join(dir, 'missing-dir', 'x.run.json')
    await expect(saveRun(run, target)).rejects.toThrow(/ENOENT/)
    const cyclic = await chain<{ n: number }>('cyc')
      .link('x', () => {})
      .use({ name: 'm', before: (e) => void (e.mwctx.ok = 1) })
      .run({ n: 0 })
    expect(cyclic.status).toBe('ok')
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([])
  })

  it('names the file and the problem when loading a broken one', async () => {
    const run = await orders.run({ items: [], total: 0 })
    const file = join(dir, 'cut.run.json')
    await saveRun(run, file)
    const text = await readFile(file, 'utf8')
    await writeFile(file, text.slice(0, text.length / 2))
    const error = await loadRun(file).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DocumentError)
    expect((error as DocumentError).file).toBe(file)
    expect((error as Error).message).toMatch(/cut\.run\.json: \$: not valid JSON .*truncated/)
    await writeFile(file, JSON.stringify({ ...run.toJSON(), version: 11 }))
    await expect(loadRun(file)).rejects.toThrow(/cut\.run\.json: \$\.version: unsupported version 11/)
    await expect(loadRun(file, { maxBytes: 10 })).rejects.toThrow(/more than the limit of 10/)
    await expect(loadRun(join(dir, 'nope.json'))).rejects.toMatchObject({ code: 'ENOENT' })
  })
})
