/**
 * Regression tests from a recorded run: replay the fixture against today's chain with the
 * payment link stubbed (its recorded receipt is played back, no card is charged), and fail with
 * a readable diff at the first link that behaves differently.
 */
import { fileURLToPath } from 'node:url'
import { beforeEach, describe, expect, it } from 'vitest'
import { matchers } from 'shadowchain/testing'
import { loadRun } from 'shadowchain'
import { checkout, payments } from './checkout-chain.js'

expect.extend(matchers)
const fixture = fileURLToPath(new URL('./fixtures/checkout.run.json', import.meta.url))

describe('checkout, replayed from a recording', () => {
  beforeEach(() => {
    payments.calls = 0
  })

  it('still prices, discounts and stamps exactly as recorded', async () => {
    await expect(fixture).toReplayIdentically({ chain: checkout, stub: ['charge'] })
    expect(payments.calls).toBe(0)
  })

  it('reports the first diverging link when pricing changes', async () => {
    const changed = checkout.insert({ after: 'coupon' }, 'vat', (ctx) => {
      ctx.total = (ctx.total ?? 0) * 1.2
    })
    const attempt = expect(fixture).toReplayIdentically({ chain: changed, stub: ['charge'] })
    await expect(attempt).rejects.toThrow(/diverged at link #2 'vat' \(link\)/)
  })

  it('ran the links it should and wrote the receipt', async () => {
    const recording = await loadRun(fixture, { chain: checkout })
    expect(recording).toHaveRunLinks(['price', 'coupon', 'charge', 'stamp'])
    expect(recording).toHaveWritten('total', 74)
    expect(recording).toHaveWritten('receipt')
    expect(recording).not.toHaveWritten('discount')
  })
})
