// `shadowchain view --live <store>` (DESIGN §11): the store is polled and each new run, and each
// step a durable run stores, is pushed to open pages; SIGTERM stops it cleanly. The BUILT CLI.
import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain } from '../src/index.js'
import { sqliteStore, storedRun } from '../src/store/sqlite/index.js'
import { durableSummary, splitDurable } from './store/fixtures.js'
import { ensureBuilt, ROOT } from './built-dist.js'
import { openSse, runIds } from './live-helpers.js'
import { startCliView } from './cli-helpers.js'

let dir: string
beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-live-cli-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/**
 * Serves `view --live <path>`, runs `body` with its event stream open, then stops it with
 * SIGTERM (it must exit 0); resolves to what it wrote to stderr.
 */
async function watching(path: string, interval: string, body: (page: Awaited<ReturnType<typeof openSse>>) => Promise<void>): Promise<string> {
  const { url, child, exited, stderr } = await startCliView(['--live', path, '--interval', interval])
  try {
    const page = await openSse(new URL('/api/live', url).href)
    try {
      await body(page)
    } finally {
      page.close()
    }
  } finally {
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  }
  return stderr()
}

const c = chain<{ n: number }>('polled').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1))

describe('view --live <store>', () => {
  it('pushes the recent runs first, then each run stored later and each durable step; SIGTERM exits 0', async () => {
    const path = join(dir, 'live.db')
    const store = sqliteStore(path)
    const old = await c.run({ n: 0 })
    await store.write([storedRun(old.toJSON())])
    const stderr = await watching(path, '50', async (page) => {
      await page.waitFor((events) => runIds(events).includes(old.id))
      const fresh = await c.run({ n: 10 })
      await store.write([storedRun(fresh.toJSON())])
      await page.waitFor((events) => runIds(events).includes(fresh.id))
      // A durable run: begun, then a step appended: its document so far is pushed as a step.
      const durable = await c.run({ n: 20 })
      const { head, batches } = splitDurable(durable.toJSON())
      await store.begin(durableSummary(head), head)
      await store.appendSteps(durable.id, batches[0]!)
      await page.waitFor((events) => events.some((e) => e.event === 'step' && (JSON.parse(e.data) as { runId: string }).runId === durable.id))
      await store.write([storedRun(durable.toJSON())])
      await page.waitFor((events) => runIds(events).includes(durable.id))
      expect(runIds(page.events)).toEqual([old.id, fresh.id, durable.id])
    }).finally(() => store.close())
    expect(stderr).toBe('')
  })

  it('pushes every run of a burst larger than one page of the store (2,500 runs between two polls)', async () => {
    const path = join(dir, 'burst.db')
    const store = sqliteStore(path)
    const first = await c.run({ n: 0 })
    await store.write([storedRun(first.toJSON())])
    await watching(path, '200', async (page) => {
      await page.waitFor((events) => runIds(events).includes(first.id))
      // Copies of one document under 2,500 ids, all written in one batch between two polls.
      const doc = (await c.run({ n: 1 })).toJSON()
      const start = BigInt(doc.run.startedAt)
      const burst = Array.from({ length: 2_500 }, (_, i) => {
        const id = `burst-${String(i).padStart(4, '0')}`
        return storedRun({ ...doc, run: { ...doc.run, id, startedAt: String(start + BigInt(i)), endedAt: String(start + BigInt(i) + 1_000n) } })
      })
      await store.write(burst)
      await page.waitFor((events) => runIds(events).length === 2_501, 30_000)
      expect(new Set(runIds(page.events)).size).toBe(2_501)
    }).finally(() => store.close())
  }, 60_000)

  it('refuses --live without exactly one store', async () => {
    const result = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'devtools', 'cli.js'), 'view', '--live', join(dir, 'none.run.json')], { cwd: ROOT })
      let stderr = ''
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()))
      child.once('exit', (code) => resolve({ code, stderr }))
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--live takes one store/)
  })
})
