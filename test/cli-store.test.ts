// The `shadowchain` command line on run stores (DESIGN §10, issue #13): `runs`, `stats`, and
// `inspect` / `diff` / `view` of stored runs, run as a user runs it (`node devtools/cli.js ...`,
// on the BUILT library) against a real SQLite file and a real PostgreSQL server (found or started
// by test/global-setup-postgres.ts; each store here lives in a schema of its own, dropped at the end).
import { execFile } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import Database from 'better-sqlite3'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { chain, ChainRunError, recorder, saveRun, type ChainStats, type Middleware, type Run, type RunStore } from '../src/index.js'
import { sqliteStore, storedRun } from '../src/store/sqlite/index.js'
import { postgresStore } from '../src/store/postgres/index.js'
import { formatStats } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'
import { childEnv, CLI, cli, startCliView, type CliResult as Result } from './cli-helpers.js'
import { copyAs, durableSummary, splitDurable } from './store/fixtures.js'

/** Bad usage or an unreadable store: exit 2, nothing on stdout, one `shadowchain: ` line on stderr. */
function expectUsageError(result: Result, ...patterns: (string | RegExp)[]): void {
  expect(result.code).toBe(2)
  expect(result.stdout).toBe('')
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^shadowchain: \S/)
  for (const pattern of patterns) expect(lines[0]).toMatch(pattern)
}

// ---- recorded runs -----------------------------------------------------------------------------

interface Order {
  fail: boolean
  items: number[]
  total: number
}

const timing: Middleware<Order> = { name: 'timing', before() {}, after() {} }

const checkout = () =>
  chain<Order>('checkout')
    .link('validate', (ctx) => {
      if (ctx.items.length === 0) throw new Error('no items')
    })
    .link('price', (ctx) => {
      if (ctx.fail) throw new Error('price service down')
      ctx.total = ctx.items.reduce((sum, n) => sum + n, 0)
    })
    .link('ship', () => {})
    .use(timing)

const refund = () => chain<{ n: number }>('refund').link('pay', (ctx) => void (ctx.n += 1))

interface Recorded {
  /** Every run, in the order they ran. */
  readonly runs: Run<unknown>[]
  /** The live statistics the recorder kept of the same runs. */
  readonly stats: ChainStats[]
}

/** 12 checkout runs (every 4th fails at price) and 2 refund runs, through a recorder into `store`. */
async function record(store: RunStore): Promise<Recorded> {
  const rec = recorder({ store, keep: { last: 1_000, failed: 1_000 }, flushOnExit: false })
  const runs: Run<unknown>[] = []
  for (let i = 0; i < 12; i++) {
    try {
      runs.push((await checkout().run({ fail: i % 4 === 1, items: [10, 20 + i], total: 0 }, { recorder: rec })) as Run<unknown>)
    } catch (error) {
      if (!(error instanceof ChainRunError)) throw error
      runs.push(error.run as Run<unknown>)
    }
    // Distinct start times, so newest-first is the order they ran, reversed.
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  for (let i = 0; i < 2; i++) {
    runs.push((await refund().run({ n: i }, { recorder: rec })) as Run<unknown>)
    await new Promise((resolve) => setTimeout(resolve, 2))
  }
  const stats = rec.stats()
  await rec.close()
  return { runs, stats }
}

const plainJSON = (value: unknown): unknown => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)))

let dir: string
const pgUrl = inject('pgUrl')
const schemas: string[] = []
let admin: pg.Client

beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-cli-store-'))
  admin = new pg.Client({ connectionString: pgUrl })
  await admin.connect()
}, 180_000)

afterAll(async () => {
  for (const schema of schemas) await admin?.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin?.end()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** The same behaviour from both stores: the argument that names the store differs. */
const STORES = [
  {
    kind: 'sqlite',
    async make(): Promise<{ store: RunStore; arg: string }> {
      const path = join(dir, `${randomUUID()}.db`)
      return { store: sqliteStore(path), arg: path }
    },
  },
  {
    kind: 'postgres',
    async make(): Promise<{ store: RunStore; arg: string }> {
      const schema = `sc_cli_${randomUUID().replace(/-/g, '').slice(0, 16)}`
      schemas.push(schema)
      const store = postgresStore(pgUrl, { schema })
      const url = new URL(pgUrl)
      url.searchParams.set('schema', schema)
      return { store, arg: url.href }
    },
  },
] as const

/** The rows of the `runs` table (after its header). */
const tableRows = (stdout: string): string[][] =>
  stdout
    .trimEnd()
    .split('\n')
    .slice(1)
    .map((line) => line.split(/ {2,}/))

for (const { kind, make } of STORES) {
  // Its tests run together, each spawning the command line (~0.5 s of CPU a call) in turn, on 2
  // cores: a guard of 120 s (a test of 14 calls took 28–30 s on a slow host).
  describe.concurrent(`the command line on a ${kind} store`, { timeout: 120_000 }, () => {
    let arg: string
    let recorded: Recorded
    // Newest first, as the store lists them.
    let newest: Run<unknown>[]
    const byStatus = (status: string) => newest.filter((run) => run.status === status)

    beforeAll(async () => {
      const made = await make()
      arg = made.arg
      recorded = await record(made.store)
      newest = [...recorded.runs].sort((a, b) => (a.startedAt === b.startedAt ? (a.id < b.id ? 1 : -1) : a.startedAt < b.startedAt ? 1 : -1))
    }, 60_000)

    it('runs: a table, newest first: id, chain, status, ISO start, duration, links, failed link / code', async () => {
      const result = await cli('runs', arg)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(0)
      expect(result.stdout.split('\n')[0]).toMatch(/^id\s+chain\s+status\s+started\s+duration\s+links\s+failed link \/ code$/)
      const rows = tableRows(result.stdout)
      expect(rows.map((row) => row[0])).toEqual(newest.map((run) => run.id.slice(-8)))
      for (const [i, run] of newest.entries()) {
        const row = rows[i]!
        expect(row.slice(1, 4)).toEqual([run.chainName, run.status, new Date(Number(run.startedAt / 1_000_000n)).toISOString()])
        expect(row[4]).toMatch(/^\d+(\.\d+)? (ns|µs|ms|s)$/)
        expect(row[5]).toBe(String(run.timeline.links().filter((l) => l.status !== 'skipped').length))
        expect(row[6]).toBe(run.status === 'error' ? 'price / LINK_FAILED' : undefined)
      }
    })

    it('runs: --chain, --status (repeated or a comma list), --link, --since, --until, --limit, --before, --json', async () => {
      const ids = async (...args: string[]) => {
        const result = await cli('runs', arg, ...args, '--json')
        expect(result.stderr).toBe('')
        expect(result.code).toBe(0)
        return (JSON.parse(result.stdout) as { id: string }[]).map((s) => s.id)
      }
      expect(await ids('--chain', 'refund')).toEqual(newest.filter((r) => r.chainName === 'refund').map((r) => r.id))
      expect(await ids('--status', 'error')).toEqual(byStatus('error').map((r) => r.id))
      expect(await ids('--status', 'error', '--status', 'ok')).toEqual(newest.map((r) => r.id))
      expect(await ids('--status', 'aborted,error')).toEqual(byStatus('error').map((r) => r.id))
      expect(await ids('--link', 'price')).toEqual(byStatus('error').map((r) => r.id))
      expect(await ids('--link', 'ship')).toEqual([])
      expect(await ids('--since', '1h')).toEqual(newest.map((r) => r.id))
      expect(await ids('--since', '2099-01-01')).toEqual([])
      expect(await ids('--until', '2000-01-01T00:00:00Z')).toEqual([])
      const middle = newest[5]!
      const middleIso = new Date(Number(middle.startedAt / 1_000_000n) + 1).toISOString()
      expect(await ids('--until', middleIso)).toEqual(newest.slice(5).map((r) => r.id))
      expect(await ids('--limit', '3')).toEqual(newest.slice(0, 3).map((r) => r.id))
      // Paging: the page after a run, by its full id or a prefix of it.
      expect(await ids('--limit', '3', '--before', newest[2]!.id)).toEqual(newest.slice(3, 6).map((r) => r.id))
      expect(await ids('--limit', '3', '--before', newest[2]!.id.slice(-8))).toEqual(newest.slice(3, 6).map((r) => r.id))
      const json = JSON.parse((await cli('runs', arg, '--json', '--limit', '1')).stdout) as Record<string, unknown>[]
      expect(json[0]).toMatchObject({ id: newest[0]!.id, chain: newest[0]!.chainName, status: 'ok', startedAt: String(newest[0]!.startedAt) })
    })

    it('runs: bad option values are usage errors naming the option', async () => {
      expectUsageError(await cli('runs', arg, '--since', 'yesterday'), /--since/)
      expectUsageError(await cli('runs', arg, '--until', '12'), /--until/)
      expectUsageError(await cli('runs', arg, '--status', 'ok,broken'), /--status/, /broken/)
      expectUsageError(await cli('runs', arg, '--limit', '0'), /--limit/)
      expectUsageError(await cli('runs', arg, '--limit', '10001'), /--limit/)
      expectUsageError(await cli('runs', arg, '--limit', 'ten'), /--limit/)
      expectUsageError(await cli('runs', arg, '--before', 'ffffffff-ffff'), /no run 'ffffffff-ffff'/)
      expectUsageError(await cli('runs', arg, '--nope'), /--nope/)
      expectUsageError(await cli('runs'), /expected one store/)
    })

    it('retain: deletes what the keep policy lets go, and with --interrupted-older-than the runs left unfinished before; bad values are usage errors', async () => {
      const { store, arg: own } = await make()
      try {
        const ok = byStatus('ok')[0]!.toJSON()
        const bad = byStatus('error')[0]!.toJSON()
        const HOUR = 3_600_000_000_000n
        const now = BigInt(Date.now()) * 1_000_000n
        // 6 finished runs of 'tidy', oldest first (the two oldest failed), one of 'other', and two
        // unfinished durable runs of 'tidy': one begun three days ago, one an hour ago.
        const runs = Array.from({ length: 6 }, (_, i) => copyAs(i < 2 ? bad : ok, `tidy-${i}`, 'tidy', now - BigInt(10 - i) * HOUR))
        await store.write([...runs, copyAs(ok, 'other-0', 'other', now - 10n * HOUR)])
        const { head } = splitDurable(ok)
        for (const [id, startedAt] of [['dead', now - 72n * HOUR], ['alive', now - HOUR]] as const) {
          const begun = { ...head, run: { ...head.run, id, chainName: 'tidy', startedAt: String(startedAt) } }
          await store.begin(durableSummary(begun), begun)
        }
        const result = await cli('retain', own, '--chain', 'tidy', '--last', '2', '--failed', '1', '--interrupted-older-than', '2d')
        expect(result.stderr).toBe('')
        expect(result.code).toBe(0)
        // Kept: the newest 2 (tidy-5, tidy-4), the newest failed (tidy-1), the run begun an hour ago.
        expect(result.stdout).toMatch(/^chain 'tidy': 4 runs deleted from \S/)
        expect(new Set((await store.list({ chain: 'tidy' })).map((s) => s.id))).toEqual(new Set(['tidy-5', 'tidy-4', 'tidy-1', 'alive']))
        expect((await store.list({ chain: 'other' })).map((s) => s.id)).toEqual(['other-0'])
        // Without --interrupted-older-than, no unfinished run goes; nothing else is left to delete.
        const again = await cli('retain', own, '--chain', 'tidy', '--chain', 'other', '--last', '2', '--failed', '1', '--json')
        expect(again.code).toBe(0)
        expect(JSON.parse(again.stdout)).toEqual({ tidy: 0, other: 0 })
        expectUsageError(await cli('retain', own, '--last', '2'), /--chain is needed/)
        expectUsageError(await cli('retain', own, '--chain', 'tidy'), /--last or --failed/)
        expectUsageError(await cli('retain', own, '--chain', 'tidy', '--last', 'two'), /--last must be a whole number from 0, got 'two'/)
        expectUsageError(await cli('retain', own, '--chain', 'tidy', '--last', '1', '--interrupted-older-than', 'yesterday'), /--interrupted-older-than must be a duration/)
        expect(new Set((await store.list({ chain: 'tidy' })).map((s) => s.id))).toEqual(new Set(['tidy-5', 'tidy-4', 'tidy-1', 'alive']))
      } finally {
        await store.close()
      }
    })

    it('stats: the numbers Statistics computed live from the same runs, per chain, link and middleware call', async () => {
      const json = await cli('stats', arg, '--json')
      expect(json.stderr).toBe('')
      expect(json.code).toBe(0)
      expect(JSON.parse(json.stdout)).toEqual(plainJSON(recorded.stats))
      const refundOnly = await cli('stats', arg, '--json', '--chain', 'refund')
      expect(JSON.parse(refundOnly.stdout)).toEqual(plainJSON(recorded.stats.filter((s) => s.chain === 'refund')))
      // --limit: the newest N runs only (the two refunds and the newest checkout).
      const newestThree = JSON.parse((await cli('stats', arg, '--json', '--limit', '3')).stdout) as { chain: string; count: number }[]
      expect(newestThree.map((s) => [s.chain, s.count])).toEqual([
        ['checkout', 1],
        ['refund', 2],
      ])
    })

    it('stats: a table with readable durations', async () => {
      const result = await cli('stats', arg)
      expect(result.code).toBe(0)
      const lines = result.stdout.trimEnd().split('\n')
      expect(lines[0]).toBe(`14 runs in ${kind === 'sqlite' ? arg : arg.replace(/:[^:@/]*@/, ':***@')}`)
      const checkoutStats = recorded.stats.find((s) => s.chain === 'checkout')!
      const head = lines.findIndex((line) => line.startsWith('checkout '))
      expect(lines[head]).toMatch(/^checkout\s+count\s+errors\s+p50\s+p95\s+p99\s+max$/)
      const D = String.raw`\d+(?:\.\d+)? (?:ns|µs|ms|s)`
      const row = (name: string, count: number, errors: string) => new RegExp(String.raw`^  ${name}\s+${count}\s+${errors.replace(/[()%]/g, '\\$&')}  ${D}\s+${D}\s+${D}\s+${D}$`)
      expect(lines[head + 1]).toMatch(row('runs', 12, '3 (25%)'))
      expect(lines[head + 1]).toContain(formatNs(checkoutStats.p50))
      expect(lines[head + 2]).toMatch(row('link validate', 12, '0'))
      expect(lines[head + 3]).toMatch(row('link price', 12, '3 (25%)'))
      expect(lines[head + 4]).toMatch(row('link ship', 9, '0'))
      expect(lines.some((line) => /^ {2}middleware timing chain-before\s+33\s+0 /.test(line))).toBe(true)
      expect(lines.some((line) => /^refund\s+count/.test(line))).toBe(true)
      // The table is the library's formatStats of the statistics the recorder kept live.
      expect(lines.slice(2).join('\n')).toBe(formatStats(recorded.stats))
      expect(formatStats([])).toBe('no runs')
    })

    it('inspect <store> <id>: exactly what inspect prints for the same run saved to a file; a unique prefix will do', async () => {
      for (const run of [byStatus('error')[0]!, byStatus('ok')[0]!]) {
        const file = join(dir, `${run.id}.run.json`)
        await saveRun(run, file)
        for (const options of [['--no-color'], ['--events', '--no-color'], ['--json']]) {
          const fromFile = await cli('inspect', file, ...options)
          const fromStore = await cli('inspect', arg, run.id, ...options)
          expect(fromStore.stderr).toBe('')
          expect(fromStore.code).toBe(0)
          expect(fromStore.stdout).toBe(fromFile.stdout)
        }
        // What tables show of an id (its end), and a start long enough to be unique (a version 7
        // id starts with the time it was made: its first 8 characters repeat from run to run).
        for (const part of [run.id.slice(-8), run.id.slice(0, 28)]) {
          const byPart = await cli('inspect', arg, part, '--no-color')
          expect(byPart.stdout).toBe((await cli('inspect', file, '--no-color')).stdout)
        }
      }
    })

    it('diff <store> <a> <b>: where two stored runs diverge (exit 1), or that they agree (exit 0)', async () => {
      const failed = byStatus('error')[0]!
      const ok = byStatus('ok').find((run) => run.chainName === 'checkout')!
      const result = await cli('diff', arg, failed.id.slice(-8), ok.id)
      expect(result.stderr).toBe('')
      expect(result.code).toBe(1)
      const fileA = join(dir, `diff-a-${failed.id}.run.json`)
      const fileB = join(dir, `diff-b-${ok.id}.run.json`)
      await Promise.all([saveRun(failed, fileA), saveRun(ok, fileB)])
      const fromFiles = await cli('diff', fileA, fileB)
      expect(result.stdout).toBe(fromFiles.stdout.replace(`a ${fileA}:`, `a ${failed.id.slice(-8)}:`).replace(`b ${fileB}:`, `b ${ok.id}:`))
      const json = await cli('diff', arg, failed.id, ok.id, '--json')
      expect(json.stdout).toBe((await cli('diff', fileA, fileB, '--json')).stdout)
      const same = await cli('diff', arg, ok.id, ok.id)
      expect(same.code).toBe(0)
      expect(same.stdout).toMatch(/^no divergence: chain 'checkout'/)
    })

    it('an unknown id, a short prefix or a missing id are one clear line, exit 2', async () => {
      expectUsageError(await cli('inspect', arg, 'ffffffffffff'), /no run 'ffffffffffff' in /)
      expectUsageError(await cli('inspect', arg, newest[0]!.id.slice(0, 5)), /at least 8 characters/)
      expectUsageError(await cli('inspect', arg), /is a run store: give a run id/)
      expectUsageError(await cli('diff', arg, newest[0]!.id), /is a run store: give 2 run ids/)
      // Several run ids of one store are several runs (stitched by trace: test/stitch-cli.test.ts); an unknown one is still one line.
      expectUsageError(await cli('inspect', arg, newest[0]!.id, 'ffffffffffff'), /no run 'ffffffffffff' in /)
    })

    it('view <store> <id>: the viewer serves that run; with no id, the latest runs', async () => {
      const run = byStatus('error')[0]!
      const one = await served(arg, run.id.slice(-8))
      expect(one.map((doc) => doc.run.id)).toEqual([run.id])
      const all = await served(arg)
      expect(all.map((doc) => doc.run.id)).toEqual(newest.map((r) => r.id))
    })
  })
}

/** Starts `view <args> --no-open`, reads what `/api/runs` serves, stops the viewer (it exits 0). */
async function served(...args: string[]): Promise<{ run: { id: string } }[]> {
  const { url, child, exited } = await startCliView(args)
  try {
    const response = await fetch(new URL('/api/runs', url))
    expect(response.status).toBe(200)
    const body = (await response.json()) as { runs: { run: { id: string } }[]; errors: string[] }
    expect(body.errors).toEqual([])
    return body.runs
  } finally {
    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  }
}

const formatNs = (ns: bigint): string => {
  const n = Number(ns)
  if (n < 1_000) return `${n} ns`
  if (n < 1_000_000) return `${(n / 1e3).toPrecision(3)} µs`
  if (n < 1_000_000_000) return `${(n / 1e6).toPrecision(3)} ms`
  return `${(n / 1e9).toFixed(2)} s`
}

describe('stores that cannot be read', () => {
  it('a missing file, a file that is no SQLite database, a directory: exit 2, one line, nothing created', async () => {
    const missing = join(dir, 'missing.db')
    expectUsageError(await cli('runs', missing), /cannot open store .*missing\.db: no such file/)
    expectUsageError(await cli('stats', missing), /no such file/)
    expectUsageError(await cli('inspect', missing, '12345678'), /no such file/)
    await expect(stat(missing)).rejects.toMatchObject({ code: 'ENOENT' })
    const text = join(dir, 'notes.txt')
    await writeFile(text, 'hello')
    expectUsageError(await cli('runs', text), /not an SQLite database/)
    expectUsageError(await cli('runs', dir), /it is a directory/)
  })

  it("another program's SQLite database: STORE_FOREIGN, and the file is not changed", async () => {
    const path = join(dir, 'foreign.db')
    const db = new Database(path)
    db.exec('CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)')
    db.close()
    const before = await readFile(path)
    expectUsageError(await cli('runs', path), /foreign\.db: this SQLite file is not a shadowchain run store/)
    expectUsageError(await cli('inspect', path, '12345678'), /not a shadowchain run store/)
    expect((await readFile(path)).equals(before)).toBe(true)
  })

  it('an SQLite database with no tables is not made into a store', async () => {
    const path = join(dir, 'empty.db')
    const db = new Database(path)
    db.pragma('user_version = 7') // writes the header, no table
    db.close()
    const before = await readFile(path)
    expectUsageError(await cli('runs', path), /an SQLite database with no tables, not a shadowchain run store/)
    expect((await readFile(path)).equals(before)).toBe(true)
  })

  it('an ambiguous start or end of an id names two of the runs', async () => {
    const path = join(dir, 'ambiguous.db')
    const store = sqliteStore(path)
    const run = await refund().run({ n: 1 })
    const doc = run.toJSON()
    const ids = ['abcdef01-0000-4000-8000-000000000001', 'abcdef01-0000-4000-8000-000000000002', '12345678-0000-4000-8000-000000000002']
    await store.write(ids.map((id, i) => storedRun({ ...doc, run: { ...doc.run, id, startedAt: String(BigInt(doc.run.startedAt) + BigInt(i)) } })))
    await store.close()
    expectUsageError(await cli('inspect', path, 'abcdef01'), /run id part 'abcdef01' is ambiguous/, /abcdef01-0000-4000-8000-000000000002, abcdef01-0000-4000-8000-000000000001/)
    expectUsageError(await cli('inspect', path, '00000002'), /run id part '00000002' is ambiguous/, /12345678-0000-4000-8000-000000000002, abcdef01-0000-4000-8000-000000000002/)
    expect((await cli('inspect', path, '00000001', '--json')).code).toBe(0)
    expect((await cli('inspect', path, 'abcdef01-0000-4000-8000-000000000002', '--json')).code).toBe(0)
    expect((await cli('inspect', path, 'abcdef01-0000-4000-8000-0000000000')).code).toBe(2)
  })

  it('an unreachable PostgreSQL server: exit 2, one line naming the URL without its password', async () => {
    const result = await cli('runs', 'postgres://shadow:s3cret@127.0.0.1:1/shadow_test')
    expectUsageError(result, /postgres:\/\/shadow:\*\*\*@127\.0\.0\.1:1\/shadow_test/, /ECONNREFUSED/)
    expect(result.stderr).not.toContain('s3cret')
    expectUsageError(await cli('inspect', 'postgresql://shadow:s3cret@127.0.0.1:1/shadow_test', '12345678'), /ECONNREFUSED/)
  })

  it('a PostgreSQL schema without a store: exit 2, and nothing is created', async () => {
    const schema = `sc_cli_none_${randomUUID().replace(/-/g, '').slice(0, 12)}`
    schemas.push(schema)
    const url = new URL(pgUrl)
    url.searchParams.set('schema', schema)
    expectUsageError(await cli('runs', url.href), new RegExp(`no shadowchain run store in schema '${schema}'`))
    const tables = await admin.query('SELECT 1 FROM information_schema.tables WHERE table_schema = $1', [schema])
    expect(tables.rowCount).toBe(0)
  })

  it('an interrupted durable run: listed without a duration, inspected as aborted INTERRUPTED, its steps in the statistics', async () => {
    const path = join(dir, 'interrupted.db')
    const store = sqliteStore(path)
    const finished = [await checkout().run({ fail: false, items: [1], total: 0 }), await checkout().run({ fail: false, items: [2], total: 0 })]
    await store.write(finished.map((run) => storedRun(run.toJSON())))
    const cut = await checkout().run({ fail: false, items: [3], total: 0 })
    const { head, batches } = splitDurable(cut.toJSON(), 2)
    await store.begin(durableSummary(head), head)
    for (const batch of batches) await store.appendSteps(cut.id, batch)
    await store.close()
    const listed = await cli('runs', path, '--status', 'interrupted')
    expect(tableRows(listed.stdout)).toEqual([[cut.id.slice(-8), 'checkout', 'interrupted', new Date(Number(cut.startedAt / 1_000_000n)).toISOString(), '–', '2']])
    const inspected = await cli('inspect', path, cut.id, '--no-color')
    expect(inspected.code).toBe(0)
    expect(inspected.stdout).toMatch(/^checkout {2}run \S+ {2}aborted/)
    expect(inspected.stdout).toContain('INTERRUPTED: the run was interrupted')
    const stats = JSON.parse((await cli('stats', path, '--json')).stdout) as { count: number; links: Record<string, { count: number }> }[]
    // The interrupted run has no duration: its links count, the run does not.
    expect(stats[0]!.count).toBe(2)
    expect(Object.fromEntries(Object.entries(stats[0]!.links).map(([name, s]) => [name, s.count]))).toEqual({ validate: 3, price: 3, ship: 2 })
    expect((await cli('stats', path)).stdout.split('\n')[0]).toBe(`3 runs in ${path} (1 interrupted: their links and middleware only)`)
  })

  it('a driver that is not installed: one line saying which package to install; commands on run files never load one', async () => {
    // A resolve hook that makes better-sqlite3 and pg missing, as on a machine without them.
    const hooks = join(dir, 'no-drivers-hooks.mjs')
    const register = join(dir, 'no-drivers.mjs')
    await writeFile(
      hooks,
      `export async function resolve(specifier, context, next) {
        if (specifier === 'better-sqlite3' || specifier === 'pg') {
          const error = new Error("Cannot find package '" + specifier + "' imported from " + context.parentURL)
          error.code = 'ERR_MODULE_NOT_FOUND'
          throw error
        }
        return next(specifier, context)
      }`,
    )
    await writeFile(register, `import { register } from 'node:module'\nregister(${JSON.stringify(pathToFileURL(hooks).href)})\n`)
    const without = (...args: string[]) =>
      new Promise<Result>((resolve) => {
        execFile(process.execPath, ['--import', pathToFileURL(register).href, CLI, ...args], { cwd: ROOT, env: childEnv, timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
          resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
        })
      })
    const path = join(dir, 'driverless.db')
    const store = sqliteStore(path)
    await store.close()
    expectUsageError(await without('runs', path), "reading an SQLite store needs the 'better-sqlite3' package, which is not installed: npm install better-sqlite3")
    expectUsageError(await without('stats', 'postgres://shadow:shadow@127.0.0.1:1/x'), "reading a PostgreSQL store needs the 'pg' package, which is not installed: npm install pg")
    const run = await refund().run({ n: 1 })
    const file = join(dir, 'driverless.run.json')
    await saveRun(run, file)
    const inspected = await without('inspect', file, '--json')
    expect(inspected.stderr).toBe('')
    expect(inspected.code).toBe(0)
  })

  it('a run file given as a store, and a store given as a run file', async () => {
    const run = await refund().run({ n: 1 })
    const file = join(dir, 'refund.run.json')
    await saveRun(run, file)
    expectUsageError(await cli('runs', file), /not an SQLite database/)
    expectUsageError(await cli('inspect', file, run.id), /expected one file, or a store and a run id/)
    expectUsageError(await cli('diff', file, file, file), /expected 2 files, or a store and 2 run ids/)
  })
})
