import { describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import { formatDuration } from '../src/present/waterfall.js'
import { formatWaterfall } from '../src/index.js'
import { steppingClock } from './helpers.js'

/** The bar column of a waterfall row: what is between its two `|`. */
const barOf = (line: string | undefined): string => /\|(.*)\|/.exec(line ?? '')?.[1] ?? ''

/** Two links, a middleware that fails after each, the second link failing: 13.5 µs on a 1.5 µs clock. */
async function failingRun(): Promise<Run<{ n: number }>> {
  const c = chain<{ n: number }>('wf', { clock: steppingClock(0n, 1_500n) })
    .link('first', (ctx) => void (ctx.n += 1))
    .link('second', () => {
      throw new Error('bad thing')
    })
    .use({ name: 'noisy', after() { throw new Error('mw oops') } })
  return c.run({ n: 0 }).catch((e: { run: Run<{ n: number }> }) => e.run)
}

describe('formatWaterfall', () => {
  it('prints one row per link with durations, bars, status and middleware errors', async () => {
    const run = await failingRun()
    const text = formatWaterfall(run, { width: 20 })
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^wf {2}run [0-9a-f]{8} {2}error {2}13\.5 µs {2}2 links$/)
    expect(lines[1]).toMatch(/^ {2}0 {2}first +\+1\.50 µs +1\.50 µs {2}\|.{20}\| {2}✓$/)
    expect(lines[2]).toMatch(/^ {2}1 {2}second +\+7\.50 µs +1\.50 µs {2}\|.{20}\| {2}✗ bad thing$/)
    // The run's 13.5 µs on 20 cells: each link (█) where it ran, its middleware after it (░).
    expect(barOf(lines[1])).toBe('  ██░░░░░           ')
    expect(barOf(lines[2])).toBe('           ██░░░░░  ')
    expect(text).toContain("! middleware 'noisy' (chain-after 'first'): mw oops")
    expect(text).toContain('LINK_FAILED')
    expect(text).not.toContain('\x1b[')
    // Any width draws: out-of-range ones are brought to 10 … 1,000, one that is not a finite number is 40.
    expect([Infinity, NaN, 3, 5_000].map((w) => barOf(formatWaterfall(run, { width: w }).split('\n')[1]).length)).toEqual([40, 40, 10, 1_000])
    expect(formatWaterfall(run, { color: true })).toContain('\x1b[31m')
  })

  it('formats durations in readable units, negative ones signed', () => {
    expect([850n, 12_345n, 4_560_000n, 1_200_000_000n].map(formatDuration)).toEqual(['850 ns', '12.3 µs', '4.56 ms', '1.20 s'])
    expect([-850n, -4_560_000n].map(formatDuration)).toEqual(['-850 ns', '-4.56 ms'])
    // At the edges of a unit, three digits that round up to 1,000 move to the next unit.
    expect([999n, 999_499n, 999_500n, 999_999n, 999_499_999n, 999_500_000n].map(formatDuration)).toEqual(['999 ns', '999 µs', '1.00 ms', '1.00 ms', '999 ms', '1.00 s'])
  })

  it('draws times before the start or after the end of a loaded run at the edges of the bar', async () => {
    const doc = JSON.parse(JSON.stringify((await failingRun()).toJSON())) as RunDocument
    const at = (type: string, link: number) => doc.events.find((e) => e.type === type && (e as { link?: number }).link === link)!
    // A hand-made document: the first link before the run's start, the second past its end.
    at('link.start', 0).t = -30_000
    at('link.end', 0).t = -28_500
    at('link.error', 1).t = 1_000_000
    const lines = formatWaterfall(Run.fromJSON(doc), { width: 20 }).split('\n')
    expect(lines[1]).toMatch(/^ {2}0 {2}first +-30\.0 µs +1\.50 µs {2}\|/)
    expect(barOf(lines[1])).toBe('█░░░░░░░░           ')
    expect(barOf(lines[2])).toBe('           █████████')
  })

  it('draws a run of 150,000 links (no argument spread over the rows)', async () => {
    let c = chain<{ n: number }>('long', { clock: steppingClock(0n, 10n) })
    for (let i = 0; i < 150_000; i++) c = c.link(`l${i}`, () => {})
    const run = await c.run({ n: 0 })
    const lines = formatWaterfall(run, { width: 10 }).split('\n')
    expect(lines[0]).toMatch(/ 150000 links$/)
    expect(lines).toHaveLength(150_001)
    // The longest name sets the column: 'l149999' (7 characters).
    expect(lines[1]).toMatch(/^ {2}0 {2}l0 {7}\+/)
    expect(lines.at(-1)).toMatch(/^150000|^149999 {2}l149999 {2}\+/)
    expect(barOf(lines.at(-1))).toMatch(/^ +░*█+░*$/)
  }, 30_000)

  it('draws only the own links of a fork and of a replay of a fork, and says how many it inherited', async () => {
    const c = chain<{ n: number }>('wf').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n *= 2))
    const fork = await (await c.run({ n: 1 })).fork({ at: 'a' })
    const { run: replay } = await fork.replay()
    for (const run of [fork, replay]) {
      const text = formatWaterfall(run)
      expect(text.split('\n')[0]).toMatch(/ 1 link$/)
      expect(text).toContain('1 link inherited, not shown')
      expect(text).not.toMatch(/^ +0 {2}a /m)
    }
    expect(formatWaterfall(fork)).toContain(`forked from run ${fork.parent!.runId.slice(-8)} after link 'a' (seq ${fork.parent!.seq}): 1 link inherited`)
    expect(formatWaterfall(replay)).toContain(`replay of run ${fork.id.slice(-8)}, from its fork: 1 link inherited, not shown`)
  })
})

describe('waterfall of parallel steps', () => {
  it('gives the step row its branches as lanes, each on the time axis within the step', async () => {
    const run = await chain<{ a?: number; b?: number }>('par', { clock: steppingClock(0n, 1_000n) })
      .parallel('both', { a: (d) => void (d.a = 1), b: (d) => void (d.b = 2) })
      .run({})
    const { waterfallRows } = await import('../src/present/waterfall.js')
    const [row] = waterfallRows(run.timeline.events, run.startedAt)
    expect(row?.branches.map((b) => [b.name, b.status])).toEqual([['a', 'ok'], ['b', 'ok']])
    for (const lane of row?.branches ?? []) {
      expect(lane.start >= (row?.linkStart ?? 0n) && lane.end <= (row?.linkEnd ?? 0n)).toBe(true)
      expect(lane.end > lane.start).toBe(true)
    }
    const lines = formatWaterfall(run, { width: 20 }).split('\n')
    const at = lines.findIndex((line) => line.includes('both'))
    expect(lines[at + 1]).toMatch(/^\s+├ a\s/)
    expect(lines[at + 2]).toMatch(/^\s+└ b\s/)
    // Each lane's bar lies inside the step's.
    const step = barOf(lines[at])
    for (const lane of [barOf(lines[at + 1]), barOf(lines[at + 2])]) {
      const first = lane.indexOf('▒')
      expect(first).toBeGreaterThanOrEqual(step.indexOf('█'))
      expect(lane.lastIndexOf('▒')).toBeLessThanOrEqual(step.lastIndexOf('█'))
    }
  })
})
