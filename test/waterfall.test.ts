import { describe, expect, it } from 'vitest'
import { chain } from '../src/index.js'
import { formatDuration } from '../src/waterfall.js'
import { formatWaterfall } from '../src/index.js'
import { steppingClock } from './helpers.js'

describe('formatWaterfall', () => {
  it('prints one row per link with durations, bars, status and middleware errors', async () => {
    const c = chain<{ n: number }>('wf', { clock: steppingClock(0n, 1_500n) })
      .link('first', (ctx) => void (ctx.n += 1))
      .link('second', () => {
        throw new Error('bad thing')
      })
      .use({ name: 'noisy', after() { throw new Error('mw oops') } })
    const run = await c.run({ n: 0 }).catch((e: { run: never }) => e.run)
    const text = formatWaterfall(run, { width: 20 })
    const lines = text.split('\n')
    expect(lines[0]).toMatch(/^wf {2}run [0-9a-f]{8} {2}error {2}\d+(\.\d+)? µs {2}2 links$/)
    expect(lines[1]).toMatch(/^ {2}0 {2}first +\+\S+ µs +1\.50 µs {2}\|[ ░█]{20}\| {2}✓$/)
    expect(lines[2]).toMatch(/second .*\|[ ░█]{20}\| {2}✗ bad thing$/)
    expect(text).toContain("! middleware 'noisy' (chain-after 'first'): mw oops")
    expect(text).toContain('LINK_FAILED')
    expect(text).not.toContain('\x1b[')
    expect(formatWaterfall(run, { color: true })).toContain('\x1b[31m')
  })

  it('formats durations in readable units', () => {
    expect([850n, 12_345n, 4_560_000n, 1_200_000_000n].map(formatDuration)).toEqual(['850 ns', '12.3 µs', '4.56 ms', '1.20 s'])
  })

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
    expect(formatWaterfall(replay)).toContain(`replay of run ${fork.id.slice(0, 8)}, from its fork: 1 link inherited, not shown`)
  })
})
