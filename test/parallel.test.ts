import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, type BranchEndTimelineEvent, type Middleware } from '../src/index.js'
import { outline, steppingClock } from './helpers.js'

interface Order {
  subtotal: number
  tax?: number
  shipping?: number
  fraud?: { score: number }
  notes: string[]
}
const order = (): Order => ({ subtotal: 100, notes: [] })

const rejectedWith = async (promise: Promise<unknown>): Promise<ChainRunError<Order>> => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(ChainRunError)
  return error as ChainRunError<Order>
}

/** A promise and the function that resolves it: a branch that waits for the test. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = (): void => {}
  const promise = new Promise<void>((resolve) => {
    open = resolve
  })
  return { promise, open }
}

describe('parallel steps (DESIGN §9)', () => {
  it('runs every branch on its own draft of the same ctx and merges their patches in declaration order', async () => {
    const seen: unknown[] = []
    const run = await chain<Order>('p', { clock: steppingClock() })
      .parallel('quote', {
        tax: (ctx, io) => {
          seen.push([io.branch, ctx.shipping])
          ctx.tax = ctx.subtotal * 0.2
        },
        shipping: (ctx, io) => {
          // Its own draft: the tax branch's write is not visible here.
          seen.push([io.branch, ctx.tax])
          ctx.shipping = 7
        },
      })
      .link('total', (ctx) => void ctx.notes.push(`total ${ctx.subtotal + (ctx.tax ?? 0) + (ctx.shipping ?? 0)}`))
      .run(order())
    expect(seen).toEqual([['tax', undefined], ['shipping', undefined]])
    expect(run.ctx).toEqual({ subtotal: 100, tax: 20, shipping: 7, notes: ['total 127'] })
    expect(outline(run.timeline.events)).toEqual([
      'run.start',
      'link.start quote',
      'branch.start quote',
      'branch.end quote',
      'branch.start quote',
      'branch.end quote',
      'link.end quote',
      'link.start total',
      'link.end total',
      'run.end',
    ])
    const end = run.timeline.filter({ type: 'link.end', link: 'quote' })[0]
    expect(end?.type === 'link.end' && end.patches).toEqual([
      { op: 'add', path: ['tax'], value: 20 },
      { op: 'add', path: ['shipping'], value: 7 },
    ])
  })

  it('runs async branches concurrently: every branch starts before any settles', async () => {
    const log: string[] = []
    const gates = { a: gate(), b: gate() }
    const running = chain<Order>('p')
      .parallel('both', {
        a: async (ctx) => {
          log.push('a start')
          await gates.a.promise
          ctx.tax = 1
          log.push('a end')
        },
        b: async (ctx) => {
          log.push('b start')
          await gates.b.promise
          ctx.shipping = 2
          log.push('b end')
        },
      })
      .run(order())
    await Promise.resolve()
    expect(log).toEqual(['a start', 'b start'])
    gates.b.open()
    await new Promise((r) => setImmediate(r))
    gates.a.open()
    const run = await running
    expect(log).toEqual(['a start', 'b start', 'b end', 'a end'])
    expect(run.ctx).toMatchObject({ tax: 1, shipping: 2 })
    // Branch events are in the order things happened; the merge keeps declaration order.
    expect(run.timeline.filter({ type: ['branch.start', 'branch.end'] }).map((e) => `${e.type} ${(e as BranchEndTimelineEvent).branch}`)).toEqual([
      'branch.start a',
      'branch.start b',
      'branch.end b',
      'branch.end a',
    ])
    const end = run.timeline.filter({ type: 'link.end' })[0]
    expect(end?.type === 'link.end' && end.patches.map((p) => p.path[0])).toEqual(['tax', 'shipping'])
  })

  it("merge 'strict' (default): two branches writing the same path fail the step with CONFLICT, naming the path and both branches", async () => {
    const error = await rejectedWith(
      chain<Order>('p')
        .parallel('quote', { first: (ctx) => void (ctx.tax = 1), second: (ctx) => void (ctx.tax = 2) })
        .run(order()),
    )
    expect(error.code).toBe('CONFLICT')
    expect(error.link?.name).toBe('quote')
    expect(error.message).toContain('ctx.tax')
    expect(error.message).toContain("'first'")
    expect(error.message).toContain("'second'")
    // Both branches settled and were recorded; the step failed, ctx is unchanged.
    expect(outline(error.run.timeline.events)).toEqual(['run.start', 'link.start quote', 'branch.start quote', 'branch.end quote', 'branch.start quote', 'branch.end quote', 'link.error quote', 'run.end'])
    expect(error.run.ctx).toEqual(order())
  })

  it("merge 'strict': a path inside another branch's path conflicts, either way round; disjoint paths do not", async () => {
    const inside = await rejectedWith(
      chain<Order>('p')
        .parallel('s', { a: (ctx) => void ctx.notes.push('a'), b: (ctx) => void ctx.notes.push('b') })
        .run(order()),
    )
    // Two pushes onto the same array write the same index.
    expect(inside.code).toBe('CONFLICT')
    expect(inside.message).toContain('ctx.notes[0]')
    const nested = await rejectedWith(
      chain<Order>('p')
        .parallel('s', { deep: (ctx) => void ((ctx.fraud as { score: number }).score = 5), whole: (ctx) => void (ctx.fraud = { score: 1 }) })
        .run({ ...order(), fraud: { score: 0 } }),
    )
    expect(nested.code).toBe('CONFLICT')
    expect(nested.message).toContain('ctx.fraud')
    expect(nested.message).toContain("'deep' and 'whole'")
    const reversed = await rejectedWith(
      chain<Order>('p')
        .parallel('s', { whole: (ctx) => void (ctx.fraud = { score: 1 }), deep: (ctx) => void ((ctx.fraud as { score: number }).score = 5) })
        .run({ ...order(), fraud: { score: 0 } }),
    )
    expect(reversed.code).toBe('CONFLICT')
    expect(reversed.message).toContain("'whole' and 'deep'")
    const run = await chain<Order>('p')
      .parallel('s', { a: (ctx) => void ctx.notes.push('a'), b: (ctx) => void (ctx.tax = 1) })
      .run(order())
    expect(run.ctx).toEqual({ ...order(), notes: ['a'], tax: 1 })
  })

  it("merge 'strict': a branch that returns a replacement conflicts with every other branch", async () => {
    const error = await rejectedWith(
      chain<Order>('p')
        .parallel('s', { a: () => {}, b: (ctx) => ({ ...ctx, tax: 3 }) })
        .run(order()),
    )
    expect(error.code).toBe('CONFLICT')
    expect(error.message).toContain("'a' and 'b'")
    // Alone, a replacement is the step's result.
    const run = await chain<Order>('p').parallel('s', { only: (ctx) => ({ ...ctx, tax: 3 }) }).run(order())
    expect(run.ctx).toEqual({ ...order(), tax: 3 })
  })

  it("merge 'ordered': later branches win, a replacement included", async () => {
    const run = await chain<Order>('p')
      .parallel('s', { a: (ctx) => void (ctx.tax = 1), b: (ctx) => void (ctx.tax = 2), c: (ctx) => void (ctx.shipping = 3) }, { merge: 'ordered' })
      .run(order())
    expect(run.ctx).toEqual({ ...order(), tax: 2, shipping: 3 })
    const replaced = await chain<Order>('p')
      .parallel('s', { a: (ctx) => void (ctx.tax = 1), b: (ctx) => ({ ...ctx, notes: ['new'] }), c: (ctx) => void (ctx.shipping = 3) }, { merge: 'ordered' })
      .run(order())
    expect(replaced.ctx).toEqual({ subtotal: 100, notes: ['new'], shipping: 3 })
  })

  it('a failed branch fails the step; the other branches still settle and are recorded', async () => {
    const late = gate()
    let settled = false
    const running = chain<Order>('p')
      .parallel('s', {
        slow: async (ctx) => {
          await late.promise
          ctx.tax = 1
          settled = true
        },
        broken: () => {
          throw new Error('no rate')
        },
      })
      .run(order())
    await new Promise((r) => setImmediate(r))
    expect(settled).toBe(false)
    late.open()
    const error = await rejectedWith(running)
    expect(settled).toBe(true)
    expect(error.code).toBe('LINK_FAILED')
    expect(error.message).toContain("branch 'broken' of parallel step 's'")
    expect((error.cause as Error).message).toBe('no rate')
    const [step] = error.run.timeline.links()
    expect(step?.status).toBe('error')
    expect(step?.branches?.map((b) => [b.name, b.status, b.patches.length])).toEqual([
      ['broken', 'error', 0],
      ['slow', 'ok', 1],
    ])
    expect((step?.branches?.[0]?.error as Error).message).toBe('no rate')
    expect(error.run.ctx).toEqual(order())
  })

  it('middleware wraps the whole step once; the after event sees the merged ctx', async () => {
    const log: string[] = []
    const mw: Middleware<Order> = {
      name: 'log',
      before: (e) => void log.push(`before ${e.link.name}`),
      after: (e) => void log.push(`after ${e.link.name} ${JSON.stringify(e.result)}`),
    }
    const run = await chain<Order>('p')
      .use(mw)
      .parallel('s', { a: (ctx) => void (ctx.tax = 1), b: (ctx) => void (ctx.shipping = 2) }, { use: [{ name: 'inner', before: () => void log.push('inner') }] })
      .run(order())
    expect(log).toEqual(['before s', 'inner', 'after s {"subtotal":100,"notes":[],"tax":1,"shipping":2}'])
    expect(outline(run.timeline.events)[1]).toBe('middleware.before log@chain-before#0 s')
  })

  it('timeline.links() gives the step its branches; stateAt between branches is the step input, at link.end the merge', async () => {
    const run = await chain<Order>('p', { clock: steppingClock() })
      .link('first', (ctx) => void ctx.notes.push('first'))
      .parallel('s', { a: (ctx) => void (ctx.tax = 1), b: (ctx) => void (ctx.shipping = 2) })
      .run(order())
    const step = run.timeline.links()[1]
    expect(step?.branches?.map((b) => ({ name: b.name, status: b.status, patches: b.patches }))).toEqual([
      { name: 'a', status: 'ok', patches: [{ op: 'add', path: ['tax'], value: 1 }] },
      { name: 'b', status: 'ok', patches: [{ op: 'add', path: ['shipping'], value: 2 }] },
    ])
    for (const branch of step?.branches ?? []) {
      expect(branch.startSeq).toBeGreaterThan(step?.startSeq ?? Infinity)
      expect(branch.endSeq).toBeLessThan(step?.endSeq ?? -1)
      expect(branch.durationNs).toBe(branch.end - branch.start)
      expect(run.timeline.stateAt(branch.endSeq).ctx).toEqual({ subtotal: 100, notes: ['first'] })
    }
    expect(run.timeline.stateAt(step?.endSeq ?? -1).ctx).toEqual({ subtotal: 100, notes: ['first'], tax: 1, shipping: 2 })
    expect(run.timeline.links()[0]?.branches).toBeUndefined()
  })

  it('io.stop() in a branch stops the run after the step; a branch io has its own name, the step link and the run', async () => {
    const names: string[] = []
    const run = await chain<Order>('p')
      .parallel('s', {
        a: (_ctx, io) => {
          names.push(`${io.branch}:${io.link.name}:${io.run.chainName}`)
          io.stop('enough')
        },
        b: (ctx, io) => {
          names.push(`${io.branch}:${io.link.name}:${io.run.chainName}`)
          ctx.tax = 1
        },
      })
      .link('never', (ctx) => void ctx.notes.push('x'))
      .run(order())
    expect(names).toEqual(['a:s:p', 'b:s:p'])
    expect(run.stoppedBy?.name).toBe('s')
    expect(run.stopReason).toBe('enough')
    expect(run.ctx).toEqual({ ...order(), tax: 1 })
  })

  it('an abort while a branch waits ends the run aborted', async () => {
    const controller = new AbortController()
    const running = chain<Order>('p')
      .parallel('s', { wait: () => new Promise<void>(() => {}), quick: (ctx) => void (ctx.tax = 1) })
      .run(order(), { signal: controller.signal })
    await new Promise((r) => setImmediate(r))
    controller.abort(new Error('user left'))
    const error = await rejectedWith(running)
    expect(error.code).toBe('ABORTED')
  })

  it('a branch that both modifies its draft and returns a new value fails the step, naming the branch', async () => {
    const error = await rejectedWith(
      chain<Order>('p')
        .parallel('s', {
          both: (ctx) => {
            ctx.tax = 1
            return { ...order(), tax: 2 }
          },
        })
        .run(order()),
    )
    expect(error.code).toBe('LINK_FAILED')
    expect(error.message).toContain("branch 'both' of parallel step 's'")
    expect((error.cause as Error).message).toMatch(/both modified its draft and returned a new value/)
  })

  it("an aborted branch's late writes never reach ctx: its draft is revoked", async () => {
    const controller = new AbortController()
    const late = gate()
    let lateWrite: unknown
    const running = chain<Order>('p')
      .parallel('s', {
        slow: async (ctx) => {
          await late.promise
          try {
            ctx.tax = 99
          } catch (error) {
            lateWrite = error
          }
        },
      })
      .run(order(), { signal: controller.signal })
    await new Promise((r) => setImmediate(r))
    controller.abort(new Error('user left'))
    const error = await rejectedWith(running)
    late.open()
    await new Promise((r) => setImmediate(r))
    expect(error.run.ctx).toEqual(order())
    expect(lateWrite).toBeInstanceOf(TypeError)
    expect(error.run.timeline.filter({ type: 'branch.error' })).toHaveLength(1)
  })

  it('a branch that leaves a cycle fails the step, naming the branch and the path; the run still exports', async () => {
    const error = await rejectedWith(
      chain<Order>('p')
        .parallel('s', {
          loop: (ctx) => {
            const node: { score: number; self?: unknown } = { score: 1 }
            node.self = node
            ctx.fraud = node
          },
          plain: (ctx) => void (ctx.tax = 1),
        })
        .run(order()),
    )
    expect(error.code).toBe('LINK_FAILED')
    expect(error.message).toContain("branch 'loop' of parallel step 's'")
    expect(error.message).toContain('ctx.fraud.self refers back to ctx.fraud')
    expect(error.run.toJSON().version).toBe(7)
  })

  it('bad configuration is a TypeError at build time', () => {
    const c = chain<Order>('p')
    expect(() => c.parallel('s', {})).toThrow(/at least one branch/)
    expect(() => c.parallel('s', { '': () => {} })).toThrow(/non-empty string/)
    expect(() => c.parallel('s', { a: 3 as never })).toThrow(/branch 'a' must be a function, got number/)
    expect(() => c.parallel('s', { a: () => {} }, { merge: 'last' as never })).toThrow(/merge must be 'strict' or 'ordered', got 'last'/)
    expect(() => c.parallel('s', null as never)).toThrow(/branches must be an object/)
    expect(() => c.parallel('s', [() => {}] as never)).toThrow(/an array/)
    expect(() => c.parallel('s', { a: () => {} }, { retry: { attempts: 2 } } as never)).toThrow(/retry/)
    expect(() => c.link('s', () => {}).parallel('s', { a: () => {} })).toThrow(/already exists/)
  })
})
