// Nested chains in OpenTelemetry (DESIGN §9): a child run's `chain <name>` span under the span of
// the link (or branch) that ran it, live and exported alike. These tests run without a context
// manager (the run of a nested chain starts synchronously inside its link call, which is how it
// finds its parent span then); the last block registers one.
import { context, SpanStatusCode, trace } from '@opentelemetry/api'
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, ChainRunError, type Run } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'
import { expectSameTree, memoryTracer, outline, spanTree, type SpanNode } from './otel-helpers.js'

interface Order {
  total: number
  points?: number
  notes: string[]
}
interface Loyalty {
  spent: number
  points: number
}
const order = (): Order => ({ total: 120, notes: [] })
const settle = <C>(pending: Promise<Run<C>>): Promise<Run<C>> => pending.catch((e: ChainRunError<C>) => e.run)

/** The child run a link of `run` made. */
function childOf(run: Run<unknown>, link: string): Run<unknown> {
  const child = run.timeline.links().find((l) => l.name === link)?.child
  if (child === undefined) throw new Error(`no child run at link '${link}'`)
  return child
}

/** The first span of the tree (depth first) with this name. */
function find(nodes: readonly SpanNode[], name: string): SpanNode {
  const found = search(nodes, name)
  if (found === undefined) throw new Error(`no span '${name}'`)
  return found
}
function search(nodes: readonly SpanNode[], name: string): SpanNode | undefined {
  for (const node of nodes) {
    const found = node.name === name ? node : search(node.children, name)
    if (found !== undefined) return found
  }
  return undefined
}

const earn = (async: boolean) =>
  chain<Order>('earn-points')
    .link('earn', async (ctx) => {
      if (async) await new Promise((resolve) => setTimeout(resolve, 1))
      ctx.points = Math.floor(ctx.total / 10)
    })
    .link('note', (ctx) => void ctx.notes.push('loyal'))

describe('a nested chain as a link', () => {
  for (const async of [false, true]) {
    it(`puts the child run span under the link span, which names the child run (${async ? 'async' : 'sync'} child); exportRun gives the same tree`, async () => {
      const { exporter, tracer } = memoryTracer()
      const run = await chain<Order>('checkout')
        .link('price', (ctx) => void (ctx.total += 1))
        .link('loyalty', earn(async))
        .link('done', (ctx) => void ctx.notes.push('done'))
        .run(order(), { tracer })
      const child = childOf(run as Run<unknown>, 'loyalty')
      const tree = expectSameTree(exporter, tracer, run)
      expect(outline(tree)).toEqual(['chain checkout', '  link price', '  link loyalty', '    chain earn-points', '      link earn', '      link note', '  link done'])
      const link = find(tree, 'link loyalty')
      expect(link.attributes['shadowchain.child.run_id']).toBe(child.id)
      const childSpan = find(tree, 'chain earn-points')
      expect(childSpan.attributes).toMatchObject({ 'shadowchain.run.id': child.id, 'shadowchain.run.status': 'ok' })
      expect(find(tree, 'link price').attributes['shadowchain.child.run_id']).toBeUndefined()
      // The child's own recorded times, inside its link span's.
      expect([childSpan.start, childSpan.end]).toEqual([child.startedAt, child.endedAt])
      expect(childSpan.start >= link.start && childSpan.end <= link.end).toBe(true)
    })
  }

  it('with input / output (another ctx type): the same tree', async () => {
    const { exporter, tracer } = memoryTracer()
    const loyalty = chain<Loyalty>('loyalty').link('earn', async (ctx) => {
      await Promise.resolve()
      ctx.points = Math.floor(ctx.spent / 10)
    })
    const run = await chain<Order>('checkout')
      .link('loyalty', loyalty, { input: (o) => ({ spent: o.total, points: 0 }), output: (o, l) => void (o.points = l.points) })
      .run(order(), { tracer })
    expect(run.ctx.points).toBe(12)
    expect(outline(expectSameTree(exporter, tracer, run))).toEqual(['chain checkout', '  link loyalty', '    chain loyalty', '      link earn'])
  })

  it('a failing child: its run span and its failed link span have status ERROR, and so has the link span that ran it', async () => {
    const { exporter, tracer } = memoryTracer()
    const failing = chain<Order>('charge').link('card', async () => {
      await Promise.resolve()
      throw new Error('card declined')
    })
    const run = await settle(chain<Order>('checkout').link('pay', failing).link('never', () => {}).run(order(), { tracer }))
    expect(run.status).toBe('error')
    const tree = expectSameTree(exporter, tracer, run)
    expect(outline(tree)).toEqual(['chain checkout', '  link pay', '    chain charge', '      link card'])
    for (const name of ['chain checkout', 'link pay', 'chain charge', 'link card']) expect(find(tree, name).status.code, name).toBe(SpanStatusCode.ERROR)
    expect(find(tree, 'link pay').attributes['shadowchain.child.run_id']).toBe(childOf(run as Run<unknown>, 'pay').id)
    expect(find(tree, 'link pay').events.map((e) => e.name)).toEqual(['exception'])
    expect(find(tree, 'chain charge').attributes['shadowchain.error.code']).toBe('LINK_FAILED')
  })

  it('with retry: each attempt\'s child run under the link span, the failed attempts as link.attempt events naming their child runs', async () => {
    const { exporter, tracer } = memoryTracer()
    let calls = 0
    const flaky = chain<Order>('flaky').link('try', async (ctx) => {
      await Promise.resolve()
      if (++calls < 3) throw new Error(`attempt ${calls} failed`)
      ctx.notes.push('ok')
    })
    const run = await chain<Order>('checkout').link('call', flaky, { retry: { attempts: 3 } }).run(order(), { tracer })
    const tree = expectSameTree(exporter, tracer, run)
    expect(outline(tree)).toEqual(['chain checkout', '  link call', '    chain flaky', '      link try', '    chain flaky', '      link try', '    chain flaky', '      link try'])
    const link = find(tree, 'link call')
    const attempts = run.timeline.filter({ type: 'link.attempt' }) as readonly { readonly child?: string }[]
    const ids = [...attempts.map((a) => a.child), childOf(run as Run<unknown>, 'call').id]
    expect(new Set(ids).size).toBe(3)
    expect(link.children.map((c) => c.attributes['shadowchain.run.id'])).toEqual(ids)
    expect(link.children.map((c) => c.status.code)).toEqual([SpanStatusCode.ERROR, SpanStatusCode.ERROR, SpanStatusCode.UNSET])
    expect(link.events.map((e) => [e.name, (e.attributes as Record<string, unknown>)['shadowchain.attempt.child.run_id']])).toEqual([
      ['link.attempt', ids[0]],
      ['link.attempt', ids[1]],
    ])
    expect(link.attributes['shadowchain.child.run_id']).toBe(ids[2])
    expect(link.status.code).toBe(SpanStatusCode.UNSET)
  })

  it('a child that nests a chain itself: three levels, live and exported alike', async () => {
    const { exporter, tracer } = memoryTracer()
    const inner = chain<Order>('inner').link('deep', async (ctx) => {
      await Promise.resolve()
      ctx.total *= 2
    })
    const middle = chain<Order>('middle').link('before', (ctx) => void ctx.notes.push('m')).link('nest', inner)
    const run = await chain<Order>('outer').link('nest-middle', middle).run(order(), { tracer })
    expect(run.ctx.total).toBe(240)
    const tree = expectSameTree(exporter, tracer, run)
    expect(outline(tree)).toEqual(['chain outer', '  link nest-middle', '    chain middle', '      link before', '      link nest', '        chain inner', '          link deep'])
    const middleRun = childOf(run as Run<unknown>, 'nest-middle')
    expect(find(tree, 'link nest').attributes['shadowchain.child.run_id']).toBe(childOf(middleRun, 'nest').id)
    // The whole tree is one trace.
    const spans = exporter.getFinishedSpans()
    expect(new Set(spans.map((s) => s.spanContext().traceId)).size).toBe(1)
  })
})

describe('a nested chain under redaction', () => {
  it('the run\'s redact paths reach the child run\'s spans, live and exported alike', async () => {
    const { exporter, tracer } = memoryTracer()
    interface Secretive {
      card: string
      notes: string[]
    }
    const charge = chain<Secretive>('charge').link('card', (ctx, io) => {
      io.metrics['card'] = ctx.card
      throw new Error(`card ${ctx.card} declined`)
    })
    const run = await settle(chain<Secretive>('checkout').link('pay', charge).run({ card: '4242-4242', notes: [] }, { tracer, redact: [['card']] }))
    const tree = expectSameTree(exporter, tracer, run)
    expect(outline(tree)).toEqual(['chain checkout', '  link pay', '    chain charge', '      link card'])
    expect(JSON.stringify(exporter.getFinishedSpans().map((s) => [s.attributes, s.events, s.status]))).not.toContain('4242-4242')
  })
})

describe('a nested chain as a branch of a parallel step', () => {
  for (const failing of [false, true]) {
    it(`puts the child run span under the branch span, which names the child run${failing ? ' (the child fails)' : ''}`, async () => {
      const { exporter, tracer } = memoryTracer()
      const shipping = chain<Order>('shipping').link('rate', async (ctx) => {
        await Promise.resolve()
        if (failing) throw new Error('no rate')
        ctx.notes.push('shipped')
      })
      const run = await settle(
        chain<Order>('checkout')
          .parallel('quote', { tax: (ctx) => void (ctx.points = 1), ship: shipping })
          .run(order(), { tracer }),
      )
      const tree = expectSameTree(exporter, tracer, run)
      expect(outline(tree)).toEqual(['chain checkout', '  link quote', '    branch quote/tax', '    branch quote/ship', '      chain shipping', '        link rate'])
      const branch = find(tree, 'branch quote/ship')
      const child = run.timeline.links()[0]?.branches?.find((b) => b.name === 'ship')?.child
      expect(child?.chainName).toBe('shipping')
      expect(branch.attributes['shadowchain.child.run_id']).toBe(child?.id)
      expect(find(tree, 'branch quote/tax').attributes['shadowchain.child.run_id']).toBeUndefined()
      expect(find(tree, 'link quote').attributes['shadowchain.child.run_id']).toBeUndefined()
      expect([branch.status.code, find(tree, 'chain shipping').status.code]).toEqual(failing ? [SpanStatusCode.ERROR, SpanStatusCode.ERROR] : [SpanStatusCode.UNSET, SpanStatusCode.UNSET])
    })
  }
})

describe('exportRun and the span registry with nested runs', () => {
  const nesting = () => chain<Order>('checkout').link('loyalty', earn(true)).link('done', () => {})

  it('exports the child runs with their parent (counted in spans), and knows them afterwards: a second export is a repeat', async () => {
    const { exporter, tracer } = memoryTracer()
    const run = await nesting().run(order())
    const child = childOf(run as Run<unknown>, 'loyalty')
    const first = exportRun(run, { tracer })
    expect(first).toMatchObject({ skipped: false, spans: 6 })
    expect(exporter.getFinishedSpans()).toHaveLength(6)
    expect(exportRun(run, { tracer })).toMatchObject({ skipped: true, spans: 0 })
    const again = exportRun(child, { tracer })
    expect(again.skipped).toBe(true)
    expect(again.spanContext.spanId).toBe(exporter.getFinishedSpans().find((s) => s.name === 'chain earn-points')?.spanContext().spanId)
  })

  it('a child exported before is not exported again under its parent (the link span still names it); force exports all', async () => {
    const { exporter, tracer } = memoryTracer()
    const run = await nesting().run(order())
    const child = childOf(run as Run<unknown>, 'loyalty')
    exportRun(child, { tracer })
    exporter.reset()
    expect(exportRun(run, { tracer })).toMatchObject({ skipped: false, spans: 3 })
    const tree = spanTree(exporter.getFinishedSpans())
    expect(outline(tree)).toEqual(['chain checkout', '  link loyalty', '  link done'])
    expect(find(tree, 'link loyalty').attributes['shadowchain.child.run_id']).toBe(child.id)
    exporter.reset()
    expect(exportRun(run, { tracer, force: true })).toMatchObject({ skipped: false, spans: 6 })
  })

  it('a run traced live, children included, is not exported again', async () => {
    const { exporter, tracer } = memoryTracer()
    const run = await nesting().run(order(), { tracer })
    exporter.reset()
    expect(exportRun(run, { tracer }).skipped).toBe(true)
    expect(exportRun(childOf(run as Run<unknown>, 'loyalty'), { tracer }).skipped).toBe(true)
    expect(exporter.getFinishedSpans()).toHaveLength(0)
  })

  it('a tracer that throws inside a child: nothing thrown, the spans begun are ended, the error is returned', async () => {
    const { exporter, tracer } = memoryTracer()
    const run = await nesting().run(order())
    let started = 0
    const breaking = {
      ...tracer,
      startSpan: (...args: Parameters<typeof tracer.startSpan>) => {
        if (++started === 4) throw new Error('tracer broke')
        return tracer.startSpan(...args)
      },
      startActiveSpan: tracer.startActiveSpan.bind(tracer),
    } as typeof tracer
    const result = exportRun(run, { tracer: breaking, force: true })
    // The fourth span (the child's first link span) could not start: the three begun are ended.
    expect(result).toMatchObject({ skipped: false, spans: 3 })
    expect(result.error).toBeInstanceOf(Error)
    const spans = exporter.getFinishedSpans().map((s) => s.name).sort()
    expect(spans).toEqual(['chain checkout', 'chain earn-points', 'link loyalty'])
  })
})

describe('with a context manager registered', () => {
  const exporter = new InMemorySpanExporter()
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })
  beforeAll(() => provider.register())
  afterAll(async () => {
    await provider.shutdown()
    trace.disable()
    context.disable()
  })

  it('the child run span nests under the link or branch span through the active context, and spans a child\'s link starts nest under that link', async () => {
    const tracer = trace.getTracer('nested')
    const inner = chain<Order>('inner').link('fetch', async (ctx) => {
      await new Promise((resolve) => setTimeout(resolve, 1))
      tracer.startSpan('GET /points').end()
      ctx.points = 1
    })
    const run = await chain<Order>('outer')
      .link('nest', inner)
      .parallel('both', { a: inner, b: (ctx) => void ctx.notes.push('b') }, { merge: 'ordered' })
      .run(order(), { tracer })
    const live = spanTree(exporter.getFinishedSpans())
    expect(outline(live)).toEqual([
      'chain outer',
      '  link nest',
      '    chain inner',
      '      link fetch',
      '        GET /points',
      '  link both',
      '    branch both/a',
      '      chain inner',
      '        link fetch',
      '          GET /points',
      '    branch both/b',
    ])
    exporter.reset()
    exportRun(run, { tracer, force: true })
    // The export has what shadowchain recorded (not the instrumented client's spans).
    const strip = (nodes: readonly SpanNode[]): SpanNode[] => nodes.filter((n) => !n.name.startsWith('GET ')).map((n) => ({ ...n, children: strip(n.children) }))
    expect(spanTree(exporter.getFinishedSpans())).toEqual(strip(live))
  })
})
