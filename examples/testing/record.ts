/** Records the fixture the regression test replays: `npx tsx examples/testing/record.ts`. */
import { fileURLToPath } from 'node:url'
import { saveRun } from 'shadowchain'
import { checkout } from './checkout-chain.js'

const run = await checkout.run({ items: [{ sku: 'book', price: 42, qty: 2 }], coupon: 'TENOFF' })
const file = fileURLToPath(new URL('./fixtures/checkout.run.json', import.meta.url))
await saveRun(run, file)
console.log(`recorded ${run.timeline.length} events to ${file}`)
