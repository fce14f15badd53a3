// What a user installs: the published file list, its source maps, its type declarations.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, normalize } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from './built-dist.js'

let packed: Set<string>

beforeAll(() => {
  ensureBuilt()
  // --ignore-scripts: `prepare` would build again; ensureBuilt has just done so.
  const out = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' })
  const [pack] = JSON.parse(out) as { files: { path: string }[] }[]
  packed = new Set(pack!.files.map((f) => f.path))
})

describe('the published package', () => {
  it('ships every source a source map points at', () => {
    const maps = [...packed].filter((path) => path.endsWith('.map'))
    expect(maps.length).toBeGreaterThan(10)
    const missing: string[] = []
    for (const map of maps) {
      const { sources, sourceRoot } = JSON.parse(readFileSync(join(ROOT, map), 'utf8')) as { sources: string[]; sourceRoot?: string }
      for (const source of sources) {
        const path = normalize(join(dirname(map), sourceRoot ?? '', source))
        if (!packed.has(path)) missing.push(`${map} → ${path}`)
      }
    }
    expect(missing).toEqual([])
  })

  it('publishes no internal members in its type declarations', () => {
    const declarations = [...packed].filter((path) => path.endsWith('.d.ts'))
    const text = declarations.map((path) => readFileSync(join(ROOT, path), 'utf8')).join('\n')
    for (const internal of [/\b_execute\b/, /\bRunExtras\b/, /\bprefixOf\b/, /^\s*(readonly )?source[?]?:/m]) {
      expect(text).not.toMatch(internal)
    }
  })

  it('has type declarations that a strict consumer compiles without skipLibCheck', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowchain-dts-'))
    try {
      const entries = ['index', 'otel/index', 'testing/index'].map((entry) => join(ROOT, 'dist', `${entry}.js`))
      const file = join(dir, 'consumer.ts')
      // Uses as well as imports: `chain.run()`, `lastRun`, `run.replay()` and `run.fork()` are typed
      // through RunTypes, which the published declarations must fill in for a consumer too.
      const use = [
        `const c = m0.chain<{ n: number }>('c').link('a', (ctx) => { ctx.n += 1 })`,
        'export async function typed(): Promise<number> {',
        '  const run = await c.run({ n: 1 })',
        "  const replayed: m0.ReplayResult<{ n: number }> = await run.replay({ chain: c, stub: ['a'] })",
        "  const forked = await run.fork({ at: 'a', edit: (ctx) => { ctx.n = 0 } })",
        '  const divergence: m0.Divergence | undefined = m0.compareRuns(run, forked)',
        '  return run.ctx.n + replayed.run.ctx.n + forked.ctx.n + (c.lastRun?.ctx.n ?? 0) + (divergence?.seq ?? 0)',
        '}',
      ]
      writeFileSync(file, entries.map((path, i) => `import * as m${i} from ${JSON.stringify(path)}\n`).join('') + 'export const all = [m0, m1, m2]\n' + use.join('\n') + '\n')
      const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
      const args = ['--ignoreConfig', '--noEmit', '--strict', '--exactOptionalPropertyTypes', '--module', 'nodenext', '--moduleResolution', 'nodenext']
      args.push('--skipLibCheck', 'false', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', file)
      expect(() => execFileSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: 'utf8' })).not.toThrow()
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('starts the SQLite writer thread from the built package (its compiled module, no TypeScript loader)', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowchain-thread-'))
    try {
      const url = (entry: string) => JSON.stringify(new URL(`../dist/${entry}.js`, import.meta.url).href)
      const code = [
        `const { chain, recorder } = await import(${url('index')})`,
        `const { sqliteStore } = await import(${url('store/sqlite/index')})`,
        `const store = sqliteStore(${JSON.stringify(join(dir, 'runs.db'))}, { thread: true })`,
        `const rec = recorder({ store })`,
        `const c = chain('built', { recorder: rec }).link('inc', (ctx) => { ctx.n += 1 })`,
        `for (let n = 0; n < 5; n++) await c.run({ n })`,
        `await rec.flush()`,
        `const runs = await rec.runs()`,
        `console.log(JSON.stringify({ runs: runs.length, written: rec.health.written }))`,
        `await rec.close()`,
      ].join('\n')
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
      expect(JSON.parse(out)).toEqual({ runs: 5, written: 5 })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('starts the checkpoint thread of an SQLite store writing on the event loop from the built package', () => {
    const dir = mkdtempSync(join(tmpdir(), 'shadowchain-checkpoint-'))
    try {
      const url = (entry: string) => JSON.stringify(new URL(`../dist/${entry}.js`, import.meta.url).href)
      const path = JSON.stringify(join(dir, 'runs.db'))
      const code = [
        `const { chain, recorder } = await import(${url('index')})`,
        `const { sqliteStore } = await import(${url('store/sqlite/index')})`,
        `const { openSqlite } = await import(${url('store/sqlite/schema')})`,
        `const { Checkpointer } = await import(${url('store/sqlite/checkpointer')})`,
        // Runs written through the store as a service would, then a checkpoint asked of the thread.
        `const rec = recorder({ store: sqliteStore(${path}) })`,
        `const c = chain('built', { recorder: rec }).link('inc', (ctx) => { ctx.n += 1 })`,
        `for (let n = 0; n < 5; n++) await c.run({ n })`,
        `await rec.close()`,
        `const db = openSqlite(${path})`,
        `const checkpoints = new Checkpointer(${path}, db, 5000)`,
        `checkpoints.request()`,
        `await checkpoints.idle()`,
        `console.log(JSON.stringify({ running: checkpoints.running, error: checkpoints.last?.error ?? null, answered: checkpoints.last !== undefined }))`,
        `await checkpoints.close()`,
        `db.close()`,
      ].join('\n')
      const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: dir, encoding: 'utf8', timeout: 60_000 })
      expect(JSON.parse(out)).toEqual({ running: true, error: null, answered: true })
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
