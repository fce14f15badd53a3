// Run ids are version 7 UUIDs (core/run-id.ts): time-ordered, so a store's id indexes grow at
// their end; what tables show of one is its random end.
import { describe, expect, it } from 'vitest'
import { chain } from '../src/index.js'
import { runId, shortRunId } from '../src/core/run-id.js'

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The Unix time in ms a version 7 id was made at (its first 48 bits). */
const msOf = (id: string): number => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)

describe('run ids', () => {
  it('are version 7 UUIDs carrying the millisecond they were made', () => {
    const before = Date.now()
    const ids = Array.from({ length: 2_000 }, () => runId())
    const after = Date.now()
    for (const id of ids) {
      expect(id).toMatch(V7)
      expect(msOf(id)).toBeGreaterThanOrEqual(before)
      expect(msOf(id)).toBeLessThanOrEqual(after)
    }
  })

  it('are unique (fresh random bits for every id, past the pool of 256 ids drawn at once)', () => {
    const ids = Array.from({ length: 100_000 }, () => runId())
    expect(new Set(ids).size).toBe(ids.length)
    expect(new Set(ids.map(shortRunId)).size).toBeGreaterThan(99_990)
  })

  it('sort in the order they were made, one millisecond to the next', async () => {
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      ids.push(runId())
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    expect([...ids].sort()).toEqual(ids)
  })

  it('name every run: a chain run, its fork and its replay', async () => {
    const c = chain<{ n: number }>('ids').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n *= 2))
    const before = Date.now()
    const run = await c.run({ n: 1 })
    const fork = await run.fork({ at: 'a' })
    const replay = await run.replay()
    for (const each of [run, fork, replay.run]) {
      expect(each.id).toMatch(V7)
      expect(msOf(each.id)).toBeGreaterThanOrEqual(before)
    }
    expect(new Set([run.id, fork.id, replay.run.id]).size).toBe(3)
  })

  it('are shown by their last 8 characters', () => {
    expect(shortRunId('01a23428-11f1-71a6-ac9f-67972f3d91dc')).toBe('2f3d91dc')
  })
})
