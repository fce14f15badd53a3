// One tree across services on the command line and in the viewer's server (DESIGN §11): the runs of
// two "services" (made in-process: test/stitch-fixture.ts) saved to files and to two SQLite
// stores, inspected and served as one trace. Runs the BUILT command line as a user does.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Viewer } from '../devtools/server.js'
import { saveRun, type Run } from '../src/index.js'
import { sqliteStore, storedRun } from '../src/store/sqlite/index.js'
import { ensureBuilt } from './built-dist.js'
import { cli, startCliView } from './cli-helpers.js'
import { twoServices, useW3C } from './stitch-fixture.js'

let dir: string
let stop: () => void
let runs: Awaited<ReturnType<typeof twoServices>>
let other: Awaited<ReturnType<typeof twoServices>>
const files = { orders: '', payment: '', audit: '' }
let ordersDb: string
let paymentsDb: string

beforeAll(async () => {
  ensureBuilt()
  stop = useW3C()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-stitch-'))
  runs = await twoServices()
  other = await twoServices()
  for (const [name, run] of [['orders', runs.orders], ['payment', runs.payment], ['audit', runs.audit]] as const) {
    files[name] = join(dir, `${name}.run.json`)
    await saveRun(run as Run<unknown>, files[name])
  }
  // Two services, two stores; each also holds a run of another trace.
  ordersDb = join(dir, 'orders.db')
  paymentsDb = join(dir, 'payments.db')
  const a = sqliteStore(ordersDb)
  await a.write([runs.orders, other.orders].map((r) => storedRun(r.toJSON())))
  await a.close()
  const b = sqliteStore(paymentsDb)
  await b.write([runs.payment, runs.audit, other.payment].map((r) => storedRun(r.toJSON())))
  await b.close()
})
afterAll(async () => {
  stop?.()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** The line of a waterfall row of `link`, and the lines under it. */
function under(text: string, link: string): string[] {
  const lines = text.split('\n')
  const at = lines.findIndex((l) => new RegExp(`^\\s+\\d+\\s+${link}\\s`).test(l))
  expect(at, text).toBeGreaterThan(-1)
  return lines.slice(at + 1)
}

describe('inspect of several runs', () => {
  it('inspect a b c: runs sharing a trace print as one tree, the remote run indented under the calling link', async () => {
    const { code, stdout, stderr } = await cli('inspect', files.audit, files.payment, files.orders, '--no-color')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout.split('\n')[0]).toBe(`trace ${runs.orders.trace!.traceId}  3 runs`)
    expect(stdout.split('\n')[1]).toMatch(new RegExp(`^orders  run ${runs.orders.id.slice(-8)}  ok .*\\(orders\\.run\\.json\\)$`))
    const afterCharge = under(stdout, 'charge')
    expect(afterCharge[0]).toMatch(new RegExp(`^ {5}▾ ⇢ remote run ${runs.payment.id.slice(-8)} 'payments' \\(payment\\.run\\.json\\)  ok  \\+`))
    expect(afterCharge[1]).toMatch(/^ {4}\s+0 {2}authorize/)
    expect(afterCharge[2]).toMatch(/^ {4}\s+1 {2}capture/)
    expect(under(stdout, 'notify')[0]).toMatch(new RegExp(`⇢ remote run ${runs.audit.id.slice(-8)} 'audit'`))
    // --events: each run's events, callers first; --json: the tree.
    const events = await cli('inspect', files.orders, files.payment, '--no-color', '--events')
    expect(events.stdout).toContain(`⇢ remote run ${runs.payment.id.slice(-8)} 'payments' (payment.run.json) called by link 'charge' of run ${runs.orders.id.slice(-8)}:`)
    const json = JSON.parse((await cli('inspect', files.orders, files.payment, '--json')).stdout)
    expect(json.traces[0].roots[0]).toMatchObject({ id: runs.orders.id, remote: [{ id: runs.payment.id, calledBy: { link: 'charge', runId: runs.orders.id } }] })
  })

  it('inspect <storeA> <storeB> --trace <id>: every run of the trace from both stores, as one tree', async () => {
    const traceId = runs.orders.trace!.traceId
    const { code, stdout, stderr } = await cli('inspect', ordersDb, paymentsDb, '--trace', traceId.toUpperCase(), '--no-color')
    expect(stderr).toBe('')
    expect(code).toBe(0)
    expect(stdout.split('\n')[0]).toBe(`trace ${traceId}  3 runs`)
    expect(stdout).not.toContain(other.orders.id.slice(-8))
    expect(under(stdout, 'charge')[0]).toMatch(new RegExp(`⇢ remote run ${runs.payment.id.slice(-8)} 'payments' \\(payments\\.db\\)`))
    // A store and a run id of it, plus a file: mixed.
    const mixed = await cli('inspect', paymentsDb, runs.payment.id.slice(-8), files.orders, '--no-color')
    expect(mixed.code).toBe(0)
    expect(under(mixed.stdout, 'charge')[0]).toMatch(/⇢ remote run/)
    // No runs of a trace, a bad trace id: one line, exit 2.
    const none = await cli('inspect', ordersDb, '--trace', 'f'.repeat(32))
    expect(none.code).toBe(2)
    expect(none.stderr).toMatch(/^shadowchain: no runs of trace f{32}/)
    const bad = await cli('inspect', ordersDb, '--trace', 'nope')
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--trace must be a W3C trace id/)
  })
})

describe('the viewer serves the stitched trace', () => {
  it('startViewer: /api/runs lists the trace as a tree with where each run was read', async () => {
    const { startViewer } = await import('../devtools/server.js')
    const viewer: Viewer = await startViewer({ files: [files.payment, files.orders] })
    try {
      const body = (await (await fetch(new URL('/api/runs', viewer.url))).json()) as {
        runs: { run: { id: string } }[]
        sources: string[]
        traces: { traceId: string; roots: { id: string; origin: string; remote: { id: string; calledBy: { link: string } }[] }[] }[]
      }
      expect(body.runs.map((d) => d.run.id)).toEqual([runs.payment.id, runs.orders.id])
      expect(body.sources).toEqual(['payment.run.json', 'orders.run.json'])
      expect(body.traces).toMatchObject([{ traceId: runs.orders.trace!.traceId, roots: [{ id: runs.orders.id, origin: 'orders.run.json', remote: [{ id: runs.payment.id, calledBy: { link: 'charge' } }] }] }])
    } finally {
      await viewer.close()
    }
  })

  it('view <storeA> <storeB> --trace <id> serves the runs of that trace, stitched', async () => {
    const { url, child, exited } = await startCliView([ordersDb, paymentsDb, '--trace', runs.orders.trace!.traceId])
    try {
      const body = (await (await fetch(new URL('/api/runs', url))).json()) as { runs: { run: { id: string } }[]; traces: { roots: { id: string; origin: string; remote: { id: string; origin: string }[] }[] }[] }
      expect(body.runs.map((d) => d.run.id).sort()).toEqual([runs.orders.id, runs.payment.id, runs.audit.id].sort())
      expect(body.traces[0]?.roots[0]).toMatchObject({ id: runs.orders.id, origin: 'orders.db', remote: [{ id: runs.payment.id, origin: 'payments.db' }, { id: runs.audit.id }] })
    } finally {
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
    }
  })
})
