// The devtools server (devtools/server.js) over HTTP: the run files it serves are validated by the
// library on every read, and what it answers never quotes a file. It imports the BUILT library.
import { mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { Viewer } from '../devtools/server.js'
import { chain, saveRun } from '../src/index.js'
import { ensureBuilt } from './built-dist.js'

let dir: string
let startViewer: typeof import('../devtools/server.js').startViewer
const open: Viewer[] = []

beforeAll(async () => {
  ensureBuilt()
  ;({ startViewer } = await import('../devtools/server.js'))
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-server-'))
})
afterEach(async () => {
  await Promise.all(open.splice(0).map((viewer) => viewer.close()))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** A valid run file at `name` in the test folder. */
async function runFile(name: string): Promise<{ path: string; id: string }> {
  const run = await chain<{ n: number }>('served').link('add', (ctx) => void (ctx.n += 1)).run({ n: 1 })
  const path = join(dir, name)
  await saveRun(run, path)
  return { path, id: run.id }
}

async function serve(files: string[]): Promise<Viewer> {
  const viewer = await startViewer({ files })
  open.push(viewer)
  return viewer
}

interface Served {
  readonly runs: readonly { run: { id: string } }[]
  readonly errors: readonly string[]
}

/** `GET /api/runs`: the status, the raw text, and the text parsed (parse it after looking at the text). */
async function runs(viewer: Viewer): Promise<{ status: number; text: string; readonly body: Served }> {
  const response = await fetch(new URL('/api/runs', viewer.url))
  const text = await response.text()
  return {
    status: response.status,
    text,
    get body() {
      return JSON.parse(text) as Served
    },
  }
}

describe('devtools server', () => {
  it('serves the page, its code and the model bundled from the library as JavaScript, under one strict policy; nothing outside the viewer', async () => {
    const file = await runFile('page.run.json')
    const viewer = await serve([file.path])
    const get = (path: string) => fetch(new URL(path, viewer.url))
    const page = await get('/')
    const policy = page.headers.get('content-security-policy')
    expect(policy).toBe("default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    expect(await page.text()).toContain('src="/viewer/app.js"')
    for (const path of ['/viewer/app.js', '/viewer/model.js']) {
      const response = await get(path)
      expect([path, response.status, response.headers.get('content-type')]).toEqual([path, 200, 'text/javascript; charset=utf-8'])
      expect(response.headers.get('content-security-policy')).toBe(policy)
      expect(response.headers.get('x-content-type-options')).toBe('nosniff')
    }
    // The bundle is the library's reader: it exports what the page imports.
    expect(await (await get('/viewer/model.js')).text()).toMatch(/export\s*\{[^}]*\bprepareRun\b/)
    for (const path of ['/viewer/../server.js', '/viewer/%2e%2e/server.js', '/viewer/..%2fcli.js', '/viewer/%2e%2e%2f%2e%2e%2fpackage.json', '/server.js', '/dist/index.js']) {
      expect([path, (await get(path)).status]).toEqual([path, 404])
    }
  })


  it('validates a run file again on every read: one replaced by a truncated document is not served', async () => {
    const file = await runFile('replaced.run.json')
    const viewer = await serve([file.path])
    expect((await runs(viewer)).body.runs.map((doc) => doc.run.id)).toEqual([file.id])
    const truncated = JSON.parse(await readFile(file.path, 'utf8')) as { events: unknown[] }
    truncated.events.pop()
    await writeFile(file.path, JSON.stringify(truncated))
    const { status, body } = await runs(viewer)
    expect(status).toBe(200)
    expect(body.runs).toEqual([])
    expect(body.errors).toHaveLength(1)
    expect(body.errors[0]).toMatch(/^replaced\.run\.json: cannot be shown: it is no longer a valid run document \(first problem at \$\.events\[\d+\]\)$/)
  })

  it('serves the other files when one is gone, and says which', async () => {
    const [kept, gone] = await Promise.all([runFile('kept.run.json'), runFile('gone.run.json')])
    const viewer = await serve([kept.path, gone.path])
    await unlink(gone.path)
    const { body } = await runs(viewer)
    expect(body.runs.map((doc) => doc.run.id)).toEqual([kept.id])
    expect(body.errors).toEqual(['gone.run.json: cannot be shown: it no longer exists'])
  })

  it('never quotes a file in its answer: a run file replaced by a symlink to another file', async () => {
    const file = await runFile('linked.run.json')
    const secret = join(dir, 'secret.txt')
    await writeFile(secret, 'SECRET-BYTES of a file that is not a run, {"format":"shadowchain/run"}\n')
    const viewer = await serve([file.path])
    await unlink(file.path)
    await symlink(secret, file.path)
    const answer = await runs(viewer)
    expect(answer.text).not.toContain('SECRET')
    expect(answer.status).toBe(200)
    expect(answer.body.errors).toEqual(['linked.run.json: cannot be shown: it is no longer a valid run document (first problem at $)'])
  })
})
