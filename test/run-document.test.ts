import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, DocumentError, Run, type RunDocument } from '../src/index.js'
import { steppingClock } from './helpers.js'

/** Export, go through JSON text as a file would, import. */
function roundTrip<C>(run: Run<C>): Run<C> {
  return Run.fromJSON<C>(JSON.parse(JSON.stringify(run.toJSON())))
}

function expectSameRun<C>(a: Run<C>, b: Run<C>): void {
  expect(b.id).toBe(a.id)
  expect(b.chainName).toBe(a.chainName)
  expect(b.status).toBe(a.status)
  expect(b.startedAt).toBe(a.startedAt)
  expect(b.endedAt).toBe(a.endedAt)
  expect(b.timeline.length).toBe(a.timeline.length)
  a.timeline.events.forEach((event, i) => {
    const { error: _e1, ...restA } = event as { error?: unknown }
    const { error: _e2, ...restB } = b.timeline.events[i] as { error?: unknown }
    expect(restB).toStrictEqual(restA)
  })
  expect(b.ctx).toStrictEqual(a.ctx)
}

// Values a ctx may hold, with the awkward ones JSON cannot carry on its own.
const key = fc.oneof(fc.string({ maxLength: 6 }), fc.constantFrom('$map', '$bigint', '$', 'toString', ''))
  .filter((k) => k !== '__proto__')
const leaf = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.constantFrom(NaN, -0, Infinity, -Infinity, undefined, null, true),
  fc.bigInt(),
  fc.string({ maxLength: 8 }),
  fc.date({ noInvalidDate: false }),
)
const { value } = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('array'), tie('object'), tie('map'), tie('set')),
  array: fc.array(tie('value'), { maxLength: 4 }),
  object: fc.dictionary(key, tie('value'), { maxKeys: 4, noNullPrototype: true }),
  map: fc.array(fc.tuple(fc.oneof(fc.string({ maxLength: 4 }), fc.integer()), tie('value')), { maxLength: 3 }).map((entries) => new Map(entries)),
  set: fc.array(fc.oneof(fc.string({ maxLength: 4 }), fc.integer(), fc.bigInt()), { maxLength: 4 }).map((items) => new Set(items)),
}))

describe('run documents', () => {
  it('round-trips every event, time and state, for ctx, mwctx and metrics holding any plain data', async () => {
    await fc.assert(
      fc.asyncProperty(value, value, fc.array(value, { maxLength: 3 }), async (initial, written, extra) => {
        const c = chain<{ initial: unknown; written?: unknown; extra?: unknown[] }>('rt')
          .link('write', (ctx) => {
            ctx.written = written
          })
          .link('more', (ctx) => {
            ctx.extra = extra
            delete ctx.written
          })
          .use({
            name: 'mw',
            before(e) {
              e.mwctx[e.link.name] = written
              e.metrics.seen = extra
            },
          })
        const run = await c.run({ initial })
        expectSameRun(run, roundTrip(run))
      }),
      { numRuns: 150 },
    )
  })

  it('round-trips a failed run: error, code, link, cause, and lineage metadata', async () => {
    const c = chain<{ n: number }>('fails', { clock: steppingClock() })
      .link('ok', (ctx) => void (ctx.n += 1))
      .link('bad', () => {
        const error = new RangeError('too big')
        ;(error as { code?: string }).code = 'E_BIG'
        throw error
      })
      .use({ name: 'noisy', after() { throw new Error('mw') } })
    const run = (await c.run({ n: 1 }).catch((e: ChainRunError<{ n: number }>) => e.run)) as Run<{ n: number }>
    const back = roundTrip(run)
    expectSameRun(run, back)
    expect(back.error).toBeInstanceOf(ChainRunError)
    expect(back.error).toMatchObject({ code: 'LINK_FAILED', message: run.error!.message, link: { name: 'bad', index: 1 } })
    expect(back.error?.run).toBe(back)
    expect(back.error?.cause).toMatchObject({ name: 'RangeError', message: 'too big', code: 'E_BIG' })
    const linkError = back.timeline.filter({ type: 'link.error' })[0]
    expect(linkError).toMatchObject({ error: { name: 'RangeError', message: 'too big' } })
    expect(back.timeline.at(-1)).toMatchObject({ type: 'run.end', status: 'error', error: back.error })
    expect(back.timeline.filter({ type: 'middleware.error' })).toHaveLength(2)
  })

  it('shares LinkInfo objects across imported events, as the live timeline does', async () => {
    const run = await chain<{ n: number }>('share').link('a', () => {}).use({ name: 'm', before() {}, after() {} }).run({ n: 0 })
    const back = roundTrip(run)
    const infos = new Set(back.timeline.filter({ link: 'a' }).map((e) => (e as { link: unknown }).link))
    expect(infos.size).toBe(1)
    expect(back.timeline.links()[0]?.name).toBe('a')
  })

  it('stores patches, not snapshots: a 100-link run over a 200-key ctx is under 10x one state', async () => {
    // A business-like ctx: 200 fields, text and numbers.
    const state: Record<string, string | number> = {}
    for (let i = 0; i < 200; i++) state[`field${i}`] = i % 2 === 0 ? `customer-${i}-region-eu` : i * 1.5
    let c = chain<Record<string, string | number>>('wide')
    for (let i = 0; i < 100; i++) c = c.link(`l${i}`, (ctx) => void (ctx[`field${i}`] = `updated-${i}`))
    const run = await c.use({ name: 'm', before() {}, after() {} }).run(state)
    const size = JSON.stringify(run.toJSON()).length
    const oneState = JSON.stringify(state).length
    expect(size).toBeLessThan(10 * oneState)
    expect(size).toBeGreaterThan(oneState)
  })

  it('round-trips Set removals and writes under keys readers refuse in paths (constructor, prototype)', async () => {
    const run = await chain<{ tags: Set<string>; meta: Record<string, Record<string, number>> }>('edge')
      .link('untag', (ctx) => void ctx.tags.delete('a'))
      .link('odd-keys', (ctx) => {
        ctx.meta['constructor'] = { x: 1 }
        ctx.meta['prototype'] = { y: 2 }
      })
      .run({ tags: new Set(['a', 'b']), meta: {} })
    const back = roundTrip(run)
    expect([...back.ctx.tags]).toEqual(['b'])
    // (toStrictEqual reads an own 'constructor' field as the class: compare the entries instead.)
    expect(Object.entries(back.ctx.meta)).toEqual([['constructor', { x: 1 }], ['prototype', { y: 2 }]])
    back.timeline.events.forEach((event, i) => {
      const live = run.timeline.events[i]!.ctx
      expect([...event.ctx.tags]).toEqual([...live.tags])
      expect(Object.entries(event.ctx.meta)).toEqual(Object.entries(live.meta))
    })
  })

  it('refuses to export what it could not import: an own __proto__ key, nesting past the depth limit', async () => {
    const proto = await chain<Record<string, unknown>>('p').link('x', () => {}).run(JSON.parse('{"__proto__": {"a": 1}}'))
    expect(() => proto.toJSON()).toThrow(/own '__proto__' key cannot be exported/)
    let deep: unknown = 1
    for (let i = 0; i < 1_000; i++) deep = [deep]
    const tooDeep = await chain<{ deep: unknown }>('d').run({ deep })
    expect(() => tooDeep.toJSON()).toThrow(/too deep to export/)
    let ok: unknown = 1
    for (let i = 0; i < 997; i++) ok = [ok]
    const fine = await chain<{ deep: unknown }>('d').run({ deep: ok })
    expect(roundTrip(fine).ctx).toStrictEqual(fine.ctx)
  })

  it('saves a fork made long after its parent (event times past 2^53 ns from its start)', async () => {
    let now = 1_700_000_000_000_000_000n
    const clock = { now: () => (now += 1_000n) }
    const c = chain<{ n: number }>('old', { clock }).link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n *= 2))
    const parent = await c.run({ n: 1 })
    now += 200n * 86_400n * 1_000_000_000n // 200 days later
    const daughter = await parent.fork({ at: 'a', edit: (ctx) => void (ctx.n = 10) })
    const back = roundTrip(daughter)
    expect(back.timeline.events.map((e) => e.t)).toEqual(daughter.timeline.events.map((e) => e.t))
    expect(back.ctx).toEqual({ n: 20 })
  })

  it('attaches a chain given at import, and refuses one of another name', async () => {
    const c = chain<{ n: number }>('named').link('a', () => {})
    const doc = (await c.run({ n: 1 })).toJSON()
    expect(Run.fromJSON(doc, { chain: c }).source).toBe(c)
    expect(() => Run.fromJSON(doc, { chain: chain<{ n: number }>('other') })).toThrow("$.run.chainName: the document is a run of chain 'named', not of 'other'")
  })
})

describe('redaction', () => {
  const secret = 'hunter2-SECRET'
  const c = chain<{ user: { name: string; password?: string }; sessions: { token: string }[]; log?: string[] }>('login')
    .link('set', (ctx) => {
      ctx.user.password = secret
      ctx.sessions.push({ token: `${secret}-token` })
    })
    .link('copy', (ctx) => {
      ctx.log = [ctx.user.name]
    })
    .use({ name: 'leaky', after: (e) => void (e.mwctx.lastUser = e.result.user) })

  it('removes every trace of redacted values, inside patches and middleware states too', async () => {
    const run = await c.run({ user: { name: 'ada', password: secret }, sessions: [] })
    const text = JSON.stringify(run.toJSON({ redact: [['user', 'password'], ['sessions', '*', 'token'], ['lastUser', 'password']] }))
    expect(JSON.stringify(run.toJSON())).toContain(secret)
    expect(text).not.toContain('hunter2')
    const doc = JSON.parse(text) as RunDocument
    expect(doc.redacted).toEqual({ paths: [['user', 'password'], ['sessions', '*', 'token'], ['lastUser', 'password']], placeholder: '[REDACTED]' })
    const back = Run.fromJSON<{ user: { password?: string }; sessions: { token: string }[] }>(doc)
    expect(back.ctx.user.password).toBe('[REDACTED]')
    expect(back.ctx.sessions[0]?.token).toBe('[REDACTED]')
    expect(back.timeline.at(0)?.ctx).toMatchObject({ user: { name: 'ada', password: '[REDACTED]' } })
  })

  it("reaches into Set members with '*'", async () => {
    const run = await chain<{ users: Set<{ name: string; password: string }> }>('set-users')
      .link('add', (ctx) => void ctx.users.add({ name: 'bob', password: 'bob-SECRET' }))
      .run({ users: new Set([{ name: 'ada', password: 'ada-SECRET' }]) })
    const text = JSON.stringify(run.toJSON({ redact: [['users', '*', 'password']] }))
    expect(text).not.toContain('SECRET')
    expect(text).toContain('bob')
  })

  it('rejects malformed redaction paths', async () => {
    const run = await c.run({ user: { name: 'ada' }, sessions: [] })
    expect(() => run.toJSON({ redact: [[]] })).toThrow(/redact\[0\] must be a non-empty array/)
  })
})

describe('hostile and broken documents', () => {
  let good: RunDocument
  const fresh = (): Record<string, unknown> => JSON.parse(JSON.stringify(good)) as Record<string, unknown>
  const events = (doc: Record<string, unknown>) => doc['events'] as Record<string, unknown>[]

  it('setup: a known-good document imports', async () => {
    const run = await chain<{ items: string[]; n: number }>('good')
      .link('a', (ctx) => void ctx.items.push('x'))
      .link('b', (ctx) => void (ctx.n = 2))
      .use({ name: 'm', before: (e) => void (e.mwctx.k = e.link.name) })
      .run({ items: [], n: 1 })
    good = run.toJSON()
    expect(() => Run.fromJSON(fresh())).not.toThrow()
  })

  const cases: [string, (doc: Record<string, unknown>) => unknown, RegExp][] = [
    ['not an object', () => [1, 2], /^\$: a run document must be a JSON object, got an array/],
    ['wrong format', (d) => ({ ...d, format: 'other/run' }), /^\$\.format: expected 'shadowchain\/run', got "other\/run"/],
    ['wrong version', (d) => ({ ...d, version: 11 }), /^\$\.version: unsupported version 11/],
    ['missing events', (d) => ({ ...d, events: undefined }), /^\$\.events: /],
    ['truncated events', (d) => ({ ...d, events: events(d).slice(0, -2) }), /the last event must be run.end.*truncated/],
    ['an event missing', (d) => ({ ...d, events: events(d).filter((_, i) => i !== 3) }), /^\$\.events\[3\]\.seq: expected seq 3, got 4/],
    ['events out of order', (d) => ({ ...d, events: [events(d)[0], events(d)[2], events(d)[1], ...events(d).slice(3)] }), /^\$\.events\[1\]\.seq: expected seq 1, got 2/],
    ['wrong type of a field', (d) => { events(d)[1]!['t'] = 'soon'; return d }, /^\$\.events\[1\]\.t: /],
    ['a fractional time', (d) => { events(d)[1]!['t'] = 1.5; return d }, /^\$\.events\[1\]\.t: expected whole nanoseconds/],
    ['unknown event type', (d) => { events(d)[1]!['type'] = 'link.teleport'; return d }, /^\$\.events\[1\]\.type: /],
    ['unknown field', (d) => { events(d)[1]!['extra'] = 1; return d }, /^\$\.events\[1\]: .*extra/],
    ['a middleware reference out of range', (d) => { events(d)[1]!['middleware'] = 7; return d }, /^\$\.events\[1\]\.middleware: middleware 7 is not in the middleware table/],
    ['a link reference out of range', (d) => { events(d)[2]!['link'] = 99; return d }, /^\$\.events\[2\]\.link: link 99 is not in the links table/],
    ['patches that do not apply', (d) => { events(d).find((e) => e['type'] === 'link.end')!['ctx'] = [{ op: 'replace', path: ['nope', 'deeper', 'x'], value: 1 }]; return d }, /^\$\.events\[\d+\]\.ctx\[0\]: patch does not apply: no container at nope/],
    ['__proto__ in a patch path', (d) => { events(d).find((e) => e['type'] === 'link.end')!['ctx'] = [{ op: 'add', path: ['__proto__', 'polluted'], value: true }]; return d }, /path\[0\]: '__proto__' is not allowed in a patch path/],
    ['constructor in a patch path', (d) => { events(d).find((e) => e['type'] === 'link.end')!['ctx'] = [{ op: 'add', path: ['constructor', 'prototype', 'polluted'], value: true }]; return d }, /'constructor' is not allowed in a patch path/],
    ['__proto__ key in a value', (d) => { (d['initial'] as Record<string, unknown>)['ctx'] = JSON.parse('{"items":[],"n":1,"__proto__":{"polluted":true}}'); return d }, /^\$\.initial\.ctx\.__proto__: the key '__proto__' is not allowed/],
    ['an unknown tag', (d) => { (d['initial'] as Record<string, unknown>)['ctx'] = { $evil: 1 }; return d }, /^\$\.initial\.ctx\.\$evil: unknown tag '\$evil'/],
    ['a bad bigint', (d) => { (d['initial'] as Record<string, unknown>)['ctx'] = { n: { $bigint: '12x' } }; return d }, /^\$\.initial\.ctx\.n\.\$bigint: expected a decimal integer string/],
    ['a run.end that disagrees', (d) => { events(d).at(-1)!['status'] = 'error'; return d }, /run.end says 'error' but the run says 'ok'/],
    ['two run.end events', (d) => { const e = events(d); e.splice(e.length - 1, 0, { ...e.at(-1)!, seq: e.length - 1 }); e.at(-1)!['seq'] = e.length - 1; return d }, /exactly one run.end/],
  ]
  it.each(cases)('rejects %s with the path of the first problem', (_name, breakIt, message) => {
    let error: unknown
    try {
      Run.fromJSON(breakIt(fresh()))
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DocumentError)
    expect((error as Error).message).toMatch(message)
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('polluted')
  })

  it('rejects 10,000-deep nesting without overflowing the stack', () => {
    // Built as text: JSON.stringify itself overflows at this depth.
    const doc = fresh()
    ;(doc['initial'] as Record<string, unknown>)['ctx'] = JSON.parse(`{"deep":${'['.repeat(10_000)}1${']'.repeat(10_000)}}`)
    expect(() => Run.fromJSON(doc)).toThrow(/^\$\.initial\.ctx\.deep(\[0\]){10}…\(977 more keys\)…(\[0\]){12}: nested more than 1000 levels deep/)
  })

  it('rejects a 100 MB string quickly, naming where it is', () => {
    const doc = fresh()
    ;(doc['initial'] as Record<string, unknown>)['ctx'] = { items: [], n: 1, blob: 'x'.repeat(100_000_000) }
    const started = performance.now()
    expect(() => Run.fromJSON(doc)).toThrow(/^\$\.initial\.ctx\.blob: string of 100000000 characters is longer than the limit of 16777216/)
    expect(performance.now() - started).toBeLessThan(5_000)
  })

  it('accepts a larger string when the caller raises the limit', () => {
    const doc = fresh()
    ;(doc['initial'] as Record<string, unknown>)['ctx'] = { items: [], n: 1, blob: 'x'.repeat(20) }
    expect(() => Run.fromJSON(doc, { maxStringLength: 10 })).toThrow(/limit of 10/)
    expect(Run.fromJSON(doc, { maxStringLength: 20 }).timeline.at(0)?.ctx).toMatchObject({ blob: 'x'.repeat(20) })
  })
})
