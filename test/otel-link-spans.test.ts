// A link span as live tracing gives it without a context manager, when something asks for it
// during the link (io.inject, a nested chain) and its middleware ran before and after: the
// injected span, its events in order, attempts and failures, the order spans reach the exporter,
// all as an export of the recorded run gives them. A guard for any change to when live tracing
// calls the SDK (starting a link span late, batching calls): none may change what is recorded.
import { propagation, type Tracer } from '@opentelemetry/api'
import { W3CTraceContextPropagator } from '@opentelemetry/core'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterAll, beforeEach, describe, expect, it } from 'vitest'
import { chain, ChainRunError, type Middleware, type Run } from '../src/index.js'
import { expectSameTree, memoryTracer, ns } from './otel-helpers.js'

const { exporter, tracer } = memoryTracer('deferred')
beforeEach(() => exporter.reset())
propagation.setGlobalPropagator(new W3CTraceContextPropagator())
afterAll(() => propagation.disable())

interface Ctx {
  n: number
  sent: Record<string, Record<string, string>>
}

/** Before and after each link, and a link-level hook that fails: events before and after the link's own work. */
const around: Middleware = { name: 'around', before: (e) => void (e.metrics.seen = true), after: () => {} }
const flaky: Middleware = { name: 'flaky', before: () => { throw new Error('flaky broke') } }

const child = chain<Ctx>('child').link('inner', (ctx) => void (ctx.n += 1)).use(around)

function make(failCharge: boolean) {
  let attempts = 0
  return chain<Ctx>('deferred')
    .link('plain', (ctx) => void (ctx.n += 1))
    .link('call', (ctx, io) => {
      io.inject((ctx.sent['call'] = {}))
      ctx.n += 1
    }, { use: [flaky] })
    .link('nest', child)
    .link('retried', (ctx) => {
      attempts += 1
      if (attempts < 2) throw new Error(`attempt ${attempts} failed`)
      ctx.n += 1
    }, { retry: { attempts: 2 } })
    .link('charge', (ctx) => {
      if (failCharge) throw new Error('card declined')
      ctx.n += 1
    })
    .use(around)
}

const linkSpan = (spans: readonly ReadableSpan[], name: string): ReadableSpan => spans.find((s) => s.name === `link ${name}`) as ReadableSpan

describe('link spans traced live, asked for during their link', () => {
  it.each([
    ['a run that succeeds', false],
    ['a run whose last link fails', true],
  ])('give the spans an export of the run gives, for %s (events, times, nesting, injected span, attempts, failures)', async (_, failCharge) => {
    const run = (await make(failCharge)
      .run({ n: 0, sent: {} }, { tracer, safe: true })
      .catch((e: ChainRunError<Ctx>) => e.run)) as Run<Ctx>
    const spans = exporter.getFinishedSpans()
    // The span io.inject carried is the link's span, started when the link asked for it.
    const call = linkSpan(spans, 'call')
    expect(run.ctx.sent['call']?.['traceparent']?.split('-')[2]).toBe(call.spanContext().spanId)
    // Its events: the hooks before the link (one failed) and after it, in the order they ran.
    expect(call.events.map((e) => `${e.name}:${String(e.attributes?.['shadowchain.middleware.name'])}`)).toEqual([
      'middleware.before:around',
      'middleware.error:flaky',
      'middleware.after:around',
    ])
    // Each link span starts where the previous step ended.
    const links = ['plain', 'call', 'nest', 'retried', 'charge'].map((name) => linkSpan(spans, name))
    for (let i = 1; i < links.length; i++) expect(ns((links[i] as ReadableSpan).startTime)).toBe(ns((links[i - 1] as ReadableSpan).endTime))
    // The nested run's span is the child of its link's span.
    expect(spans.find((s) => s.name === 'chain child')?.parentSpanContext?.spanId).toBe(linkSpan(spans, 'nest').spanContext().spanId)
    expect(linkSpan(spans, 'retried').events.map((e) => e.name)).toEqual(['middleware.before', 'link.attempt', 'middleware.after'])
    if (failCharge) expect(linkSpan(spans, 'charge').events.map((e) => e.name)).toEqual(['middleware.before', 'exception', 'middleware.after'])
    expectSameTree(exporter, tracer, run)
  })

  it('go to the exporter in the order the steps end, each once', async () => {
    await make(false).run({ n: 0, sent: {} }, { tracer })
    expect(exporter.getFinishedSpans().map((s) => s.name)).toEqual(['link plain', 'link call', 'link inner', 'chain child', 'link nest', 'link retried', 'link charge', 'chain deferred'])
  })

  it('a tracer whose startSpan throws for a link: the link has no span, its events go to the run span, the run goes on', async () => {
    const refusing: Tracer = {
      startSpan: (name, options, context) => {
        if (name === 'link plain') throw new Error('no spans today')
        return tracer.startSpan(name, options, context)
      },
      startActiveSpan: tracer.startActiveSpan.bind(tracer) as Tracer['startActiveSpan'],
    }
    const run = await chain<{ n: number }>('refused').link('plain', (ctx) => void (ctx.n += 1)).link('other', (ctx) => void (ctx.n += 1)).use(around).run({ n: 0 }, { tracer: refusing })
    expect(run.ctx.n).toBe(2)
    const spans = exporter.getFinishedSpans()
    expect(spans.map((s) => s.name)).toEqual(['link other', 'chain refused'])
    expect(spans[1]?.events.map((e) => e.name)).toEqual(['middleware.before', 'middleware.after'])
  })
})
