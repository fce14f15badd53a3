// What user code throws is recorded as it was when it was caught. A thrown value may hold live
// immer drafts (revoked a moment later, when the link's draft is finished), cycles, getters that
// throw, Proxies (revoked or hostile), or be nested past any sane depth: recorded as it is, it
// would make the run impossible to export or even to describe. Most thrown values hold none of
// that, so a read-only scan comes first and the value is kept as it is (identity included);
// only a value that needs it is copied.
import { current, isDraft } from 'immer'
import { SETTLED } from '../core/errors.js'

/**
 * Whether a value is a Proxy. Only the engine can tell (no JavaScript can); Node's answer is
 * taken through `process.getBuiltinModule` rather than an import of `node:util`, so this layer
 * also loads in browsers (the devtools viewer), where no check is made: a Proxy is then read
 * like any object, and one that throws is copied as unreadable all the same. (Node 20 before
 * 20.16 has no `getBuiltinModule`: the same.)
 */
const isProxy: (value: object) => boolean = nodeProxyCheck() ?? (() => false)

function nodeProxyCheck(): ((value: object) => boolean) | undefined {
  try {
    const host = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process
    const util = host?.getBuiltinModule?.('node:util') as { types?: { isProxy?: (value: object) => boolean } } | undefined
    return util?.types?.isProxy
  } catch {
    return undefined
  }
}

/** Deeper than this, a thrown value (a `cause` chain, say) is cut with a marker. */
const MAX_DEPTH = 1_000

/** The fields of an Error that recordings and exports read, own or inherited. */
const ERROR_FIELDS = ['name', 'message', 'stack', 'code', 'cause', 'errors'] as const

/**
 * `value` in a form that stays readable and exportable after the moment it was caught.
 *
 * Returns `value` itself when it holds nothing hostile. Otherwise returns a copy in which
 * drafts are replaced by their current values, getters by the value they returned (or a
 * `'[getter threw: …]'` marker), Proxies that cannot be read by `'[unreadable Proxy: …]'`,
 * cycles by `'[Circular]'` and nesting past 1,000 levels by a `'[cut: …]'` marker. An Error's
 * copy keeps its prototype (so `instanceof` still holds), its `name`, `message`, `stack`,
 * `code` and `cause`. Never throws.
 *
 * Call it where the value is caught, while the drafts it may hold are still alive.
 */
export function captureThrown(value: unknown): unknown {
  return captureValue(value, undefined)
}

/** Reports what {@link captureValue} could not keep: where (path from the root) and why. */
export type LossReporter = (path: readonly (string | number)[], problem: string) => void

/**
 * {@link captureThrown} with a reporter told of every loss (a cycle, a throwing getter, an
 * unreadable Proxy, a cut): what middleware states use to say what they could not record.
 * Drafts replaced by their current values are no loss.
 */
export function captureValue(value: unknown, report: LossReporter | undefined): unknown {
  if (typeof value !== 'object' || value === null) return value
  let clean: boolean
  try {
    clean = isClean(value, [], 0)
  } catch {
    clean = false
  }
  return clean ? value : new Copy(report).copy(value, 0)
}

// ---- the scan: true when `value` can be kept as it is ------------------------------------

/** An error that holds a finished record (a nested run's `ChainRunError`): kept by identity. */
function settled(value: object): boolean {
  return (value as { readonly [SETTLED]?: unknown })[SETTLED] === true
}

function isClean(value: unknown, ancestors: object[], depth: number): boolean {
  if (typeof value !== 'object' || value === null) return true
  if (isProxy(value)) return false
  if (settled(value)) return true
  if (depth >= MAX_DEPTH || ancestors.includes(value)) return false
  if (value instanceof Date) return true
  ancestors.push(value)
  try {
    if (value instanceof Map) {
      for (const [key, item] of value) if (!isClean(key, ancestors, depth + 1) || !isClean(item, ancestors, depth + 1)) return false
      return true
    }
    if (value instanceof Set) {
      for (const item of value) if (!isClean(item, ancestors, depth + 1)) return false
      return true
    }
    if (value instanceof Error) {
      for (const field of ERROR_FIELDS) {
        const descriptor = findDescriptor(value, field)
        if (descriptor === undefined) continue
        // V8's own `stack` accessor (an own data property in Node 20, an accessor later) is safe.
        if (descriptor.get !== undefined && field !== 'stack') return false
        if (descriptor.get === undefined && !isClean(descriptor.value, ancestors, depth + 1)) return false
      }
    }
    for (const key of Object.keys(value)) {
      const descriptor = Object.getOwnPropertyDescriptor(value, key)
      if (descriptor === undefined) continue
      if (descriptor.get !== undefined || descriptor.set !== undefined) return false
      if (!isClean(descriptor.value, ancestors, depth + 1)) return false
    }
    return true
  } finally {
    ancestors.pop()
  }
}

function findDescriptor(value: object, key: string): PropertyDescriptor | undefined {
  for (let o: object | null = value; o !== null && o !== Object.prototype && o !== Error.prototype; o = Object.getPrototypeOf(o) as object | null) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key)
    if (descriptor !== undefined) return descriptor
  }
  return undefined
}

// ---- the copy ------------------------------------------------------------------------------

class Copy {
  private readonly ancestors: object[] = []
  private readonly keys: (string | number)[] = []
  constructor(private readonly report: LossReporter | undefined) {}

  private lost(marker: string): string {
    this.report?.(this.keys.slice(), marker)
    return marker
  }

  copy(value: unknown, depth: number): unknown {
    if (typeof value !== 'object' || value === null) return value
    const ancestors = this.ancestors
    if (ancestors.includes(value)) return this.lost('[Circular]')
    if (depth >= MAX_DEPTH) return this.lost(`[cut: nested more than ${MAX_DEPTH} levels deep]`)
    try {
      if (isProxy(value)) return this.copyProxy(value, depth)
      if (settled(value)) return value
      if (value instanceof Date) return value
      ancestors.push(value)
      try {
        if (value instanceof Map) {
          const out = new Map<unknown, unknown>()
          for (const [key, item] of value) out.set(this.copy(key, depth + 1), this.at(typeof key === 'number' ? key : String(key), item, depth))
          return out
        }
        if (value instanceof Set) {
          const out = new Set<unknown>()
          let i = 0
          for (const item of value) out.add(this.at(i++, item, depth))
          return out
        }
        if (Array.isArray(value)) {
          const out = new Array<unknown>(value.length)
          for (let i = 0; i < value.length; i++) out[i] = this.field(value, i, depth)
          return out
        }
        const proto = Object.getPrototypeOf(value) as object | null
        const out = Object.create(proto) as Record<string, unknown>
        if (value instanceof Error) {
          for (const key of Object.getOwnPropertyNames(value)) {
            const descriptor = Object.getOwnPropertyDescriptor(value, key)
            defineData(out, key, this.field(value, key, depth), descriptor?.enumerable === true)
          }
          // Inherited fields that exports read must not throw on the copy either.
          for (const field of ERROR_FIELDS) {
            if (Object.hasOwn(out, field)) continue
            try {
              void out[field]
            } catch (error) {
              defineData(out, field, this.lost(`[getter threw: ${messageOf(error)}]`), false)
            }
          }
          return out
        }
        for (const key of Object.keys(value)) defineData(out, key, this.field(value, key, depth), true)
        return out
      } finally {
        ancestors.pop()
      }
    } catch (error) {
      return this.lost(`[unreadable value: ${messageOf(error)}]`)
    }
  }

  /** The captured value of an item reached without a read that may throw (Map, Set). */
  private at(key: string | number, item: unknown, depth: number): unknown {
    this.keys.push(key)
    try {
      return this.copy(item, depth + 1)
    } finally {
      this.keys.pop()
    }
  }

  /** The captured value of one field; a getter is called once, and a throwing one described. */
  private field(owner: object, key: string | number, depth: number): unknown {
    this.keys.push(key)
    try {
      let item: unknown
      try {
        item = (owner as Record<string | number, unknown>)[key]
      } catch (error) {
        return this.lost(`[getter threw: ${messageOf(error)}]`)
      }
      return this.copy(item, depth + 1)
    } finally {
      this.keys.pop()
    }
  }

  private copyProxy(proxy: object, depth: number): unknown {
    let draft: boolean
    try {
      draft = isDraft(proxy)
    } catch (error) {
      return this.lost(`[unreadable Proxy: ${messageOf(error)}]`)
    }
    const ancestors = this.ancestors
    try {
      if (draft) return this.copy(current(proxy), depth)
      // Any other Proxy is read through its traps once, into plain data.
      ancestors.push(proxy)
      try {
        if (Array.isArray(proxy)) {
          const length = (proxy as unknown[]).length
          const out = new Array<unknown>(length)
          for (let i = 0; i < length; i++) out[i] = this.field(proxy, i, depth)
          return out
        }
        const out: Record<string, unknown> = {}
        for (const key of Object.keys(proxy)) defineData(out, key, this.field(proxy, key, depth), true)
        return out
      } finally {
        ancestors.pop()
      }
    } catch (error) {
      return this.lost(`[unreadable Proxy: ${messageOf(error)}]`)
    }
  }
}

function defineData(target: object, key: string, value: unknown, enumerable: boolean): void {
  Object.defineProperty(target, key, { value, enumerable, writable: true, configurable: true })
}

function messageOf(error: unknown): string {
  try {
    if (error instanceof Error) return error.message
    return String(error)
  } catch {
    return 'unknown'
  }
}
