// Nested chains (DESIGN §9): a chain as a link or a branch runs as a full child run, recorded,
// replayed, forked and typed from C.
import { AsyncLocalStorage } from 'node:async_hooks'
import { applyPatches, type Patch } from 'immer'
import { describe, expect, it } from 'vitest'
import { ChainRunError, chain, compareRuns, type Middleware, type Run } from '../src/index.js'
import { steppingClock } from './helpers.js'

interface Order {
  customer: string
  total: number
  points?: number
  notes: string[]
}
interface Loyalty {
  member: string
  spent: number
  points: number
}
const order = (total = 120): Order => ({ customer: 'ada', total, notes: [] })

const loyalty = () =>
  chain<Order>('loyalty')
    .link('earn', (ctx) => void (ctx.points = Math.floor(ctx.total / 10)))
    .link('note', (ctx) => void ctx.notes.push('loyal'))

const checkout = (child = loyalty()) =>
  chain<Order>('checkout', { clock: steppingClock() })
    .link('price', (ctx) => void (ctx.total += 1))
    .link('loyalty', child)
    .link('done', (ctx) => void ctx.notes.push('done'))

/** The error a run rejected with (a run that succeeds fails the test). */
async function failure<C>(pending: Promise<Run<C>>): Promise<ChainRunError<C>> {
  try {
    await pending
  } catch (error) {
    if (error instanceof ChainRunError) return error as ChainRunError<C>
    throw error
  }
  throw new Error('the run succeeded')
}

/** The child run a link of `run` made. */
function childOf(run: Run<unknown>, link: string): Run<unknown> {
  const child = run.timeline.links().find((l) => l.name === link)?.child
  if (child === undefined) throw new Error(`no child run at link '${link}'`)
  return child
}

describe('a nested chain of the same ctx type', () => {
  it('is a full child run, named by the link, whose changes are the link\'s patches', async () => {
    const run = await checkout().run(order())
    expect(run.ctx).toEqual({ customer: 'ada', total: 121, points: 12, notes: ['loyal', 'done'] })
    const record = run.timeline.links()[1]!
    const child = childOf(run as Run<unknown>, 'loyalty')
    expect(child.chainName).toBe('loyalty')
    expect(child.id).not.toBe(run.id)
    expect(child.status).toBe('ok')
    expect(child.timeline.links().map((l) => l.name)).toEqual(['earn', 'note'])
    // The child started from the ctx the link received (the same frozen object) ...
    expect(child.input).toBe(record.before)
    // ... and its result is recorded as fine-grained patches, not one replacement of ctx.
    expect(record.patches).toHaveLength(2)
    expect(record.patches).toEqual(expect.arrayContaining([
      { op: 'add', path: ['points'], value: 12 },
      { op: 'add', path: ['notes', 0], value: 'loyal' },
    ]))
    const end = run.timeline.at(record.endSeq)!
    expect(end).toMatchObject({ type: 'link.end', child: child.id })
    expect(run.timeline.child(child.id)).toBe(child)
    expect([...run.timeline.nested.keys()]).toEqual([child.id])
    // Structural sharing across the boundary: the child's final ctx is the parent's after the link.
    expect(record.after).toEqual(child.ctx)
    expect(record.after.customer).toBe(child.ctx && (child.ctx as Order).customer)
    // stateAt is exact at every event of both runs: each link's patches lead from its input to its result.
    for (const r of [run as Run<unknown>, child]) {
      for (const link of r.timeline.links()) {
        expect(applyPatches(r.timeline.stateAt(link.startSeq).ctx as object, link.patches as Patch[])).toEqual(r.timeline.stateAt(link.endSeq).ctx)
      }
    }
  })

  it('runs with the parent run\'s options: its clock, capture level and signal', async () => {
    const run = await checkout().run(order(), { capture: 'writes' })
    const child = childOf(run as Run<unknown>, 'loyalty')
    // The stepping clock of the parent's chain options: one clock, one time line.
    expect(child.startedAt > run.startedAt && child.endedAt < run.endedAt).toBe(true)
    expect(child.timeline.filter({ type: 'ctx.write' }).map((e) => (e as { path: unknown }).path)).toEqual([['points'], ['notes']])
    // The nested link's own writes are captured too (what the child's result wrote into the draft).
    expect(run.timeline.filter({ type: 'ctx.write', link: 'loyalty' }).length).toBeGreaterThan(0)
    const off = await checkout().run(order(), { capture: 'off' })
    expect(off.ctx.points).toBe(12)
    expect(off.timeline.nested.size).toBe(0)
  })

  it('nests a child that itself nests a chain', async () => {
    const inner = chain<Order>('inner').link('deep', (ctx) => void ctx.notes.push('deep'))
    const middle = chain<Order>('middle').link('inner', inner).link('after', (ctx) => void ctx.notes.push('middle'))
    const run = await checkout(middle).run(order())
    expect(run.ctx.notes).toEqual(['deep', 'middle', 'done'])
    const grandchild = childOf(childOf(run as Run<unknown>, 'loyalty'), 'inner')
    expect(grandchild.chainName).toBe('inner')
    expect(grandchild.timeline.links()[0]!.patches).toEqual([{ op: 'add', path: ['notes', 0], value: 'deep' }])
  })

  it('lets a child stop itself early without stopping its parent', async () => {
    const stopping = chain<Order>('stopping')
      .link('first', (ctx, io) => {
        ctx.notes.push('first')
        io.stop('enough')
      })
      .link('second', (ctx) => void ctx.notes.push('second'))
    const run = await checkout(stopping).run(order())
    expect(run.ctx.notes).toEqual(['first', 'done'])
    expect(run.stoppedBy).toBeUndefined()
    expect(childOf(run as Run<unknown>, 'loyalty').stoppedBy?.name).toBe('first')
  })

  it('works as a parallel branch, recorded on the branch', async () => {
    const c = chain<Order>('quote').parallel('quote', { loyalty: loyalty(), tax: (ctx) => void (ctx.total += 5) })
    const run = await c.run(order(100))
    expect(run.ctx).toMatchObject({ total: 105, points: 10, notes: ['loyal'] })
    const branch = run.timeline.links()[0]!.branches!.find((b) => b.name === 'loyalty')!
    expect(branch.child?.chainName).toBe('loyalty')
    expect(run.timeline.filter({ type: 'branch.end' }).find((e) => (e as { branch: string }).branch === 'loyalty')).toMatchObject({ child: branch.child!.id })
  })
})

describe('a nested chain of another ctx type', () => {
  const points = chain<Loyalty>('points').link('earn', (ctx) => void (ctx.points = Math.floor(ctx.spent / 10)))

  it('starts from input() and writes back through output()', async () => {
    const c = chain<Order>('checkout').link('loyalty', points, {
      input: (o) => ({ member: o.customer, spent: o.total, points: 0 }),
      output: (draft, result) => void (draft.points = result.points),
    })
    const run = await c.run(order(250))
    expect(run.ctx.points).toBe(25)
    const child = childOf(run as Run<unknown>, 'loyalty')
    expect(child.input).toEqual({ member: 'ada', spent: 250, points: 0 })
    expect(child.ctx).toEqual({ member: 'ada', spent: 250, points: 25 })
    expect(run.timeline.links()[0]!.patches).toEqual([{ op: 'add', path: ['points'], value: 25 }])
  })

  it('changes nothing without output(), and still records the child', async () => {
    const c = chain<Order>('checkout').link('loyalty', points, { input: (o) => ({ member: o.customer, spent: o.total, points: 0 }) })
    const run = await c.run(order(250))
    expect(run.ctx).toEqual(order(250))
    expect(run.timeline.links()[0]!.patches).toEqual([])
    expect(childOf(run as Run<unknown>, 'loyalty').ctx).toMatchObject({ points: 25 })
  })

  it('fails the link when input() or output() throws, or output() returns a value', async () => {
    const throwsIn = chain<Order>('c').link('l', points, { input: () => { throw new Error('no input') } })
    await expect(throwsIn.run(order())).rejects.toMatchObject({ code: 'LINK_FAILED', message: expect.stringContaining('no input') })
    const throwsOut = chain<Order>('c').link('l', points, { input: (o) => ({ member: o.customer, spent: 1, points: 0 }), output: () => { throw new Error('no output') } })
    const failed = await throwsOut.run(order()).catch((e: ChainRunError<Order>) => e)
    expect(failed).toBeInstanceOf(ChainRunError)
    expect((failed as ChainRunError<Order>).message).toContain('no output')
    // The child ran and is recorded, though the link failed.
    expect((failed as ChainRunError<Order>).run.timeline.links()[0]!.child?.status).toBe('ok')
    const returns = chain<Order>('c').link('l', points, { input: (o) => ({ member: o.customer, spent: 1, points: 0 }), output: (() => 1) as never })
    await expect(returns.run(order())).rejects.toThrow("link 'l': its output() returned a value")
  })
})

describe('a failing child', () => {
  it('fails the link with the child\'s ChainRunError as the cause, and records both runs', async () => {
    const failing = chain<Order>('card').link('charge', () => { throw new Error('card declined') })
    const error = await failure(checkout(failing).run(order()))
    expect(error.code).toBe('LINK_FAILED')
    expect(error.link?.name).toBe('loyalty')
    expect(error.message).toBe("link 'loyalty' (#1) of chain 'checkout' failed: link 'charge' (#0) of chain 'card' failed: card declined")
    expect(error.cause).toBeInstanceOf(ChainRunError)
    const cause = error.cause as ChainRunError<Order>
    expect(cause.link?.name).toBe('charge')
    const child = childOf(error.run as Run<unknown>, 'loyalty')
    expect(cause.run).toBe(child)
    expect(child.status).toBe('error')
    expect(error.run.timeline.filter({ type: 'link.error' })[0]).toMatchObject({ child: child.id })
  })

  it('retries: each attempt is a child run of its own, named by its link.attempt', async () => {
    let calls = 0
    const flaky = chain<Order>('flaky').link('call', (ctx) => {
      calls++
      if (calls === 1) throw new Error('first fails')
      ctx.notes.push('called')
    })
    const c = chain<Order>('c').link('flaky', flaky, { retry: { attempts: 3 } })
    const run = await c.run(order())
    const record = run.timeline.links()[0]!
    expect(record.attempts).toBe(2)
    const attempt = run.timeline.filter({ type: 'link.attempt' })[0] as { child?: string }
    const first = run.timeline.child(attempt.child!)!
    expect(first.status).toBe('error')
    expect(record.child?.status).toBe('ok')
    expect(record.child?.id).not.toBe(first.id)
    expect(run.timeline.nested.size).toBe(2)
  })

  it('times out: the child is aborted through the link\'s signal and the run fails with TIMEOUT', async () => {
    // Never settles: only the signal ends its wait (a link that settles as the signal aborts
    // counts as settled, by design: see settle.ts).
    const slow = chain<Order>('slow').link('wait', () => new Promise<void>(() => {}))
    const error = await failure(chain<Order>('c').link('slow', slow, { timeoutMs: 20 }).run(order()))
    expect(error.code).toBe('TIMEOUT')
    // The runner stopped waiting at the deadline; the child saw its signal abort and ended aborted.
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(slow.lastRun?.status).toBe('aborted')
  })

  it('aborts the child when the parent run is aborted', async () => {
    const controller = new AbortController()
    const slow = chain<Order>('slow').link('wait', () => new Promise<void>(() => {}))
    const pending = failure(chain<Order>('c').link('slow', slow).run(order(), { signal: controller.signal }))
    setTimeout(() => controller.abort(new Error('client left')), 10)
    const error = await pending
    expect(error.code).toBe('ABORTED')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(slow.lastRun?.status).toBe('aborted')
  })
})

describe('middleware around a nested link', () => {
  it('runs once around the whole child, and the child runs inside the around hook\'s async context', async () => {
    const als = new AsyncLocalStorage<string>()
    const seen: string[] = []
    const log: string[] = []
    const mw: Middleware<Order> = {
      name: 'ctx',
      before: (e) => void log.push(`before ${e.link.name}`),
      around: (_e, next) => als.run('request-7', next),
      after: (e) => void log.push(`after ${e.link.name}`),
    }
    const inner = chain<Order>('inner').link('look', () => void seen.push(als.getStore() ?? 'none'))
    const run = await chain<Order>('c').link('inner', inner).use(mw).run(order())
    expect(seen).toEqual(['request-7'])
    expect(log).toEqual(['before inner', 'after inner'])
    // The parent's middleware does not reach into the child's links.
    expect(childOf(run as Run<unknown>, 'inner').timeline.filter({ type: 'middleware.before' })).toEqual([])
  })
})

describe('replay and fork of nested runs', () => {
  const drawing = () =>
    chain<Order>('draw')
      .link('luck', (ctx, io) => void (ctx.points = Math.round(io.random() * 1_000)))
      .link('stamp', (ctx, io) => void ctx.notes.push(String(io.now())))

  it('replays a run with nested chains identically, each child against its recorded child', async () => {
    const run = await checkout(drawing()).run(order())
    const { identical, run: again, divergence } = await run.replay()
    expect(divergence).toBeUndefined()
    expect(identical).toBe(true)
    expect(again.ctx).toEqual(run.ctx)
    const child = childOf(again as Run<unknown>, 'loyalty')
    expect(child.replayOf?.runId).toBe(childOf(run as Run<unknown>, 'loyalty').id)
    expect(compareRuns(childOf(run as Run<unknown>, 'loyalty'), child)).toBeUndefined()
  })

  it('reports a divergence inside the child at the parent link, with the child\'s divergence', async () => {
    const run = await checkout().run(order())
    // Same result for the parent link, but the child's links differ: a 'child' divergence.
    const reordered = chain<Order>('loyalty')
      .link('earn', (ctx) => {
        ctx.points = Math.floor(ctx.total / 10)
        ctx.notes.push('loyal')
      })
      .link('note', () => {})
    const same = await run.replay({ chain: checkout(reordered) })
    expect(same.identical).toBe(false)
    expect(same.divergence).toMatchObject({ reason: 'child', link: { name: 'loyalty' }, child: { reason: 'patches', link: { name: 'earn' } } })
    // A different result: 'patches' at the parent link, with where the child differs.
    const changed = chain<Order>('loyalty').link('earn', (ctx) => void (ctx.points = 1)).link('note', (ctx) => void ctx.notes.push('loyal'))
    const other = await run.replay({ chain: checkout(changed) })
    expect(other.divergence).toMatchObject({ reason: 'patches', link: { name: 'loyalty' }, child: { reason: 'patches', link: { name: 'earn' } } })
  })

  it('plays back a stubbed nested link\'s recorded patches without running the child', async () => {
    const run = await checkout().run(order())
    let ran = 0
    const counting = chain<Order>('loyalty').link('earn', () => void ran++)
    const replay = await run.replay({ chain: checkout(counting), stub: ['loyalty'] })
    expect(ran).toBe(0)
    expect(replay.identical).toBe(true)
    expect(replay.run.ctx).toEqual(run.ctx)
    expect(replay.run.timeline.nested.size).toBe(0)
  })

  it('forks after a nested link (its child still reachable) or before it (a new child run)', async () => {
    const run = await checkout().run(order())
    const recordedChild = childOf(run as Run<unknown>, 'loyalty')
    const after = await run.fork({ at: 'loyalty', edit: (ctx) => void (ctx.total = 0) })
    expect(after.timeline.links().find((l) => l.name === 'loyalty')?.child).toBe(recordedChild)
    const before = await run.fork({ at: 'price', edit: (ctx) => void (ctx.total = 500) })
    const rerun = childOf(before as Run<unknown>, 'loyalty')
    expect(rerun.id).not.toBe(recordedChild.id)
    expect(before.ctx.points).toBe(50)
  })
})

describe('bad configuration', () => {
  it('is a TypeError at build time that says what and where', () => {
    const c = chain<Order>('checkout')
    expect(() => c.link('self', c)).toThrow("chain 'checkout': link 'self': a chain cannot be nested into itself")
    expect(() => c.link('x', loyalty(), { input: 3 } as never)).toThrow("chain 'checkout': link 'x': options.input must be a function, got number")
    expect(() => c.link('x', loyalty(), { output: () => {} } as never)).toThrow("chain 'checkout': link 'x': options.output needs options.input")
    expect(() => c.link('x', (ctx) => void ctx, { input: (o: unknown) => o } as never)).toThrow(/link 'x' options.*input/)
    expect(() => c.parallel('p', { self: c })).toThrow("a chain cannot be nested into itself")
  })
})
