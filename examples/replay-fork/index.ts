/**
 * Replay, fork, time travel and write capture:
 *   npx tsx examples/replay-fork/index.ts
 */
import { chain, formatDivergence, formatWaterfall, shortRunId } from 'shadowchain'

interface Quote {
  customer: { tier: 'basic' | 'gold'; email: string }
  items: { sku: string; price: number }[]
  subtotal?: number
  discount?: number
  total?: number
  quoteId?: string
}

let emailsSent = 0
const pricing = chain<Quote>('pricing')
  .link('subtotal', (ctx) => {
    ctx.subtotal = ctx.items.reduce((sum, item) => sum + item.price, 0)
  })
  .link('discount', (ctx) => {
    ctx.discount = ctx.customer.tier === 'gold' ? Math.round((ctx.subtotal ?? 0) * 0.1) : 0
  })
  .link('total', (ctx, io) => {
    ctx.total = (ctx.subtotal ?? 0) - (ctx.discount ?? 0)
    ctx.quoteId = `q-${Math.floor(io.random() * 1e6)}` // recorded: replays give the same id
  })
  .link('email', () => {
    emailsSent++ // a side effect: stub it when replaying
  })

const input: Quote = { customer: { tier: 'gold', email: 'ada@example.com' }, items: [{ sku: 'desk', price: 300 }, { sku: 'lamp', price: 45 }] }

// Write capture: every single write, with where in this file it happened.
const recorded = await pricing.run(input, { capture: 'writes', stacks: true })
console.log(formatWaterfall(recorded))
for (const write of recorded.timeline.writesTo('total')) {
  if (write.type === 'ctx.write') console.log(`total ← ${String(write.value)} by link '${write.link.name}' at ${write.stack}`)
}

// Time travel: the exact state after 'discount'.
const afterDiscount = recorded.timeline.links().find((link) => link.name === 'discount')!
console.log('\nstate after discount:', recorded.timeline.stateAt(afterDiscount.endSeq).ctx)

// Replay against today's code, side effect stubbed: identical.
const same = await recorded.replay({ stub: ['email'] })
console.log(`\nreplay identical: ${same.identical} (emails sent so far: ${emailsSent})`)

// Replay against a changed discount rule: the first diverging link, readable.
const v2 = pricing.insert({ after: 'discount' }, 'loyalty', (ctx) => {
  ctx.discount = (ctx.discount ?? 0) + 5
})
const changed = await recorded.replay({ chain: v2, stub: ['email'] })
if (changed.divergence !== undefined) console.log(`replay on v2 ${formatDivergence(changed.divergence)}`)

// Fork: what if this customer were basic tier? Branch after 'subtotal', edit, run the rest.
const whatIf = await recorded.fork({ at: 'subtotal', edit: (ctx) => void (ctx.customer.tier = 'basic') })
console.log(`\nfork: total ${whatIf.ctx.total} instead of ${recorded.ctx.total}; parent ${shortRunId(whatIf.parent?.runId ?? '')}, shares ${whatIf.parent!.seq + 1} events`)
console.log(`the parent's children: ${recorded.children.map((child) => shortRunId(child.id)).join(', ')}`)
