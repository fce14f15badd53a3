// Issue #10, the run document: the record is never wrong (Sets of objects, checked inverse
// patches), hostile documents are rejected quickly with a path, and export never throws.
import { mkdtemp, readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { applyPatches, enableMapSet, enablePatches } from 'immer'
import type { Objectish } from 'immer'
import { beforeAll, describe, expect, it } from 'vitest'
import { chain, DocumentError, loadRun, Run, saveRun, type ChainRunError, type RunDocument } from '../src/index.js'
import { encodeLenient } from '../src/files/codec.js'
import { prepareRun } from '../src/present/viewer/browser.js'

enablePatches()
enableMapSet()

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-hardening-'))
})

/** Export, go through JSON text as a file would, import. */
function roundTrip<C>(run: Run<C>): Run<C> {
  return Run.fromJSON<C>(JSON.parse(JSON.stringify(run.toJSON())))
}

/** Rejection of a document, as the error it throws. */
function rejection(doc: unknown, options?: Parameters<typeof Run.fromJSON>[1]): DocumentError {
  try {
    Run.fromJSON(doc, options)
  } catch (error) {
    expect(error).toBeInstanceOf(DocumentError)
    return error as DocumentError
  }
  throw new Error('the document was accepted')
}

interface Member {
  sku: string
  flagged?: boolean
}
type Stock = { items: Set<Member> }

const skus = (set: ReadonlySet<Readonly<Member>>) => [...set].map((m) => `${m.sku}${m.flagged === true ? '!' : ''}`)

const stock = chain<Stock>('stock')
  .link('add', (ctx) => void ctx.items.add({ sku: 'c' }))
  .link('flag', (ctx) => {
    for (const member of ctx.items) if (member.sku !== 'b') member.flagged = true
  })
  .link('drop', (ctx) => {
    for (const member of ctx.items) if (member.sku === 'b') ctx.items.delete(member)
  })

describe('a Set holding objects', () => {
  it('comes back from a run file with the right members at every seq, in order', async () => {
    const run = await stock.run({ items: new Set([{ sku: 'a' }, { sku: 'b' }]) })
    expect(skus(run.ctx.items)).toEqual(['a!', 'c!'])
    const back = roundTrip(run)
    expect(skus(back.ctx.items)).toEqual(['a!', 'c!'])
    run.timeline.events.forEach((event, i) => expect(skus(back.timeline.events[i]!.ctx.items)).toEqual(skus(event.ctx.items)))
    const file = join(dir, 'stock.run.json')
    await saveRun(run, file)
    expect(skus((await loadRun<Stock>(file)).ctx.items)).toEqual(['a!', 'c!'])
  })

  it('folds through timeline.diff both ways, live and imported', async () => {
    const run = await stock.run({ items: new Set([{ sku: 'a' }, { sku: 'b' }]) })
    for (const r of [run, roundTrip(run)]) {
      const t = r.timeline
      const last = t.length - 1
      expect(skus((applyPatches(t.stateAt(0).ctx as Objectish, t.diff(0, last)) as Stock).items)).toEqual(['a!', 'c!'])
      expect(skus((applyPatches(r.ctx as Objectish, t.diff(last, 0)) as Stock).items)).toEqual(['a', 'b'])
      // Each imported link's own patches still turn its input into its output.
      for (const record of t.links()) expect(applyPatches(record.before as Objectish, record.patches)).toEqual(record.after)
    }
  })

  it('reads version-1 documents that name object members by value (what earlier writers wrote)', async () => {
    const run = await stock.run({ items: new Set([{ sku: 'a' }, { sku: 'b' }]) })
    const doc = JSON.parse(JSON.stringify(run.toJSON())) as RunDocument
    // The patches as immer made them, and as version 1 writers wrote them.
    const linkEnds = doc.events.filter((e) => e.type === 'link.end')
    type Patches = readonly { op: string; path: unknown[]; value?: unknown }[]
    run.timeline.filter({ type: 'link.end' }).forEach((event, i) => {
      const { patches, inversePatches } = event as unknown as { patches: Patches; inversePatches: Patches }
      linkEnds[i]!.ctx = JSON.parse(JSON.stringify(patches)) as never
      linkEnds[i]!.inversePatches = JSON.parse(JSON.stringify(inversePatches)) as never
    })
    expect(JSON.stringify(linkEnds.map((e) => e.ctx))).toContain('"op":"remove","path":["items",1],"value":{"sku":"b"}')
    const back = Run.fromJSON<Stock>(doc)
    expect(skus(back.ctx.items).sort()).toEqual(['a!', 'c!'])
    // Their inverse patches (checked on load) lead back to the input.
    const last = back.timeline.length - 1
    expect(skus((applyPatches(back.ctx as Objectish, back.timeline.diff(last, 0)) as Stock).items).sort()).toEqual(['a', 'b'])
    // The viewer's model (the library's reader, bundled for the page) agrees.
    const view = prepareRun(JSON.parse(JSON.stringify(doc)))
    expect(skus((view.run.timeline.stateAt(-1).ctx as Stock).items).sort()).toEqual(['a!', 'c!'])
  })

  it('agrees with the viewer on the states of a document', async () => {
    const run = await stock.run({ items: new Set([{ sku: 'a' }, { sku: 'b' }]) })
    const view = prepareRun(JSON.parse(JSON.stringify(run.toJSON())))
    view.events.forEach((_event, i) => expect(skus((view.run.timeline.stateAt(i).ctx as Stock).items)).toEqual(skus(run.timeline.events[i]!.ctx.items)))
  })
})

describe('hostile documents', () => {
  let good: RunDocument
  let linkEnd: number
  beforeAll(async () => {
    const run = await chain<{ items: number[]; n: number }>('good')
      .link('a', (ctx) => void ctx.items.push(1))
      .run({ items: [1, 2, 3], n: 1 })
    good = run.toJSON()
    linkEnd = good.events.findIndex((e) => e.type === 'link.end')
  })
  const fresh = (): RunDocument => JSON.parse(JSON.stringify(good)) as RunDocument
  const withPatch = (patch: unknown): RunDocument => {
    const doc = fresh()
    ;(doc.events[linkEnd] as { ctx?: unknown }).ctx = [patch]
    return doc
  }

  it.each([
    ['a length of 2^32 - 1', { op: 'replace', path: ['items', 'length'], value: 4294967295 }, /array key "length" is not an index from 0 to 2/],
    ['a length of 1e7', { op: 'replace', path: ['items', 'length'], value: 1e7 }, /array key "length" is not an index/],
    ['an index of 1e8', { op: 'replace', path: ['items', 1e8], value: 1 }, /array key 100000000 is not an index from 0 to 2/],
    ['an add far past the end', { op: 'add', path: ['items', 5], value: 1 }, /array key 5 is not an index from 0 to 3/],
    ['a path through a missing key', { op: 'add', path: ['nope', 'x'], value: 1 }, /no container at nope/],
  ])('rejects %s in a patch at once, with its path', (_name, patch, problem) => {
    const started = performance.now()
    const error = rejection(withPatch(patch))
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(error.path).toBe(`$.events[${linkEnd}].ctx[0]`)
    expect(error.problem).toMatch(problem)
  })

  it('the viewer refuses the same array keys (a dropped file is read by the library too)', () => {
    expect(() => prepareRun(withPatch({ op: 'replace', path: ['items', 'length'], value: 4294967295 }))).toThrow(/array key "length" is not an index from 0 to 2/)
    expect(() => prepareRun(withPatch({ op: 'replace', path: ['items', 1e8], value: 1 }))).toThrow(/array key 100000000 is not an index/)
  })

  it('rejects reserved keys wrapped in arrays, and any object as a path key', () => {
    expect(rejection(withPatch({ op: 'add', path: [['constructor'], 'polluted'], value: 1 })).message).toMatch(
      new RegExp(`^\\$\\.events\\[${linkEnd}\\]\\.ctx\\[0\\]\\.path\\[0\\]: a patch path key must be a string`),
    )
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('quotes at most a short prefix of a bad format or version, however big or deep', () => {
    const deep = JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) as unknown
    expect(rejection({ ...fresh(), format: deep }).message).toBe("$.format: expected 'shadowchain/run', got an array: this is not a shadowchain run document")
    expect(rejection({ ...fresh(), version: deep }).message).toBe('$.version: unsupported version an array: this shadowchain reads versions 1 to 10')
    const huge = rejection({ ...fresh(), format: 'x'.repeat(50_000_000) })
    expect(huge.message.length).toBeLessThan(200)
    expect(huge.message).toContain('(50000000 characters)')
  })

  it('rejects a deep or non-text $unsupported payload without overflowing the stack', () => {
    const doc = fresh()
    ;(doc.initial as { ctx: unknown }).ctx = { items: [], n: 1, f: { $unsupported: JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`) } }
    expect(rejection(doc).message).toBe('$.initial.ctx.f.$unsupported: expected a string saying what could not be written')
  })

  it('checks explicit inverse patches: they must restore the state before the link', () => {
    const doc = fresh()
    ;(doc.events[linkEnd] as { inversePatches?: unknown }).inversePatches = [{ op: 'replace', path: ['n'], value: 99 }]
    const error = rejection(doc)
    expect(error.path).toBe(`$.events[${linkEnd}].inversePatches`)
    expect(error.problem).toMatch(/do not turn the event's state back/)
    const right = fresh()
    ;(right.events[linkEnd] as { inversePatches?: unknown }).inversePatches = [{ op: 'remove', path: ['items', 3] }]
    expect(Run.fromJSON(right).timeline.diff(linkEnd, 0)).toEqual([{ op: 'remove', path: ['items', 3] }])
  })

  it('bounds every string: error message, redaction, object keys, $unsupported, $instance class', () => {
    const limits = { maxStringLength: 10 }
    const failed = (mutate: (doc: Record<string, unknown>) => void): DocumentError => {
      const doc = { ...fresh(), run: { ...fresh().run, status: 'error', error: { code: 'X', message: 'short' } } } as Record<string, unknown>
      ;(doc['events'] as { type: string; status?: string }[]).at(-1)!.status = 'error'
      mutate(doc)
      return rejection(doc, limits)
    }
    expect(failed((d) => ((d['run'] as { error: { message: string } }).error.message = 'm'.repeat(11))).path).toBe('$.run.error.message')
    expect(failed((d) => (d['redacted'] = { paths: [['k'.repeat(11)]], placeholder: 'x' })).path).toBe('$.redacted.paths[0][0]')
    expect(failed((d) => (d['redacted'] = { paths: [['k']], placeholder: 'p'.repeat(11) })).path).toBe('$.redacted.placeholder')
    expect(failed((d) => ((d['initial'] as { ctx: unknown }).ctx = { ['k'.repeat(11)]: 1 })).problem).toMatch(/a key of 11 characters is longer than the limit of 10/)
    expect(failed((d) => ((d['initial'] as { ctx: unknown }).ctx = { f: { $unsupported: 'u'.repeat(11) } })).path).toBe('$.initial.ctx.f.$unsupported')
    expect(failed((d) => ((d['initial'] as { ctx: unknown }).ctx = { f: { $instance: { class: 'c'.repeat(11), fields: {} } } })).path).toBe('$.initial.ctx.f.$instance.class')
  })

  it('rejects __proto__ inside $error and $instance payloads', () => {
    for (const tag of ['$error', '$instance']) {
      const doc = fresh()
      ;(doc.initial as { ctx: unknown }).ctx = JSON.parse(`{"e":{"${tag}":{"name":"E","message":"m","class":"C","fields":{},"__proto__":{"polluted":true}}}}`)
      expect(rejection(doc).message).toBe(`$.initial.ctx.e.${tag}.__proto__: the key '__proto__' is not allowed in a run document`)
    }
  })

  it('honours a raised maxDepth without overflowing the stack (20,000 levels), and rejects past it', () => {
    const nested = (levels: number, tail = ''): unknown => JSON.parse(`{"items":[1,2,3],"n":1${tail},"deep":${'['.repeat(levels)}1${']'.repeat(levels)}}`)
    const doc = (ctx: unknown): RunDocument => {
      const d = fresh()
      ;(d.initial as { ctx: unknown }).ctx = ctx
      return d
    }
    expect(rejection(doc(nested(1_400))).problem).toBe('nested more than 1000 levels deep')
    const run = Run.fromJSON<{ deep: unknown }>(doc(nested(19_998)), { maxDepth: 20_000 })
    let depth = 0
    for (let node = run.ctx.deep; Array.isArray(node); node = node[0] as unknown) depth++
    expect(depth).toBe(19_998)
    expect(Object.isFrozen(run.ctx.deep)).toBe(true)
    expect(rejection(doc(nested(20_000)), { maxDepth: 20_000 }).problem).toBe('nested more than 20000 levels deep')
    // A change at the bottom: applied, diffed back (derived inverse) and checked (explicit one).
    const deepChange = doc(nested(15_000))
    const end = deepChange.events[linkEnd] as { ctx?: unknown; inversePatches?: unknown }
    const bottom = ['deep', ...new Array<number>(15_000).fill(0)]
    end.ctx = [{ op: 'replace', path: bottom, value: 2 }]
    expect(Run.fromJSON(deepChange, { maxDepth: 20_000 }).timeline.diff(linkEnd, 0)).toEqual([{ op: 'replace', path: bottom, value: 1 }])
    end.inversePatches = [{ op: 'replace', path: bottom, value: 1 }]
    expect(Run.fromJSON(deepChange, { maxDepth: 20_000 }).timeline.length).toBe(good.events.length)
    end.inversePatches = [{ op: 'replace', path: bottom, value: 3 }]
    expect(rejection(deepChange, { maxDepth: 20_000 }).path).toBe(`$.events[${linkEnd}].inversePatches`)
    // Deep Maps, Sets, errors and tags decode the same way.
    let value = '1'
    for (let i = 0; i < 3_000; i++) value = [`{"$map":[["k",${value}]]}`, `{"$set":[${value}]}`, `{"$error":{"name":"E","message":"m${i}","cause":${value}}}`, `{"$object":{"$x":${value}}}`][i % 4] as string
    const mixed = Run.fromJSON<{ deep: unknown }>(doc(JSON.parse(`{"items":[1,2,3],"n":1,"deep":${value}}`)), { maxDepth: 10_000 })
    const kinds: string[] = []
    let node = mixed.ctx.deep
    while (typeof node === 'object' && node !== null) {
      kinds.push(node.constructor.name)
      node = node instanceof Map ? node.get('k') : node instanceof Set ? [...node][0] : node instanceof Error ? node.cause : (node as { $x: unknown }).$x
    }
    expect(node).toBe(1)
    expect(kinds.length).toBe(3_000)
    expect(kinds.slice(0, 4)).toEqual(['Object', 'Error', 'Set', 'Map'])
  })
})

describe('values a chain may hold', () => {
  it('reads back a run whose link returned a Date as the whole ctx', async () => {
    const run = await chain<unknown>('when').link('date', () => new Date(5)).link('again', () => new Date(6)).run({ a: 1 })
    const back = roundTrip(run)
    expect(back.ctx).toEqual(new Date(6))
    expect(back.timeline.events.map((e) => e.ctx)).toEqual(run.timeline.events.map((e) => e.ctx))
  })

  it('writes holes compactly and reads them back as holes (version 2), in a file too', async () => {
    const run = await chain<{ a?: unknown[] }>('sparse')
      .link('make', (ctx) => {
        const a = new Array<unknown>(10_000_000)
        a[5] = 'x'
        ctx.a = a
      })
      .run({})
    const doc = run.toJSON()
    expect(doc.version).toBe(2)
    expect(JSON.stringify(doc).length).toBeLessThan(2_000)
    const back = Run.fromJSON<{ a: unknown[] }>(JSON.parse(JSON.stringify(doc)))
    expect(back.ctx.a.length).toBe(10_000_000)
    expect(5 in back.ctx.a && !(4 in back.ctx.a) && !(6 in back.ctx.a)).toBe(true)
    expect(back.ctx.a[5]).toBe('x')
    const file = join(dir, 'sparse.run.json')
    await saveRun(run, file)
    expect((await readFile(file, 'utf8')).startsWith('{"format":"shadowchain/run","version": 2,')).toBe(true)
    expect((await loadRun<{ a: unknown[] }>(file)).ctx.a.length).toBe(10_000_000)
  })

  it('writes version 1 when nothing needs version 2, and refuses $holes in a version-1 document', async () => {
    const run = await chain<{ a: unknown[] }>('dense').link('x', (ctx) => void ctx.a.push(1)).run({ a: [] })
    const doc = run.toJSON()
    expect(doc.version).toBe(1)
    ;(doc.initial as { ctx: unknown }).ctx = { a: [{ $holes: 2 }] }
    expect(rejection(JSON.parse(JSON.stringify(doc))).message).toMatch(/^\$\.initial\.ctx\.a\[0\]\.\$holes: unknown tag '\$holes' \(holes exist from version 2 on\)/)
  })
})

describe('export never throws', () => {
  const cyclic = (): Error => {
    const error = new Error('cyclic cause') as Error & { cause?: unknown }
    error.cause = error
    return error
  }
  const deepCause = (): Error => {
    let error = new Error('the root')
    for (let i = 0; i < 1_500; i++) error = new Error(`wrapped ${i}`, { cause: error })
    return error
  }
  const getter = (): unknown => {
    const error = new Error('getter error')
    Object.defineProperty(error, 'code', { enumerable: true, get: () => { throw new Error('code getter') } })
    return error
  }
  const revoked = (): unknown => {
    const { proxy, revoke } = Proxy.revocable({}, {})
    revoke()
    return proxy
  }
  const trap = (): unknown => new Proxy({ message: 'trapped' }, { get: () => { throw new Error('get trap') } })

  it('encodes hostile thrown values into markers that survive JSON', () => {
    const text = (value: unknown) => JSON.stringify(encodeLenient(value))
    expect(text(cyclic())).toContain('"cause":{"$unsupported":"cycle"}')
    expect(text(deepCause())).toContain('{"$unsupported":"too deep"}')
    expect(text(getter())).toContain('"code":{"$unsupported":"unreadable: Error: code getter"}')
    expect(text(revoked())).toMatch(/"\$unsupported":"unreadable: TypeError: .*revoked/)
    expect(text(trap())).toMatch(/unreadable: Error: get trap/)
    expect(text(Symbol('why'))).toBe('{"$unsupported":"Symbol(why)"}')
    const shared = { a: 1 }
    expect(text([shared, shared])).toBe('[{"a":1},{"a":1}]')
  })

  it.each([
    ['an error whose cause is itself', cyclic, 'cyclic cause'],
    ['a cause chain 1,500 deep', deepCause, 'wrapped 1499'],
    ['an error with a throwing getter', getter, 'getter error'],
    ['a revoked Proxy', revoked, undefined],
    ['a Proxy whose get throws', trap, undefined],
    ['a Symbol', () => Symbol('sym'), undefined],
    ['a Date', () => new Date(0), undefined],
    ['a bigint', () => 12n, undefined],
    ['-0', () => -0, undefined],
    ['NaN', () => NaN, undefined],
  ])('records a link that throws %s: toJSON, saveRun and fromJSON work', async (name, make, message) => {
    const run = await chain<{ n: number }>('hostile')
      .link('x', () => {
        throw make()
      })
      .run({ n: 1 })
      .catch((error: ChainRunError<{ n: number }>) => error.run)
    const doc = run.toJSON()
    const file = join(dir, `${name.replace(/\W+/g, '-')}.run.json`)
    await saveRun(run, file)
    const back = await loadRun<{ n: number }>(file)
    const again = Run.fromJSON(JSON.parse(JSON.stringify(doc)))
    expect(back.error?.message).toBe(run.error?.message)
    expect(again.error?.message).toBe(run.error?.message)
    expect(back.error?.message).not.toContain('[object Object]')
    if (message !== undefined) expect((back.error?.cause as Error).message).toBe(message)
  })
})
