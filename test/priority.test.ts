import { describe, expect, it } from 'vitest'
import { chain, type Middleware } from '../src/index.js'
import { logMiddleware, outline } from './helpers.js'

interface Doc {
  n: number
}

const withPriority = (mw: Middleware, priority: number): Middleware => ({ ...mw, priority })
/** Link-level middleware has no run hooks. */
const linkLevel = (mw: Middleware): Middleware => ({ name: mw.name, ...(mw.priority === undefined ? {} : { priority: mw.priority }), before: mw.before!, after: mw.after! })

describe('middleware priority (DESIGN §9)', () => {
  it('runs higher priorities first in every queue, equal priorities in the order added', async () => {
    const log: string[] = []
    const run = await chain<Doc>('p')
      .link('a', (ctx) => void (ctx.n += 1), {
        use: [linkLevel(logMiddleware('l1', log)), linkLevel(withPriority(logMiddleware('l2', log), 5))],
      })
      .use(logMiddleware('c1', log), withPriority(logMiddleware('c2', log), 2), logMiddleware('c3', log), withPriority(logMiddleware('c4', log), 2), withPriority(logMiddleware('c5', log), -1))
      .run({ n: 0 })
    expect(run.status).toBe('ok')
    // index stays the place in the use list, whatever the priority.
    expect(log).toEqual([
      'c2:runStart', 'c4:runStart', 'c1:runStart', 'c3:runStart', 'c5:runStart',
      'c2:chain-before:a:1', 'c4:chain-before:a:3', 'c1:chain-before:a:0', 'c3:chain-before:a:2', 'c5:chain-before:a:4',
      'l2:link-before:a:1', 'l1:link-before:a:0',
      'l2:link-after:a:1', 'l1:link-after:a:0',
      'c2:chain-after:a:1', 'c4:chain-after:a:3', 'c1:chain-after:a:0', 'c3:chain-after:a:2', 'c5:chain-after:a:4',
      'c2:runEnd:ok', 'c4:runEnd:ok', 'c1:runEnd:ok', 'c3:runEnd:ok', 'c5:runEnd:ok',
    ])
    // The timeline records the calls in the order they ran, each with its list index.
    expect(outline(run.timeline.events).filter((line) => line.includes('chain-before'))).toEqual([
      'middleware.before c2@chain-before#1 a',
      'middleware.before c4@chain-before#3 a',
      'middleware.before c1@chain-before#0 a',
      'middleware.before c3@chain-before#2 a',
      'middleware.before c5@chain-before#4 a',
    ])
  })

  it('keeps chain-level before link-level, whatever the priorities (they are separate queues)', async () => {
    const log: string[] = []
    await chain<Doc>('p')
      .link('a', () => {}, { use: [linkLevel(withPriority(logMiddleware('l', log), 100))] })
      .use(withPriority(logMiddleware('c', log), -100))
      .run({ n: 0 })
    expect(log.filter((l) => l.includes('before'))).toEqual(['c:chain-before:a:0', 'l:link-before:a:0'])
  })

  it('rejects a priority that is not a finite number when the chain is built', () => {
    for (const bad of [Number.NaN, Infinity, '1', null]) {
      expect(() => chain<Doc>('p').use({ name: 'm', priority: bad as number })).toThrow(TypeError)
      expect(() => chain<Doc>('p').link('a', () => {}, { use: [{ name: 'm', priority: bad as number }] })).toThrow(/priority/)
    }
    expect(() => chain<Doc>('p').use({ name: 'm', priority: -2.5 })).not.toThrow()
  })
})
