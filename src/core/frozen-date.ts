// Dates in recorded states. immer neither drafts nor freezes a Date, and `Object.freeze` does
// not stop `setFullYear` (it writes an internal slot): a Date of a recorded state gets a
// prototype whose setters throw, so no later write can change what was recorded.

/**
 * Thrown by a setter of a Date that belongs to a recorded state. The runner turns it into the
 * link's error, naming the path of the Date in ctx.
 */
export class FrozenDateError extends TypeError {
  override readonly name = 'TypeError'
  /** The Date that was to be changed (not enumerable: it is not part of any export). */
  declare readonly date: Date
  /** The setter that was called, e.g. `setFullYear`. */
  readonly method: string
  constructor(date: Date, method: string) {
    super(`a Date in a recorded state cannot be changed in place (${method}): assign a new Date instead`)
    Object.defineProperty(this, 'date', { value: date, enumerable: false })
    this.method = method
  }
}

// One frozen-Date prototype per Date class (Date itself, and any subclass met): it inherits
// everything and shadows every setter with one that throws, so `instanceof`, `getTime()`,
// `toISOString()` and structured cloning are unchanged.
const frozenProtos = new WeakMap<object, object>()
const FROZEN = new WeakSet<object>()

function frozenProtoOf(proto: object): object {
  let frozen = frozenProtos.get(proto)
  if (frozen === undefined) {
    frozen = Object.create(proto) as object
    for (const name of Object.getOwnPropertyNames(Date.prototype)) {
      if (!name.startsWith('set')) continue
      Object.defineProperty(frozen, name, {
        value: function rejectDateWrite(this: Date): never {
          throw new FrozenDateError(this, name)
        },
      })
    }
    FROZEN.add(Object.freeze(frozen))
    frozenProtos.set(proto, frozen)
  }
  return frozen
}

/**
 * Makes a Date immutable (in place): its setters throw {@link FrozenDateError}. A Date the
 * caller already froze with `Object.freeze` cannot be changed this way and is left as it is.
 */
export function freezeDate(date: Date): Date {
  if (Object.isExtensible(date)) {
    const proto = Object.getPrototypeOf(date) as object
    if (!FROZEN.has(proto)) Object.setPrototypeOf(date, frozenProtoOf(proto))
    Object.freeze(date)
  }
  return date
}

/** True for a Date {@link freezeDate} froze. */
export function isFrozenDate(date: Date): boolean {
  return FROZEN.has(Object.getPrototypeOf(date) as object)
}
