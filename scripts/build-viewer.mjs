// Builds the devtools viewer's model for the browser: src/present/viewer/browser.ts and what it
// imports from the library (Run.fromJSON, compareRuns, the waterfall rows, the formatters),
// bundled by esbuild into devtools/viewer/model.js. `npm run build` runs it after tsc.
//
//   node scripts/build-viewer.mjs [--metafile <path>]
//
// --metafile writes esbuild's account of the bundle's inputs (the test reads it to check that the
// page's logic is the library's own).
import { build } from 'esbuild'
import { writeFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

/**
 * The page's zod: the library loads it on first use with Node's `require` (src/files/load-zod.ts),
 * which a page has not; the page bundles zod and gets it from load-zod-browser.ts.
 */
const zodForThePage = {
  name: 'load-zod-browser',
  setup(build) {
    build.onResolve({ filter: /\/load-zod\.js$/ }, () => ({ path: join(ROOT, 'src', 'present', 'viewer', 'load-zod-browser.ts') }))
  },
}

/**
 * Bundles the viewer's model. Node's built-in modules cannot reach the page: esbuild fails the
 * build on any `node:` import (platform 'browser'), naming the file that made it.
 *
 * @param {{ outfile?: string, metafile?: string }} [options]
 */
export async function buildViewer(options = {}) {
  const result = await build({
    entryPoints: [join(ROOT, 'src', 'present', 'viewer', 'browser.ts')],
    outfile: options.outfile ?? join(ROOT, 'devtools', 'viewer', 'model.js'),
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    // No source map: it would point into node_modules, which the package does not ship.
    sourcemap: false,
    minify: true,
    legalComments: 'eof',
    metafile: true,
    plugins: [zodForThePage],
    logLevel: 'warning',
    banner: { js: '// Built by scripts/build-viewer.mjs from src/present/viewer/browser.ts: do not edit.' },
  })
  if (options.metafile !== undefined) await writeFile(options.metafile, JSON.stringify(result.metafile, null, 2))
  return result.metafile
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { metafile: { type: 'string' }, outfile: { type: 'string' } } })
  await buildViewer({ ...(values.metafile !== undefined && { metafile: values.metafile }), ...(values.outfile !== undefined && { outfile: values.outfile }) })
}
