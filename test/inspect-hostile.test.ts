// `shadowchain inspect` on documents that load but lie about time, run as a user runs it (a child
// process on the BUILT library): it must print and exit, never spin. The child is killed after
// 20 s, so the test fails (it does not hang) when the waterfall loops.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, type RunDocument } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'
import { steppingClock } from './helpers.js'

let dir: string

beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-inspect-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

function inspect(file: string): Promise<{ code: number | string | null; stdout: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'devtools', 'cli.js'), 'inspect', file, '--no-color'], { cwd: ROOT, timeout: 20_000, encoding: 'utf8' }, (error, stdout) => {
      resolve({ code: error === null ? 0 : (error.code ?? error.signal ?? null), stdout })
    })
  })
}

describe('shadowchain inspect on a document whose times go backwards', () => {
  it.each([
    ['a link that starts long before the run', -4_000_000_000_000_000],
    ['a link that starts just before the run', -2_000],
  ])('prints the waterfall and exits: %s', async (_name, t) => {
    const run = await chain<{ n: number }>('odd', { clock: steppingClock(0n, 1_000n) })
      .link('first', (ctx) => void (ctx.n += 1))
      .link('second', (ctx) => void (ctx.n += 1))
      .run({ n: 0 })
    const doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
    doc.events.find((e) => e.type === 'link.start')!.t = t
    const file = join(dir, `odd${t}.run.json`)
    await writeFile(file, JSON.stringify(doc))
    const { code, stdout } = await inspect(file)
    expect(code).toBe(0)
    const first = stdout.split('\n')[1]
    expect(first).toMatch(/^ {2}0 {2}first +-\S+ (ns|µs|ms|s) /)
    // Drawn from the left edge of the bar, never from outside it.
    expect(/\|(.*)\|/.exec(first ?? '')?.[1]).toMatch(/^█+/)
  })
})
