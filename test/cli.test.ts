// The `shadowchain` command line, run as a user runs it: `node devtools/cli.js ...` in a child
// process, on run files recorded by the library. The CLI imports the BUILT library (dist/), so
// dist is rebuilt first when it is missing or older than src/.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it, type ExpectStatic } from 'vitest'
import { z } from 'zod'
import { chain, ChainRunError, loadRun, saveRun, type Middleware, type Run } from '../src/index.js'
import { ensureBuilt } from './built-dist.js'
import { cli, type CliResult as Result } from './cli-helpers.js'

// ---- running the CLI: test/cli-helpers.ts ------------------------------------------------------

// ---- recorded runs -------------------------------------------------------------------------------

interface Order {
  customer: { name: string; card: string }
  items: number[]
  total: number
}

const SECRET = '4111-SECRET-9999'
const OTHER_SECRET = '5500-OTHERSECRET-0004'
const EPOCH = 1_700_000_000_000_000_000n
const STEP = 1_500n
const order = (): Order => ({ customer: { name: 'Ada', card: SECRET }, items: [10, 30], total: 0 })

/** Every reading advances 1.5 µs: every link takes exactly '1.50 µs'. */
const steppingClock = () => {
  let t = EPOCH - STEP
  return { now: () => (t += STEP) }
}

const timing: Middleware<Order> = { name: 'timing', before() {}, after() {} }

/** A fresh chain (a fresh clock) per run. `discount` changes what 'price' writes (40 → 36). */
function checkout(options: { discount?: number; failPrice?: boolean; use?: Middleware<Order>[] } = {}) {
  return chain<Order>('checkout', { clock: steppingClock() })
    .link('validate', (ctx) => {
      if (ctx.items.length === 0) throw new Error('no items')
    })
    .link('price', (ctx) => {
      if (options.failPrice === true) throw new Error('price service down')
      ctx.total = ctx.items.reduce((sum, n) => sum + n, 0) - (options.discount ?? 0)
    })
    .link('ship', () => {})
    .use(timing, ...(options.use ?? []))
}

async function failedRun(c: ReturnType<typeof checkout>): Promise<Run<Order>> {
  try {
    await c.run(order())
  } catch (error) {
    if (error instanceof ChainRunError) return error.run as Run<Order>
    throw error
  }
  throw new Error('expected the run to fail')
}

let dir: string
const FILES = ['ok', 'ok2', 'discounted', 'failed', 'mw', 'secret', 'truncated', 'cut', 'wrongFormat', 'version2'] as const
const files = {} as Record<(typeof FILES)[number], string>
const runs = {} as Record<'ok' | 'failed' | 'mw' | 'secret', Run<Order>>

beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-cli-'))
  for (const name of FILES) files[name] = join(dir, `${name}.run.json`)
  runs.ok = await checkout().run(order())
  runs.failed = await failedRun(checkout({ failPrice: true }))
  const audit: Middleware<Order> = {
    name: 'audit',
    after() {
      throw new Error('audit log full')
    },
  }
  runs.mw = await checkout({ use: [audit] }).run(order())
  runs.secret = await chain<Order>('secret', { clock: steppingClock() })
    .link('mask', (ctx) => {
      ctx.customer.card = `${ctx.customer.card}-VERIFIED`
    })
    .link('swap', (ctx) => ({ ...ctx, customer: { name: 'Bob', card: OTHER_SECRET } }))
    .run(order())
  await Promise.all([
    saveRun(runs.ok, files.ok),
    checkout().run(order()).then((run) => saveRun(run, files.ok2)),
    checkout({ discount: 4 }).run(order()).then((run) => saveRun(run, files.discounted)),
    saveRun(runs.failed, files.failed),
    saveRun(runs.mw, files.mw),
    saveRun(runs.secret, files.secret),
  ])
  const text = await readFile(files.ok, 'utf8')
  const doc = JSON.parse(text) as { version: number; events: unknown[] }
  await Promise.all([
    writeFile(files.truncated, text.slice(0, Math.floor(text.length / 2))),
    // Valid JSON, but the last events are gone: the integrity check must refuse it.
    writeFile(files.cut, JSON.stringify({ ...doc, events: doc.events.slice(0, -2) })),
    writeFile(files.wrongFormat, JSON.stringify({ format: 'other/thing', version: 1, events: [] })),
    writeFile(files.version2, JSON.stringify({ ...doc, version: 11 })),
  ])
}, 180_000)

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

// ---- parsing the output --------------------------------------------------------------------------

const DURATION = String.raw`\d+(?:\.\d+)? (?:ns|µs|ms|s)`
const ROW = new RegExp(String.raw`^\s*(\d+)  (\S+)\s+\+(${DURATION})\s+(${DURATION})  \|([^|]*)\|  (✓|✗ .*)$`)

interface Row {
  index: number
  name: string
  offset: string
  duration: string
  bar: string
  mark: string
}

function rows(stdout: string): Row[] {
  const out: Row[] = []
  for (const line of stdout.split('\n')) {
    const m = ROW.exec(line)
    if (m === null) continue
    out.push({ index: Number(m[1]), name: m[2]!, offset: m[3]!, duration: m[4]!, bar: m[5]!, mark: m[6]! })
  }
  return out
}

const cells = (bar: string): number => [...bar].length

/** Bad usage or an unreadable file: exit 2, nothing on stdout, one `shadowchain: ` line on stderr. */
/**
 * Saves `run` as `name` in the temporary directory and runs `inspect --events --no-color` on it,
 * which must succeed: the file, the waterfall's lines and the event lines.
 */
async function inspectEvents(expect: ExpectStatic, run: Run<Order>, name: string): Promise<{ file: string; lines: string[]; events: string[] }> {
  const file = join(dir, name)
  await saveRun(run, file)
  const plain = await cli('inspect', file, '--events', '--no-color')
  expect(plain.code).toBe(0)
  const [waterfall, events] = plain.stdout.trimEnd().split('\n\n') as [string, string]
  return { file, lines: waterfall.split('\n'), events: events.split('\n') }
}

function expectUsageError(expect: ExpectStatic, result: Result, ...patterns: (string | RegExp)[]): void {
  expect(result.code).toBe(2)
  expect(result.stdout).toBe('')
  expect(result.stderr.endsWith('\n')).toBe(true)
  const lines = result.stderr.trimEnd().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^shadowchain: \S/)
  expect(result.stderr).not.toMatch(/^\s+at /m)
  for (const pattern of patterns) expect(lines[0]).toMatch(pattern)
}

// ---- inspect -------------------------------------------------------------------------------------

describe.concurrent('inspect', () => {
  it('prints one row per link, in order, with durations, ✓ and bars', async ({ expect }) => {
    const result = await cli('inspect', files.ok)
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const header = result.stdout.split('\n')[0]!
    expect(header).toContain('checkout')
    expect(header).toContain(runs.ok.id.slice(-8))
    expect(header).toMatch(/\bok\b/)
    expect(header).toContain('3 links')
    expect(header).toContain(`${(Number(runs.ok.endedAt - runs.ok.startedAt) / 1000).toPrecision(3)} µs`)
    const table = rows(result.stdout)
    expect(table.map((row) => [row.index, row.name])).toEqual([
      [0, 'validate'],
      [1, 'price'],
      [2, 'ship'],
    ])
    for (const row of table) {
      expect(row.duration).toBe('1.50 µs')
      expect(row.mark).toBe('✓')
      expect(cells(row.bar)).toBe(40)
      expect(row.bar).toContain('█')
      expect(row.bar).toMatch(/^[ ░█]+$/)
    }
    // Offsets grow down the waterfall, and bars move right.
    const offsets = runs.ok.timeline.links().map((link) => `${(Number(link.start - runs.ok.startedAt) / 1000).toPrecision(3)} µs`)
    expect(table.map((row) => row.offset)).toEqual(offsets)
    const firstBlock = table.map((row) => row.bar.indexOf('█'))
    expect(firstBlock).toEqual([...firstBlock].sort((a, b) => a - b))
    expect(new Set(firstBlock).size).toBe(3)
    expect(result.stdout).not.toContain('\x1b[')
  })

  it('shows a failed link with ✗ and its message, and the run error code line (and with --events, the failing event)', async ({ expect }) => {
    const result = await cli('inspect', files.failed, '--events')
    expect(result.code).toBe(0)
    expect(result.stdout.split('\n')[0]).toMatch(/\berror\b/)
    const table = rows(result.stdout)
    expect(table.map((row) => row.name)).toEqual(['validate', 'price'])
    expect(table[0]!.mark).toBe('✓')
    expect(table[1]!.mark).toBe('✗ price service down')
    expect(table[1]!.duration).toBe('1.50 µs')
    expect(result.stdout).toContain("  LINK_FAILED: link 'price' (#1) of chain 'checkout' failed: price service down")
    expect(result.stdout).not.toContain('\x1b[')
    const events = result.stdout.trimEnd().split('\n\n')[1]!.split('\n')
    expect(events).toHaveLength(runs.failed.timeline.length)
    expect(events.find((line) => line.includes('link.error'))).toMatch(/link 'price'.*✗ price service down/)
  })

  it("shows a throwing middleware as \"! middleware '<name>'\" lines", async ({ expect }) => {
    const result = await cli('inspect', files.mw)
    expect(result.code).toBe(0)
    const warnings = result.stdout.split('\n').filter((line) => line.startsWith('  ! '))
    expect(warnings).toEqual([
      "  ! middleware 'audit' (chain-after 'validate'): audit log full",
      "  ! middleware 'audit' (chain-after 'price'): audit log full",
      "  ! middleware 'audit' (chain-after 'ship'): audit log full",
    ])
    expect(rows(result.stdout).map((row) => row.mark)).toEqual(['✓', '✓', '✓'])
  })

  it('--events lists every event: seq 0..n-1 with its type', async ({ expect }) => {
    const result = await cli('inspect', files.ok, '--events')
    expect(result.code).toBe(0)
    const [waterfall, events] = result.stdout.trimEnd().split('\n\n') as [string, string | undefined]
    expect(rows(waterfall)).toHaveLength(3)
    expect(events).toBeDefined()
    const lines = events!.split('\n')
    const timeline = runs.ok.timeline.events
    expect(lines).toHaveLength(timeline.length)
    const parsed = lines.map((line) => /^\s*(\d+)\s+(?:\+\S+ \S+\s+)?(\S+)/.exec(line))
    expect(parsed.map((m) => Number(m?.[1]))).toEqual(timeline.map((_, i) => i))
    expect(parsed.map((m) => m?.[2])).toEqual(timeline.map((event) => event.type))
    expect(lines[0]).toMatch(/run\.start/)
    expect(lines.at(-1)).toMatch(/run\.end/)
    expect(lines.filter((line) => line.includes("link 'price'")).length).toBeGreaterThanOrEqual(4)
    expect(lines.find((line) => line.includes('link.end') && line.includes("'price'"))).toContain('1.50 µs')
  })

  it("--events signs a fork's inherited events (before its own start) with a minus only, its own with a plus", async ({ expect }) => {
    const parent = await checkout().run(order())
    const fork = await parent.fork({ at: 'price' })
    const file = join(dir, 'fork-events.run.json')
    await saveRun(fork, file)
    const result = await cli('inspect', file, '--events')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    const lines = result.stdout.trimEnd().split('\n\n')[1]!.split('\n')
    expect(lines).toHaveLength(fork.timeline.length)
    expect(result.stdout).not.toContain('+-')
    // Each line: seq (5), two spaces, the offset padded to 11, two spaces, the type.
    const offsets = lines.map((line) => line.slice(7, 18).trim())
    const inherited = fork.timeline.events.filter((event) => event.t < fork.startedAt).length
    expect(inherited).toBe(fork.parent!.seq + 1)
    expect(offsets.slice(0, inherited).every((offset) => new RegExp(`^-${DURATION}$`).test(offset))).toBe(true)
    expect(offsets.slice(inherited).every((offset) => new RegExp(`^\\+${DURATION}$`).test(offset))).toBe(true)
    // The parent's run.start, in the fork's time: its distance before the fork's start, signed.
    const before = Number(fork.startedAt - parent.startedAt) / 1000
    expect(offsets[0]).toBe(`-${before.toPrecision(3)} µs`)
    expect(lines[0]).toMatch(/run\.start/)
    expect(lines[inherited]).toMatch(/\bfork\b/)
  })

  it('--json prints a summary that matches the run', async ({ expect }) => {
    const [ok, failed, mw] = await Promise.all([cli('inspect', files.ok, '--json'), cli('inspect', files.failed, '--json'), cli('inspect', files.mw, '--json')])
    for (const result of [ok, failed, mw]) {
      expect(result.code).toBe(0)
      expect(result.stderr).toBe('')
    }
    const summary = JSON.parse(ok.stdout)
    expect(summary).toMatchObject({
      id: runs.ok.id,
      chainName: 'checkout',
      status: 'ok',
      startedAt: String(runs.ok.startedAt),
      endedAt: String(runs.ok.endedAt),
      durationNs: String(runs.ok.endedAt - runs.ok.startedAt),
      events: runs.ok.timeline.length,
      children: [],
      middlewareErrors: [],
    })
    expect(summary.error).toBeUndefined()
    expect(summary.links.map((l: { name: string; index: number; status: string; durationNs: string }) => [l.name, l.index, l.status, l.durationNs])).toEqual([
      ['validate', 0, 'ok', '1500'],
      ['price', 1, 'ok', '1500'],
      ['ship', 2, 'ok', '1500'],
    ])
    // 'price' changed one thing (total); the timing middleware spent 2 × 1.5 µs around each link.
    expect(summary.links.map((l: { changes: number }) => l.changes)).toEqual([0, 1, 0])
    expect(summary.links.map((l: { middlewareNs: string }) => l.middlewareNs)).toEqual(['3000', '3000', '3000'])

    const bad = JSON.parse(failed.stdout)
    expect(bad).toMatchObject({ id: runs.failed.id, status: 'error', error: { code: 'LINK_FAILED', link: 'price' } })
    expect(bad.error.message).toContain('price service down')
    expect(bad.links.map((l: { name: string; status: string; error?: string }) => [l.name, l.status, l.error])).toEqual([
      ['validate', 'ok', undefined],
      ['price', 'error', 'price service down'],
    ])

    const withMw = JSON.parse(mw.stdout)
    expect(withMw.id).toBe(runs.mw.id)
    expect(withMw.middlewareErrors).toEqual(
      ['validate', 'price', 'ship'].map((link) => ({
        seq: runs.mw.timeline.events.find((e) => e.type === 'middleware.error' && e.link?.name === link)!.seq,
        middleware: 'audit',
        position: 'chain-after',
        link,
        error: 'audit log full',
      })),
    )
  })

  it('--width 20 draws bars of 20 cells', async ({ expect }) => {
    const result = await cli('inspect', files.ok, '--width', '20')
    expect(result.code).toBe(0)
    const table = rows(result.stdout)
    expect(table).toHaveLength(3)
    for (const row of table) {
      expect(cells(row.bar)).toBe(20)
      expect(row.bar).toContain('█')
    }
  })

  it('--width 3 is refused: exit 2, one line', async ({ expect }) => {
    expectUsageError(expect, await cli('inspect', files.ok, '--width', '3'), /--width/, /'3'/)
  })
})

// ---- diff ----------------------------------------------------------------------------------------

describe.concurrent('diff', () => {
  it('two runs of one chain on the same input: exit 0, no divergence', async ({ expect }) => {
    const result = await cli('diff', files.ok, files.ok2)
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^no divergence/)
    expect(result.stdout).toContain("chain 'checkout'")
    expect(result.stdout).toContain('3 links agree')
  })

  it('a link that writes a different value: exit 1, names the link, reason patches, both sides', async ({ expect }) => {
    const result = await cli('diff', files.ok, files.discounted)
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('')
    const lines = result.stdout.trimEnd().split('\n')
    expect(lines[0]).toBe("runs diverge at link #1 'price' (patches), chain 'checkout'")
    expect(lines.slice(1)).toEqual([`  a ${files.ok}:`, '    replace total = 40', `  b ${files.discounted}:`, '    replace total = 36'])
  })

  it('a link that fails on one side only: reason error, with the error message', async ({ expect }) => {
    const result = await cli('diff', files.ok, files.failed)
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('')
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      "runs diverge at link #1 'price' (error), chain 'checkout'",
      `  a ${files.ok}:`,
      '    (no error)',
      `  b ${files.failed}:`,
      '    error: price service down',
    ])
  })

  it('--json: diverges, reason, link (and the patches of each side)', async ({ expect }) => {
    const [same, patches, error] = await Promise.all([
      cli('diff', files.ok, files.ok2, '--json'),
      cli('diff', files.ok, files.discounted, '--json'),
      cli('diff', files.ok, files.failed, '--json'),
    ])
    expect(same.code).toBe(0)
    expect(JSON.parse(same.stdout)).toEqual({ diverges: false })

    expect(patches.code).toBe(1)
    const p = JSON.parse(patches.stdout)
    expect(p).toMatchObject({ diverges: true, reason: 'patches', link: 'price' })
    expect(p.expected).toEqual([{ op: 'replace', path: ['total'], value: 40 }])
    expect(p.actual).toEqual([{ op: 'replace', path: ['total'], value: 36 }])

    expect(error.code).toBe(1)
    const e = JSON.parse(error.stdout)
    expect(e).toMatchObject({ diverges: true, reason: 'error', link: 'price', actual: { name: 'Error', message: 'price service down' } })
    expect(error.stdout).not.toContain('    at ')
    expect(e.seq).toBe(runs.failed.timeline.events.find((event) => event.type === 'link.error')!.seq)
  })
})

describe.concurrent('diff: inputs, fork edits and rejected inputs come before any link', () => {
  /** Saves runs into the shared temp folder under names of their own; returns the paths. */
  async function save<C>(entries: Record<string, Run<C>>): Promise<Record<string, string>> {
    const paths: Record<string, string> = {}
    await Promise.all(
      Object.entries(entries).map(([name, run]) => {
        paths[name] = join(dir, `diff-${name}.run.json`)
        return saveRun(run, paths[name])
      }),
    )
    return paths
  }

  it('different inputs: reason input, both inputs and what changed from a to b (no link is blamed)', async ({ expect }) => {
    const p = await save({ one: await checkout().run(order()), other: await checkout().run({ ...order(), items: [10] }) })
    const result = await cli('diff', p['one']!, p['other']!)
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('')
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      "runs diverge at the input (input), chain 'checkout'",
      `  a ${p['one']}:`,
      `    input {"customer":{"name":"Ada","card":"${SECRET}"},"items":[10,30],"total":0}`,
      `  b ${p['other']}:`,
      `    input {"customer":{"name":"Ada","card":"${SECRET}"},"items":[10],"total":0}`,
      '  changes from a to b:',
      '    remove items.1',
    ])
    const json = await cli('diff', p['one']!, p['other']!, '--json')
    expect(json.code).toBe(1)
    expect(JSON.parse(json.stdout)).toEqual({
      diverges: true,
      reason: 'input',
      seq: 0,
      expected: order(),
      actual: { ...order(), items: [10] },
      patches: [{ op: 'remove', path: ['items', 1] }],
    })
  })

  it('a fork with an edit against its parent: reason fork, the link it was cut after, the edit', async ({ expect }) => {
    const parent = await checkout().run(order())
    const fork = await parent.fork({ at: 'validate', edit: (ctx) => void ctx.items.push(5) })
    const p = await save({ parent, fork })
    const result = await cli('diff', p['parent']!, p['fork']!)
    expect(result.code).toBe(1)
    expect(result.stderr).toBe('')
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      "runs diverge at the fork after link #0 'validate' (fork), chain 'checkout'",
      `  a ${p['parent']}:`,
      '    (not forked here)',
      `  b ${p['fork']}:`,
      '    fork edit: add items.2 = 5',
    ])
    const json = JSON.parse((await cli('diff', p['parent']!, p['fork']!, '--json')).stdout)
    expect(json).toEqual({
      diverges: true,
      reason: 'fork',
      link: 'validate',
      seq: fork.parent!.seq + 1,
      actual: [{ op: 'add', path: ['items', 2], value: 5 }],
      patches: [{ op: 'add', path: ['items', 2], value: 5 }],
    })
  })

  it('an input the schema rejected in one run only: reason error at the input check, the rejection on its side', async ({ expect }) => {
    const strict = chain('strict', { input: z.object({ items: z.array(z.number()) }), clock: steppingClock() }).link('sum', () => {})
    const rejected = await strict.run({ items: ['ten'] } as never).catch((error: ChainRunError<{ items: number[] }>) => error.run)
    const p = await save({ rejected, accepted: await strict.run({ items: [10] }) })
    const result = await cli('diff', p['rejected']!, p['accepted']!)
    expect(result.code).toBe(1)
    expect(result.stdout.trimEnd().split('\n')).toEqual([
      "runs diverge at the input check (error), chain 'strict'",
      `  a ${p['rejected']}:`,
      `    error: ${rejected.error!.message}`,
      `  b ${p['accepted']}:`,
      '    (no error)',
    ])
    expect(rejected.error!.message).toMatch(/items/)
    const json = JSON.parse((await cli('diff', p['rejected']!, p['accepted']!, '--json')).stdout)
    expect(json).toMatchObject({ diverges: true, reason: 'error', seq: 0, expected: { name: 'ChainRunError', code: 'INVALID_INPUT', message: rejected.error!.message } })
    expect(json.link).toBeUndefined()
  })
})

// ---- export --------------------------------------------------------------------------------------

describe.concurrent('export', () => {
  it('--redact customer.card: the secret is nowhere in the file, which still loads and says what was redacted', async ({ expect }) => {
    const out = join(dir, 'redacted.run.json')
    // The secrets are in the original: in the input and in the patches of both links.
    const original = await readFile(files.secret, 'utf8')
    expect(original).toContain(SECRET)
    expect(original).toContain(OTHER_SECRET)

    const result = await cli('export', files.secret, '--out', out, '--redact', 'customer.card')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout.trim()).toBe(`wrote ${out} (redacted: customer.card)`)
    const text = await readFile(out, 'utf8')
    expect(text).not.toContain('SECRET')
    expect(JSON.parse(text).redacted).toEqual({ paths: [['customer', 'card']], placeholder: '[REDACTED]' })

    const loaded = await loadRun<Order>(out)
    expect(loaded.id).toBe(runs.secret.id)
    expect(loaded.timeline.links().map((link) => link.name)).toEqual(['mask', 'swap'])
    const states = loaded.timeline.events.map((event) => event.ctx)
    for (const ctx of states) expect(ctx.customer.card).toBe('[REDACTED]')
    expect(states[0]!.customer.name).toBe('Ada')
    expect(states.at(-1)!.customer.name).toBe('Bob')
    expect(states.at(-1)!.total).toBe(0)
  })

  it('without --redact: a file that loads as the same run and has no redacted section', async ({ expect }) => {
    const out = join(dir, 'copy.run.json')
    const result = await cli('export', files.ok, '-o', out)
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(`wrote ${out}`)
    const text = await readFile(out, 'utf8')
    expect(JSON.parse(text).redacted).toBeUndefined()
    expect(text).toContain(SECRET)
    const loaded = await loadRun<Order>(out)
    expect(loaded.id).toBe(runs.ok.id)
    expect(loaded.timeline.events.map((event) => event.type)).toEqual(runs.ok.timeline.events.map((event) => event.type))
    expect(loaded.timeline.events.at(-1)!.ctx.total).toBe(40)
  })

  it('without --out: exit 2, one line', async ({ expect }) => {
    expectUsageError(expect, await cli('export', files.ok, '--redact', 'customer.card'), /--out/)
  })
})

// ---- errors --------------------------------------------------------------------------------------

describe.concurrent('errors', () => {
  it('a missing file: exit 2, one line naming the file, no stack trace', async ({ expect }) => {
    const missing = join(dir, 'nope.run.json')
    const [inspect, diff] = await Promise.all([cli('inspect', missing), cli('diff', files.ok, missing)])
    expectUsageError(expect, inspect, missing, /no such file/)
    expectUsageError(expect, diff, missing)
  })

  it('a truncated file (cut in half): exit 2, one line about JSON / truncation', async ({ expect }) => {
    const result = await cli('inspect', files.truncated)
    expectUsageError(expect, result, files.truncated, /JSON/, /truncated/)
  })

  it('valid JSON missing its last events: exit 2, names the events path', async ({ expect }) => {
    const result = await cli('inspect', files.cut)
    expectUsageError(expect, result, files.cut, /\$\.events/, /truncated|run\.end/)
  })

  it('a JSON file of another format or version: exit 2 naming $.format / $.version', async ({ expect }) => {
    const [format, version] = await Promise.all([cli('inspect', files.wrongFormat), cli('diff', files.ok, files.version2)])
    expectUsageError(expect, format, files.wrongFormat, '$.format')
    expectUsageError(expect, version, files.version2, '$.version')
  })

  it('an unknown command: exit 2', async ({ expect }) => {
    expectUsageError(expect, await cli('frobnicate', files.ok), /unknown command 'frobnicate'/)
  })

  it('an unknown option: exit 2, names the option', async ({ expect }) => {
    const [inspect, diff] = await Promise.all([cli('inspect', files.ok, '--bogus'), cli('diff', files.ok, files.ok2, '--width', '20')])
    expectUsageError(expect, inspect, /--bogus/)
    expectUsageError(expect, diff, /--width/)
  })

  it('the wrong number of files: exit 2', async ({ expect }) => {
    const [none, two, one] = await Promise.all([cli('inspect'), cli('inspect', files.ok, files.ok2, '--no-color'), cli('diff', files.ok)])
    expectUsageError(expect, none, /one file/)
    // Several files are several runs (stitched by trace, DESIGN §11): runs without a trace each alone.
    expect(two.code).toBe(0)
    expect(two.stdout.match(/^run without a trace$/gm)).toHaveLength(2)
    expectUsageError(expect, one, /2 files/)
  })
})

// ---- help ----------------------------------------------------------------------------------------

describe.concurrent('help', () => {
  it('--help prints the usage on stdout, exit 0', async ({ expect }) => {
    const result = await cli('--help')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toContain('usage: shadowchain <command>')
    for (const command of ['inspect <file>', 'diff <a> <b>', 'export <file>']) expect(result.stdout).toContain(command)
  })

  it.for([
    ['inspect', ['--events', '--json', '--width']],
    ['diff', ['--json', 'Exit code', '<a> <b>']],
    ['export', ['--out', '--redact']],
  ] as const)('%s --help prints its usage on stdout, exit 0', async ([command, mentions], { expect }) => {
    const result = await cli(command, '--help')
    expect(result.code).toBe(0)
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(new RegExp(`^usage: shadowchain ${command} `))
    for (const word of mentions) expect(result.stdout).toContain(word)
  })
})

describe('inspect: skipped links and a stopped run (DESIGN §9)', () => {
  it('shows skipped links greyed with their reason, the stop in the header, and both in --events', async ({ expect }) => {
    const run = await chain<Order>('stopping', { clock: steppingClock() })
      .link('first', () => {})
      .link('maybe', () => {}, { when: () => false })
      .link('enough', (_ctx, io) => io.stop('nothing left to do'))
      .link('never', () => {})
      .run(order())
    const { file, lines, events } = await inspectEvents(expect, run, 'stopped.run.json')
    expect(lines[1]).toBe("stopped by link 'enough' (#2): nothing left to do")
    expect(lines.find((line) => line.includes('maybe'))).toMatch(/– skipped: when$/)
    expect(lines.find((line) => line.includes('never'))).toMatch(/\|\s+\|  – skipped: stopped$/)
    expect(events.filter((line) => line.includes('link.skip'))).toEqual([
      expect.stringMatching(/link 'maybe'  – skipped: when$/),
      expect.stringMatching(/link 'never'  – skipped: stopped$/),
    ])
    expect(events.at(-1)).toMatch(/run\.end .*stopped by link 'enough': nothing left to do$/)
    const json = JSON.parse((await cli('inspect', file, '--json')).stdout) as { stoppedBy: unknown; links: { name: string; status: string; reason?: string }[] }
    expect(json.stoppedBy).toEqual({ link: 'enough', reason: 'nothing left to do' })
    expect(json.links.map((l) => `${l.name}:${l.status}${l.reason ? `:${l.reason}` : ''}`)).toEqual(['first:ok', 'maybe:skipped:when', 'enough:ok', 'never:skipped:stopped'])
    // Greyed (dim) on a terminal: formatWaterfall's colours, tested in composition-lineage.test.ts
    // (a child process's stdout is not a terminal).
  })
})

describe('inspect: retried links (DESIGN §9)', () => {
  it('shows each failed attempt as a segment and a line, the attempt count, and the attempts in --events and --json', async ({ expect }) => {
    const run = await chain<Order>('retrying', { clock: steppingClock() })
      .link('first', () => {})
      .link('charge', (_ctx, io) => {
        if (io.attempt < 3) throw new Error(`declined ${io.attempt}`)
      }, { retry: { attempts: 3 } })
      .run(order())
    const { file, lines, events } = await inspectEvents(expect, run, 'retried.run.json')
    const at = lines.findIndex((line) => line.includes('charge'))
    expect(lines[at]).toMatch(/\|[^|]*▓[^|]*\|  ✓ \(3 attempts\)$/)
    expect(lines.slice(at + 1, at + 3)).toEqual([
      expect.stringMatching(/^\s+↻ attempt 1 failed after .+: declined 1$/),
      expect.stringMatching(/^\s+↻ attempt 2 failed after .+: declined 2$/),
    ])
    expect(lines.find((line) => line.includes('first'))).toMatch(/✓$/)
    expect(events.filter((line) => line.includes('link.attempt'))).toEqual([
      expect.stringMatching(/link 'charge'  .+  ↻ attempt 1 \(retried\)  ✗ declined 1$/),
      expect.stringMatching(/link 'charge'  .+  ↻ attempt 2 \(retried\)  ✗ declined 2$/),
    ])
    const json = JSON.parse((await cli('inspect', file, '--json')).stdout) as { links: { name: string; attempts?: number }[] }
    expect(json.links.map((l) => [l.name, l.attempts])).toEqual([['first', undefined], ['charge', 3]])
  })
})

describe('inspect: parallel steps (DESIGN §9)', () => {
  it('draws each branch as a lane under its step, names branches in --events, and lists them in --json', async ({ expect }) => {
    const run = await failedRun(
      chain<Order>('parallel', { clock: steppingClock() })
        .link('first', () => {})
        .parallel('quote', {
          tax: () => {},
          fraud: () => {
            throw new Error('risky')
          },
        }),
    )
    const { file, lines, events } = await inspectEvents(expect, run, 'parallel.run.json')
    const at = lines.findIndex((line) => line.includes('quote'))
    expect(lines[at]).toMatch(/✗ risky$/)
    expect(lines.slice(at + 1, at + 3)).toEqual([
      expect.stringMatching(/^\s+├ tax\s+\+.+\|[^|]*▒[^|]*\|  ✓$/),
      expect.stringMatching(/^\s+└ fraud\s+\+.+\|[^|]*▒[^|]*\|  ✗ risky$/),
    ])
    expect(events.filter((line) => line.includes('branch.'))).toEqual([
      expect.stringMatching(/branch\.start\s+link 'quote'  branch 'tax'$/),
      expect.stringMatching(/branch\.end\s+link 'quote'  branch 'tax'  .+$/),
      expect.stringMatching(/branch\.start\s+link 'quote'  branch 'fraud'$/),
      expect.stringMatching(/branch\.error\s+link 'quote'  branch 'fraud'  .+  ✗ risky$/),
    ])
    const json = JSON.parse((await cli('inspect', file, '--json')).stdout) as { links: { name: string; branches?: { name: string; status: string; error?: string }[] }[] }
    expect(json.links.map((l) => [l.name, l.branches?.map((b) => [b.name, b.status, b.error])])).toEqual([
      ['first', undefined],
      ['quote', [['tax', 'ok', undefined], ['fraud', 'error', 'risky']]],
    ])
  })
})

describe('inspect: around calls (DESIGN §9)', () => {
  it('lists both halves of an around call in --events, and counts them as the link\'s middleware time in --json', async ({ expect }) => {
    const run = await chain<Order>('wrapped', { clock: steppingClock() })
      .use({ name: 'ctx', around: async (_e, next) => void (await next()) })
      .link('price', () => {}, { use: [{ name: 'broken', around: () => { throw new Error('broken around') } }] })
      .run(order())
    const { file, events } = await inspectEvents(expect, run, 'around.run.json')
    const types = events.map((line) => /(middleware\.\w+|link\.\w+|run\.\w+)/.exec(line)?.[1])
    expect(types).toEqual(['run.start', 'middleware.before', 'middleware.error', 'link.start', 'link.end', 'middleware.after', 'run.end'])
    expect(events.filter((line) => line.includes("ctx (chain-around #0) link 'price'"))).toHaveLength(2)
    expect(events.find((line) => line.includes('middleware.error'))).toMatch(/broken \(link-around #0\) link 'price'.*✗ broken around$/)
    const json = JSON.parse((await cli('inspect', file, '--json')).stdout) as { links: { name: string; middlewareNs: string }[] }
    const mwNs = run.timeline.events.reduce((n, e) => n + ('middleware' in e ? e.durationNs : 0n), 0n)
    expect(mwNs > 0n).toBe(true)
    expect(json.links.map((l) => [l.name, l.middlewareNs])).toEqual([['price', String(mwNs)]])
  })
})
