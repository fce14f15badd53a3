// Laws that hold for every chain, checked on random chains, inputs and edit scripts.
//
// An edit script is data (an `Edit[]` drawn by fast-check), interpreted by `applyEdits` on
// whatever container it is given: an immer draft inside a link, a plain copy for the model, the
// writable mwctx inside a middleware. So the links are as varied as the generated data.
import * as fc from 'fast-check'
import { applyPatches, enablePatches } from 'immer'
import type { Objectish } from 'immer'
import { describe, expect, it } from 'vitest'
import { chain, Run as RunClass } from '../src/index.js'
import type { AfterEvent, BeforeEvent, Chain, ChainRunError, LinkFn, Middleware, Run, RunOptions, TimelineEvent } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'
import { memoryTracer, spanTree } from './otel-helpers.js'

enablePatches()

// ---- data ---------------------------------------------------------------------------------

type Value = null | boolean | number | string | Value[] | { [key: string]: Value }
type Container = unknown[] | { [key: string]: unknown }
// The chains' ctx type. Not `{ [key: string]: Value }`: immer's Draft of that recursive type is
// too deep for tsc (TS2589). The data is always a `Value` object.
type Ctx = { [key: string]: unknown }

const KEYS = ['a', 'b', 'c', 'd', 'e', 'f'] as const
const keyArb = fc.constantFrom(...KEYS)
const primitiveArb: fc.Arbitrary<Value> = fc.oneof(fc.integer(), fc.string({ maxLength: 4 }), fc.boolean(), fc.constant(null))

const { value: valueArb, object: objectArb } = fc.letrec<{ value: Value; object: { [key: string]: Value }; array: Value[] }>(
  (tie) => ({
    value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, primitiveArb, tie('object'), tie('array')),
    object: fc.dictionary(keyArb, tie('value'), { maxKeys: 4 }),
    array: fc.array(tie('value'), { maxLength: 4 }),
  }),
)

/**
 * One edit. `path` picks a container to descend into at each step (`step % count` among the
 * children that are containers; the walk stops early where there are none), then `op` acts there:
 * - `set`: object → `node[key] = value`; array → overwrite element `index % length` (or push)
 * - `delete`: object → delete an existing key; array → splice out one element
 * - `push`: array → push; object → push onto `node[key]` if it is an array, else create one
 */
interface Edit {
  readonly path: readonly number[]
  readonly op: 'set' | 'delete' | 'push'
  readonly key: string
  readonly index: number
  readonly value: Value
}

const editArb: fc.Arbitrary<Edit> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 3 }),
  op: fc.constantFrom('set', 'delete', 'push'),
  key: keyArb,
  index: fc.nat(),
  value: valueArb,
})
const editsArb = fc.array(editArb, { maxLength: 5 })

function isContainer(value: unknown): value is Container {
  return typeof value === 'object' && value !== null
}

function applyEdit(root: Container, edit: Edit): void {
  let node: Container = root
  for (const step of edit.path) {
    const children = Object.keys(node).filter((k) => isContainer((node as Record<string, unknown>)[k]))
    if (children.length === 0) break
    node = (node as Record<string, unknown>)[children[step % children.length] as string] as Container
  }
  // Values are copied at every use: a value assigned to a draft is frozen by immer, and the same
  // generated value is applied again in other runs and in the model.
  const value = structuredClone(edit.value)
  if (Array.isArray(node)) {
    if (edit.op === 'push' || node.length === 0) {
      if (edit.op !== 'delete') node.push(value)
    } else if (edit.op === 'set') {
      node[edit.index % node.length] = value
    } else {
      node.splice(edit.index % node.length, 1)
    }
    return
  }
  if (edit.op === 'set') {
    node[edit.key] = value
  } else if (edit.op === 'delete') {
    const keys = Object.keys(node)
    if (keys.length > 0) delete node[keys[edit.index % keys.length] as string]
  } else {
    const target = node[edit.key]
    if (Array.isArray(target)) target.push(value)
    else node[edit.key] = [value]
  }
}

function applyEdits(root: Container, edits: readonly Edit[]): void {
  for (const edit of edits) applyEdit(root, edit)
}

/** A link of a random chain: its edits, and how it delivers them. */
interface LinkSpec {
  readonly edits: readonly Edit[]
  /** Return a fresh replacement value instead of mutating the draft. */
  readonly replace: boolean
  readonly async: boolean
}

const linkSpecArb: fc.Arbitrary<LinkSpec> = fc.record({
  edits: editsArb,
  replace: fc.nat(3).map((n) => n === 0),
  async: fc.boolean(),
})

function linkFn(spec: LinkSpec): LinkFn<Ctx> {
  const sync = (ctx: Ctx, base: Ctx): Ctx | undefined => {
    if (!spec.replace) {
      applyEdits(ctx, spec.edits)
      return undefined
    }
    const next = structuredClone(base)
    applyEdits(next, spec.edits)
    return next
  }
  return spec.async
    ? async (ctx, io) => {
        await Promise.resolve()
        return sync(ctx as Ctx, io.base as Ctx)
      }
    : (ctx, io) => sync(ctx as Ctx, io.base as Ctx)
}

function buildChain(links: readonly LinkSpec[], middleware: readonly Middleware[] = []): Chain<Ctx> {
  let c = chain<Ctx>('random').use(...middleware)
  links.forEach((spec, i) => {
    c = c.link(`l${i}`, linkFn(spec))
  })
  return c
}

/** What the chain should compute: the same edits applied to a plain copy. */
function model(input: Ctx, links: readonly LinkSpec[]): Ctx {
  let ctx = structuredClone(input)
  for (const spec of links) {
    const next = structuredClone(ctx)
    applyEdits(next, spec.edits)
    ctx = next
  }
  return ctx
}

/** A middleware that reads what every after-hook may read (so 'off' still computes patches). */
const observer: Middleware = {
  name: 'observer',
  before: (e) => void e.ctx,
  after: (e) => void [e.result, e.patches.length],
}

const RUNS = { numRuns: 100 }

// ---- a. patches ---------------------------------------------------------------------------

describe('patches of a link', () => {
  it('turn its before state into its after state, and the inverse patches turn it back', async () => {
    await fc.assert(
      fc.asyncProperty(objectArb, fc.array(linkSpecArb, { minLength: 1, maxLength: 5 }), async (input, links) => {
        const run = await buildChain(links).run(structuredClone(input))
        const records = run.timeline.links()
        expect(records.map((r) => r.name)).toEqual(links.map((_, i) => `l${i}`))
        for (const record of records) {
          expect(record.status).toBe('ok')
          const before = record.before as Objectish
          const after = record.after as Objectish
          expect(applyPatches(before, record.patches)).toStrictEqual(after)
          expect(applyPatches(after, record.inversePatches)).toStrictEqual(before)
        }
        // The chain computed what the edit scripts say.
        expect(run.ctx).toStrictEqual(model(input, links))
      }),
      RUNS,
    )
  })

  it('chain up: timeline.diff across the whole run replays it forwards and backwards', async () => {
    await fc.assert(
      fc.asyncProperty(objectArb, fc.array(linkSpecArb, { minLength: 1, maxLength: 5 }), async (input, links) => {
        const run = await buildChain(links).run(structuredClone(input))
        const last = run.timeline.length - 1
        const first = run.timeline.stateAt(0).ctx as Objectish
        const final = run.ctx as Objectish
        expect(applyPatches(first, run.timeline.diff(0, last))).toStrictEqual(final)
        expect(applyPatches(final, run.timeline.diff(last, 0))).toStrictEqual(first)
      }),
      RUNS,
    )
  })
})

describe('run documents of random chains', () => {
  it('export then import is the identity: every state of every event, and each link patches', async () => {
    await fc.assert(
      fc.asyncProperty(
        objectArb,
        fc.array(linkSpecArb, { minLength: 1, maxLength: 5 }),
        fc.array(middlewareSpecArb, { maxLength: 2 }),
        async (input, links, specs) => {
          const middleware = specs.map((spec, i) => editingMiddleware(`m${i}`, { ...spec, level: 'chain' }))
          const run = await buildChain(links, middleware).run(structuredClone(input))
          const back = RunClass.fromJSON<Ctx>(JSON.parse(JSON.stringify(run.toJSON())))
          expect(back.timeline.length).toBe(run.timeline.length)
          run.timeline.events.forEach((event, i) => {
            const copy = back.timeline.events[i] as TimelineEvent<Ctx>
            expect([copy.ctx, copy.mwctx, copy.metrics]).toStrictEqual([event.ctx, event.mwctx, event.metrics])
          })
          for (const record of back.timeline.links()) {
            expect(applyPatches(record.before as Objectish, record.patches)).toStrictEqual(record.after)
            expect(applyPatches(record.after as Objectish, record.inversePatches)).toStrictEqual(record.before)
          }
        },
      ),
      RUNS,
    )
  })
})

// ---- b. capture levels --------------------------------------------------------------------

describe('capture levels and timestamps', () => {
  const variants: readonly RunOptions[] = [
    { capture: 'timeline' },
    { capture: 'off' },
    { timestamps: false },
    { capture: 'off', timestamps: false },
  ]

  it('never change what the chain computes', async () => {
    await fc.assert(
      fc.asyncProperty(
        objectArb,
        fc.array(linkSpecArb, { maxLength: 5 }),
        fc.boolean(),
        async (input, links, observed) => {
          const c = buildChain(links, observed ? [observer] : [])
          const runs = []
          for (const options of variants) runs.push(await c.run(structuredClone(input), options))
          const expected = model(input, links)
          for (const run of runs) {
            expect(run.status).toBe('ok')
            expect(run.ctx).toStrictEqual(expected)
          }
        },
      ),
      RUNS,
    )
  })
})

// ---- c. structural sharing ----------------------------------------------------------------

/**
 * A link that changes only `ctx[target]`: editing inside it (or replacing it when it is a
 * primitive), either on the draft or by returning `{ ...ctx, [target]: edited copy }`.
 */
interface TargetedLinkSpec {
  readonly target: string
  readonly edits: readonly Edit[]
  readonly value: Value
  readonly spread: boolean
  readonly async: boolean
}

const targetedLinkArb: fc.Arbitrary<TargetedLinkSpec> = fc.record({
  target: keyArb,
  edits: editsArb,
  value: valueArb,
  spread: fc.nat(3).map((n) => n === 0),
  async: fc.boolean(),
})

function targetedLinkFn(spec: TargetedLinkSpec): LinkFn<Ctx> {
  const sync = (ctx: Ctx, base: Ctx): Ctx | undefined => {
    if (spec.spread) {
      const node = structuredClone(base[spec.target])
      if (!isContainer(node)) return { ...ctx, [spec.target]: structuredClone(spec.value) }
      applyEdits(node, spec.edits)
      return { ...ctx, [spec.target]: node }
    }
    const node = ctx[spec.target]
    if (isContainer(node)) applyEdits(node, spec.edits)
    else ctx[spec.target] = structuredClone(spec.value)
    return undefined
  }
  return spec.async
    ? async (ctx, io) => {
        await Promise.resolve()
        return sync(ctx as Ctx, io.base as Ctx)
      }
    : (ctx, io) => sync(ctx as Ctx, io.base as Ctx)
}

/** A ctx with several object-valued top-level keys (and maybe primitives). */
const sharedCtxArb: fc.Arbitrary<Ctx> = fc.dictionary(keyArb, fc.oneof(objectArb, objectArb, valueArb), { minKeys: 2 })

type LinkBoundary = TimelineEvent<Ctx> & { readonly type: 'link.start' | 'link.end' }

/** Each link's link.start and link.end events, taken straight from the timeline. */
function linkBoundaries(events: readonly TimelineEvent<Ctx>[]): [LinkBoundary, LinkBoundary][] {
  const pairs: [LinkBoundary, LinkBoundary][] = []
  let start: LinkBoundary | undefined
  for (const event of events) {
    if (event.type === 'link.start') start = event
    if (event.type === 'link.end') {
      expect(start?.link).toBe(event.link)
      pairs.push([start as LinkBoundary, event])
      start = undefined
    }
  }
  return pairs
}

/** Every subtree that is deep-equal at the same path in both states is the same object. */
function expectSharedWhereEqual(previous: unknown, next: unknown, path: string): void {
  if (!isContainer(previous) || !isContainer(next)) return
  if (Array.isArray(previous) !== Array.isArray(next)) return
  let equal = true
  try {
    expect(next).toStrictEqual(previous)
  } catch {
    equal = false
  }
  if (equal) {
    expect(next, `${path} is unchanged, so it should be the same object`).toBe(previous)
    return
  }
  for (const key of Object.keys(next)) {
    if (Object.hasOwn(previous, key)) {
      expectSharedWhereEqual((previous as Record<string, unknown>)[key], (next as Record<string, unknown>)[key], `${path}.${key}`)
    }
  }
}

/** A middleware that applies its edit scripts under its own key of mwctx, and nowhere else. */
interface MiddlewareSpec {
  readonly before: readonly Edit[]
  readonly after: readonly Edit[]
  readonly runHooks: boolean
  readonly level: 'chain' | 'link'
  readonly async: boolean
}

const middlewareSpecArb: fc.Arbitrary<MiddlewareSpec> = fc.record({
  before: editsArb,
  after: editsArb,
  runHooks: fc.boolean(),
  level: fc.constantFrom('chain', 'link'),
  async: fc.boolean(),
})

function editingMiddleware(name: string, spec: MiddlewareSpec): Middleware {
  const edit = (mwctx: Record<string, unknown>, edits: readonly Edit[]): void => {
    const own = (mwctx[name] ??= {}) as Container
    applyEdits(own, edits)
  }
  const hook = (edits: readonly Edit[]) =>
    spec.async
      ? async (e: { mwctx: Record<string, unknown> }) => {
          await Promise.resolve()
          edit(e.mwctx, edits)
        }
      : (e: { mwctx: Record<string, unknown> }) => edit(e.mwctx, edits)
  const mw: Middleware = { name, before: hook(spec.before), after: hook(spec.after) }
  // Run hooks belong to chain-level middleware: a link-level one with them is refused at build time.
  return spec.runHooks && spec.level === 'chain' ? { ...mw, runStart: hook(spec.before), runEnd: hook(spec.after) } : mw
}

describe('structural sharing', () => {
  it('keeps every top-level object a link did not touch identical from link.start to link.end', async () => {
    await fc.assert(
      fc.asyncProperty(sharedCtxArb, fc.array(targetedLinkArb, { minLength: 1, maxLength: 4 }), async (input, links) => {
        let c = chain<Ctx>('shared')
        links.forEach((spec, i) => {
          c = c.link(`l${i}`, targetedLinkFn(spec))
        })
        const run = await c.run(structuredClone(input))
        const pairs = linkBoundaries(run.timeline.events)
        expect(pairs).toHaveLength(links.length)
        pairs.forEach(([start, end], i) => {
          const target = (links[i] as TargetedLinkSpec).target
          const before = start.ctx as Ctx
          const after = end.ctx as Ctx
          for (const key of Object.keys(before)) {
            if (key === target || !isContainer(before[key])) continue
            expect(after[key], `link l${i} changed only '${target}', yet '${key}' is a new object`).toBe(before[key])
          }
        })
        // ...and so across the whole run: keys no link targeted are the input's own objects.
        const targeted = new Set(links.map((spec) => spec.target))
        const first = run.timeline.stateAt(0).ctx as Ctx
        for (const key of Object.keys(first)) {
          if (!targeted.has(key) && isContainer(first[key])) expect((run.ctx as Ctx)[key]).toBe(first[key])
        }
      }),
      RUNS,
    )
  })

  it('shares unchanged mwctx subtrees between consecutive middleware events', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(middlewareSpecArb, { minLength: 1, maxLength: 4 }),
        fc.array(linkSpecArb, { minLength: 1, maxLength: 3 }),
        async (specs, links) => {
          const middleware = specs.map((spec, i) => ({ spec, mw: editingMiddleware(`m${i}`, spec) }))
          const chainLevel = middleware.filter((m) => m.spec.level === 'chain').map((m) => m.mw)
          const linkLevel = middleware.filter((m) => m.spec.level === 'link').map((m) => m.mw)
          let c = chain<Ctx>('mw').use(...chainLevel)
          links.forEach((spec, i) => {
            c = c.link(`l${i}`, linkFn(spec), { use: linkLevel })
          })
          const run = await c.run({ a: { n: 1 } })
          const calls = run.timeline.filter({ type: ['middleware.before', 'middleware.after'] })
          expect(calls.length).toBeGreaterThan(0)
          for (let i = 1; i < calls.length; i++) {
            const previous = calls[i - 1] as TimelineEvent<Ctx> & { type: 'middleware.before' | 'middleware.after' }
            const next = calls[i] as TimelineEvent<Ctx> & { type: 'middleware.before' | 'middleware.after' }
            const before = previous.mwctx as Record<string, unknown>
            const after = next.mwctx as Record<string, unknown>
            // Only the middleware of `next` ran in between, and it writes under its own name.
            for (const key of Object.keys(before)) {
              if (key !== next.middleware.name && isContainer(before[key])) {
                expect(after[key], `${next.middleware.name} left mwctx.${key} alone`).toBe(before[key])
              }
            }
            expectSharedWhereEqual(before, after, 'mwctx')
          }
        },
      ),
      RUNS,
    )
  })
})

// ---- d. tracing ---------------------------------------------------------------------------

/** A middleware of a random traced chain: which hooks it has, sync or async, and whether it throws. */
interface TracedMiddlewareSpec {
  readonly level: 'chain' | 'link'
  readonly before: boolean
  readonly after: boolean
  readonly runHooks: boolean
  readonly async: boolean
  readonly throws: boolean
  readonly metric: Value
  /** Its around hook, if any: well-behaved (sync or async) or faulty in each way but hanging. */
  readonly around: 'none' | 'sync' | 'async' | 'throws' | 'skips' | 'twice' | 'rejects-after'
}

const tracedMiddlewareArb: fc.Arbitrary<TracedMiddlewareSpec> = fc.record({
  level: fc.constantFrom('chain', 'link'),
  before: fc.boolean(),
  after: fc.boolean(),
  runHooks: fc.boolean(),
  async: fc.boolean(),
  throws: fc.nat(4).map((n) => n === 0),
  metric: fc.oneof(primitiveArb, fc.constant({ nested: 1 })),
  around: fc.constantFrom('none', 'none', 'sync', 'async', 'throws', 'skips', 'twice', 'rejects-after'),
})

/** An around hook of the given kind (DESIGN §9); every kind leaves the link run exactly once. */
function aroundHook(name: string, kind: Exclude<TracedMiddlewareSpec['around'], 'none'>): NonNullable<Middleware['around']> {
  switch (kind) {
    case 'sync':
      return (e, next) => ((e.metrics[`${name}-around`] = 1), next())
    case 'async':
      return async (_e, next) => { await Promise.resolve(); await next() }
    case 'throws':
      return () => { throw new Error(`${name} around broke`) }
    case 'skips':
      return async () => {}
    case 'twice':
      return async (_e, next) => { await next(); await next() }
    case 'rejects-after':
      return async (_e, next) => { await next(); throw new Error(`${name} around broke late`) }
  }
}

function tracedMiddleware(name: string, spec: TracedMiddlewareSpec): Middleware {
  const act = (write: () => void): (() => void | Promise<void>) => (spec.async ? async () => { await Promise.resolve(); write() } : write)
  const fail = () => {
    if (spec.throws) throw new Error(`${name} broke`)
  }
  const runHooks = spec.runHooks && spec.level === 'chain'
  return {
    name,
    ...(spec.before && { before: (e: BeforeEvent<unknown>) => act(() => { e.metrics[name] = spec.metric; fail() })() }),
    ...(spec.after && { after: (e: AfterEvent<unknown>) => act(() => { e.mwctx[name] = e.link.index; fail() })() }),
    ...(runHooks && { runStart: () => act(fail)(), runEnd: () => act(fail)() }),
    ...(spec.around !== 'none' && { around: aroundHook(name, spec.around) }),
  }
}

/**
 * A chain nested into a random traced chain (DESIGN §9): as link `at` or, when that link is the
 * parallel step, as one more branch of it; its links edit the ctx, one may fail, its first
 * `fails` calls fail (so a retried link makes several child runs), and it may nest a chain itself.
 */
interface NestedSpec {
  readonly at: number
  readonly links: readonly LinkSpec[]
  readonly failAt: number | null
  readonly fails: number
  readonly deep: boolean
  /** The random chain's chain-level middleware are the nested chain's too. */
  readonly middleware: boolean
}

const nestedSpecArb: fc.Arbitrary<NestedSpec> = fc.record({
  at: fc.nat(4),
  links: fc.array(linkSpecArb, { minLength: 1, maxLength: 2 }),
  failAt: fc.option(fc.nat(3)),
  fails: fc.nat(3).map((n) => (n === 3 ? 0 : n)),
  deep: fc.boolean(),
  middleware: fc.boolean(),
})

/** The chain a {@link NestedSpec} describes, and how to reset its count of calls between runs. */
function nestedChain(spec: NestedSpec, middleware: readonly Middleware[]): { readonly chain: Chain<Ctx>; reset(): void } {
  let calls = 0
  let c = chain<Ctx>('inner').use(...(spec.middleware ? middleware : []))
  spec.links.forEach((link, j) => {
    const fn = linkFn(link)
    c = c.link(`n${j}`, (ctx, io) => {
      if (j === 0 && ++calls <= spec.fails) throw new Error(`inner call ${calls} failed`)
      if (j === spec.failAt) throw new Error(`n${j} failed`)
      return fn(ctx, io)
    })
  })
  if (spec.deep) c = c.link('n-deep', chain<Ctx>('innermost').link('d0', linkFn({ edits: spec.links[0]?.edits ?? [], replace: false, async: true })))
  return { chain: c, reset: () => void (calls = 0) }
}

/** A run and, recursively, the runs of its nested chains. */
function withNested(run: Run<unknown>): Run<unknown>[] {
  return [run, ...[...run.timeline.nested.values()].flatMap((child) => withNested(child as Run<unknown>))]
}

describe('tracing', () => {
  it('live and exportRun give the same spans, to the nanosecond, for any chain, middleware (around hooks, faulty ones included), failure, skip (when), stop, retries, parallel steps and nested chains', async () => {
    const { exporter, tracer } = memoryTracer('properties')
    await fc.assert(
      fc.asyncProperty(
        fc.array(linkSpecArb, { maxLength: 4 }),
        fc.array(tracedMiddlewareArb, { maxLength: 3 }),
        fc.option(fc.nat(4)),
        fc.boolean(),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.option(fc.nat(4)),
        // Per link: how many attempts it has (1: no retry) and how many of its first attempts fail.
        fc.array(fc.record({ attempts: fc.integer({ min: 1, max: 3 }), fails: fc.nat(3) }), { minLength: 4, maxLength: 4 }),
        // One link may be a parallel step instead: its branches (sync or async, some failing).
        fc.option(fc.nat(4)),
        fc.array(fc.record({ key: keyArb, async: fc.boolean(), throws: fc.nat(4).map((n) => n === 0) }), { minLength: 1, maxLength: 3 }),
        fc.constantFrom('strict' as const, 'ordered' as const),
        // One link (or a branch of the parallel step) may be a nested chain.
        fc.option(nestedSpecArb, { freq: 2 }),
        async (links, specs, failAt, fork, skip, stopAt, retries, parallelAt, branchSpecs, merge, nestedSpec) => {
          exporter.reset()
          const all = specs.map((spec, i) => ({ spec, mw: tracedMiddleware(`m${i}`, spec) }))
          const chainLevel = all.filter((m) => m.spec.level === 'chain').map((m) => m.mw)
          let c = chain<Ctx>('traced').use(...chainLevel)
          const linkLevel = all.filter((m) => m.spec.level === 'link').map((m) => m.mw)
          const nested = nestedSpec === null ? undefined : nestedChain(nestedSpec, chainLevel)
          links.forEach((spec, i) => {
            const fn = linkFn(spec)
            const stopping: LinkFn<Ctx> = (ctx, io) => {
              io.stop(`stop at l${i}`)
              return fn(ctx, io)
            }
            const base = i === failAt ? () => { throw new Error(`l${i} failed`) } : i === stopAt ? stopping : fn
            const { attempts, fails } = retries[i] as { attempts: number; fails: number }
            // Deterministic failures (by attempt number), never timers: the draft is written first.
            const flaky: LinkFn<Ctx> = (ctx, io) => {
              if (io.attempt <= fails) {
                ctx['flaky'] = io.attempt
                throw new Error(`l${i} attempt ${io.attempt}`)
              }
              return base(ctx, io)
            }
            if (i === parallelAt) {
              const branches = Object.fromEntries(
                branchSpecs.map((b, j) => {
                  const write = (ctx: Ctx): void => {
                    if (b.throws) throw new Error(`l${i} branch b${j} failed`)
                    ctx[b.key] = j
                  }
                  const branch: LinkFn<Ctx> = b.async ? async (ctx) => { await Promise.resolve(); write(ctx as Ctx) } : (ctx) => write(ctx as Ctx)
                  return [`b${j}`, branch]
                }),
              )
              c = c.parallel(`l${i}`, nested !== undefined && nestedSpec?.at === i ? { ...branches, nested: nested.chain } : branches, { use: linkLevel, when: () => !skip[i], merge })
              return
            }
            if (nested !== undefined && nestedSpec?.at === i) {
              c = c.link(`l${i}`, nested.chain, { use: linkLevel, when: () => !skip[i], ...(attempts > 1 && { retry: { attempts } }) })
              return
            }
            c = c.link(`l${i}`, flaky, { use: linkLevel, when: () => !skip[i], ...(attempts > 1 && { retry: { attempts } }) })
          })
          const settle = (p: Promise<Run<Ctx>>) => p.catch((e: ChainRunError<Ctx>) => e.run)
          nested?.reset()
          const parent = await settle(c.run({ a: { n: 1 } }))
          nested?.reset()
          const run = fork && parent.timeline.links().length > 0 ? await settle(parent.fork({ at: 'l0', tracer })) : await settle(c.run({ a: { n: 1 } }, { tracer }))
          const live = exporter.getFinishedSpans()
          exporter.reset()
          exportRun(run, { tracer, force: true })
          const post = exporter.getFinishedSpans()
          // The same trees: names, parents (a nested run's span under its link's or branch's),
          // attributes, events with their attributes and times, statuses, and times.
          expect(spanTree(post)).toEqual(spanTree(live))
          // Every nested run has its run span, under the span of the link or branch that ran it.
          const runs = fork ? [run as Run<unknown>] : withNested(run as Run<unknown>)
          const runSpans = live.filter((span) => span.name.startsWith('chain '))
          if (!fork) expect(runSpans.map((span) => span.attributes['shadowchain.run.id']).sort()).toEqual(runs.map((r) => r.id).sort())
          const attemptEvents = (spans: typeof live) => spans.flatMap((span) => span.events.filter((e) => e.name === 'link.attempt').map((e) => [span.name, e.attributes, e.time]))
          expect(attemptEvents(post)).toEqual(attemptEvents(live))
          // Around calls are span events like every other middleware call, with the same attributes.
          const middlewareEvents = (spans: typeof live) =>
            spans.flatMap((span) => span.events.filter((e) => e.name.startsWith('middleware')).map((e) => [span.name, e.name, e.attributes, e.time]))
          expect(middlewareEvents(post)).toEqual(middlewareEvents(live))
          // Every branch is a span under its step's span, live and exported alike.
          const branchSpans = (spans: typeof live) => spans.filter((span) => span.name.startsWith('branch ')).map((span) => [span.name, span.attributes, span.status.code, span.startTime, span.endTime])
          expect(branchSpans(post)).toEqual(branchSpans(live))
          if (!fork) expect(branchSpans(live)).toHaveLength(run.timeline.filter({ type: 'branch.start' }).length)
          const arounds = runs.reduce((n, r) => n + r.timeline.filter((e) => 'middleware' in e && e.middleware.position.endsWith('-around')).length, 0)
          // (A fork's events before its cut are the parent's, not traced again.)
          if (!fork) {
            const aroundSpanEvents = middlewareEvents(live).filter(([, , attributes]) => String((attributes as Record<string, unknown>)['shadowchain.middleware.position']).endsWith('-around'))
            expect(aroundSpanEvents).toHaveLength(arounds)
          }
        },
      ),
      RUNS,
    )
  })
})
