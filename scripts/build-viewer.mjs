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
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..')

// STOPGAP until src/run is free of Node built-ins: the Node imports that reach the bundle only
// through code the page never runs (a chain's run, not a document's reading), by importing file.
// Each becomes a module whose functions throw if they are ever called, so a use that does reach
// the page fails loudly instead of going wrong quietly. Any other `node:` import fails the build.
const UNUSED_IN_THE_BROWSER = {
  'node:util': { importer: 'src/run/capture-thrown.ts', exports: { types: ['isProxy'] } },
}

/** @type {import('esbuild').Plugin} */
const unusedNodeBuiltins = {
  name: 'unused-node-builtins',
  setup(build) {
    build.onResolve({ filter: /^node:/ }, (args) => {
      const known = UNUSED_IN_THE_BROWSER[args.path]
      if (known === undefined || relative(ROOT, args.importer).split(sep).join('/') !== known.importer) return undefined
      return { path: args.path, namespace: 'unused-node-builtin' }
    })
    build.onLoad({ filter: /.*/, namespace: 'unused-node-builtin' }, (args) => {
      const { exports } = UNUSED_IN_THE_BROWSER[args.path]
      const thrower = (name) => `${name}() { throw new Error(${JSON.stringify(`${args.path} ${name}() is not available in the browser`)}) }`
      const contents = Object.entries(exports)
        .map(([name, functions]) => `export const ${name} = { ${functions.map(thrower).join(', ')} }`)
        .join('\n')
      return { contents, loader: 'js' }
    })
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
    plugins: [unusedNodeBuiltins],
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
