// The hand-written shape check of run documents (src/files/document-check.ts) against the zod
// schema it stands in for: on every document it accepts, the schema must accept too (a refused
// document is left to the schema, which names the problem). Checked on documents that use every
// field, and on random mutations of them.
import * as fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import { isWellFormed } from '../src/files/document-check.js'
import { runDocumentSchema } from '../src/files/document-schema.js'
import { steppingClock } from './helpers.js'

const SPAN = '00f067aa0ba902b7'
const TRACE = '4bf92f3577b34da6a3ce929d0e0e4736'

/** A document with every field of every event type (shape only: it need not load). */
function kitchenSink(): Record<string, unknown> {
  const patch = (op: string, path: unknown[], value?: unknown) => (value === undefined ? { op, path } : { op, path, value })
  const base = (seq: number) => ({ seq, t: seq * 10, ctx: [patch('replace', ['a'], 1)], mwctx: [patch('add', ['m', 0], { $bigint: '1' })], metrics: [patch('remove', ['x'])] })
  const child = { child: 'kid', span: SPAN }
  const io = { now: [1, 2.5], random: [0.25] }
  const events = [
    { ...base(0), type: 'run.start' },
    { ...base(1), type: 'middleware.before', middleware: 0, link: 0, durationNs: 5 },
    { ...base(2), type: 'middleware.after', middleware: 0, durationNs: '12345678901234567890' },
    { ...base(3), type: 'middleware.error', middleware: 0, hook: 'around', link: 0, error: { $error: { name: 'E', message: 'm' } }, durationNs: 1 },
    { ...base(4), type: 'link.start', link: 0 },
    { ...base(5), type: 'link.attempt', link: 0, attempt: 1, error: 'x', durationNs: 1, io, ...child },
    { ...base(6), type: 'branch.start', link: 0, branch: 'b' },
    { ...base(7), type: 'branch.end', link: 0, branch: 'b', patches: [patch('add', ['k'], null)], durationNs: 1, io, ...child },
    { ...base(8), type: 'branch.error', link: 0, branch: 'c', error: null, durationNs: 1, io, ...child },
    { ...base(9), type: 'ctx.write', link: 0, op: 'map.set', path: ['a', { $number: '-0' }], value: [1], branch: 'b', stack: 'f.ts:1:2' },
    { ...base(10), type: 'link.end', link: 0, inversePatches: [patch('replace', ['a'], 0)], durationNs: 3, io, metricsError: { $unsupported: 'cycle' }, writesDropped: 2, ...child },
    { ...base(11), type: 'link.error', link: 0, error: 0, durationNs: 3, io, metricsError: 1, writesDropped: 0, ...child },
    { ...base(12), type: 'link.skip', link: 0, reason: 'when' },
    { ...base(13), metrics: null, type: 'fork', parent: { runId: 'p', seq: 3 }, inversePatches: [] },
    { ...base(14), t: '-5', type: 'run.end', status: 'error' },
  ]
  const nested = {
    format: 'shadowchain/run',
    version: 1,
    run: { id: 'kid', chainName: 'inner', status: 'ok', startedAt: '1', endedAt: '2', children: [] },
    links: [],
    middleware: [],
    initial: { ctx: null, mwctx: {} },
    events: [
      { seq: 0, t: 0, type: 'run.start' },
      { seq: 1, t: 1, type: 'run.end', status: 'ok' },
    ],
  }
  return {
    format: 'shadowchain/run',
    version: 10,
    run: {
      id: 'r',
      chainName: 'c',
      status: 'error',
      startedAt: '1700000000000000000',
      endedAt: '1700000000000000099',
      error: { code: 'LINK_FAILED', message: 'm', link: 0, cause: { $error: { name: 'E', message: 'm' } } },
      parent: { runId: 'p', seq: 3 },
      replayOf: { runId: 'q' },
      stoppedBy: 0,
      stopReason: 'enough',
      children: ['x', 'y'],
      trace: { traceId: TRACE, spanId: SPAN, remoteParent: SPAN },
    },
    redacted: { paths: [['a', 0, '*']], placeholder: '[REDACTED]' },
    links: [{ name: 'l', index: 0, meta: { $map: [] } }, { name: 'm', index: 1 }],
    middleware: [{ name: 'mw', position: 'chain-around', index: 0 }],
    initial: { ctx: { a: 0 }, mwctx: {} },
    events,
    nested: [nested],
  }
}

/** Documents of real runs: middleware, writes, retries, a parallel step, a skip, a nested chain. */
async function realDocuments(): Promise<RunDocument[]> {
  interface C {
    n: number
    tags: string[]
    tax?: number
  }
  // A nested chain of the same ctx: a link that is a chain.
  const inner = chain<C>('inner').link('double', (d) => void (d.n *= 2))
  let tries = 0
  const c = chain<C>('real', { clock: steppingClock() })
    .use({ name: 'meter', before: (e) => void (e.mwctx['n'] = 1), after: (e) => void (e.metrics['ms'] = 1) })
    .link('inc', (d) => void d.n++)
    .link(
      'flaky',
      (d) => {
        if (tries++ === 0) throw new Error('once')
        d.tags.push('ok')
      },
      { retry: { attempts: 2 } },
    )
    .parallel('quote', { tax: (d) => void (d.tax = d.n * 2), tag: (d) => void d.tags.push('q') })
    .link('never', (d) => void d.n--, { when: () => false })
    .link('nest', inner)
  const run = await c.run({ n: 1, tags: [] }, { capture: 'writes' })
  const forked = await run.fork({ at: 'inc', edit: (d) => void (d.n = 10) })
  return [run.toJSON(), forked.toJSON(), Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON()))).toJSON()]
}

// ---- mutations ---------------------------------------------------------------------------------

const oddValues: unknown[] = [
  undefined, null, true, 0, -0, 1, -1, 1.5, 2 ** 53, NaN, Infinity, '', 'x', '-12', '1.5', 'x'.repeat(4097), SPAN, TRACE, '0'.repeat(16),
  [], [1], [{}], {}, { op: 'add', path: [] }, { $bigint: '1' }, Object.create(null) as object, new Date(0), [1, , 2],
  'run.start', 'link.end', 'ok', 'add', 'chain-around', 'around', 'when', 'set', 'shadowchain/run',
]
const valueArb = fc.oneof(fc.constantFrom(...oddValues), fc.jsonValue({ maxDepth: 2 }))
const keyArb = fc.oneof(fc.constantFrom('seq', 't', 'type', 'ctx', 'value', 'path', 'op', 'link', 'child', 'span', 'io', 'now', 'extra', '__proto__', 'nested', 'run', 'version'), fc.string({ maxLength: 6 }))

interface Mutation {
  /** Which place of the document, among all its containers' keys (and the containers themselves, to add a key). */
  readonly at: number
  readonly action: 'delete' | 'add' | 'replace' | 'nearMiss'
  readonly key: string
  readonly value: unknown
  /** Which near miss of the value in place (`nearMiss`). */
  readonly variant: number
}

const mutationArb: fc.Arbitrary<Mutation> = fc.record({
  at: fc.nat(),
  action: fc.constantFrom('delete', 'add', 'replace', 'nearMiss', 'nearMiss'),
  key: keyArb,
  value: valueArb,
  variant: fc.nat(),
})

/** Values close to `value`, each just past one of the limits a field may have. */
function nearMisses(value: unknown): unknown[] {
  if (typeof value === 'string') {
    return ['', `${value}x`, value.toUpperCase(), value.slice(1), 'x'.repeat(4097), value.replace(/./, '0'), '0'.repeat(value.length), value.padEnd(31, '0'), ` ${value}`, Number(value)]
  }
  if (typeof value === 'number') return [-1, value + 0.5, 2 ** 53, -value - 1, 0, NaN, Infinity, String(value), value * 1e20, null]
  if (Array.isArray(value)) return [[], [null], value.slice(1), [...value, value[0]], {}, [...value, 'x'.repeat(4097)], [...value, -1], [...value, '']]
  if (typeof value === 'object' && value !== null) return [{}, [], { ...value, extra: 1 }, null]
  return [0, 'true', {}, undefined]
}

/** Every container of `doc`, and each of its keys (`undefined`: the container itself). */
function places(doc: unknown): [Record<string, unknown>, string | undefined][] {
  const out: [Record<string, unknown>, string | undefined][] = []
  const visit = (node: unknown): void => {
    if (typeof node !== 'object' || node === null) return
    const record = node as Record<string, unknown>
    out.push([record, undefined])
    for (const key of Object.keys(record)) {
      out.push([record, key])
      visit(record[key])
    }
  }
  visit(doc)
  return out
}

/**
 * A deep copy of a generated value (prototypes, holes and Dates kept): the constants fast-check
 * hands out are the same objects in every run, and a later mutation inside an inserted one would
 * change it for the runs after (it once made one cyclic).
 */
function copyOf(value: unknown): unknown {
  if (value instanceof Date) return new Date(value.getTime())
  if (typeof value !== 'object' || value === null) return value
  const out = (Array.isArray(value) ? new Array<unknown>(value.length) : Object.create(Object.getPrototypeOf(value) as object | null)) as Record<string, unknown>
  for (const key of Object.keys(value)) out[key] = copyOf((value as Record<string, unknown>)[key])
  return out
}

/** Changes one place of the document, chosen evenly among all of them. */
function mutate(doc: unknown, mutation: Mutation): void {
  const all = places(doc)
  const [node, key] = all[mutation.at % all.length] as [Record<string, unknown>, string | undefined]
  if (mutation.action === 'add' || key === undefined) {
    // An array's `length` cannot be redefined (and JSON has no such key): nothing to add there.
    if (Object.getOwnPropertyDescriptor(node, mutation.key)?.configurable === false) return
    Object.defineProperty(node, mutation.key, { value: copyOf(mutation.value), enumerable: true, writable: true, configurable: true })
  }
  else if (mutation.action === 'delete') delete node[key]
  else if (mutation.action === 'replace') node[key] = copyOf(mutation.value)
  else {
    const misses = nearMisses(node[key])
    node[key] = misses[mutation.variant % misses.length]
  }
}

const schemaAccepts = (doc: unknown): boolean => runDocumentSchema().safeParse(doc).success

describe('the hand-written document check', () => {
  it('accepts the documents of real runs and a document using every field', async () => {
    for (const doc of [...(await realDocuments()), kitchenSink()]) {
      expect(schemaAccepts(doc)).toBe(true)
      expect(isWellFormed(JSON.parse(JSON.stringify(doc)))).toBe(true)
    }
  })

  it('accepts no mutation of them that the schema refuses', async () => {
    const docs = [...(await realDocuments()), kitchenSink()].map((doc) => JSON.stringify(doc))
    let refused = 0
    fc.assert(
      fc.property(fc.nat(docs.length - 1), fc.array(mutationArb, { minLength: 1, maxLength: 3 }), (which, mutations) => {
        const doc: unknown = JSON.parse(docs[which] as string)
        for (const mutation of mutations) mutate(doc, mutation)
        if (!isWellFormed(doc)) {
          refused++
          return
        }
        expect(schemaAccepts(doc)).toBe(true)
      }),
      { numRuns: 3000 },
    )
    // The mutations do break documents: most are refused.
    expect(refused).toBeGreaterThan(1500)
  })

  it('accepts no single change of any place of them that the schema refuses (every place, every near miss)', async () => {
    const docs = [...(await realDocuments()), kitchenSink()].map((doc) => JSON.stringify(doc))
    let checked = 0
    const check = (doc: unknown, what: string): void => {
      checked++
      if (isWellFormed(doc)) expect(schemaAccepts(doc), what).toBe(true)
    }
    for (const text of docs) {
      const doc: unknown = JSON.parse(text)
      // Each change is undone before the next: one document serves for all of them.
      for (const [node, key] of places(doc)) {
        if (key === undefined) {
          node['extra'] = 1
          check(doc, 'an extra key')
          delete node['extra']
          continue
        }
        const value = node[key]
        delete node[key]
        check(doc, `without ${key}`)
        for (const miss of nearMisses(value)) {
          node[key] = miss
          check(doc, `${key}: ${String(miss).slice(0, 40)}`)
        }
        node[key] = value
      }
    }
    expect(checked).toBeGreaterThan(1000)
  })

  it('leaves to the schema what it is unsure of: a key holding undefined, another prototype', () => {
    const doc = kitchenSink()
    expect(isWellFormed({ ...doc, redacted: undefined })).toBe(false)
    expect(schemaAccepts({ ...doc, redacted: undefined })).toBe(true)
    const proto = Object.assign(Object.create({ inherited: true }) as object, doc)
    expect(isWellFormed(proto)).toBe(false)
  })
})
