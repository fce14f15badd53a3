// Redaction for everything that leaves the process (files, the command line, the viewer, spans).
// Two steps, one rule:
// 1. Paths: the value at every redacted path of every ctx, mwctx and metrics state becomes the
//    placeholder (redact-paths.ts). Redacted states are built once per state object (a WeakMap), so consecutive
//    states that share a subtree share its redacted copy too.
// 2. Copies: the values found at redacted paths ("secrets": strings, and numbers and bigints
//    rendered as decimal text, of at least MIN_SECRET_LENGTH characters, including every such
//    leaf of an object found there) are also scrubbed wherever else they occur: in other state
//    keys and values, error messages, stacks and causes, link meta, `io` values, metric
//    attributes. A string loses every occurrence (as a substring); a number or bigint is replaced
//    when its decimal text equals a secret (scrub.ts). Over-redacting is safe, under-redacting is not.
// Nothing here is paid when no path is given: callers hold no redactor then.
import { checkRedactPaths } from '../core/validate.js'
import type { RedactPath } from '../core/types.js'
import { redactAt, valuesAt } from './redact-paths.js'
import { PLACEHOLDER, Scrubber } from './scrub.js'

export type { RedactPath } from '../core/types.js'

export { MIN_SECRET_LENGTH, PLACEHOLDER } from './scrub.js'

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
  /** The known secrets, as text (what {@link Redactor.learnSecrets} of another redactor takes). */
  secretTexts(): readonly string[]
  /**
   * Learns secrets found elsewhere (the other documents of a run with nested runs): they are
   * scrubbed here too, and a redactor without paths that learns one becomes active.
   */
  learnSecrets(texts: Iterable<string>): void
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
  #active: boolean
  readonly paths: readonly RedactPath[]
  readonly placeholder = PLACEHOLDER
  readonly #scrubber = new Scrubber()
  #applied = new WeakMap<object, unknown>()
  #collected = new WeakSet<object>()

  constructor(paths: readonly RedactPath[]) {
    this.paths = paths
    this.#active = paths.length > 0
  }

  get active(): boolean {
    return this.#active
  }

  secretTexts(): readonly string[] {
    return [...this.#scrubber.texts]
  }

  learnSecrets(texts: Iterable<string>): void {
    for (const text of texts) {
      if (!this.#scrubber.learn(text)) continue
      this.#active = true
      this.#applied = new WeakMap()
    }
  }

  get secrets(): number {
    return this.#scrubber.size
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
    // States redacted before were redacted without this secret.
    if (text !== undefined && this.#scrubber.learn(text)) this.#applied = new WeakMap()
  }

  scrubText(text: string): string {
    return this.#scrubber.scrubText(text)
  }

  scrubNumbers<T extends { readonly [K in keyof T]?: readonly number[] | undefined }>(lists: T): T {
    return this.#scrubber.scrubNumbers(lists)
  }

  scrub(value: unknown): unknown {
    return this.#scrubber.scrub(value)
  }
}
