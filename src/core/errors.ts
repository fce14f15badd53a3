/**
 * Why a run failed. More codes may be added; switch with a default branch.
 * - `'LINK_FAILED'`: a link threw or rejected (`error.link` names it, `error.cause` is what it threw).
 * - `'ABORTED'`: the run's `signal` aborted (`error.cause` is the signal's reason).
 * - `'INVALID_INPUT'`: the input schema rejected the input (`error.cause` is the `ZodError`).
 * - `'MIDDLEWARE_FAILED'`: with `safe: false`, a middleware call failed.
 * - `'INTERNAL'`: shadowchain itself failed; no link or middleware is blamed (`error.link` is
 *   `undefined`). Please report it.
 * - `'TIMEOUT'`: a link's last attempt outlived its `timeoutMs` (`error.link` names it).
 * - `'CONFLICT'`: two branches of a parallel step (`merge: 'strict'`) wrote the same path, or one
 *   inside the other's (`error.link` names the step; the message names the path and both branches).
 */
export type ChainRunErrorCode = 'LINK_FAILED' | 'ABORTED' | 'INVALID_INPUT' | 'MIDDLEWARE_FAILED' | 'INTERNAL' | 'TIMEOUT' | 'CONFLICT'

/** Longest description {@link describeError} returns, in characters. */
const MAX_DESCRIPTION = 500

/**
 * A readable one-line description of anything thrown: an error's message (or name), a string as
 * it is, anything else as bounded JSON-like text (`{"code":42}`, `Symbol(x)`, `[Circular]`).
 * Never throws, whatever it is given (revoked proxies, throwing getters, cycles…), and never
 * says `[object Object]`.
 *
 * @param error - what was thrown, or any value
 */
export function describeError(error: unknown): string {
  try {
    if (error instanceof Error) {
      const message: unknown = error.message
      if (typeof message === 'string' && message !== '') return bound(message)
      const name: unknown = error.name
      return typeof name === 'string' && name !== '' ? name : 'Error'
    }
  } catch {
    // A hostile error (a throwing getter, a revoked proxy): described as a value below.
  }
  if (typeof error === 'string') return bound(error)
  try {
    const json = JSON.stringify(error, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value))
    if (typeof json === 'string' && json !== '{}') return bound(json)
  } catch {
    // A cycle, a throwing getter or toJSON, a revoked proxy: described by hand below.
  }
  return bound(describeValue(error, 0, []))
}

function bound(text: string): string {
  return text.length > MAX_DESCRIPTION ? `${text.slice(0, MAX_DESCRIPTION - 1)}…` : text
}

// JSON-like, by hand: every read guarded, cycles marked, depth and width bounded.
function describeValue(value: unknown, depth: number, ancestors: unknown[]): string {
  try {
    switch (typeof value) {
      case 'string':
        return JSON.stringify(value)
      case 'bigint':
        return `${value}n`
      case 'symbol':
        return value.toString()
      case 'function':
        return `[function ${value.name || 'anonymous'}]`
      case 'undefined':
        return 'undefined'
      case 'number':
      case 'boolean':
        return String(value)
    }
    if (value === null) return 'null'
    if (ancestors.includes(value)) return '[Circular]'
    if (depth >= 3) return Array.isArray(value) ? '[…]' : '{…}'
    if (value instanceof Error) return `${String(value.name)}: ${String(value.message)}`
    if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
    const inner = [...ancestors, value]
    const items: string[] = []
    const add = (text: string): boolean => {
      if (items.length >= 10) {
        items.push('…')
        return false
      }
      items.push(text)
      return true
    }
    if (Array.isArray(value)) {
      for (const item of value) if (!add(describeValue(item, depth + 1, inner))) break
      return `[${items.join(',')}]`
    }
    if (value instanceof Map) {
      for (const [key, item] of value) if (!add(`${describeValue(key, depth + 1, inner)} => ${describeValue(item, depth + 1, inner)}`)) break
      return `Map(${value.size}) {${items.join(', ')}}`
    }
    if (value instanceof Set) {
      for (const item of value) if (!add(describeValue(item, depth + 1, inner))) break
      return `Set(${value.size}) {${items.join(', ')}}`
    }
    for (const key of Object.keys(value as object)) {
      let text: string
      try {
        text = describeValue((value as Record<string, unknown>)[key], depth + 1, inner)
      } catch {
        text = '[unreadable]'
      }
      if (!add(`${JSON.stringify(key)}:${text}`)) break
    }
    const proto: unknown = Object.getPrototypeOf(value)
    const name = proto === Object.prototype || proto === null ? '' : `${String((proto as { constructor?: { name?: unknown } }).constructor?.name ?? 'Object')} `
    return `${name}{${items.join(',')}}`
  } catch {
    return '[unreadable value]'
  }
}

/**
 * The key of a `true` that errors holding a finished record carry (`ChainRunError`: its run is
 * complete and frozen, cycles included on purpose): what captures thrown values keeps such an
 * error as it is, by identity, instead of copying the run it holds.
 */
export const SETTLED: unique symbol = Symbol('shadowchain.settled')
