// What `import 'shadowchain'` loads: zod (~140 ms) only when a run document fails the hand-written
// check and needs the schema to say why, hdr-histogram-js (~110 ms) only with the first
// statistics. Checked in the module graph (dependency-cruiser) and in a real process importing the
// built package.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from './built-dist.js'
import { reachable } from './module-graph.js'

const LAZY = /(^|\/)node_modules\/(zod|hdr-histogram-js)\//

/** The modules importing `entry` loads at once: what its static imports reach, types left out. */
const loadedWith = (entry: string): string[] => reachable(entry, false)

/**
 * In a fresh process: imports the built package, then does each step, and after each says which
 * of zod and hdr-histogram-js are loaded (Node's module cache: both load as CommonJS).
 */
function loadedAfterSteps(): Record<string, string[]> {
  const script = `
    import { createRequire } from 'node:module'
    const cache = createRequire(import.meta.url).cache
    const lazy = () => [...new Set(Object.keys(cache).map((p) => /node_modules\\/(zod|hdr-histogram-js)\\//.exec(p)?.[1]).filter(Boolean))].sort()
    const seen = {}
    const m = await import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))})
    seen.imported = lazy()
    const c = m.chain('lazy').link('a', (ctx) => { ctx.n = 1 })
    const run = await c.run({ n: 0 })
    m.Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    seen.ranAndRead = lazy()
    try { m.Run.fromJSON({ ...run.toJSON(), events: 'none' }) } catch (e) { seen.error = e.message }
    seen.readBad = lazy()
    const rec = m.recorder()
    await c.run({ n: 0 }, { recorder: rec })
    seen.stats = rec.stats().map((s) => s.chain)
    seen.recorded = lazy()
    await rec.close()
    console.log(JSON.stringify(seen))
  `
  return JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8' })) as Record<string, string[]>
}

beforeAll(() => ensureBuilt())

describe("import 'shadowchain'", () => {
  it('loads neither zod nor hdr-histogram-js: no module of the library imports them at once', () => {
    for (const entry of ['src/index.ts', 'src/store/index.ts', 'src/files/read-document.ts']) {
      const loaded = loadedWith(entry)
      expect(loaded.length).toBeGreaterThan(3)
      expect(loaded.filter((path) => LAZY.test(path))).toEqual([])
    }
    // The page's model bundles zod itself, with no require (scripts/build-viewer.mjs).
    expect(loadedWith('src/present/viewer/load-zod-browser.ts').some((path) => /node_modules\/zod\//.test(path))).toBe(true)
  }, 60_000)

  it('loads zod for the first malformed document (whose error it words) and hdr-histogram-js for the first statistics', () => {
    const seen = loadedAfterSteps()
    expect(seen['imported']).toEqual([])
    // A run, and a well-formed document read back: neither needed.
    expect(seen['ranAndRead']).toEqual([])
    expect(seen['error']).toMatch(/\$\.events/)
    expect(seen['readBad']).toEqual(['zod'])
    expect(seen['stats']).toEqual(['lazy'])
    expect(seen['recorded']).toEqual(['hdr-histogram-js', 'zod'])
  }, 60_000)
})
