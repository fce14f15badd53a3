// A finished run's document text written straight from its event log (files/log-text.ts) is the
// text of `JSON.stringify(exportRun(run))`, character for character, on random chains whose
// middleware and links change mwctx, metrics and ctx in every way the log keeps (one key set or
// added, keys removed, objects, values the codec tags, reserved keys, changes undone before the
// next event), and the flight recorder hands its store that text and the summary of the document.
import * as fc from 'fast-check'
import { enableMapSet, enablePatches } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, memoryStore, recorder } from '../src/index.js'
import type { Chain, Middleware, Run } from '../src/index.js'
import { exportRun } from '../src/files/write-document.js'
import { exportText } from '../src/files/log-text.js'
import { CtxChanges } from '../src/files/encode-parts.js'
import { redactor } from '../src/files/redact.js'
import { diffStates } from '../src/core/diff-states.js'
import { encodeRun, EncodedRun, summarize } from '../src/store/summary.js'

enablePatches()
enableMapSet()

type Ctx = Record<string, unknown>

/** Keys the states are written under: plain ones, and ones JSON escapes or readers refuse in paths. */
const KEYS = ['a', 'b', 'c', 'n', 'constructor', 'prototype', 'say "hi"', 'é\u0001', 'lone\ud800', '$tag'] as const

/** Values of every kind the codec writes: plain ones as they are, the rest tagged. */
const valueArb: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 6, arbitrary: fc.oneof(fc.integer(), fc.double(), fc.string({ maxLength: 6 }), fc.boolean(), fc.constant(null)) },
  { weight: 2, arbitrary: fc.constantFrom(undefined, -0, Number.NaN, Infinity, 12n, 'x"y\\z', '\u2028', 'é') },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      () => ({ nested: 1 }),
      () => [1, 2],
      () => new Date(0),
      () => new Map([['k', 1]]),
      () => new Set([1, 'two']),
      () => ({ $x: 1 }),
    ).map((make) => make()),
  },
)

/** One change a hook or link makes to an object it may write (mwctx, metrics, a link's draft). */
type Op = { readonly kind: 'set'; readonly key: string; readonly value: unknown } | { readonly kind: 'delete'; readonly key: string } | { readonly kind: 'undo'; readonly key: string; readonly value: unknown } | { readonly kind: 'none' }

const opArb: fc.Arbitrary<Op> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ kind: fc.constant('set' as const), key: fc.constantFrom(...KEYS), value: valueArb }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('delete' as const), key: fc.constantFrom(...KEYS) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('undo' as const), key: fc.constantFrom(...KEYS), value: valueArb }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'none' as const }) },
)

function apply(target: Record<string, unknown>, ops: readonly Op[]): void {
  for (const op of ops) {
    if (op.kind === 'set') target[op.key] = op.value
    else if (op.kind === 'delete') delete target[op.key]
    else if (op.kind === 'undo') {
      // Changed and changed back before anything records it.
      const had = Object.hasOwn(target, op.key)
      const old = target[op.key]
      target[op.key] = op.value
      if (had) target[op.key] = old
      else delete target[op.key]
    }
  }
}

interface HookSpec {
  readonly level: 'chain' | 'link'
  /** Chain-level only: its before and after edits run at the run's start and end too. */
  readonly runHooks: boolean
  readonly around: boolean
  readonly async: boolean
  readonly before: readonly Op[]
  readonly after: readonly Op[]
  readonly metrics: readonly Op[]
}

const opsArb = fc.array(opArb, { maxLength: 2 })
const hookArb: fc.Arbitrary<HookSpec> = fc.record({
  level: fc.constantFrom('chain' as const, 'link' as const),
  runHooks: fc.boolean(),
  around: fc.nat(4).map((n) => n === 0),
  async: fc.boolean(),
  before: opsArb,
  after: opsArb,
  metrics: opsArb,
})

interface LinkSpec {
  readonly ctx: readonly Op[]
  readonly metrics: readonly Op[]
  readonly nested: boolean
  readonly fails: boolean
}

const linkArb: fc.Arbitrary<LinkSpec> = fc.record({
  ctx: fc.array(opArb, { maxLength: 3 }),
  metrics: fc.array(opArb, { maxLength: 1 }),
  nested: fc.boolean(),
  fails: fc.nat(9).map((n) => n === 0),
})

function middleware(name: string, spec: HookSpec): Middleware {
  const before = (e: { mwctx: Record<string, unknown> }): void => apply(e.mwctx, spec.before)
  const after = (e: { mwctx: Record<string, unknown>; metrics: Record<string, unknown> }): void => {
    apply(e.mwctx, spec.after)
    apply(e.metrics, spec.metrics)
  }
  if (spec.around) {
    return {
      name,
      around: async (e, next) => {
        apply(e.mwctx, spec.before)
        await next()
      },
    }
  }
  const hooks: Middleware = spec.async
    ? { name, before: async (e) => (await Promise.resolve(), before(e)), after: async (e) => (await Promise.resolve(), after(e)) }
    : { name, before, after }
  // Run hooks belong to chain-level middleware (refused at build time on a link).
  return spec.runHooks && spec.level === 'chain' ? { ...hooks, runStart: (e) => apply(e.mwctx, spec.before), runEnd: (e) => apply(e.mwctx, spec.after) } : hooks
}

function build(links: readonly LinkSpec[], hooks: readonly HookSpec[]): Chain<Ctx> {
  let c = chain<Ctx>('random')
  links.forEach((spec, i) => {
    const use = hooks.flatMap((hook, k) => (hook.level === 'link' && k % links.length === i ? [middleware(`l${k}`, hook)] : []))
    c = c.link(
      `link${i}`,
      (ctx, io) => {
        apply(spec.nested ? ((ctx['deep'] ??= { inner: {} }) as Record<string, unknown>) : ctx, spec.ctx)
        apply(io.metrics, spec.metrics)
        if (spec.fails) throw new Error(`link${i} failed`)
      },
      use.length > 0 ? { use } : {},
    )
  })
  return c.use(...hooks.flatMap((hook, k) => (hook.level === 'chain' ? [middleware(`c${k}`, hook)] : [])))
}

async function runOf(c: Chain<Ctx>, input: Ctx, timestamps: boolean, capture: 'timeline' | 'off' | 'writes'): Promise<Run<Ctx>> {
  try {
    return await c.run(structuredClone(input), { timestamps, capture })
  } catch {
    return c.lastRun as Run<Ctx>
  }
}

const inputArb = fc.dictionary(fc.constantFrom('a', 'b', 'c', 'n'), fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.constant({ x: 1 })), { maxKeys: 3 })

describe('a run document written from the event log', () => {
  it('is the text of JSON.stringify(exportRun(run)) for random chains, and most runs are written that way', async () => {
    let written = 0
    let runs = 0
    await fc.assert(
      fc.asyncProperty(inputArb, fc.array(linkArb, { minLength: 1, maxLength: 4 }), fc.array(hookArb, { maxLength: 3 }), fc.boolean(), fc.constantFrom('timeline' as const, 'timeline' as const, 'off' as const, 'writes' as const), async (input, links, hooks, timestamps, capture) => {
        const run = await runOf(build(links, hooks), input, timestamps, capture)
        runs++
        // Before anything reads the events (exportRun builds them).
        const fast = exportText(run, (run.timeline.log() as NonNullable<ReturnType<Run<Ctx>['timeline']['log']>>).view())
        const slow = JSON.stringify(exportRun(run))
        if (fast === undefined) {
          // Left to exportRun: a failed run, or one with an event the writer does not follow.
          expect(run.status !== 'ok' || run.timeline.events.some((e) => !['run.start', 'run.end', 'link.start', 'link.end', 'middleware.before', 'middleware.after'].includes(e.type)), `a run of ${run.timeline.events.map((e) => e.type).join(', ')}`).toBe(true)
          return
        }
        written++
        expect(fast.text).toBe(slow)
        expect(fast.links).toBe(run.timeline.events.filter((e) => e.type === 'link.end').length)
      }),
      { numRuns: 400 },
    )
    // Not a vacuous pass: most random runs (those that did not fail) took the log's path.
    expect(written).toBeGreaterThan(runs / 2)
  })

  it('is left to exportRun once the events were read, and for failed runs: the recorder stores the same text either way', async () => {
    const c = chain<Ctx>('mixed')
      .link('a', (ctx) => void (ctx['a'] = 1))
      .link('b', (ctx) => {
        if (ctx['fail'] === true) throw new Error('b failed')
      })
      .use({ name: 'count', before: (e) => void (e.mwctx['n'] = ((e.mwctx['n'] as number | undefined) ?? 0) + 1), after: (e) => void (e.metrics['ms'] = 1) })
    const ok = await c.run({})
    const log = ok.timeline.log()
    expect(log).toBeDefined()
    expect(exportText(ok, log!.view())).toBeDefined()
    void ok.timeline.events
    expect(exportText(ok, log!.view())).toBeUndefined()
    const failed = await c.run({ fail: true }).catch(() => c.lastRun as Run<Ctx>)
    expect(failed.status).toBe('error')
    expect(exportText(failed, failed.timeline.log()!.view())).toBeUndefined()
    const fresh = await c.run({})
    for (const run of [fresh, failed, ok]) {
      const encoded = encodeRun(run)
      const reference = EncodedRun.of(exportRun(run))
      expect(encoded.text).toBe(reference.text)
      expect(encoded.summary).toStrictEqual(summarize(exportRun(run)))
    }
  })

  it('reaches the store as the run document: a flight recorder on memoryStore() keeps run.toJSON()', async () => {
    const store = memoryStore()
    const rec = recorder({ store, flushOnExit: false })
    const c = chain<Ctx>('kept', { recorder: rec })
      .link('a', (ctx) => void (ctx['a'] = 'x"y'))
      .link('b', (ctx) => void (ctx['b'] = [1, 2]))
      .use({ name: 'count', before: (e) => void (e.mwctx['n'] = ((e.mwctx['n'] as number | undefined) ?? 0) + 1), after: (e) => void (e.metrics['ms'] = 0.5) })
    const runs: Run<Ctx>[] = []
    for (let i = 0; i < 5; i++) runs.push(await c.run({ i }))
    await rec.flush()
    for (const run of runs) {
      const stored = await store.read(run.id)
      expect(stored).toStrictEqual(JSON.parse(JSON.stringify(run.toJSON())))
    }
    const listed = await store.list({ chain: 'kept' })
    expect(listed.map((s) => s.links)).toStrictEqual([2, 2, 2, 2, 2])
    await rec.close()
  })
})

describe("CtxChanges: a derived link's change (its own patches are the diff of its states)", () => {
  const none = redactor([])

  it('writes the diff as it is and makes no way back when no Set is put in place', () => {
    const before = { a: 1, nested: { b: [1, 2] }, gone: true }
    const after = { a: 2, nested: { b: [1, 2, 3] }, added: 'x' }
    const own = diffStates(before, after)
    const changes = new CtxChanges()
    expect(changes.change(before, after, own, none, true)).toBe(own)
    expect(changes.back).toBeUndefined()
    // The same patches as when the way back is made and compared.
    expect(new CtxChanges().change(before, after, own, none)).toEqual(own)
  })

  it('puts a replaced Set in order as a change with its way back does', () => {
    const before = { tags: new Set(['a', 'b']), n: 1 }
    const after = { tags: new Set(['b', 'c']), n: 1 }
    const own = diffStates(before, after)
    const full = new CtxChanges()
    const expected = full.change(before, after, own, none)
    const derived = new CtxChanges()
    expect(derived.change(before, after, own, none, true)).toEqual(expected)
    expect(derived.back).toEqual(full.back)
  })
})
