// The working states middleware write to (mwctx, metrics): copies made from recorded states, and
// drafts replaced by their values when nothing records them.
import { current, isDraft } from 'immer'

/** How deep {@link resolveDrafts} goes. */
const MAX_DEPTH = 100

/**
 * A mutable deep copy of a snapshot: what a fork gives its middleware to go on writing to.
 * Plain data is copied; class instances (kept by reference in snapshots) stay shared.
 */
export function thaw(state: unknown): unknown {
  if (typeof state !== 'object' || state === null) return state
  if (Array.isArray(state)) return state.map(thaw)
  if (state instanceof Date) return new Date(state.getTime())
  if (state instanceof Map) return new Map([...state].map(([key, value]) => [key, thaw(value)]))
  if (state instanceof Set) return new Set([...state].map(thaw))
  const proto: unknown = Object.getPrototypeOf(state)
  if (proto !== Object.prototype && proto !== null) return state
  const out: Record<string, unknown> = proto === null ? Object.create(null) : {}
  for (const key of Object.keys(state)) out[key] = thaw((state as Record<string, unknown>)[key])
  return out
}

/**
 * Replaces, in place, the drafts a working state holds (plain objects and arrays, down to 100
 * levels) by their current values: what a link left in its metrics stays readable after its
 * draft is finished, when nothing records them. Never throws.
 */
export function resolveDrafts(working: object): void {
  try {
    resolveIn(working, 0)
  } catch {
    // A hostile value: left as it is, as it was written.
  }
}

function resolveIn(container: object, depth: number): void {
  if (depth > MAX_DEPTH) return
  const record = container as Record<string, unknown>
  for (const key of Object.keys(record)) {
    const value = record[key]
    if (typeof value !== 'object' || value === null || Object.isFrozen(value)) continue
    if (isDraft(value)) {
      record[key] = current(value)
      continue
    }
    const proto: unknown = Object.getPrototypeOf(value)
    if (Array.isArray(value) || proto === Object.prototype || proto === null) resolveIn(value, depth + 1)
  }
}
