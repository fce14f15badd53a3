// The runner workload as a LangGraph graph: the 10-key order state, 10 nodes in sequence, each
// making the same one small change as its link in workload.ts, returned as an update (LangGraph
// nodes return what changed; the state they are given is not theirs to mutate).
import { createRequire } from 'node:module'
import { Annotation, END, START, StateGraph, type BaseCheckpointSaver } from '@langchain/langgraph'
import type { Order } from './workload.ts'

/** The order as LangGraph state: one last-value channel per key, in the order's key order. */
export const OrderState = Annotation.Root({
  id: Annotation<string>(),
  status: Annotation<string>(),
  count: Annotation<number>(),
  total: Annotation<number>(),
  currency: Annotation<string>(),
  customer: Annotation<Order['customer']>(),
  items: Annotation<Order['items']>(),
  flags: Annotation<Order['flags']>(),
  tags: Annotation<string[]>(),
  updatedAt: Annotation<number>(),
})

/** The 10 links of workload.ts's `orderLinks` as nodes returning updates, in the same order. */
export const orderNodes: readonly (readonly [string, (s: Order) => Partial<Order>])[] = [
  ['validate', (s) => (s.items.length > 0 ? { status: 'validated' } : {})],
  ['count', (s) => ({ count: s.count + 1 })],
  ['price', (s) => {
    let sum = 0
    for (const item of s.items) sum += item.qty * item.price
    return { total: sum }
  }],
  ['tier', (s) => ({ customer: { ...s.customer, tier: 'gold' } })],
  ['zip', (s) => ({ customer: { ...s.customer, address: { ...s.customer.address, zip: '75002' } } })],
  ['qty', (s) => ({ items: s.items.map((item, i) => (i === 0 ? { ...item, qty: 2 } : item)) })],
  ['fraud', (s) => ({ flags: { ...s.flags, fraudChecked: true } })],
  ['currency', () => ({ currency: 'EUR' })],
  ['stamp', () => ({ updatedAt: 1_700_000_000_000 })],
  ['tag', (s) => ({ tags: s.tags.map((t, i) => (i === 0 ? 'priority' : t)) })],
]

/** What the bench calls on a compiled graph. */
export interface OrderGraph {
  invoke(input: Order, config?: Record<string, unknown>): Promise<Order>
  /** A thread's last checkpoint (needs a checkpointer). */
  getState(config: Record<string, unknown>): Promise<{ readonly values: unknown }>
}

/**
 * START → n_validate → … → n_tag → END (a node may not share a state key's name: `n_` prefix),
 * compiled with `checkpointer` when one is given.
 */
export function orderGraph(checkpointer?: BaseCheckpointSaver): OrderGraph {
  // The builder's types grow with every node added; the loop needs one type for it.
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  let g: any = new StateGraph(OrderState)
  for (const [name, fn] of orderNodes) g = g.addNode(`n_${name}`, fn)
  let from: string = START
  for (const [name] of orderNodes) {
    g = g.addEdge(from, `n_${name}`)
    from = `n_${name}`
  }
  g = g.addEdge(from, END)
  return (checkpointer === undefined ? g.compile() : g.compile({ checkpointer })) as OrderGraph
}

/** The version of @langchain/langgraph installed in bench/node_modules. */
export function langGraphVersion(): string {
  return (createRequire(import.meta.url)('@langchain/langgraph/package.json') as { version: string }).version
}
