// OpenTelemetry hardening (issue #10, items 11, 12 and 15): redaction reaches spans live and from
// exportRun, metric keys are normalised, failed links carry their stack, middleware errors are
// not the span's exception, and the table of exported run ids says when it forgets.
import { diag, DiagLogLevel, trace, type DiagLogger } from '@opentelemetry/api'
import type { ReadableSpan } from '@opentelemetry/sdk-trace-base'
import { afterEach, describe, expect, it } from 'vitest'
import { chain, ChainRunError, Run, type Middleware, type RedactPath } from '../src/index.js'
import { describeSpanTable, EXPORTED_IDS, exportRun, normaliseMetricKey } from '../src/otel/index.js'
import { rememberSpanById } from '../src/otel/registry.js'
import { memoryTracer } from './otel-helpers.js'

const { exporter, tracer } = memoryTracer('hardening')
afterEach(() => exporter.reset())

const CARD = '4242424242424242'
const VAULT_TOKEN = 'vault-tok-778899'

/** Everything a span carries that a backend stores: attributes, events, links, status. */
function spanText(spans: readonly ReadableSpan[]): string {
  return JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events.map((e) => [e.name, e.attributes]), s.links.map((l) => l.attributes), s.status]))
}
const occurrences = (text: string, secret: string) => text.split(secret).length - 1

interface Order {
  customer: { name: string; card: string; token?: string }
  total: number
}

const audit: Middleware<Order> = {
  name: 'audit',
  after(e) {
    e.metrics['seen'] = `audit of ${e.ctx.customer.card}`
    if (e.error !== undefined) throw new Error(`audit saw ${e.ctx.customer.card}`)
  },
}

/** Copies the card into metrics and errors; 'vault' puts a new secret on a redacted path and copies it in the same link. */
function leaky(redact?: readonly RedactPath[]) {
  return chain<Order>('checkout', redact === undefined ? {} : { redact })
    .link('price', (ctx, io) => {
      ctx.total = 10
      io.metrics['cardUsed'] = ctx.customer.card
    })
    .link('vault', async (ctx, io) => {
      await Promise.resolve()
      ctx.customer.token = VAULT_TOKEN
      io.metrics['token'] = `t=${VAULT_TOKEN}`
    })
    .link('charge', (ctx) => {
      throw new Error(`card ${ctx.customer.card} declined`, { cause: new Error(ctx.customer.card) })
    })
    .use(audit)
}

const order = (): Order => ({ customer: { name: 'Ada', card: CARD }, total: 0 })

async function failed(c: ReturnType<typeof leaky>, options?: Parameters<ReturnType<typeof leaky>['run']>[1]): Promise<Run<Order>> {
  const error = await c.run(order(), options).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof ChainRunError)) throw new Error('expected a failure')
  return error.run as Run<Order>
}

describe('redaction reaches spans', () => {
  const paths: RedactPath[] = [['customer', 'card'], ['customer', 'token']]

  it('live: no attribute, event or status of any span holds a redacted value or a copy of it', async () => {
    // Without redaction the secrets are there (the test can fail).
    await failed(leaky(), { tracer })
    const plain = spanText(exporter.getFinishedSpans())
    expect(occurrences(plain, CARD)).toBeGreaterThan(3)
    expect(occurrences(plain, VAULT_TOKEN)).toBe(1)
    exporter.reset()

    await failed(leaky(paths), { tracer })
    const spans = exporter.getFinishedSpans()
    const text = spanText(spans)
    expect(occurrences(text, CARD)).toBe(0)
    expect(occurrences(text, VAULT_TOKEN)).toBe(0)
    const price = spans.find((s) => s.name === 'link price')!
    expect(price.attributes).toMatchObject({ 'shadowchain.metrics.card_used': '[REDACTED]', 'shadowchain.metrics.seen': 'audit of [REDACTED]' })
    expect(spans.find((s) => s.name === 'link vault')!.attributes['shadowchain.metrics.token']).toBe('t=[REDACTED]')
    const charge = spans.find((s) => s.name === 'link charge')!
    const exception = charge.events.find((e) => e.name === 'exception')!.attributes!
    expect(exception['exception.message']).toBe('card [REDACTED] declined')
    expect(exception['exception.stacktrace']).toMatch(/^Error: card \[REDACTED\] declined\n/)
    expect(charge.events.find((e) => e.name === 'middleware.error')!.attributes!['shadowchain.middleware.error.message']).toBe('audit saw [REDACTED]')
    expect(spans.find((s) => s.name === 'chain checkout')!.status.message).toContain('card [REDACTED] declined')
  })

  it('exportRun: the run option is kept on the run and applied; a loaded copy redacts the same; an export option adds', async () => {
    const run = await failed(leaky(), { redact: paths })
    exportRun(run, { tracer })
    const text = spanText(exporter.getFinishedSpans())
    expect(occurrences(text, CARD)).toBe(0)
    expect(occurrences(text, VAULT_TOKEN)).toBe(0)
    expect(text).toContain('card [REDACTED] declined')
    exporter.reset()

    const copy = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    expect(copy.redact).toEqual(paths)
    exportRun(copy, { tracer, force: true })
    expect(occurrences(spanText(exporter.getFinishedSpans()), CARD)).toBe(0)
    exporter.reset()

    const unredacted = await failed(leaky())
    exportRun(unredacted, { tracer, redact: paths })
    const added = spanText(exporter.getFinishedSpans())
    expect(occurrences(added, CARD)).toBe(0)
    expect(occurrences(added, VAULT_TOKEN)).toBe(0)
  })

  it('costs nothing when no path is given: the spans carry the values as they are', async () => {
    const run = await failed(leaky())
    exportRun(run, { tracer })
    expect(exporter.getFinishedSpans().find((s) => s.name === 'link price')!.attributes['shadowchain.metrics.card_used']).toBe(CARD)
  })
})

describe('metric keys', () => {
  it('are normalised to lowercase snake_case, dots kept', () => {
    expect(['ms', 'latencyMs', 'HTTPStatus', 'Weird Key', 'db.Calls', 'a _. b', 'x--y', '!!!', 'userID'].map(normaliseMetricKey)).toEqual([
      'ms',
      'latency_ms',
      'http_status',
      'weird_key',
      'db.calls',
      'a.b',
      'x_y',
      'unnamed',
      'user_id',
    ])
  })

  it('go out normalised, live and exported alike; a key in normal form keeps its name, colliding ones get _2, _3', async () => {
    const metered = chain<{ n: number }>('metered').link('count', (ctx, io) => {
      ctx.n = 1
      io.metrics['Weird Key'] = 1
      io.metrics['weird_key'] = 2
      io.metrics['weird-key'] = 3
      io.metrics['latencyMs'] = 4
    })
    const run = await metered.run({ n: 0 }, { tracer })
    const metrics = (span: ReadableSpan) => Object.fromEntries(Object.entries(span.attributes).filter(([key]) => key.startsWith('shadowchain.metrics.')))
    const live = metrics(exporter.getFinishedSpans().find((s) => s.name === 'link count')!)
    expect(live).toEqual({
      'shadowchain.metrics.weird_key': 2,
      'shadowchain.metrics.weird_key_2': 1,
      'shadowchain.metrics.weird_key_3': 3,
      'shadowchain.metrics.latency_ms': 4,
    })
    exporter.reset()
    exportRun(run, { tracer, force: true })
    expect(metrics(exporter.getFinishedSpans().find((s) => s.name === 'link count')!)).toEqual(live)
  })
})

describe('errors on spans', () => {
  const breaking = chain<{ n: number }>('breaking')
    .link('fail', () => {
      throw new TypeError('boom')
    })
    .use({
      name: 'noisy',
      before() {
        throw new RangeError('noisy broke')
      },
    })

  it('a failed link span has exception.stacktrace, live and from a loaded file; a middleware error is no exception of the span', async () => {
    const run = await breaking.run({ n: 0 }, { tracer }).catch((e: ChainRunError<{ n: number }>) => e.run as Run<{ n: number }>)
    const copy = Run.fromJSON(JSON.parse(JSON.stringify(run.toJSON())))
    const live = exporter.getFinishedSpans()
    exporter.reset()
    exportRun(copy, { tracer, force: true })
    for (const spans of [live, exporter.getFinishedSpans()]) {
      const link = spans.find((s) => s.name === 'link fail')!
      const exceptions = link.events.filter((e) => e.name === 'exception')
      expect(exceptions).toHaveLength(1)
      expect(exceptions[0]!.attributes).toMatchObject({ 'exception.type': 'TypeError', 'exception.message': 'boom' })
      expect(exceptions[0]!.attributes!['exception.stacktrace']).toMatch(/^TypeError: boom\n\s+at /)
      const mw = link.events.find((e) => e.name === 'middleware.error')!
      expect(mw.attributes).toMatchObject({ 'shadowchain.middleware.error.type': 'RangeError', 'shadowchain.middleware.error.message': 'noisy broke' })
      expect(Object.keys(mw.attributes!).filter((key) => key.startsWith('exception.'))).toEqual([])
    }
  })
})

describe('the table of exported run ids', () => {
  it('forgets the oldest past EXPORTED_IDS with one diag warning, and counts what it forgot', () => {
    const warnings: string[] = []
    const logger: DiagLogger = {
      error: () => {},
      warn: (message: string) => void warnings.push(message),
      info: () => {},
      debug: () => {},
      verbose: () => {},
    }
    diag.setLogger(logger, DiagLogLevel.WARN)
    try {
      const context = trace.wrapSpanContext({ traceId: '3'.repeat(32), spanId: '4'.repeat(16), traceFlags: 1 }).spanContext()
      const before = describeSpanTable()
      expect(before).toMatchObject({ limit: EXPORTED_IDS, forgotten: 0 })
      for (let i = 0; i < EXPORTED_IDS + 5 - before.remembered; i++) rememberSpanById(`table-${i}`, context)
      expect(describeSpanTable()).toEqual({ remembered: EXPORTED_IDS, limit: EXPORTED_IDS, forgotten: 5 })
      for (let i = 0; i < 100; i++) rememberSpanById(`more-${i}`, context)
      expect(describeSpanTable().forgotten).toBe(105)
      const ours = warnings.filter((w) => w.includes('table of run ids with spans'))
      expect(ours).toHaveLength(1)
      expect(ours[0]).toContain(String(EXPORTED_IDS))
    } finally {
      diag.disable()
    }
  })
})
