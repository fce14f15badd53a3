// Store drivers are optional peers: only their own subpath modules load them, never 'shadowchain'.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from '../built-dist.js'
import { reachable } from '../module-graph.js'

const DRIVER = /(^|\/)node_modules\/(better-sqlite3|pg)\//

describe('the store drivers', () => {
  it("are not loaded by 'shadowchain' or by the store core, only by their subpaths", () => {
    for (const entry of ['src/index.ts', 'src/store/index.ts']) {
      const loaded = reachable(entry)
      expect(loaded.length).toBeGreaterThan(3)
      expect(loaded.filter((path) => DRIVER.test(path) || /^src\/store\/(sqlite|postgres)\//.test(path))).toEqual([])
    }
    expect(reachable('src/store/sqlite/index.ts').some((path) => /node_modules\/better-sqlite3\//.test(path))).toBe(true)
    expect(reachable('src/store/postgres/index.ts').some((path) => /node_modules\/pg\//.test(path))).toBe(true)
  }, 60_000)

  it("are used through 'shadowchain/store/sqlite' and 'shadowchain/store/postgres' as a user imports them", async () => {
    const sqlite = await import('shadowchain/store/sqlite')
    const postgres = await import('shadowchain/store/postgres')
    const { memoryStore, StoreError, chain } = await import('shadowchain')
    expect(postgres.StoreError).toBe(StoreError)
    expect(typeof postgres.postgresStore).toBe('function')
    const run = await chain<{ n: number }>('sub').link('inc', (ctx) => void (ctx.n += 1)).run({ n: 1 })
    for (const store of [sqlite.sqliteStore(':memory:'), memoryStore()]) {
      await store.write([sqlite.storedRun(run.toJSON())])
      expect((await store.list()).map((s) => [s.id, s.chain, s.status])).toEqual([[run.id, 'sub', 'ok']])
      await store.close()
    }
  })

  it('are optional peer dependencies, with subpath exports of their own', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
      exports: Record<string, { types: string; import: string }>
      peerDependencies: Record<string, string>
      peerDependenciesMeta: Record<string, { optional?: boolean }>
      dependencies: Record<string, string>
      devDependencies: Record<string, string>
    }
    expect(pkg.exports['./store/sqlite']).toEqual({ types: './dist/store/sqlite/index.d.ts', import: './dist/store/sqlite/index.js' })
    expect(pkg.exports['./store/postgres']).toEqual({ types: './dist/store/postgres/index.d.ts', import: './dist/store/postgres/index.js' })
    for (const driver of ['better-sqlite3', 'pg']) {
      expect(pkg.peerDependencies[driver]).toBeDefined()
      expect(pkg.peerDependenciesMeta[driver]).toEqual({ optional: true })
      expect(pkg.dependencies[driver]).toBeUndefined()
      expect(pkg.devDependencies[driver]).toBeDefined()
    }
    expect(pkg.devDependencies['better-sqlite3']).toBe('12.11.1')
    expect(pkg.devDependencies['pg']).toBe('8.23.1')
  })
})
