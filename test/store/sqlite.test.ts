// The SQLite store: the contract suite on a file per test, and what only a file can do wrong.
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { afterAll, describe, expect, it, vi } from 'vitest'
import { chain, recorder } from '../../src/index.js'
import { StoreError, storedRun } from '../../src/store/index.js'
import { sqliteStore } from '../../src/store/sqlite/index.js'
import { openSqlite } from '../../src/store/sqlite/schema.js'
import { FALLBACK_WAL_BYTES } from '../../src/store/sqlite/checkpointer.js'
import { rejection, storeContract } from './contract.js'
import { copyAs, exoticRun, neverYieldingLoop } from './fixtures.js'
import { opener, writer } from './processes.js'

const dir = mkdtempSync(join(tmpdir(), 'shadowchain-sqlite-'))
let files = 0
const fresh = (): string => join(dir, `store-${++files}.db`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

for (const thread of [false, true]) {
  storeContract(thread ? 'sqlite (writer thread)' : 'sqlite', async () => {
    const path = fresh()
    // What the database holds, committed WAL frames included: pages in use times the page size.
    const bytes = async (): Promise<number> => {
      const db = new Database(path, { readonly: true })
      try {
        const pages = Number(db.pragma('page_count', { simple: true })) - Number(db.pragma('freelist_count', { simple: true }))
        return pages * Number(db.pragma('page_size', { simple: true }))
      } finally {
        db.close()
      }
    }
    return { store: sqliteStore(path, { thread }), bytes }
  })
}

/** The StoreError that opening `path` throws. */
function openError(path: string): StoreError {
  try {
    sqliteStore(path).close()
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError)
    return error as StoreError
  }
  throw new Error(`expected opening ${path} to fail`)
}

const fileSize = (path: string): number => statSync(path).size + (existsSync(`${path}-wal`) ? statSync(`${path}-wal`).size : 0)

describe('the SQLite store', () => {
  it('opens in WAL mode with incremental auto-vacuum, prefixed tables and a schema version', async () => {
    const path = fresh()
    const store = sqliteStore(path)
    expect(store.where).toBe(path)
    await store.close()
    const db = new Database(path, { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.pragma('auto_vacuum', { simple: true })).toBe(2)
      expect(db.pragma('page_size', { simple: true })).toBe(16_384)
      const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").pluck().all()
      expect(tables).toEqual(['shadowchain_documents', 'shadowchain_meta', 'shadowchain_runs', 'shadowchain_steps'])
      expect(db.prepare("SELECT value FROM shadowchain_meta WHERE key = 'schema_version'").pluck().get()).toBe('1')
    } finally {
      db.close()
    }
    // Opened again: the same store.
    await sqliteStore(path).close()
    // Its connections checkpoint at 4 MiB of WAL, as SQLite's default of 1,000 pages does on 4 KiB pages.
    const connection = openSqlite(path)
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(256)
    connection.close()
  })

  it('keeps the page size of a store file made with 4 KiB pages (as stores were before), and reads and writes it', async () => {
    const path = fresh()
    const doc = (await exoticRun()).toJSON()
    const first = sqliteStore(path)
    await first.write([copyAs(doc, 'before', 'old', 1_800_000_000_000_000_000n)])
    await first.close()
    // The file as SQLite's default made it: 4 KiB pages (a page size changes only by a VACUUM out of WAL mode).
    const convert = new Database(path)
    convert.pragma('journal_mode = DELETE')
    convert.pragma('page_size = 4096')
    convert.exec('VACUUM')
    convert.pragma('journal_mode = WAL')
    expect(convert.pragma('page_size', { simple: true })).toBe(4096)
    convert.close()
    const store = sqliteStore(path)
    await store.write([copyAs(doc, 'after', 'old', 1_800_000_000_000_000_001n)])
    expect((await store.list({ chain: 'old' })).map((s) => s.id)).toEqual(['after', 'before'])
    expect((await store.read('before'))?.run.id).toBe('before')
    expect((await store.read('after'))?.run.id).toBe('after')
    await store.close()
    const db = new Database(path, { readonly: true })
    expect(db.pragma('page_size', { simple: true })).toBe(4096)
    db.close()
    const connection = openSqlite(path)
    expect(connection.pragma('wal_autocheckpoint', { simple: true })).toBe(1_024)
    connection.close()
  })

  it('refuses a file of random bytes as STORE_CORRUPT, naming it, and leaves it as it was', () => {
    const path = fresh()
    const bytes = randomBytes(16_384)
    writeFileSync(path, bytes)
    const error = openError(path)
    expect(error.code).toBe('STORE_CORRUPT')
    expect(error.message).toContain(path)
    expect(error.message).toMatch(/not a usable SQLite database/)
    expect(readFileSync(path).equals(bytes)).toBe(true)
  })

  it('reports a database damaged inside (valid header, garbled pages) as STORE_CORRUPT', async () => {
    const path = fresh()
    const store = sqliteStore(path)
    const doc = (await exoticRun()).toJSON()
    const ids = Array.from({ length: 300 }, (_, i) => `d${i}`)
    await store.write(ids.map((id, i) => copyAs(doc, id, 'damaged', 1_800_000_000_000_000_000n + BigInt(i))))
    await store.close()
    const bytes = readFileSync(path)
    // Pages from a quarter to three quarters of the file: b-tree pages and document pages.
    randomBytes(bytes.length / 2).copy(bytes, Math.floor(bytes.length / 4 / 4096) * 4096)
    writeFileSync(path, bytes)
    const use = async (): Promise<void> => {
      const damaged = sqliteStore(path)
      try {
        await damaged.list({ limit: 10_000 })
        for (const id of ids) await damaged.read(id)
      } finally {
        await damaged.close()
      }
    }
    const error = await rejection(use())
    expect(error.code).toBe('STORE_CORRUPT')
    expect(error.message).toContain(path)
  })

  it('refuses another program’s database as STORE_FOREIGN and touches none of it', () => {
    const path = fresh()
    const other = new Database(path)
    other.exec("CREATE TABLE orders (id INTEGER PRIMARY KEY, total REAL); INSERT INTO orders (total) VALUES (9.5)")
    other.close()
    const before = readFileSync(path)
    const error = openError(path)
    expect(error.code).toBe('STORE_FOREIGN')
    expect(error.message).toContain(path)
    expect(error.message).toContain('orders')
    expect(readFileSync(path).equals(before)).toBe(true)
    const check = new Database(path, { readonly: true })
    expect(check.prepare('SELECT total FROM orders').pluck().all()).toEqual([9.5])
    expect(check.pragma('journal_mode', { simple: true })).toBe('delete')
    check.close()
  })

  it('refuses a store of another schema version as STORE_VERSION', async () => {
    const path = fresh()
    await sqliteStore(path).close()
    const db = new Database(path)
    db.prepare("UPDATE shadowchain_meta SET value = '99' WHERE key = 'schema_version'").run()
    db.close()
    const error = openError(path)
    expect(error.code).toBe('STORE_VERSION')
    expect(error.message).toContain(path)
    expect(error.message).toContain("'99'")
  })

  it('says STORE_UNREACHABLE for a file it cannot create', () => {
    const error = openError(join(dir, 'no-such-folder', 'runs.db'))
    expect(error.code).toBe('STORE_UNREACHABLE')
    expect(error.message).toContain('no-such-folder')
  })

  it('keeps the file bounded when runs are written and retained over and over: freed pages are reused, and given back at most once a minute', async () => {
    const path = fresh()
    const store = sqliteStore(path)
    const doc = (await exoticRun()).toJSON()
    const freePages = (): { free: number; pages: number } => {
      const db = new Database(path, { readonly: true })
      try {
        return { free: Number(db.pragma('freelist_count', { simple: true })), pages: Number(db.pragma('page_count', { simple: true })) }
      } finally {
        db.close()
      }
    }
    const sizes: number[] = []
    const dbPages: number[] = []
    let written = 0
    const cycle = async (n: number): Promise<void> => {
      const batch = Array.from({ length: 200 }, (_, i) => copyAs(doc, `c${n}-${i}`, 'bounded', 1_800_000_000_000_000_000n + BigInt(n * 1_000 + i)))
      written += batch.reduce((total, r) => total + JSON.stringify(r.document).length, 0)
      await store.write(batch)
      expect(await store.retain('bounded', { last: 100 })).toBe(n === 0 ? 100 : 200)
      sizes.push(fileSize(path))
      dbPages.push(freePages().pages)
    }
    vi.useFakeTimers({ toFake: ['performance'] })
    try {
      for (let n = 0; n < 30; n++) await cycle(n)
      // 100 runs are kept; 6,000 were written. The database (its pages, wherever they are now:
      // the file, or the WAL until a checkpoint) stays near what it needed after the first
      // cycles instead of growing with everything ever written: each cycle's runs reuse the
      // pages the last retention freed. (The WAL itself: below.)
      expect(dbPages[29]).toBeLessThan(Math.max(...dbPages.slice(0, 5)) * 1.5)
      expect(freePages().free).toBeGreaterThan(0)
      // A minute on, the next retention gives the freed pages back to the file system.
      vi.advanceTimersByTime(61_000)
      await cycle(30)
      const { free, pages } = freePages()
      expect(free * 4).toBeLessThanOrEqual(pages)
      // The database file holds what is kept; its WAL is bounded by checkpoints, whatever was
      // written: the checkpoint thread's, and the writing connection's own at FALLBACK_WAL_BYTES
      // when writes never pause for the thread to finish one (as in this loop), plus what one
      // cycle writes after it.
      expect(statSync(path).size).toBeLessThan(written / 10)
      for (const size of sizes) expect(size).toBeLessThanOrEqual(FALLBACK_WAL_BYTES + 4 * 1024 * 1024)
    } finally {
      vi.useRealTimers()
      await store.close()
    }
  }, 60_000)

  it('loses nothing when two processes create and write one file at once', async () => {
    const path = fresh()
    const outs = await Promise.all([writer(['sqlite', path, '-', 'a', '300']), writer(['sqlite', path, '-', 'b', '300'])])
    expect(outs).toEqual(['done\n', 'done\n'])
    const store = sqliteStore(path)
    const ids = new Set<string>()
    for (let before: string | undefined; ; ) {
      const page = await store.list({ limit: 10_000, ...(before !== undefined && { before }) })
      if (page.length === 0) break
      for (const s of page) ids.add(s.id)
      before = page.at(-1)?.id
    }
    expect(ids.size).toBe(600)
    expect([...ids].filter((id) => id.startsWith('a-')).length).toBe(300)
    expect((await store.read('b-00299'))?.run.id).toBe('b-00299')
    await store.close()
  }, 120_000)

  it('creates a new file as a store when other processes create it at the same moment', async () => {
    // A process that read a new file before another turned it to WAL, and asks for WAL while
    // the other creates the tables, is told 'database is locked' at once: SQLite asks no busy
    // handler there. Three processes open 500 new files together (before the fix, some of the
    // 1,500 opens failed in each of 5 tries; with it, none in any).
    const files = mkdtempSync(join(dir, 'together-'))
    const first = Date.now() + 3_000
    const outs = await Promise.all([1, 2, 3].map(() => opener([files, String(first), '500', '3'])))
    expect(outs.map((out) => JSON.parse(out) as string[])).toEqual([[], [], []])
    const db = new Database(join(files, 'store-499.db'), { readonly: true })
    try {
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal')
      expect(db.prepare("SELECT value FROM shadowchain_meta WHERE key = 'created_by'").pluck().get()).toBe('shadowchain')
    } finally {
      db.close()
    }
  }, 60_000)

  it('refuses a writer thread for an in-memory database, whose connection cannot be shared', () => {
    expect(() => sqliteStore(':memory:', { thread: true })).toThrow(/a writer thread needs a database file/)
  })

  it('gives the writer thread\'s failures as the store\'s own, named like the store\'s own', async () => {
    const path = fresh()
    const store = sqliteStore(path, { thread: true })
    const error = await rejection(store.appendSteps('never-begun', { version: 1, events: [{ seq: 1, type: 'link.start', t: '1', link: 0 }] } as never))
    expect(error).toMatchObject({ code: 'STORE_NOT_FOUND', where: path })
    expect(error.message).toBe(`${path}: steps appended to run never-begun, which was never begun`)
    // A driver error crosses as the driver's code and is named like any other.
    const db = new Database(path)
    db.exec('CREATE TRIGGER no_runs BEFORE INSERT ON shadowchain_runs BEGIN SELECT RAISE(ABORT, \'no more runs\'); END')
    db.close()
    const run = storedRun((await exoticRun()).toJSON())
    const failed = await rejection(store.write([run]))
    expect(failed.code).toBe('STORE_FAILED')
    expect(failed.message).toMatch(/SQLite failed while writing runs: no more runs/)
    await store.close()
    await expect(store.write([run])).rejects.toMatchObject({ code: 'STORE_CLOSED' })
  })

  it('takes several batches at once on the writer thread (a recorder keeps them in flight), and loses none', async () => {
    expect(sqliteStore(fresh()).writesInFlight).toBeUndefined()
    const path = fresh()
    const store = sqliteStore(path, { thread: true })
    expect(store.writesInFlight).toBeGreaterThan(1)
    const rec = recorder({ store, batch: { size: 3, delayMs: 0 }, keep: { last: 1_000, failed: 1_000 } })
    const c = chain<{ n: number }>('many', { recorder: rec }).link('add', (ctx) => void (ctx.n += 1))
    for (let n = 0; n < 300; n++) await c.run({ n })
    await rec.close()
    const db = new Database(path, { readonly: true })
    try {
      expect(db.prepare('SELECT count(*) FROM shadowchain_runs').pluck().get()).toBe(300)
      expect(db.prepare('SELECT count(*) FROM shadowchain_documents').pluck().get()).toBe(300)
    } finally {
      db.close()
    }
  })

  it('hears the writer thread while a loop of runs never yields to the event loop, and loses no run it does not report', async () => {
    const path = fresh()
    const store = sqliteStore(path, { thread: true })
    // Without a turn the thread's answers are never heard: past maxPending the oldest would go.
    const rec = recorder({ store, keep: { last: 100_000, failed: 100_000 }, maxPending: 4_900, onWarning: () => {} })
    const { written: writtenDuringLoop, ran } = await neverYieldingLoop(rec, 5_000)
    // Answers heard while the loop ran (the first run only, without the one-turn yield; the loop
    // goes on past 5,000 runs until one is heard, so a slow moment cannot fail this). Whether
    // every run is kept depends on the thread keeping up with the loop (other test files load
    // the machine); a run not kept is one reported as dropped.
    expect(writtenDuringLoop, `health: ${JSON.stringify(rec.health)}`).toBeGreaterThan(1)
    expect(rec.health.written + rec.health.dropped).toBe(ran)
    expect(rec.health.pending).toBe(0)
    await rec.close()
    const db = new Database(path, { readonly: true })
    try {
      expect(db.prepare('SELECT count(*) FROM shadowchain_runs').pluck().get()).toBe(rec.health.written)
    } finally {
      db.close()
    }
  }, 60_000)

  it('opens the file it was made for on its writer thread, after the process changes directory', async () => {
    const home = process.cwd()
    const made = mkdtempSync(join(dir, 'made-'))
    const elsewhere = mkdtempSync(join(dir, 'elsewhere-'))
    process.chdir(made)
    try {
      const store = sqliteStore('threaded.db', { thread: true })
      // The thread starts at the first change.
      process.chdir(elsewhere)
      await store.write([storedRun((await exoticRun()).toJSON())])
      expect(await store.list()).toHaveLength(1)
      await store.close()
      expect(existsSync(join(elsewhere, 'threaded.db'))).toBe(false)
    } finally {
      process.chdir(home)
    }
  })

  it('keeps a write batch atomic: a run that cannot be encoded leaves nothing written', async () => {
    const store = sqliteStore(fresh())
    const good = storedRun((await exoticRun()).toJSON())
    const bad = { ...good, summary: { ...good.summary, id: 'bad' }, document: { ...good.document, run: { ...good.document.run, id: 'bad' }, initial: { ctx: 1n, mwctx: {} } } }
    await expect(store.write([good, bad])).rejects.toThrow(/BigInt/)
    expect(await store.list()).toEqual([])
    await store.close()
  })
})
