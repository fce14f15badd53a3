// The conversions live tracing and export make on every link span (epoch ns to HrTime, bigint
// durations to numbers, a link's span name and attributes), the run's span slot, and the link
// calls a tracer leaves alone: the fast paths give exactly what the plain bigint arithmetic gives.
import { context, ROOT_CONTEXT, trace } from '@opentelemetry/api'
import { describe, expect, it } from 'vitest'
import { chain, type LinkInfo } from '../src/index.js'
import { LiveTrace } from '../src/otel/live.js'
import { hrTime, linkSpanParts, nsAttribute } from '../src/otel/names.js'
import { memoryTracer } from './otel-helpers.js'

/** The reference: bigint division, exact for every value. */
const exactHrTime = (ns: bigint): [number, number] => [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]

const now = BigInt(Date.now()) * 1_000_000n
const anchor = (BigInt(Date.now()) / 1000n) * 1_000_000_000n

describe('hrTime', () => {
  it('is exact around now, on and next to whole seconds', () => {
    const values: bigint[] = []
    for (let i = -3n; i <= 3n; i++) values.push(anchor + i, anchor + 1_000_000_000n + i, now + i, now + 999_999_999n + i)
    for (let i = 0n; i < 2_000n; i++) values.push(now + i * 987_654_321n + (i % 7n))
    for (const ns of values) expect(hrTime(ns)).toEqual(exactHrTime(ns))
  })

  it('is exact at the edges of its fast range (2^53 ns after a whole second near now) and past them', () => {
    const far = anchor + (1n << 53n)
    for (const ns of [far - 2n, far - 1n, far, far + 1n, far + 1_000_000_001n, anchor + (1n << 52n) + 999_999_999n]) {
      expect(hrTime(ns)).toEqual(exactHrTime(ns))
    }
  })

  it('is exact far from now: before the anchor, near 0, at and past 2^64', () => {
    const twoTo64 = 1n << 64n
    for (const ns of [0n, 1n, 999_999_999n, 1_000_000_000n, anchor - 1n, anchor - 4_294_967_296n, twoTo64 - 1n, twoTo64, twoTo64 + anchor, twoTo64 + now + 5n, 3n * twoTo64 + anchor]) {
      expect(hrTime(ns)).toEqual(exactHrTime(ns))
    }
  })

  it('gives a fresh tuple each call (the SDK keeps what it is given)', () => {
    const a = hrTime(now)
    const b = hrTime(now)
    expect(a).toEqual(b)
    expect(a).not.toBe(b)
  })
})

describe('nsAttribute', () => {
  it('is Number(ns) for every duration: small, at 2^32, at 2^53, past 2^64, negative', () => {
    const twoTo64 = 1n << 64n
    const values = [0n, 1n, 4_294_967_295n, 4_294_967_296n, 4_294_967_297n, (1n << 53n) - 1n, 1n << 53n, (1n << 53n) + 1n, twoTo64 - 1n, twoTo64, twoTo64 + 5n, -1n, -4_294_967_296n, -(twoTo64 + 5n), -twoTo64, -3n * twoTo64]
    for (let i = 0n; i < 1_000n; i++) values.push(i * 1_234_567n, i * 98_765_432_109n)
    for (const ns of values) expect(nsAttribute(ns)).toBe(Number(ns))
  })
})

describe('linkSpanParts', () => {
  it("names a link's span and gives its attributes, the same object every time", () => {
    const link: LinkInfo = Object.freeze({ name: 'charge', index: 3, meta: Object.freeze({}) })
    const parts = linkSpanParts(link)
    expect(parts).toEqual({ name: 'link charge', attributes: { 'shadowchain.link.name': 'charge', 'shadowchain.link.index': 3 } })
    expect(Object.isFrozen(parts.attributes)).toBe(true)
    expect(linkSpanParts(link)).toBe(parts)
  })
})

describe('the span slot of a traced run', () => {
  it('is invisible: no key, no symbol, and the run serialises and clones as an untraced one', async () => {
    const { tracer, provider } = memoryTracer()
    const shop = chain<{ total: number }>('shop').link('charge', (ctx) => void (ctx.total += 1))
    const traced = await shop.run({ total: 1 }, { tracer })
    const plain = await shop.run({ total: 1 })
    expect(traced.trace).toBeDefined()
    expect(Reflect.ownKeys(traced)).toEqual(Reflect.ownKeys(plain))
    expect(Object.getOwnPropertySymbols(traced)).toEqual([])
    const { trace: _trace, ...rest } = structuredClone({ ...traced })
    const { trace: _none, ...plainRest } = structuredClone({ ...plain })
    expect(Object.keys(rest)).toEqual(Object.keys(plainRest))
    await provider.shutdown()
  })

  it("links a fork's run span to its parent's, found on the parent run", async () => {
    const { tracer, exporter, provider } = memoryTracer()
    const shop = chain<{ total: number }>('shop').link('charge', (ctx) => void (ctx.total += 1)).link('ship', (ctx) => void (ctx.total += 2))
    const parent = await shop.run({ total: 1 }, { tracer })
    const parentSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    exporter.reset()
    await parent.fork({ at: 'ship', tracer })
    const forkSpan = exporter.getFinishedSpans().find((s) => s.name === 'chain shop')!
    expect(forkSpan.links.map((l) => l.context.spanId)).toEqual([parentSpan.spanContext().spanId])
    await provider.shutdown()
  })
})

describe('link calls under a tracer', () => {
  const info = Object.freeze({ id: 'run-1', chainName: 'c', startedAt: now })

  it('are left to the runner without a context manager or redaction (nothing to wrap)', () => {
    const { tracer } = memoryTracer()
    expect(context.with(ROOT_CONTEXT.setValue(Symbol('probe'), 1), () => context.active())).toBe(ROOT_CONTEXT) // no context manager here
    expect(new LiveTrace(tracer, info, ROOT_CONTEXT, {}, true).wrapsLinks).toBe(false)
  })

  it('are wrapped under redaction (the tracer learns the redacted values from them)', () => {
    const { tracer } = memoryTracer()
    expect(new LiveTrace(tracer, info, ROOT_CONTEXT, {}, true, [['card']]).wrapsLinks).toBe(true)
  })

  it('without a context manager, leave a span started inside a link where the active context puts it: a root (as before)', async () => {
    const { tracer, exporter, provider } = memoryTracer()
    const shop = chain<{ total: number }>('shop').link('charge', (ctx) => {
      tracer.startSpan('inner').end()
      ctx.total += 1
    })
    await shop.run({ total: 1 }, { tracer })
    const inner = exporter.getFinishedSpans().find((s) => s.name === 'inner')!
    expect(trace.getActiveSpan()).toBeUndefined()
    expect(inner.parentSpanContext).toBeUndefined()
    await provider.shutdown()
  })
})
