/**
 * Stepping through a link's recorded writes (`capture: 'writes'`). The library gives a write the
 * states of its link's `link.start`; the viewer replays the link's writes up to one on a copy of
 * that ctx, so stepping through them shows each one land.
 *
 * @module
 */
import type { CtxWriteTimelineEvent, States } from '../../record/events.js'
import { sameValue } from '../../files/patch-apply.js'
import { valueText } from '../value-text.js'
import type { WaterfallRow } from '../waterfall.js'
import type { ViewerRun } from './run-view.js'

/** The states shown at an event, and whether they are exact. */
export interface ShownStates extends States<unknown> {
  /** `false` at a write the viewer could not replay (a `sort` comparator is not recorded, say). */
  readonly exact: boolean
}

// Computed when asked for (stepping onto a write), not on load: a link that pushes 100,000 items
// would otherwise cost a copy of its array per push for every document loaded.
const writeCache = new WeakMap<ViewerRun, Map<number, { ctx: unknown; exact: boolean }>>()

/**
 * The states to show at an event: the library's (`timeline.stateAt`), except at a `ctx.write`,
 * where ctx is the link's start state with its writes up to this one replayed. A write it cannot
 * replay gives the link's start state, `exact: false`.
 */
export function stateAt(run: ViewerRun, seq: number): ShownStates {
  const states = run.timeline.stateAt(seq)
  if (run.events[seq]?.type !== 'ctx.write') return { ...states, exact: true }
  let cache = writeCache.get(run)
  if (cache === undefined) writeCache.set(run, (cache = new Map()))
  let written = cache.get(seq)
  if (written === undefined) cache.set(seq, (written = replayWrites(run, seq)))
  return { ...states, ctx: written.ctx, exact: written.exact }
}

function replayWrites(run: ViewerRun, seq: number): { ctx: unknown; exact: boolean } {
  const events = run.timeline.events
  const write = events[seq] as CtxWriteTimelineEvent<unknown>
  const link = write.link
  // A branch's writes land on its own draft of the step's input: only that branch's are replayed.
  const branch = write.branch
  let first = seq
  while (first > 0 && !(events[first - 1]?.type === 'link.start' && run.events[first - 1]?.link === link)) first--
  const start = write.ctx
  try {
    // One private copy, changed in place: linear in the state and the writes.
    const ctx: unknown = structuredClone(start)
    for (let i = first; i <= seq; i++) {
      const event = events[i]
      if (event?.type === 'ctx.write' && event.link === link && event.branch === branch) applyWrite(ctx, event)
    }
    return { ctx, exact: true }
  } catch {
    return { ctx: start, exact: false }
  }
}

const RESERVED = new Set<unknown>(['__proto__', 'constructor', 'prototype'])
const OWN_CONTAINER = new Set(['set.add', 'set.delete', 'set.clear', 'map.clear'])

type Container = Record<PropertyKey, unknown> & Map<unknown, unknown> & Set<unknown> & unknown[]

/** One recorded write, applied in place: `set`, `delete`, an array mutator, a Map or Set change. */
function applyWrite(root: unknown, { op, path, value }: CtxWriteTimelineEvent<unknown>): void {
  if (path.some((key) => RESERVED.has(key))) throw new Error('a reserved key in a write path')
  // The container the write changed: the path itself for array mutators, Set changes and
  // map.clear, its parent for property and Map entry writes.
  const own = op.startsWith('map.') || op.startsWith('set.') ? OWN_CONTAINER.has(op) : op !== 'set' && op !== 'delete'
  let node = root as Container
  for (const key of own ? path : path.slice(0, -1)) {
    const next: unknown = node instanceof Map ? node.get(key) : node[key]
    if (next === null || typeof next !== 'object') throw new Error('no container')
    node = next as Container
  }
  const key = path.at(-1) as string | number
  // The event keeps its own value: later writes change the copy in the state, not the event.
  const copy: unknown = structuredClone(value)
  switch (op) {
    case 'set':
      node[key] = copy
      break
    case 'delete':
      delete node[key]
      break
    case 'map.set':
      node.set(key, copy)
      break
    case 'map.delete':
      node.delete(key)
      break
    case 'map.clear':
    case 'set.clear':
      node.clear()
      break
    case 'set.add':
      node.add(copy)
      break
    case 'set.delete':
      removeMember(node, value)
      break
    default: {
      const method: unknown = Array.isArray(node) ? (node as unknown as Record<string, unknown>)[op] : undefined
      if (typeof method !== 'function' || !Array.isArray(copy)) throw new Error(`cannot replay ${op}`)
      ;(method as (...args: unknown[]) => unknown).apply(node, copy)
    }
  }
}

// A member named by value (a copy went through the file): the first equal member goes, as in the
// library's reader.
function removeMember(set: Set<unknown>, value: unknown): void {
  if (set.delete(value)) return
  if (typeof value === 'object' && value !== null) {
    for (const member of set) {
      if (sameValue(member, value)) {
        set.delete(member)
        return
      }
    }
  }
}

/** One recorded write of a link, as the Link panel lists it. */
export interface WriteLine {
  readonly seq: number
  readonly op: string
  /** Dotted, from the ctx root (`''` for the root). */
  readonly path: string
  /** The value written, as text. */
  readonly value: string
  /** `file:line:column` in user code, when recorded with `stacks: true`. */
  readonly stack: string | undefined
  /** The parallel step's branch that wrote (`undefined`: the link itself). */
  readonly branch: string | undefined
}

/** The `ctx.write` events of a link execution: op, path, value text and call site. */
export function linkWrites(run: ViewerRun, row: WaterfallRow): WriteLine[] {
  const out: WriteLine[] = []
  for (let seq = row.startSeq + 1; seq < row.endSeq; seq++) {
    const event = run.timeline.at(seq)
    if (event?.type !== 'ctx.write' || event.link.name !== row.name) continue
    out.push({ seq, op: event.op, path: event.path.map(String).join('.'), value: valueText(event.value, 120), stack: event.stack, branch: event.branch })
  }
  return out
}
