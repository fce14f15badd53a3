/**
 * Values as one line of readable text, for patches, the viewer's trees and its error lines: the
 * one place that decides how a recorded value reads.
 *
 * @module
 */

/**
 * One line of readable text for any recorded value: strings quoted (as JSON), bigint as `12n`,
 * `-0`, `undefined`, Dates as ISO text, Errors as `Name: message`, Maps as `Map {k => v}`, Sets
 * as `Set {a, b}`, arrays and objects as JSON-like text. Longer than `max` characters, it is cut
 * with `…`. Never throws: a value it cannot walk (a cycle, a throwing getter) reads `[unreadable]`.
 *
 * @param value - any value, decoded (a state, a patch value, an error)
 * @param max - the longest text returned, in characters (default 200)
 */
export function valueText(value: unknown, max = 200): string {
  let text: string
  try {
    text = describe(value, 0, max)
  } catch {
    text = '[unreadable]'
  }
  return text.length > max ? `${text.slice(0, Math.max(max - 1, 0))}…` : text
}

// Depth-bounded, and each container stops once its text is past `max`: a 100,000-item array
// costs what is shown, not what it holds.
function describe(value: unknown, depth: number, max: number): string {
  switch (typeof value) {
    case 'string':
      return JSON.stringify(value)
    case 'bigint':
      return `${value}n`
    case 'undefined':
      return 'undefined'
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value)
    case 'object':
      break
    default:
      return String(value)
  }
  if (value === null) return 'null'
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (value instanceof Error) return `${value.name}: ${value.message}`
  if (depth > 50) return '…'
  const inner = (item: unknown): string => describe(item, depth + 1, max)
  if (value instanceof Map) return `Map {${joined(value, ([k, v]: [unknown, unknown]) => `${inner(k)} => ${inner(v)}`, max)}}`
  if (value instanceof Set) return `Set {${joined(value, inner, max)}}`
  if (Array.isArray(value)) return `[${joined(value, inner, max)}]`
  const record = value as Record<string, unknown>
  return `{${joined(Object.keys(record), (key: string) => `${JSON.stringify(key)}: ${inner(record[key])}`, max)}}`
}

function joined<T>(items: Iterable<T>, text: (item: T) => string, max: number): string {
  let out = ''
  for (const item of items) {
    out += (out === '' ? '' : ', ') + text(item)
    if (out.length > max) break
  }
  return out
}
