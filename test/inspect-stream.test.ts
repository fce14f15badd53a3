// `shadowchain inspect` streams (issue #15): its lines are written as they are made, in chunks of
// about 64 KiB, never as one string of the whole output; what it prints is unchanged. The
// command runs in this process (devtools/commands.js, on the BUILT library) with stdout captured.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { chain, describeRun, formatWaterfall, saveRun, type Run } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'

interface Commands {
  readonly commands: Record<string, { run(values: Record<string, unknown>, positionals: string[], usage: typeof Error): Promise<number> }>
  readonly writeLines: (lines: Iterable<string>, out?: { write(chunk: string): boolean; once(e: string, f: () => void): void; on(e: string, f: (error: unknown) => void): void; off(e: string, f: (error: unknown) => void): void }) => Promise<void>
  readonly jsonLines: (value: unknown, depth?: number) => Generator<string>
}

let cli: Commands
let dir: string
let big: Run<{ n: number; log: string[] }>
let bigFile: string
let small: Run<{ n: number; log: string[] }>
let smallFile: string

const replacer = (_key: string, value: unknown): unknown => (typeof value === 'bigint' ? value.toString() : value)

beforeAll(async () => {
  ensureBuilt()
  cli = (await import(join(ROOT, 'devtools', 'commands.js'))) as Commands
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-inspect-stream-'))
  let c = chain<{ n: number; log: string[] }>('long')
  for (let i = 0; i < 5_000; i++) c = c.link(`l${i}`, (ctx) => void (ctx.n += 1))
  big = await c.use({ name: 'm', before() {}, after(e) { e.metrics['i'] = 1 } }).run({ n: 0, log: [] })
  bigFile = join(dir, 'big.run.json')
  await saveRun(big, bigFile)
  small = await chain<{ n: number; log: string[] }>('short')
    .link('a', (ctx) => void ctx.log.push('a'))
    .link('b', () => {
      throw new Error('b broke')
    })
    .run({ n: 0, log: [] })
    .catch((e: { run: Run<{ n: number; log: string[] }> }) => e.run)
  smallFile = join(dir, 'small.run.json')
  await saveRun(small, smallFile)
}, 120_000)

afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

/** Runs `inspect` with stdout captured: every write, in order. */
async function inspect(values: Record<string, unknown>, file: string): Promise<string[]> {
  const writes: string[] = []
  const write = vi.spyOn(process.stdout, 'write').mockImplementation(((chunk: string) => (writes.push(String(chunk)), true)) as never)
  try {
    expect(await cli.commands['inspect']!.run(values, [file], Error)).toBe(0)
  } finally {
    write.mockRestore()
  }
  return writes
}

describe('inspect streams its output', () => {
  it('prints a small run as before: the waterfall, the events, the JSON summary', async () => {
    const waterfall = (await inspect({ 'no-color': true }, smallFile)).join('')
    expect(waterfall).toBe(`${formatWaterfall(small, { width: 40, color: false })}\n`)
    const json = (await inspect({ json: true }, smallFile)).join('')
    expect(json).toBe(`${JSON.stringify(describeRun(small), replacer, 2)}\n`)
    const events = (await inspect({ events: true, 'no-color': true }, smallFile)).join('').split('\n')
    expect(events.slice(0, waterfall.split('\n').length - 1)).toEqual(waterfall.split('\n').slice(0, -1))
    // After the waterfall, a blank line, then one line per event.
    const blank = waterfall.split('\n').length - 1
    expect(events[blank]).toBe('')
    expect(events.slice(blank + 1, -1)).toHaveLength(small.timeline.length)
    expect(events.at(-1)).toBe('')
  })

  it('writes a 20,002-event run in chunks as it goes, never one string of the whole output', async () => {
    const stringify = vi.spyOn(JSON, 'stringify')
    const writes = await inspect({ events: true, 'no-color': true }, bigFile)
    const json = await inspect({ json: true }, bigFile)
    const longest = stringify.mock.results.reduce((max, r) => Math.max(max, typeof r.value === 'string' ? r.value.length : 0), 0)
    stringify.mockRestore()
    for (const [output, lines] of [[writes, big.timeline.length], [json, 5_000]] as const) {
      const total = output.reduce((sum, chunk) => sum + chunk.length, 0)
      expect(output.length).toBeGreaterThan(10)
      expect(Math.max(...output.map((chunk) => chunk.length))).toBeLessThan(80 * 1024)
      expect(total / lines).toBeGreaterThan(20)
    }
    // No JSON string of the summary, nor of its links: one link at most.
    expect(longest).toBeLessThan(10_000)
    // The same text as the whole summary stringified at once.
    expect(json.join('')).toBe(`${JSON.stringify(describeRun(big), replacer, 2)}\n`)
  })

  it('reads its lines only as it writes them (a generator is consumed as the output goes)', async () => {
    const written: number[] = []
    let bytes = 0
    const out = { write: (chunk: string) => ((bytes += chunk.length), written.push(bytes), true), once: () => {}, on: () => {}, off: () => {} }
    const seen: number[] = []
    function* lines(): Generator<string> {
      for (let i = 0; i < 50_000; i++) {
        if (i % 10_000 === 0) seen.push(bytes)
        yield `line ${i} ${'x'.repeat(20)}`
      }
    }
    await cli.writeLines(lines(), out)
    // By the time the generator made line 40,000, most of the lines before it were written.
    expect(seen.at(-1)).toBeGreaterThan(40_000 * 25)
    expect(written.length).toBeGreaterThan(10)
  })

  it('writes JSON as JSON.stringify(value, replacer, 2) does, member by member', () => {
    const values: unknown[] = [
      { a: 1, b: [1, 2, { c: 3n, d: undefined, e: () => 1 }], f: [], g: {}, h: [undefined, () => 1, Symbol('x')], i: new Date(0), j: new Map([[1, 2]]), k: null, l: 'x"y\n', m: { n: { o: { p: [1, { q: 2 }] } } } },
      [],
      {},
      5,
      'text',
      null,
      [[], [{}]],
    ]
    for (const value of values) for (const depth of [0, 1, 2, 4, 10]) expect([...cli.jsonLines(value, depth)].join('\n')).toBe(JSON.stringify(value, replacer, 2))
  })
})
