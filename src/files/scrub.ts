// Scrubbing the copies of redacted values ("secrets") wherever else they occur: in texts (every
// occurrence, as a substring), as numbers and bigints whose decimal text equals a secret, and
// inside any value (object and Map keys too; errors stay errors). Over-redacting is safe,
// under-redacting is not. redact.ts finds the secrets; this module keeps them and scrubs.

/** What a redacted value is replaced with. */
export const PLACEHOLDER = '[REDACTED]'

/**
 * The shortest value (as text) found at a redacted path that is also scrubbed where it was copied:
 * shorter values ("1", "ok", "EUR") would scrub innocent text everywhere. Shorter values are still
 * replaced at their paths.
 */
export const MIN_SECRET_LENGTH = 4

/** The known secrets, and scrubbing with them (a cache per value, cleared when one is learnt). */
export class Scrubber {
  #secrets = new Set<string>()
  #pattern: RegExp | undefined = undefined
  #scrubbed = new WeakMap<object, unknown>()

  /** How many distinct secrets are known. */
  get size(): number {
    return this.#secrets.size
  }

  /** The known secrets (to share them with another scrubber: a nested run's document). */
  get texts(): ReadonlySet<string> {
    return this.#secrets
  }

  /** Learns a secret; false when it is too short, the placeholder, or known already. */
  learn(text: string): boolean {
    if (text.length < MIN_SECRET_LENGTH || text === PLACEHOLDER || this.#secrets.has(text)) return false
    this.#secrets.add(text)
    // Caches were built without this secret.
    this.#pattern = undefined
    this.#scrubbed = new WeakMap()
    return true
  }

  /** A text with every occurrence of a known secret replaced by the placeholder. */
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

  /** Number lists (`io` readings) with each number equal to a secret written as 0. */
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

  /** A value with every known secret scrubbed (the value itself when nothing changed). Never throws. */
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

/** Defines an own, enumerable property (never through a setter such as `__proto__`'s). */
export function defineOwn(node: object, key: string, value: unknown): void {
  Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true })
}
