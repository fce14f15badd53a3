// The workload every case runs: the same ctx, the same 10 link functions, the same middleware.
import { createDraft, finishDraft, freeze } from 'immer'
import type { Objectish, Patch } from 'immer'
import type { AfterEvent, BeforeEvent, Middleware } from '../../src/index.ts'

/** A 10-key business ctx, some keys nested (objects, an array of objects, an array of strings). */
export interface Order {
  id: string
  status: string
  count: number
  total: number
  currency: string
  customer: { name: string; tier: string; address: { city: string; zip: string } }
  items: { sku: string; qty: number; price: number }[]
  flags: { vip: boolean; fraudChecked: boolean }
  tags: string[]
  updatedAt: number
}

/** A fresh, deep-frozen order (every run's input is frozen: shadowchain freezes it anyway). */
export function makeOrder(): Order {
  return freeze(
    {
      id: 'order-42',
      status: 'new',
      count: 0,
      total: 0,
      currency: 'USD',
      customer: { name: 'Ada', tier: 'silver', address: { city: 'Paris', zip: '75001' } },
      items: [
        { sku: 'a-1', qty: 1, price: 9.5 },
        { sku: 'b-2', qty: 3, price: 4.25 },
        { sku: 'c-3', qty: 2, price: 12 },
      ],
      flags: { vip: false, fraudChecked: false },
      tags: ['web', 'eu'],
      updatedAt: 0,
    },
    true,
  ) as Order
}

/** A link as every case calls it: it mutates what it is given (an immer draft or a plain object). */
export type Step<C> = (ctx: C) => void

/** 10 synchronous links, each making one small change (top level, nested, in arrays). */
export const orderLinks: readonly (readonly [string, Step<Order>])[] = [
  ['validate', (ctx) => { if (ctx.items.length > 0) ctx.status = 'validated' }],
  ['count', (ctx) => { ctx.count += 1 }],
  ['price', (ctx) => {
    let sum = 0
    for (const item of ctx.items) sum += item.qty * item.price
    ctx.total = sum
  }],
  ['tier', (ctx) => { ctx.customer.tier = 'gold' }],
  ['zip', (ctx) => { ctx.customer.address.zip = '75002' }],
  ['qty', (ctx) => { (ctx.items[0] as Order['items'][number]).qty = 2 }],
  ['fraud', (ctx) => { ctx.flags.fraudChecked = true }],
  ['currency', (ctx) => { ctx.currency = 'EUR' }],
  ['stamp', (ctx) => { ctx.updatedAt = 1_700_000_000_000 }],
  ['tag', (ctx) => { ctx.tags[0] = 'priority' }],
]

/** A flat ctx of `width` keys (`k0`…), half numbers and half short strings. */
export type Flat = Record<string, number | string>

export function makeFlat(width: number): Flat {
  const out: Flat = {}
  for (let i = 0; i < width; i++) out[`k${i}`] = i % 2 === 0 ? i : `value-${i}`
  return freeze(out, true) as Flat
}

/** `count` links over a flat ctx of `width` keys; link i changes one key (spread over the width). */
export function flatLinks(count: number, width: number): (readonly [string, Step<Flat>])[] {
  const links: (readonly [string, Step<Flat>])[] = []
  for (let i = 0; i < count; i++) {
    const key = `k${Math.floor((i * width) / count)}`
    links.push([`set-${key}`, (ctx) => { ctx[key] = -1 - i }])
  }
  return links
}

/**
 * The same work with immer, by hand (the runner suite's baseline): per link createDraft →
 * link(draft) → finishDraft with a patch listener (patches + inverse patches), autoFreeze on.
 * Synchronous links are not awaited, as in shadowchain. The unavoidable cost of immutable,
 * patched states.
 */
export function immerLoop<C>(steps: readonly Step<C>[]): (input: C) => Promise<C> {
  const last: { patches: readonly Patch[]; inversePatches: readonly Patch[] } = { patches: [], inversePatches: [] }
  const listener = (patches: Patch[], inversePatches: Patch[]): void => {
    last.patches = patches
    last.inversePatches = inversePatches
  }
  return async (input: C): Promise<C> => {
    let state = input
    for (const step of steps) {
      const draft = createDraft(state as Objectish)
      step(draft as C)
      state = finishDraft(draft, listener) as C
    }
    return state
  }
}

// The two chain-level middleware, synchronous, doing realistic light work.

/** Counts link executions in the run's mwctx (before each link). */
export const counter: Middleware = {
  name: 'counter',
  before(e: BeforeEvent) {
    const mw = e.mwctx
    mw['links'] = ((mw['links'] as number | undefined) ?? 0) + 1
  },
}

/** Writes each link's own duration, in ms, to its metrics (after each link). */
export const timing: Middleware = {
  name: 'timing',
  after(e: AfterEvent) {
    e.metrics['ms'] = Number(e.durationNs) / 1e6
  },
}

/** A 1,000-key ctx of small records: each value an object with a few fields and an array. */
export interface Item {
  id: number
  name: string
  qty: number
  price: number
  tags: string[]
}
export type Records = Record<string, Item>

export function makeRecords(width: number): Records {
  const out: Records = {}
  for (let i = 0; i < width; i++) out[`k${i}`] = { id: i, name: `item-${i}`, qty: 1, price: i * 1.25, tags: ['a', 'b'] }
  return freeze(out, true) as Records
}

/** `count` links over a ctx of records; link i changes one field of one record. */
export function recordLinks(count: number, width: number): (readonly [string, Step<Records>])[] {
  const links: (readonly [string, Step<Records>])[] = []
  for (let i = 0; i < count; i++) {
    const key = `k${Math.floor((i * width) / count)}`
    links.push([`qty-${key}`, (ctx) => { (ctx[key] as Item).qty = -1 - i }])
  }
  return links
}

/**
 * `count` links over the 10-key order ctx (the runner bench's 1,000-link chain): link i makes the
 * kind of change `orderLinks[i % 10]` makes (top level, nested, inside arrays), each to a value
 * no earlier link wrote, so that every link changes its ctx. Values are made here, not in the
 * links: a link only writes.
 */
export function longOrderLinks(count: number): (readonly [string, Step<Order>])[] {
  const links: (readonly [string, Step<Order>])[] = []
  for (let i = 0; i < count; i++) {
    const text = `v${i}`
    const n = i + 1
    const x = i * 1.5 + 0.25
    const item = i % 3
    const steps: Step<Order>[] = [
      (ctx) => void (ctx.status = text),
      (ctx) => void (ctx.count = n),
      (ctx) => void (ctx.total = x),
      (ctx) => void (ctx.customer.tier = text),
      (ctx) => void (ctx.customer.address.zip = text),
      (ctx) => void ((ctx.items[item] as Order['items'][number]).qty = n),
      (ctx) => void (ctx.flags.fraudChecked = !ctx.flags.fraudChecked),
      (ctx) => void (ctx.currency = text),
      (ctx) => void (ctx.updatedAt = n),
      (ctx) => void (ctx.tags[0] = text),
    ]
    links.push([`${orderLinks[i % 10]?.[0] ?? 'link'}-${i}`, steps[i % 10] as Step<Order>])
  }
  return links
}

/** The hand-written immer loop keeping every state it makes (what a recording must keep at least). */
export function immerStates<C>(steps: readonly Step<C>[]): (input: C) => C[] {
  return (input: C): C[] => {
    const states: C[] = []
    let state = input
    for (const step of steps) {
      const draft = createDraft(state as Objectish)
      step(draft as C)
      state = finishDraft(draft, () => {}) as C
      states.push(state)
    }
    return states
  }
}
