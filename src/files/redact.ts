// Redaction for everything that leaves the process (files, the command line, the viewer, spans).
// Two steps, one rule:
// 1. Paths: the value at every redacted path of every ctx, mwctx and metrics state becomes the
//    placeholder. Redacted states are built once per state object (a WeakMap), so consecutive
//    states that share a subtree share its redacted copy too.
// 2. Copies: the values found at redacted paths ("secrets": strings, and numbers and bigints
//    rendered as decimal text, of at least MIN_SECRET_LENGTH characters, including every such
//    leaf of an object found there) are also scrubbed wherever else they occur: in other state
//    keys and values, error messages, stacks and causes, link meta, `io` values, metric
//    attributes. A string loses every occurrence (as a substring); a number or bigint is replaced
//    when its decimal text equals a secret. Over-redacting is safe, under-redacting is not.
// Nothing here is paid when no path is given: callers hold no redactor then.
import { checkRedactPaths } from '../core/validate.js'
import type { RedactPath } from '../core/types.js'

export type { RedactPath } from '../core/types.js'

/** What a redacted value is replaced with. */
export const PLACEHOLDER = '[REDACTED]'

/**
 * The shortest value (as text) found at a redacted path that is also scrubbed where it was copied:
 * shorter values ("1", "ok", "EUR") would scrub innocent text everywhere. Shorter values are still
 * replaced at their paths.
 */
export const MIN_SECRET_LENGTH = 4

/** The recorded states of an event, and a `ctx.write`'s path and value (structural). */
export interface StateCarrier {
  readonly type: string
  readonly ctx: unknown
  readonly mwctx: unknown
  readonly metrics: unknown
  readonly path?: readonly unknown[]
  readonly value?: unknown
}

/** Applies one list of redaction paths to everything a run exports (files and spans alike). */
export interface Redactor {
  /** False when there are no paths: every method then returns what it was given. */
  readonly active: boolean
  /** The paths, as given. */
  readonly paths: readonly RedactPath[]
  /** What redacted values become: {@link PLACEHOLDER}. */
  readonly placeholder: string
  /**
   * The state with every value at a redacted path replaced and every known secret scrubbed (the
   * same object when nothing changed). Collect first: a secret learnt later clears the caches.
   */
  apply<T>(state: T): T
  /**
   * Whether a write at `path` may carry a redacted value: it lands on, inside, or above a
   * redacted path (a parent object written whole holds its children). Such a write's value is
   * hidden entirely.
   */
  overlaps(path: readonly unknown[]): boolean
  /** Learns the secrets of a state: the values at its redacted paths. Never throws. */
  collect(state: unknown): void
  /** Learns the secrets of every state of these events, and of writes on or above a path. */
  collectEvents(events: Iterable<StateCarrier>): void
  /**
   * Any value (an error, link meta, `io`, a state) with every known secret scrubbed: strings
   * lose each occurrence, numbers and bigints equal to one become the placeholder, object and
   * Map keys are scrubbed too. Errors stay errors (name, message, stack, code and cause
   * scrubbed). Returns the value itself when nothing changed. Never throws.
   */
  scrub(value: unknown): unknown
  /** A text with every occurrence of a known secret replaced by the placeholder. */
  scrubText(text: string): string
  /**
   * Recorded `io.now()` / `io.random()` readings: one equal to a secret is written as 0 (the
   * format keeps numbers there). The same object when nothing changed.
   */
  scrubNumbers<T extends { readonly [K in keyof T]?: readonly number[] | undefined }>(lists: T): T
  /** How many distinct secrets are known. */
  readonly secrets: number
}

const NO_PATHS: readonly RedactPath[] = Object.freeze([])

/** Deduplicated union of path lists (the run's own and an export's), frozen. */
export function mergeRedactPaths(...lists: (readonly RedactPath[] | undefined)[]): readonly RedactPath[] {
  if (lists.every((list) => list === undefined || list.length === 0)) return NO_PATHS
  const seen = new Set<string>()
  const out: RedactPath[] = []
  for (const list of lists) {
    if (list === undefined) continue
    for (const path of list) {
      const key = JSON.stringify(path)
      if (seen.has(key)) continue
      seen.add(key)
      out.push(Object.freeze([...path]))
    }
  }
  return Object.freeze(out)
}

/**
 * A redactor for these paths. Learn the run's values first (`collect`, `collectEvents`), then
 * `apply` to states and `scrub` / `scrubText` to everything else that leaves the process.
 *
 * @param paths - the paths to redact (the run's and an export's, merged)
 * @throws TypeError naming the first malformed path (`redact[1] must be …`)
 */
export function redactor(paths: readonly RedactPath[]): Redactor {
  checkRedactPaths(paths, 'redact')
  return new PathRedactor(paths)
}

class PathRedactor implements Redactor {
  readonly active: boolean
  readonly paths: readonly RedactPath[]
  readonly placeholder = PLACEHOLDER
  #secrets = new Set<string>()
  #pattern: RegExp | undefined = undefined
  #applied = new WeakMap<object, unknown>()
  #scrubbed = new WeakMap<object, unknown>()
  #collected = new WeakSet<object>()

  constructor(paths: readonly RedactPath[]) {
    this.paths = paths
    this.active = paths.length > 0
  }

  get secrets(): number {
    return this.#secrets.size
  }

  overlaps(path: readonly unknown[]): boolean {
    return this.paths.some((redacted) => {
      const n = Math.min(redacted.length, path.length)
      for (let i = 0; i < n; i++) if (redacted[i] !== '*' && String(redacted[i]) !== String(path[i])) return false
      return true
    })
  }

  apply<T>(state: T): T {
    if (!this.active) return state
    if (typeof state !== 'object' || state === null) return this.scrub(state) as T
    const hit = this.#applied.get(state)
    if (hit !== undefined) return hit as T
    let out: unknown = state
    for (const path of this.paths) out = redactAt(out, path, 0)
    out = this.scrub(out)
    this.#applied.set(state, out)
    return out as T
  }

  collect(state: unknown): void {
    if (!this.active || typeof state !== 'object' || state === null) return
    if (this.#collected.has(state)) return
    this.#collected.add(state)
    for (const path of this.paths) {
      try {
        valuesAt(state, path, 0, (value) => this.#learn(value, 0))
      } catch {
        // A revoked draft or a throwing getter: nothing readable, nothing to learn.
      }
    }
  }

  collectEvents(events: Iterable<StateCarrier>): void {
    if (!this.active) return
    for (const event of events) {
      this.collect(event.ctx)
      this.collect(event.mwctx)
      this.collect(event.metrics)
      if (event.type === 'ctx.write' && event.path !== undefined && this.overlaps(event.path)) this.#learnWrite(event.path, event.value)
    }
  }

  /** A write on or above a redacted path: the part of its value the path reaches is secret. */
  #learnWrite(path: readonly unknown[], value: unknown): void {
    for (const redacted of this.paths) {
      if (redacted.length <= path.length) {
        this.#learn(value, 0)
        continue
      }
      let matches = true
      for (let i = 0; i < path.length && matches; i++) matches = redacted[i] === '*' || String(redacted[i]) === String(path[i])
      if (!matches) continue
      try {
        valuesAt(value, redacted.slice(path.length), 0, (found) => this.#learn(found, 0))
      } catch {
        // Unreadable: nothing to learn.
      }
    }
  }

  #learn(value: unknown, depth: number): void {
    if (depth > 64) return
    let text: string | undefined
    if (typeof value === 'string') text = value
    else if (typeof value === 'bigint' || (typeof value === 'number' && Number.isFinite(value))) text = String(value)
    else if (typeof value === 'object' && value !== null) {
      try {
        if (value instanceof Map) {
          for (const [key, child] of value) (this.#learn(key, depth + 1), this.#learn(child, depth + 1))
        } else if (value instanceof Set || Array.isArray(value)) {
          for (const child of value as Iterable<unknown>) this.#learn(child, depth + 1)
        } else if (!(value instanceof Date)) {
          for (const key of Object.keys(value)) this.#learn((value as Record<string, unknown>)[key], depth + 1)
        }
      } catch {
        // Unreadable: nothing to learn.
      }
      return
    }
    if (text === undefined || text.length < MIN_SECRET_LENGTH || text === PLACEHOLDER || this.#secrets.has(text)) return
    this.#secrets.add(text)
    // Caches were built without this secret.
    this.#pattern = undefined
    this.#applied = new WeakMap()
    this.#scrubbed = new WeakMap()
  }

  scrubText(text: string): string {
    if (this.#secrets.size === 0 || text.length < MIN_SECRET_LENGTH) return text
    // Longest first, so that a secret containing another is replaced whole.
    this.#pattern ??= new RegExp(
      [...this.#secrets]
        .sort((a, b) => b.length - a.length)
        .map((secret) => secret.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
        .join('|'),
      'g',
    )
    return text.replace(this.#pattern, PLACEHOLDER)
  }

  scrubNumbers<T extends { readonly [K in keyof T]?: readonly number[] | undefined }>(lists: T): T {
    if (this.#secrets.size === 0) return lists
    let out: Record<string, readonly number[] | undefined> | undefined
    for (const key of Object.keys(lists)) {
      const list = (lists as Record<string, readonly number[] | undefined>)[key]
      if (list === undefined || !list.some((n) => this.#secrets.has(String(n)))) continue
      out ??= { ...lists }
      out[key] = list.map((n) => (this.#secrets.has(String(n)) ? 0 : n))
    }
    return (out ?? lists) as T
  }

  scrub(value: unknown): unknown {
    if (this.#secrets.size === 0) return value
    try {
      return this.#scrub(value, 0)
    } catch {
      // Unreadable parts (throwing getters, revoked proxies) were never going to be written out.
      return value
    }
  }

  #scrub(value: unknown, depth: number): unknown {
    switch (typeof value) {
      case 'string':
        return this.scrubText(value)
      case 'number':
        return Number.isFinite(value) && this.#secrets.has(String(value)) ? PLACEHOLDER : value
      case 'bigint':
        return this.#secrets.has(String(value)) ? PLACEHOLDER : value
      case 'object':
        break
      default:
        return value
    }
    if (value === null || depth > 1_000 || value instanceof Date) return value
    const hit = this.#scrubbed.get(value)
    if (hit !== undefined) return hit
    // Marked before descending: a cycle comes back to the value itself.
    this.#scrubbed.set(value, value)
    const next = depth + 1
    let out: unknown = value
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined
      for (let i = 0; i < value.length; i++) {
        const child: unknown = value[i]
        const scrubbed = this.#scrub(child, next)
        if (scrubbed !== child) (copy ??= [...value])[i] = scrubbed
      }
      if (copy !== undefined) out = copy
    } else if (value instanceof Map) {
      let changed = false
      const entries = [...value].map(([key, child]): [unknown, unknown] => {
        const k = this.#scrub(key, next)
        const v = this.#scrub(child, next)
        if (k !== key || v !== child) changed = true
        return [k, v]
      })
      if (changed) out = new Map(entries)
    } else if (value instanceof Set) {
      let changed = false
      const members = [...value].map((member) => {
        const scrubbed = this.#scrub(member, next)
        if (scrubbed !== member) changed = true
        return scrubbed
      })
      if (changed) out = new Set(members)
    } else if (value instanceof Error) {
      out = this.#scrubError(value, next)
    } else {
      let copy: Record<string, unknown> | undefined
      const record = value as Record<string, unknown>
      const keys = Object.keys(record)
      for (const key of keys) {
        const child = record[key]
        const k = this.scrubText(key)
        const v = this.#scrub(child, next)
        if (k === key && v === child) continue
        if (copy === undefined) {
          // Same prototype: the codec keeps class instances as such.
          copy = Object.create(Object.getPrototypeOf(value) as object | null) as Record<string, unknown>
          for (const other of keys) defineOwn(copy, other, record[other])
        }
        if (k !== key) delete copy[key]
        defineOwn(copy, k, v)
      }
      if (copy !== undefined) out = copy
    }
    this.#scrubbed.set(value, out)
    return out
  }

  /** An error with its text scrubbed, still an error of the same class (what the codec keeps). */
  #scrubError(error: Error, depth: number): Error {
    const name = error.name
    const message = error.message
    const stack = error.stack
    const code: unknown = (error as { code?: unknown }).code
    const cause: unknown = error.cause
    const fields = {
      name: this.scrubText(String(name)),
      message: this.scrubText(String(message)),
      stack: stack === undefined ? undefined : this.scrubText(String(stack)),
      code: code === undefined ? undefined : this.#scrub(code, depth),
      cause: cause === undefined ? undefined : this.#scrub(cause, depth),
    }
    if (fields.name === name && fields.message === message && fields.stack === stack && fields.code === code && fields.cause === cause) return error
    const copy = Object.create(Object.getPrototypeOf(error) as object | null) as Error
    for (const key of ['name', 'message', 'stack', 'code', 'cause'] as const) {
      if (fields[key] !== undefined) Object.defineProperty(copy, key, { value: fields[key], enumerable: false, writable: true, configurable: true })
    }
    return copy
  }
}

/** Calls `found` with every value at `path` below `node` (`'*'` fans out). */
function valuesAt(node: unknown, path: RedactPath, depth: number, found: (value: unknown) => void): void {
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
  else defineOwn(node as object, key as string, value)
}
function defineOwn(node: object, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true })
}
function shallowCopy(node: object): object {
  if (Array.isArray(node)) return [...node]
  if (node instanceof Map) return new Map(node)
  return { ...node }
}
