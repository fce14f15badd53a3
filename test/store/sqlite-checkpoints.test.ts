// The checkpoint thread of an SQLite store that writes on the event loop (checkpointer.ts), on
// real files: it starts only once enough was written, copies every WAL frame back while the
// writer rests, moves the writing connection's own checkpoints out to a safety net while it runs,
// and hands them back when it cannot work.
import { existsSync, mkdtempSync, readdirSync, readlinkSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import type Database from 'better-sqlite3'
import { afterAll, describe, expect, it } from 'vitest'
import { Checkpointer, CHECKPOINT_EVERY_CHARS } from '../../src/store/sqlite/checkpointer.js'
import { driverAddon, openSqlite } from '../../src/store/sqlite/schema.js'
import { WriterThread } from '../../src/store/sqlite/thread.js'
import { SqliteWrites } from '../../src/store/sqlite/writes.js'
import { summarize } from '../../src/store/summary.js'
import { copyAs, exoticRun } from './fixtures.js'
import { sqliteStore } from '../../src/store/sqlite/index.js'

const dir = mkdtempSync(join(tmpdir(), 'shadowchain-checkpoints-'))
let files = 0
const fresh = (): string => join(dir, `store-${++files}.db`)
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** Writes `count` runs of ~`size` characters each through `writes` (which tells its checkpoints). */
async function writeRuns(writes: SqliteWrites, count: number, size: number, from = 0): Promise<void> {
  const doc = (await exoticRun()).toJSON()
  const summary = summarize(doc)
  const padding = 'x'.repeat(size)
  for (let i = from; i < from + count; i++) {
    const id = `run-${String(i).padStart(6, '0')}`
    const text = JSON.stringify({ ...doc, run: { ...doc.run, id }, padding })
    writes.write([{ summary: { ...summary, id, startedAt: summary.startedAt + BigInt(i) }, text }])
  }
}

interface WithThread {
  readonly path: string
  readonly db: Database.Database
  readonly checkpoints: Checkpointer
  readonly writes: SqliteWrites
}

/** A new store file's writing connection and its checkpoint thread (opened with `addon`), both closed after `body`. */
async function withThread(body: (store: WithThread) => Promise<void>, addon?: string): Promise<Checkpointer> {
  const path = fresh()
  const db = openSqlite(path)
  const checkpoints = new Checkpointer(path, db, 5_000, addon)
  try {
    await body({ path, db, checkpoints, writes: new SqliteWrites(db, path, checkpoints) })
  } finally {
    await checkpoints.close()
    db.close()
  }
  return checkpoints
}

const autoCheckpointPages = (db: Database.Database): number => Number(db.pragma('wal_autocheckpoint', { simple: true }))

describe('the checkpoint thread of a store writing on the event loop', () => {
  it('starts only once enough text was written, then copies every WAL frame back while the writer rests', async () => {
    const closed = await withThread(async ({ db, checkpoints, writes }) => {
      // The connection checkpoints itself at 4 MiB of WAL: 256 pages of 16 KiB.
      expect(autoCheckpointPages(db)).toBe(256)
      await writeRuns(writes, 10, 10_000)
      expect(checkpoints.running).toBe(false)
      await writeRuns(writes, Math.ceil(CHECKPOINT_EVERY_CHARS / 10_000), 10_000, 10)
      expect(checkpoints.running).toBe(true)
      // While the thread runs, the connection's own checkpoints wait for 16 MiB of WAL (1,024 pages).
      expect(autoCheckpointPages(db)).toBe(1_024)
      await checkpoints.idle()
      const last = checkpoints.last
      expect(last?.error).toBeUndefined()
      if (last === undefined || last.error !== undefined) throw new Error('no checkpoint answered')
      expect(last.log).toBeGreaterThan(0)
      expect(last.checkpointed).toBe(last.log)
      // Nothing was lost: every run is in the database file.
      expect(db.prepare('SELECT count(*) FROM shadowchain_documents').pluck().get()).toBe(10 + Math.ceil(CHECKPOINT_EVERY_CHARS / 10_000))
    })
    expect(closed.running).toBe(false)
  })

  it.skipIf(process.platform === 'win32')('hands the checkpoints back to the writing connection when the thread cannot make them', async () => {
    await withThread(async ({ path, db, checkpoints, writes }) => {
      await writeRuns(writes, 5, 1_000)
      // The thread opens the file at its first checkpoint: moved away, it finds none there.
      renameSync(path, `${path}.moved`)
      await writeRuns(writes, Math.ceil(CHECKPOINT_EVERY_CHARS / 10_000), 10_000, 5)
      await checkpoints.idle()
      expect(checkpoints.last?.error).toMatch(/unable to open|does not exist|no such file/i)
      expect(checkpoints.running).toBe(false)
      expect(autoCheckpointPages(db)).toBe(256)
      // Asked again, it stays out of the way and says so: the caller checkpoints itself.
      expect(checkpoints.request()).toBe(false)
      expect(checkpoints.running).toBe(false)
      await writeRuns(writes, 3, 1_000, 1_000)
      expect(db.prepare('SELECT count(*) FROM shadowchain_documents').pluck().get()).toBe(8 + Math.ceil(CHECKPOINT_EVERY_CHARS / 10_000))
    })
  })

  it('makes a retention checkpoint on its own connection when the thread does not take the request', async () => {
    const path = fresh()
    const db = openSqlite(path)
    let asked = 0
    const writes = new SqliteWrites(db, path, { wrote: () => {}, request: () => (asked++, false) })
    try {
      await writeRuns(writes, 8, 5_000)
      // All in the WAL, far under the 4 MiB the connection checkpoints at by itself: the file is its first page.
      const before = statSync(path).size
      expect(statSync(`${path}-wal`).size).toBeLessThan(2 * 1024 * 1024)
      const chain = db.prepare('SELECT chain FROM shadowchain_runs LIMIT 1').pluck().get() as string
      expect(writes.retain(chain, 2, 2, null)).toBe(6)
      expect(asked).toBe(1)
      // The connection's own passive checkpoint copied the WAL into the file.
      expect(statSync(path).size).toBeGreaterThan(before + 50_000)
    } finally {
      db.close()
    }
  })

  it.runIf(process.platform === 'linux')("runs in a store writing on the event loop, with its own connection to the store's file, until the store closes", async () => {
    const path = fresh()
    // Made with a relative path, the store's thread still opens that file after a `chdir`.
    const home = process.cwd()
    process.chdir(dirname(path))
    const store = (() => {
      try {
        return sqliteStore(basename(path))
      } catch (error) {
        process.chdir(home)
        throw error
      }
    })()
    process.chdir(tmpdir())
    // /proc names files by their real path (a temporary directory may sit behind a symlink).
    const real = realpathSync(path)
    /** This process's open files that are the database itself (one a connection). */
    const connections = (): number => readdirSync('/proc/self/fd').filter((fd) => {
      try {
        return readlinkSync(`/proc/self/fd/${fd}`) === real
      } catch {
        return false
      }
    }).length
    try {
      expect(connections()).toBe(1)
      const doc = (await exoticRun()).toJSON()
      const padding = 'x'.repeat(50_000)
      const runs = Array.from({ length: Math.ceil(CHECKPOINT_EVERY_CHARS / 50_000) + 1 }, (_, i) => copyAs({ ...doc, padding } as typeof doc, `big-${i}`, 'big', 1_800_000_000_000_000_000n + BigInt(i)))
      for (const run of runs) await store.write([run])
      // The thread opens its connection at its first checkpoint.
      for (let waited = 0; connections() < 2 && waited < 10_000; waited += 20) await new Promise((resolve) => setTimeout(resolve, 20))
      expect(connections()).toBe(2)
    } finally {
      process.chdir(home)
      await store.close()
    }
    // Closed with the store: no connection left, and the last one to close checkpointed the WAL away.
    expect(connections()).toBe(0)
    expect(existsSync(`${path}-wal`)).toBe(false)
  })

  it('is asked for a checkpoint by a retention that deleted runs', async () => {
    await withThread(async ({ db, checkpoints, writes }) => {
      await writeRuns(writes, 20, 1_000)
      expect(checkpoints.running).toBe(false)
      const chain = (db.prepare('SELECT chain FROM shadowchain_runs LIMIT 1').pluck().get() as string) ?? ''
      expect(writes.retain(chain, 5, 5, null)).toBe(15)
      expect(checkpoints.running).toBe(true)
      await checkpoints.idle()
      const last = checkpoints.last
      if (last === undefined || last.error !== undefined) throw new Error('no checkpoint answered')
      expect(last.checkpointed).toBe(last.log)
    })
  })
})

describe("a store's threads open the file with the main thread's copy of SQLite", () => {
  // Two copies of SQLite in one process do not see each other's locks: a thread that resolved
  // another `better-sqlite3` (a second node_modules, a resolve hook it does not have) corrupted a
  // database the main thread was writing (measured: `wrong # of entries in index`).
  it("finds the native addon this module's driver loaded", () => {
    const db = openSqlite(fresh())
    try {
      const addon = driverAddon()
      expect(addon).toBe(createRequire(import.meta.url).resolve('better-sqlite3/build/Release/better_sqlite3.node'))
    } finally {
      db.close()
    }
  })

  it('the checkpoint thread opens it with the addon it is given, not one it resolves itself', async () => {
    // An addon that does not exist: the thread fails to open the file, so it used the one given.
    await withThread(async ({ db, checkpoints }) => {
      checkpoints.request()
      await checkpoints.idle()
      expect(checkpoints.last?.error).toMatch(/missing/)
      expect(checkpoints.running).toBe(false)
      expect(autoCheckpointPages(db)).toBe(256)
    }, join(dir, 'missing', 'better_sqlite3.node'))
  })

  it('the writer thread (`thread: true`) opens it with the addon it is given, not one it resolves itself', async () => {
    const path = fresh()
    openSqlite(path).close()
    const thread = new WriterThread(path, path, {}, join(dir, 'missing', 'better_sqlite3.node'))
    try {
      await expect(thread.claim('no-such-run', 'me')).rejects.toThrow(/missing/)
    } finally {
      await thread.close()
    }
    const given = new WriterThread(path, path, {}, driverAddon())
    try {
      await expect(given.claim('no-such-run', 'me')).resolves.toBe(false)
    } finally {
      await given.close()
    }
  })
})
