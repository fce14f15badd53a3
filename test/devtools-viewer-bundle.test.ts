// The viewer has no logic of its own to drift: the page (devtools/viewer/app.js) draws, and
// everything it decodes, compares, times and formats comes from the library, bundled by esbuild
// from src/present/viewer/browser.ts into devtools/viewer/model.js by `npm run build`.
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from './built-dist.js'

const VIEWER = join(ROOT, 'devtools', 'viewer')

interface Metafile {
  readonly inputs: Record<string, { readonly imports: readonly { readonly path: string }[] }>
}

let dir: string
let metafile: Metafile
let fresh: string

beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-viewer-bundle-'))
  const { buildViewer } = (await import(join(ROOT, 'scripts', 'build-viewer.mjs'))) as {
    buildViewer: (options: { outfile: string; metafile: string }) => Promise<Metafile>
  }
  const outfile = join(dir, 'model.js')
  metafile = await buildViewer({ outfile, metafile: join(dir, 'meta.json') })
  fresh = await readFile(outfile, 'utf8')
}, 60_000)

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** The module specifiers a file imports (static and dynamic). */
const importsOf = (text: string): string[] => [...text.matchAll(/(?:\bfrom\s*|\bimport\s*\(?\s*)['"]([^'"]+)['"]/g)].map((m) => m[1]!)

describe('the devtools viewer', () => {
  it('is a page that draws, a style sheet and the bundled model: no viewer logic of its own', () => {
    expect(existsSync(join(VIEWER, 'prepare.js'))).toBe(false)
    expect(readdirSync(VIEWER).filter((file) => /\.(m?js|ts)$/.test(file)).sort()).toEqual(['app.js', 'check.js', 'model.js'])
    const app = readFileSync(join(VIEWER, 'app.js'), 'utf8')
    expect(importsOf(app)).toEqual(['./model.js'])
    // The worker that validates a dropped file: the model's checkRun, and nothing else.
    const check = readFileSync(join(VIEWER, 'check.js'), 'utf8')
    expect(importsOf(check)).toEqual(['./model.js'])
    expect(check).toMatch(/checkRun\(JSON\.parse\(text\)\)/)
    expect(check.replace(/\/\/.*$/gm, '').split('\n').filter((line) => line.trim() !== '').length).toBeLessThan(12)
    // None of the model's functions is written again in the page.
    const entry = readFileSync(join(ROOT, 'src', 'present', 'viewer', 'browser.ts'), 'utf8')
    const names = [...entry.matchAll(/^export \{([^}]+)\} from/gm)].flatMap((m) => m[1]!.split(',').map((name) => name.trim()))
    expect(names).toEqual(expect.arrayContaining(['prepareRun', 'openRun', 'checkRun', 'firstDivergence', 'formatDuration', 'stateAt']))
    const redefined = names.filter((name) => new RegExp(`(function\\s+${name}\\b|(const|let|var)\\s+${name}\\s*=)`).test(app))
    expect(redefined).toEqual([])
    // What the page once re-implemented: a decoder, a patch applier, a comparison, a formatter.
    expect(app).not.toMatch(/\$bigint|\$holes|applyPatch|sameValue|toPrecision|structuredClone/)
  })

  it('is built from the library’s own modules: Run.fromJSON, compareRuns, the waterfall rows and the formatters', () => {
    const inputs = Object.keys(metafile.inputs)
    expect(inputs).toEqual(
      expect.arrayContaining([
        'src/lineage/run.ts',
        'src/lineage/compare.ts',
        'src/present/waterfall.ts',
        'src/present/format-patch.ts',
        'src/present/value-text.ts',
        'src/files/run-document.ts',
        'src/files/codec.ts',
        'src/record/timeline.ts',
      ]),
    )
    // Nothing that needs Node: no run files, no Node built-in module, no OpenTelemetry.
    expect(inputs.filter((input) => input === 'src/lineage/run-file.ts' || input.startsWith('src/otel/') || input.includes('@opentelemetry'))).toEqual([])
    expect(inputs.filter((input) => /(^|:)node:/.test(input))).toEqual([])
  })

  it('ships the bundle `npm run build` made from the current source', () => {
    const built = join(VIEWER, 'model.js')
    expect(existsSync(built), 'devtools/viewer/model.js is missing: run npm run build').toBe(true)
    expect(readFileSync(built, 'utf8') === fresh, 'devtools/viewer/model.js is stale: run npm run build').toBe(true)
  })
})
