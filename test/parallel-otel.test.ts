import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, type Run } from '../src/index.js'
import { exportRun } from '../src/otel/index.js'
import { memoryTracer, shape, spanTimes } from './otel-helpers.js'

interface Q {
  tax?: number
  shipping?: number
}

const quote = (failing: boolean) =>
  chain<Q>('q').parallel('quote', {
    tax: (ctx) => void (ctx.tax = 1),
    shipping: async (ctx) => {
      await Promise.resolve()
      if (failing) throw new Error('no rate')
      ctx.shipping = 2
    },
  })

describe('parallel steps in OpenTelemetry', () => {
  it('makes each branch a span under its step span, with its name and duration; a failed branch has the error status; exportRun gives the same spans', async () => {
    const { exporter, tracer } = memoryTracer()
    for (const failing of [false, true]) {
      exporter.reset()
      const run = await quote(failing)
        .run({}, { tracer })
        .catch((e: ChainRunError<Q>) => e.run as Run<Q>)
      const live = exporter.getFinishedSpans()
      const spans = shape(live)
      expect(spans.filter((s) => s.name.startsWith('branch ')).map((s) => [s.name, s.parent, s.attributes['shadowchain.branch.name'], s.status])).toEqual([
        ['branch quote/shipping', 'link quote', 'shipping', failing ? 2 : 0],
        ['branch quote/tax', 'link quote', 'tax', 0],
      ])
      const tax = live.find((s) => s.name === 'branch quote/tax')
      expect(tax?.attributes['shadowchain.branch.duration_ns']).toBe(Number(run.timeline.links()[0]?.branches?.find((b) => b.name === 'tax')?.durationNs))
      exporter.reset()
      exportRun(run, { tracer, force: true })
      const post = exporter.getFinishedSpans()
      expect(shape(post)).toEqual(shape(live))
      expect(spanTimes(post)).toEqual(spanTimes(live))
    }
  })
})
