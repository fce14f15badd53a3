/**
 * The viewer's value trees: a state as nested nodes with readable text, and which paths an event
 * changed. Values read as `valueText` writes them (the one place that decides it).
 *
 * @module
 */
import type { Patch } from 'immer'
import { diffStates } from '../../core/diff-states.js'
import { valueText } from '../value-text.js'
import type { ViewerRun } from './run-view.js'

/** A key of a path: an object key, an array index, a Map key (any value). */
export type Key = unknown

/** One node of a value tree. */
export interface TreeNode {
  readonly path: readonly Key[]
  /** The key as text (`'(root)'` for the root, `'…'` for the node that counts what is left out). */
  readonly key: string
  /** `object`, `array(3)`, `Map(2)`, `Set(1)`, `Date`, `Error`, `string`, `null`, … */
  readonly type: string
  readonly text: string
  /** A container's children (at most `limit`, then a `…` node). */
  readonly children?: readonly TreeNode[]
  readonly collapsed: boolean
  /** On a changed path (see {@link changedPaths}). */
  readonly changed: boolean
}

/** Options of {@link valueTree}. */
export interface TreeOptions {
  /** {@link pathKey}s of changed paths: their nodes are marked and never start collapsed. */
  readonly changed?: ReadonlySet<string>
  /** Children shown per node (default 200). */
  readonly limit?: number
  /** Containers deeper than this start collapsed (default 2). */
  readonly open?: number
}

const keyText = (key: Key): string => (typeof key === 'object' || typeof key === 'bigint' ? valueText(key, 60) : String(key))

/** A path as a lookup key: `["items","0","price"]` (indexes and Map keys as text). */
export function pathKey(path: readonly Key[]): string {
  return JSON.stringify(path.map((key) => (typeof key === 'object' && key !== null ? valueText(key, Infinity) : String(key))))
}

function typeLabel(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `array(${value.length})`
  if (value instanceof Map) return `Map(${value.size})`
  if (value instanceof Set) return `Set(${value.size})`
  if (value instanceof Date) return 'Date'
  if (value instanceof Error) return 'Error'
  return typeof value
}

function entriesOf(value: unknown): [Key, unknown][] | undefined {
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Error) return undefined
  if (value instanceof Map) return [...(value as Map<Key, unknown>)]
  if (value instanceof Set) return [...(value as Set<unknown>)].map((member, i) => [i, member])
  if (Array.isArray(value)) return value.map((item: unknown, i) => [i, item])
  return Object.entries(value)
}

/**
 * A value as tree nodes: containers deeper than `open` start collapsed, unless they are on a
 * changed path. At most `limit` children per node; a last `…` node counts the rest.
 */
export function valueTree(value: unknown, options: TreeOptions = {}): TreeNode {
  return node(value, [], '(root)', 0, { changed: options.changed ?? new Set(), limit: options.limit ?? 200, open: options.open ?? 2 })
}

function node(value: unknown, path: readonly Key[], key: string, depth: number, options: Required<TreeOptions>): TreeNode {
  const entries = entriesOf(value)
  const changed = options.changed.has(pathKey(path))
  const base = { path, key, type: typeLabel(value), changed }
  if (entries === undefined) return { ...base, text: valueText(value), collapsed: false }
  const children = entries.slice(0, options.limit).map(([k, v]) => node(v, [...path, k], keyText(k), depth + 1, options))
  if (entries.length > options.limit) {
    children.push({ path: [...path, '…'], key: '…', type: 'more', text: `${entries.length - options.limit} more`, collapsed: false, changed: false })
  }
  return { ...base, text: summary(value, entries), children, collapsed: depth > options.open && !changed && entries.length > 0 }
}

function summary(value: unknown, entries: readonly unknown[]): string {
  if (value instanceof Map || value instanceof Set || Array.isArray(value)) return valueText(value, 80)
  return entries.length === 0 ? '{}' : `{${entries.length} key${entries.length === 1 ? '' : 's'}}`
}

/** The {@link pathKey}s of patches' paths and all their ancestors. */
export function patchedPaths(patches: readonly Patch[], into: Set<string> = new Set()): Set<string> {
  for (const patch of patches) for (let i = 0; i <= patch.path.length; i++) into.add(pathKey(patch.path.slice(0, i)))
  return into
}

/** What changed from one state to the next (the library's structural diff; `undefined` = no state). */
function changedBetween(before: unknown, after: unknown): Set<string> {
  if (before === after) return new Set()
  if (before === undefined || after === undefined) return new Set([pathKey([])])
  return patchedPaths(diffStates(before, after))
}

/**
 * The paths the event at `seq` changed, per state, from the state of the event before it: a
 * path and all its ancestors count as changed; metrics that appear or go mark the root. A
 * `ctx.write` marks the path it wrote (its container for an array mutator or a Set change).
 */
export function changedPaths(run: ViewerRun, seq: number): { ctx: Set<string>; mwctx: Set<string>; metrics: Set<string> } {
  const now = run.events[seq]?.event
  const then = run.events[seq - 1]?.event
  if (now === undefined || then === undefined) return { ctx: new Set(), mwctx: new Set(), metrics: new Set() }
  const ctx = changedBetween(then.ctx, now.ctx)
  if (now.type === 'ctx.write') for (let i = 0; i <= now.path.length; i++) ctx.add(pathKey(now.path.slice(0, i)))
  return { ctx, mwctx: changedBetween(then.mwctx, now.mwctx), metrics: changedBetween(then.metrics, now.metrics) }
}
