// Settling the value a link returned instead of mutating its draft.
import { current, freeze, isDraft, isDraftable } from 'immer'

/**
 * A value a link returned instead of mutating its draft may still hold drafts (`{ ...ctx }`
 * copies draft children). They are replaced by their current values before the draft is
 * revoked, copy-on-write: a container holding a draft is copied (same order, same prototype),
 * the user's own objects are never rewritten. The result is deep-frozen like any other state
 * (as the input is, and as immer freezes what a recipe returns).
 */
export function settleReplacement(value: unknown): unknown {
  return freeze(undraft(value, []), true)
}

function undraft(value: unknown, ancestors: object[]): unknown {
  if (isDraft(value)) return current(value)
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || !isDraftable(value)) return value
  // A cycle is left as it is: the state check after the link names it.
  if (ancestors.includes(value)) return value
  if (ancestors.length > 10_000) throw new RangeError('returned value is nested more than 10,000 levels deep')
  ancestors.push(value)
  try {
    if (value instanceof Map) {
      const entries = [...value].map(([key, item]) => [undraft(key, ancestors), undraft(item, ancestors)] as const)
      let i = 0
      for (const [key, item] of value) {
        const settled = entries[i++] as readonly [unknown, unknown]
        if (settled[0] !== key || settled[1] !== item) return new Map(entries)
      }
      return value
    }
    if (value instanceof Set) {
      const items = [...value]
      const settled = items.map((item) => undraft(item, ancestors))
      // Object.is: a NaN member is not a change.
      return settled.every((item, i) => Object.is(item, items[i])) ? value : new Set(settled)
    }
    if (Array.isArray(value)) {
      let out: unknown[] | undefined
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        const settled = undraft(item, ancestors)
        if (settled !== item) out ??= value.slice()
        if (out !== undefined) out[i] = settled
      }
      return out ?? value
    }
    const record = value as Record<string, unknown>
    let out: Record<string, unknown> | undefined
    for (const key of Object.keys(record)) {
      const item = record[key]
      const settled = undraft(item, ancestors)
      if (settled !== item) out ??= copyRecord(record)
      if (out !== undefined) out[key] = settled
    }
    return out ?? value
  } finally {
    ancestors.pop()
  }
}

/** A shallow copy with the same prototype; own keys defined, never set (`__proto__` stays a key). */
function copyRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out = Object.create(Object.getPrototypeOf(record) as object | null) as Record<string, unknown>
  for (const key of Object.keys(record)) Object.defineProperty(out, key, { value: record[key], enumerable: true, writable: true, configurable: true })
  return out
}

