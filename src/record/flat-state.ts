// The recorded states of mwctx and metrics, kept as what changed (issue #15).
//
// After a middleware call that touched mwctx (or metrics) the recorder must know whether the
// working object differs from the last recorded state, and keep the new state if it does. The
// usual change is one key of a flat object (`mw.links = n`, `metrics.ms = 1.2`): the keys and
// values of the recorded state, in order, answer that without building anything, and the change
// is kept as that one key and value, to be built into the frozen state (what `snapshot` would
// have made) only when the events are read. Anything else, a value that is a new object, keys
// that moved, more than one change, is `Full`: the caller takes a snapshot.
import { emptyState } from './snapshot.js'

/** What a working object is, against a recorded flat state. */
export const enum Diff {
  /** Equal: the recorded state stays. */
  Same,
  /** One key's value changed (`index`, `value`), every key in place. */
  Set,
  /** One key was added at the end (`key`, `value`), the others equal and in place. */
  Append,
  /** Something else: take a snapshot. */
  Full,
}

const EMPTY = emptyState()
const NO_KEYS: readonly string[] = Object.freeze([])
const NO_VALUES: readonly unknown[] = Object.freeze([])

/**
 * The keys and values of a recorded flat state, in order. Never changed in place: a change makes
 * new lists, so that lists taken before (the state an entry recorded) stay as they were.
 */
export class FlatShadow {
  keys: readonly string[] = NO_KEYS
  values: readonly unknown[] = NO_VALUES
  /** What the last diff found: the changed key's index (Set), or the added key (Append), and the value. */
  index = 0
  key = ''
  value: unknown = undefined

  /** The shadow of a recorded state (a frozen snapshot, or undefined outside a link). */
  reset(state: unknown): void {
    if (typeof state !== 'object' || state === null || state === EMPTY) {
      this.keys = NO_KEYS
      this.values = NO_VALUES
      return
    }
    const keys = Object.keys(state)
    this.keys = keys
    this.values = keys.map((key) => (state as Record<string, unknown>)[key])
  }

  /**
   * Compares a working object with the shadow; a `Set` or `Append` becomes the shadow. Values
   * compare as `snapshot` compares them: primitives with `Object.is`, objects by identity (an
   * unchanged reference is a value `snapshot` kept as it was, frozen or an instance); a changed
   * object is `Full`.
   */
  diff(work: object): Diff {
    if (Object.getPrototypeOf(work) !== Object.prototype) return Diff.Full
    const keys = this.keys
    const values = this.values
    const n = keys.length
    let i = 0
    let changed = -1
    let added: string | undefined
    let next: unknown
    const record = work as Record<string, unknown>
    for (const key in record) {
      // for-in also walks the prototype chain (an enumerable key added to Object.prototype).
      if (!Object.hasOwn(record, key)) return Diff.Full
      const value = record[key]
      if (i < n) {
        if (key !== keys[i]) return Diff.Full
        if (!Object.is(value, values[i])) {
          if (changed !== -1 || (typeof value === 'object' && value !== null)) return Diff.Full
          changed = i
          next = value
        }
      } else {
        if (i > n || changed !== -1 || (typeof value === 'object' && value !== null)) return Diff.Full
        added = key
        next = value
      }
      i++
    }
    if (i < n) return Diff.Full
    this.value = next
    if (added !== undefined) {
      if (n === 0) {
        this.keys = [added]
        this.values = [next]
      } else {
        const k = keys.slice()
        const v = values.slice()
        k.push(added)
        v.push(next)
        this.keys = k
        this.values = v
      }
      this.key = added
      return Diff.Append
    }
    if (changed === -1) return Diff.Same
    const copy = values.slice()
    copy[changed] = next
    this.values = copy
    this.index = changed
    return Diff.Set
  }
}

/** The frozen state these keys and values make (what `snapshot` makes of a flat object). */
export function buildFlat(keys: readonly string[], values: readonly unknown[]): object {
  const out: Record<string, unknown> = {}
  for (let i = 0; i < keys.length; i++) out[keys[i] as string] = values[i]
  return Object.freeze(out)
}

/** A recorded state with the value at `index` (in key order) replaced: a new frozen object. */
export function withSet(state: object, index: number, value: unknown): object {
  const out: Record<string, unknown> = {}
  const keys = Object.keys(state)
  for (let i = 0; i < keys.length; i++) out[keys[i] as string] = i === index ? value : (state as Record<string, unknown>)[keys[i] as string]
  return Object.freeze(out)
}

/** A recorded state with one key added at the end: a new frozen object. */
export function withAppended(state: object, key: string, value: unknown): object {
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(state)) out[k] = (state as Record<string, unknown>)[k]
  out[key] = value
  return Object.freeze(out)
}
