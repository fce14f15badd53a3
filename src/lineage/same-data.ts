// Equality of recorded values by content: what compareRuns and replay decide "the same" by.

/**
 * Equality for recorded values, by content: NaN equals NaN, 0 and -0 differ (as in run files),
 * Maps and Sets compare in order, Dates by time, Errors by name, message, code and cause. Shared subtrees (`===`) cost nothing.
 */
export function sameData(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > 1_000) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i], depth + 1)) return false
    return true
  }
  const proto: unknown = Object.getPrototypeOf(a)
  // A plain object (most recorded values: states, patches) is none of what follows, and equals
  // only an object of its own prototype: no Date, Error, Map or Set on either side to ask about.
  if (proto !== Object.prototype && proto !== null) {
    if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
    // Errors as run files keep them: name, message, code, cause (a loaded TypeError is an Error named so).
    if (a instanceof Error || b instanceof Error) return a instanceof Error && b instanceof Error && a.name === b.name && a.message === b.message && sameData((a as { code?: unknown }).code, (b as { code?: unknown }).code, depth + 1) && sameData(a.cause, b.cause, depth + 1)
    if (a instanceof Map || a instanceof Set) {
      if (a.constructor !== b.constructor || a.size !== (b as Map<unknown, unknown>).size) return false
      const left = [...(a as Map<unknown, unknown>).entries()]
      const right = [...(b as Map<unknown, unknown>).entries()]
      return left.every((entry, i) => sameData(entry, right[i], depth + 1))
    }
  }
  if (proto !== Object.getPrototypeOf(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], depth + 1)) return false
  }
  return true
}
