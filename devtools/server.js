// The devtools viewer's server: the page (devtools/viewer/: index.html, app.js, style.css and
// model.js, the library's viewer model bundled for the browser by `npm run build`) and the run
// files given to `shadowchain view`, on 127.0.0.1 only. Nothing else is served, nothing is
// fetched elsewhere.
import { stat } from 'node:fs/promises'
import { createServer } from 'node:http'
import { basename, resolve } from 'node:path'
import { loadRun } from '../dist/index.js'
import { describeTrace, stitchRuns } from '../dist/present/stitch.js'
// The page's files, the security headers, the Host check: shared with the live view (src/http).
import { admitted, assertViewerBuilt, send, sendText, servePage } from '../dist/http/viewer-files.js'

/**
 * Reads one run file for the page, validated by `load` on every read (a file replaced or
 * changed after the viewer started is checked again), and serves what the library rebuilt from
 * it, re-encoded: nothing the validator did not accept reaches the page.
 *
 * @returns `{ doc }`, or `{ error }`: a message that names the file and the place of the problem
 *   but never quotes the file (it may be anything a path or a symlink now points to)
 */
async function readRun(path, load) {
  const unreadable = (error) => ({ ENOENT: 'it no longer exists', EACCES: 'permission denied', EISDIR: 'it is a directory' })[error?.code]
  try {
    // The loader may word these its own way (the CLI's does): ask the file system first.
    await stat(path)
  } catch (error) {
    return { error: `${basename(path)}: cannot be shown: ${unreadable(error) ?? 'it cannot be read'}` }
  }
  try {
    const run = await load(path)
    return { doc: run.toJSON(), run, origin: basename(path) }
  } catch (error) {
    // Only the document's own structure (`$.events[12]`): deeper keys are the file's data.
    const at = error?.name === 'DocumentError' && typeof error.path === 'string' ? /^\$(\.(run|links|middleware|initial|events)(\[\d+\])?)?/.exec(error.path)?.[0] : undefined
    const where = at === undefined ? '' : ` (first problem at ${at})`
    return { error: `${basename(path)}: cannot be shown: ${unreadable(error) ?? `it is no longer a valid run document${where}`}` }
  }
}

/** Reads one run from a source (a store) for the page; a failure is named, never quoted. */
async function readSource(source) {
  try {
    const run = await source.load()
    return { doc: run.toJSON(), run, origin: source.origin ?? source.name }
  } catch (error) {
    const known = error?.name === 'DocumentError' ? 'it is no longer a valid run document' : typeof error?.code === 'string' ? `the store said ${error.code}` : 'it cannot be read'
    return { error: `${source.name}: cannot be shown: ${known}` }
  }
}

/**
 * Validates the run files (each with `load`, default the library's `loadRun`: a bad file
 * rejects before anything listens), then serves the viewer on 127.0.0.1. `GET /api/runs`
 * answers `{ runs, errors }`: the documents of the files that are still valid run files, and
 * one message for each that no longer is.
 *
 * @param options.files - run files to show; re-read and validated again on every page load
 * `traces` lists the runs that share a distributed trace as trees (`describeTrace`), `sources`
 * where each run was read (a file or store name, for labels).
 *
 * @param options.sources - runs from elsewhere (a run store): `{ name, origin?, load }`, `load()` giving
 *   the Run; called on every page load too, and once before anything listens
 * @param options.port - the port, 0 (default) for any free one
 * @param options.load - the validating loader (the CLI passes one with friendlier messages)
 * @returns the URL and `close()`
 */
export async function startViewer({ files = [], sources = [], port = 0, load = loadRun }) {
  // The page's model is bundled from the library by `npm run build` (scripts/build-viewer.mjs).
  await assertViewerBuilt()
  for (const file of files) await load(file)
  for (const source of sources) await source.load()
  const paths = files.map((file) => resolve(file))
  let origin = ''
  const server = createServer((request, response) => {
    // Whatever failed, the answer quotes nothing: an error's message may hold a file's bytes.
    handle(request, response, paths, sources, origin, load).catch(() => sendText(response, 500, 'viewer: internal error'))
  })
  await new Promise((done, fail) => {
    server.once('error', fail)
    server.listen(port, '127.0.0.1', done)
  })
  origin = `127.0.0.1:${server.address().port}`
  return {
    url: `http://${origin}/`,
    close: () => new Promise((done) => server.close(() => done())).finally(() => server.closeAllConnections()),
  }
}

async function handle(request, response, paths, sources, origin, load) {
  const url = new URL(request.url ?? '/', 'http://localhost')
  if (!admitted(request, response, origin)) return
  if (url.pathname === '/api/runs') {
    const read = [...(await Promise.all(paths.map((path) => readRun(path, load)))), ...(await Promise.all(sources.map(readSource)))]
    const ok = read.filter((r) => r.doc !== undefined)
    // Runs that share a trace (DESIGN §11): one tree, each remote run under the link that called it.
    const traces = stitchRuns(ok.map((r) => ({ run: r.run, origin: r.origin })))
      .filter((t) => t.size > 1)
      .map(describeTrace)
    const body = { runs: ok.map((r) => r.doc), sources: ok.map((r) => r.origin), traces, errors: read.filter((r) => r.error !== undefined).map((r) => r.error) }
    return send(response, 200, 'application/json; charset=utf-8', JSON.stringify(body))
  }
  if (!(await servePage(url.pathname, response))) sendText(response, 404, 'not found')
}

