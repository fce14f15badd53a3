import { describe, expect, it } from 'vitest'
import { chain, type Middleware } from '../src/index.js'

const noop = () => {}

describe('chain builder', () => {
  it('is immutable: every builder method returns a new chain and leaves the old one alone', () => {
    const a = chain<{ n: number }>('c').link('one', noop)
    const b = a.link('two', noop)
    const c = b.use({ name: 'mw' })
    const d = c.insert({ before: 'two' }, 'mid', noop)
    expect(a.links.map((l) => l.name)).toEqual(['one'])
    expect(b.links.map((l) => l.name)).toEqual(['one', 'two'])
    expect(b.middleware).toEqual([])
    expect(c.middleware.map((m) => m.name)).toEqual(['mw'])
    expect(d.links.map((l) => l.name)).toEqual(['one', 'mid', 'two'])
    expect(new Set([a, b, c, d]).size).toBe(4)
  })

  it('lists its links in one frozen array, built once (replay and fork read it every call)', () => {
    const a = chain<{ n: number }>('c').link('one', noop)
    expect(a.links).toBe(a.links)
    expect(Object.isFrozen(a.links)).toBe(true)
    expect(() => (a.links as unknown as { name: string }[]).push({ name: 'x' })).toThrow(TypeError)
    expect(a.link('two', noop).links).not.toBe(a.links)
  })

  it('lets two chains branch off one prefix without seeing each other', async () => {
    const base = chain<{ log: string[] }>('c').link('a', (ctx) => void ctx.log.push('a'))
    const left = base.link('b', (ctx) => void ctx.log.push('left b'))
    const right = base.link('b', (ctx) => void ctx.log.push('right b')).link('c', (ctx) => void ctx.log.push('right c'))
    const leftMore = left.link('c', (ctx) => void ctx.log.push('left c'))
    expect(() => base.link('a', () => {})).toThrow(/already exists/)
    expect(base.link('c', () => {}).links.map((l) => l.name)).toEqual(['a', 'c'])
    expect((await left.run({ log: [] })).ctx.log).toEqual(['a', 'left b'])
    expect((await right.run({ log: [] })).ctx.log).toEqual(['a', 'right b', 'right c'])
    expect((await leftMore.run({ log: [] })).ctx.log).toEqual(['a', 'left b', 'left c'])
    expect((await base.run({ log: [] })).ctx.log).toEqual(['a'])
  })

  it('builds a 25,000-link chain link by link (appending shares the list instead of copying it)', () => {
    let c = chain<{ n: number }>('long')
    for (let i = 0; i < 25_000; i++) c = c.link(`l${i}`, () => {})
    expect(c.links).toHaveLength(25_000)
    expect(() => c.link('l12345', () => {})).toThrow(/already exists/)
  })

  it('inserts before or after a named link and renumbers indexes', async () => {
    const order: string[] = []
    const step = (name: string) => () => void order.push(name)
    const c = chain<{ n: number }>('c')
      .link('a', step('a'))
      .link('c', step('c'))
      .insert({ after: 'a' }, 'b', step('b'))
      .insert({ before: 'a' }, 'first', step('first'))
      .insert({ after: 'c' }, 'last', step('last'))
    expect(c.links.map((l) => `${l.index}:${l.name}`)).toEqual(['0:first', '1:a', '2:b', '3:c', '4:last'])
    await c.run({ n: 0 })
    expect(order).toEqual(['first', 'a', 'b', 'c', 'last'])
  })

  it('rejects bad configuration with a TypeError that says what and where', () => {
    const c = chain<{ n: number }>('shop').link('a', noop)
    expect(() => c.link('a', noop)).toThrow("chain 'shop': a link named 'a' already exists; link names must be unique")
    expect(() => c.insert({ after: 'a' }, 'a', noop)).toThrow(/already exists/)
    expect(() => c.link('', noop)).toThrow(/a link name must be a non-empty string/)
    expect(() => c.link('b', 42 as never)).toThrow("chain 'shop': link 'b' must be a function or a chain, got number")
    expect(() => c.insert({ after: 'zzz' }, 'b', noop)).toThrow("chain 'shop': insert() refers to link 'zzz', which does not exist (links: 'a')")
    expect(() => c.use({} as Middleware)).toThrow(/use\(\) argument #0: middleware needs a non-empty string 'name'/)
    expect(() => c.use({ name: 'x', before: 'no' } as never)).toThrow("chain 'shop': use() argument #0: middleware 'x' has a 'before' that is string, not a function")
    expect(() => c.link('b', noop, { use: [null as never] })).toThrow(/link 'b' use\[0\]: middleware must be an object/)
    expect(() => chain('')).toThrow(/non-empty string/)
    expect(() => chain('x', { capture: 'all' as never })).toThrow(/capture must be one of/)
    expect(() => chain('x', { safe: 'yes' as never })).toThrow("chain 'x': options: safe must be a boolean, got string")
    expect(() => chain('x', { input: {} as never })).toThrow(/options.input must be a zod schema/)
  })

  it('rejects link-level middleware with run hooks when the chain is built, naming middleware and link', () => {
    const withStart: Middleware = { name: 'both', runStart: () => {}, before: () => {} }
    const withEnd: Middleware = { name: 'ender', runEnd: () => {} }
    expect(() => chain<{ n: number }>('c').link('a', noop, { use: [withStart] })).toThrow(TypeError)
    expect(() => chain<{ n: number }>('c').link('a', noop, { use: [withStart] })).toThrow(/link 'a' use\[0\]: middleware 'both' has a 'runStart' hook/)
    expect(() => chain<{ n: number }>('c').link('a', noop).insert({ after: 'a' }, 'b', noop, { use: [withEnd] })).toThrow(/link 'b' use\[0\]: middleware 'ender' has a 'runEnd' hook/)
    // The same middleware is fine at chain level.
    expect(() => chain<{ n: number }>('c').link('a', noop).use(withStart, withEnd)).not.toThrow()
  })

  it('calls hooks with the middleware as this, so class-based middleware works', async () => {
    class Counter implements Middleware {
      readonly name = 'counter'
      count = 0
      before(): void {
        this.count++
      }
    }
    const counter = new Counter()
    await chain<{ n: number }>('c').link('a', noop).link('b', noop).use(counter).run({ n: 0 })
    expect(counter.count).toBe(2)
  })
})
