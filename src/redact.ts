// Redaction for exports: a path names a value to hide in every state tree. Redacted states are
// built once per state object (a WeakMap), so consecutive states that share a subtree share its
// redacted copy too and the cost follows the number of distinct states, not of events.

/** A path into a state; `'*'` matches every key or index at its level. */
export type RedactPath = readonly (string | number)[]

export const PLACEHOLDER = '[REDACTED]'

export interface Redactor {
  readonly active: boolean
  readonly paths: readonly RedactPath[]
  readonly placeholder: string
  /** The state with every matching value replaced (the same object when nothing matched). */
  apply<T>(state: T): T
  /**
   * Whether a write at `path` may carry a redacted value: it lands on, inside, or above a
   * redacted path (a parent object written whole holds its children). Such a write's value is
   * hidden entirely: over-redacting is safe, under-redacting is not.
   */
  overlaps(path: readonly (string | number)[]): boolean
}

export function redactor(paths: readonly RedactPath[]): Redactor {
  paths.forEach((path, i) => {
    if (!Array.isArray(path) || path.length === 0 || !path.every((k) => typeof k === 'string' || typeof k === 'number')) {
      throw new TypeError(`redact[${i}] must be a non-empty array of keys (strings or numbers), e.g. ['user', 'password']`)
    }
  })
  const cache = new WeakMap<object, unknown>()
  return {
    active: paths.length > 0,
    paths,
    placeholder: PLACEHOLDER,
    overlaps(path) {
      return paths.some((redacted) => {
        const n = Math.min(redacted.length, path.length)
        for (let i = 0; i < n; i++) if (redacted[i] !== '*' && String(redacted[i]) !== String(path[i])) return false
        return true
      })
    },
    apply<T>(state: T): T {
      if (paths.length === 0 || typeof state !== 'object' || state === null) return state
      const hit = cache.get(state)
      if (hit !== undefined) return hit as T
      let out: unknown = state
      for (const path of paths) out = redactAt(out, path, 0)
      cache.set(state, out)
      return out as T
    },
  }
}

function redactAt(node: unknown, path: RedactPath, depth: number): unknown {
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
  else Object.defineProperty(node, key as string, { value, enumerable: true, writable: true, configurable: true })
}
function shallowCopy(node: object): object {
  if (Array.isArray(node)) return [...node]
  if (node instanceof Map) return new Map(node)
  return { ...node }
}
