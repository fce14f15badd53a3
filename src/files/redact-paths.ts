// Reading and replacing the values at redaction paths in every kind of container a state holds
// (objects, arrays, Maps, Sets; a `'*'` segment fans out), copy-on-write: untouched subtrees stay
// shared.
import type { RedactPath } from '../core/types.js'
import { defineOwn, PLACEHOLDER } from './scrub.js'

/** Calls `found` with every value at `path` below `node` (`'*'` fans out). */
export function valuesAt(node: unknown, path: RedactPath, depth: number, found: (value: unknown) => void): void {
  if (depth === path.length) {
    found(node)
    return
  }
  if (typeof node !== 'object' || node === null) return
  const segment = path[depth] as string | number
  if (node instanceof Set) {
    if (segment === '*') for (const member of node) valuesAt(member, path, depth + 1, found)
    return
  }
  if (segment === '*') {
    if (node instanceof Map) for (const child of node.values()) valuesAt(child, path, depth + 1, found)
    else for (const key of Object.keys(node)) valuesAt((node as Record<string, unknown>)[key], path, depth + 1, found)
    return
  }
  const key = node instanceof Map ? mapKey(node, segment) : Array.isArray(node) ? segment : String(segment)
  if (has(node, key)) valuesAt(get(node, key), path, depth + 1, found)
}

/** `node` with the value at `path` replaced by the placeholder (the same object when nothing changed). */
export function redactAt(node: unknown, path: RedactPath, depth: number): unknown {
  if (depth === path.length) return PLACEHOLDER
  if (typeof node !== 'object' || node === null) return node
  const segment = path[depth] as string | number
  if (node instanceof Set) {
    // Set members have no keys: only '*' reaches them.
    if (segment !== '*') return node
    let changed = false
    const members = [...node].map((member) => {
      const next = redactAt(member, path, depth + 1)
      if (next !== member) changed = true
      return next
    })
    return changed ? new Set(members) : node
  }
  const keys: unknown[] =
    segment !== '*'
      ? [node instanceof Map ? mapKey(node, segment) : Array.isArray(node) ? segment : String(segment)]
      : node instanceof Map
        ? [...node.keys()]
        : Object.keys(node).map((k) => (Array.isArray(node) ? Number(k) : k))
  let copy: unknown
  for (const key of keys) {
    const child = get(node, key)
    if (child === undefined && !has(node, key)) continue
    const next = redactAt(child, path, depth + 1)
    if (next === child) continue
    copy ??= shallowCopy(node)
    set(copy, key, next)
  }
  return copy ?? node
}

/** A Map key as given, or in its other form: paths from the command line are text, where a
 * number-looking segment becomes a number. */
function mapKey(map: Map<unknown, unknown>, segment: string | number): unknown {
  if (map.has(segment)) return segment
  const other = typeof segment === 'number' ? String(segment) : /^-?\d+(\.\d+)?$/.test(segment) ? Number(segment) : segment
  return map.has(other) ? other : segment
}

function get(node: object, key: unknown): unknown {
  return node instanceof Map ? node.get(key) : (node as Record<string, unknown>)[key as string]
}
function has(node: object, key: unknown): boolean {
  return node instanceof Map ? node.has(key) : Object.hasOwn(node, key as string)
}
function set(node: unknown, key: unknown, value: unknown): void {
  if (node instanceof Map) node.set(key, value)
  else defineOwn(node as object, key as string, value)
}
function shallowCopy(node: object): object {
  if (Array.isArray(node)) return [...node]
  if (node instanceof Map) return new Map(node)
  return { ...node }
}
