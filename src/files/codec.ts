// Plain data ⇄ JSON, losslessly: the limits and errors both directions share, and encoding
// (decoding is decode.ts). JSON has no bigint, Map, Set, Date, undefined, NaN, ±Infinity or -0,
// so those become single-key tagged objects ({ "$bigint": "12" }). A plain object that itself
// looks like a tag (one key starting with "$") is escaped as { "$object": {...} }, so no user
// data can be mistaken for a tag.

/** Limits that keep a hostile document from exhausting the process. */
export interface DecodeLimits {
  /**
   * Deepest nesting accepted in any value. Default 1,000. Decoding keeps at most a few hundred
   * levels on the stack at a time, so a raised limit (10,000) is honoured.
   */
  readonly maxDepth: number
  /** Longest string accepted (values, object keys, error texts), in UTF-16 code units. Default 16 Mi (16,777,216). */
  readonly maxStringLength: number
  /** Longest array accepted, holes included. Default 16 Mi (16,777,216). */
  readonly maxArrayLength: number
}

/** The limits a reader applies unless told otherwise (`Run.fromJSON` and `loadRun` options). */
export const DEFAULT_LIMITS: DecodeLimits = { maxDepth: 1_000, maxStringLength: 16 * 1024 * 1024, maxArrayLength: 16 * 1024 * 1024 }

/** A problem in a document, with the JSON path of the first offending value. */
export class DocumentError extends Error {
  override readonly name = 'DocumentError'
  /** Where in the document, e.g. `$.events[12].ctx[0].value.items`. */
  readonly path: string
  /** What is wrong there. */
  readonly problem: string
  /** The file the document came from, when it came from one. */
  readonly file: string | undefined

  /**
   * @param path - where, as a readable JSON path
   * @param problem - what is wrong there
   * @param file - the file it came from, if any
   */
  constructor(path: string, problem: string, file?: string) {
    super(file === undefined ? `${path}: ${problem}` : `${file}: ${path}: ${problem}`)
    this.path = path
    this.problem = problem
    this.file = file
  }
}

/** Appends a key to a readable JSON path: `a.b`, `a[3]`, `a["odd key"]` (long keys shortened). */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  if (key.length > 60) return `${path}[${JSON.stringify(key.slice(0, 60))}…]`
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

/**
 * A bad value as a short phrase for an error message: strings quoted and cut to `max`
 * characters, containers only named (a message never carries a whole hostile value).
 */
export function quote(value: unknown, max = 60): string {
  switch (typeof value) {
    case 'string':
      return value.length > max ? `${JSON.stringify(value.slice(0, max))}… (${value.length} characters)` : JSON.stringify(value)
    case 'undefined':
      return 'nothing'
    case 'number':
    case 'boolean':
      return String(value)
    case 'object':
      return value === null ? 'null' : Array.isArray(value) ? 'an array' : 'an object'
    default:
      return typeof value
  }
}

/** Whether a plain object has the shape of a tag (one key starting with `$`). */
export function isTagLike(record: Record<string, unknown>): boolean {
  const keys = Object.keys(record)
  return keys.length === 1 && (keys[0] as string).startsWith('$')
}

// ---- encoding ----------------------------------------------------------------------------------

/** What an encoding used that a reader must know about (the document's version follows it). */
export interface EncodeNotes {
  /** A `$holes` run was written: the document needs version 2. */
  sparse: boolean
}

/**
 * Encodes a state for JSON, exactly, or throws: an own `__proto__` key, nesting of 1,000 levels
 * or more (a cycle included). Errors keep name, message, stack, code and cause; class instances
 * other than Date, Map, Set and Error keep their own enumerable fields under `$instance`;
 * functions and symbols become `{ "$unsupported": … }`; runs of array holes `{ "$holes": n }`.
 *
 * @param notes - set when the encoding needs a newer document version
 */
export function encodeValue(value: unknown, notes?: EncodeNotes): unknown {
  return encode(value, 0, { lenient: false, notes, ancestors: undefined, budget: Infinity })
}

/**
 * Encodes whatever user code threw or handed over (errors, link meta, written values); never
 * throws. What cannot be written exactly becomes a marker that survives the round trip:
 * `{ "$unsupported": "cycle" }` for a reference to an enclosing object, `"too deep"` past
 * 1,000 levels, `"too large"` past 100,000 objects, `"unreadable: …"` for a throwing getter or a
 * revoked Proxy. An own `__proto__` key is dropped.
 */
export function encodeLenient(value: unknown, notes?: EncodeNotes): unknown {
  return encode(value, 0, { lenient: true, notes, ancestors: new Set(), budget: 100_000 })
}

interface EncodeWalk {
  readonly lenient: boolean
  readonly notes: EncodeNotes | undefined
  /** The objects being encoded above the current one (lenient: a cycle is one of them again). */
  readonly ancestors: Set<object> | undefined
  budget: number
}

const MAX_ENCODE_DEPTH = DEFAULT_LIMITS.maxDepth

function encode(value: unknown, depth: number, walk: EncodeWalk): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return Object.is(value, -0) ? { $number: '-0' } : value
      return { $number: String(value) }
    case 'bigint':
      return { $bigint: value.toString() }
    case 'undefined':
      return { $undefined: true }
    case 'function':
      return { $unsupported: 'function' }
    case 'symbol':
      return { $unsupported: value.toString().slice(0, 200) }
  }
  if (value === null) return null
  const object = value as object
  if (!walk.lenient) {
    if (depth >= MAX_ENCODE_DEPTH) throw new RangeError(`value nested more than ${MAX_ENCODE_DEPTH} levels deep: too deep to export`)
    return encodeObject(object, depth + 1, walk)
  }
  const ancestors = walk.ancestors as Set<object>
  if (ancestors.has(object)) return { $unsupported: 'cycle' }
  // The marker is itself an object: it takes the last level a reader accepts.
  if (depth >= MAX_ENCODE_DEPTH - 1) return { $unsupported: 'too deep' }
  if (--walk.budget < 0) return { $unsupported: 'too large' }
  ancestors.add(object)
  try {
    return encodeObject(object, depth + 1, walk)
  } catch (error) {
    // A revoked Proxy throws on Array.isArray, instanceof and Object.keys alike.
    return { $unsupported: `unreadable: ${describeThrown(error)}` }
  } finally {
    ancestors.delete(object)
  }
}

/** A short text for something thrown while reading a value; never throws itself. */
function describeThrown(error: unknown): string {
  try {
    return (error instanceof Error ? `${error.name}: ${error.message}` : String(error)).slice(0, 200)
  } catch {
    return 'unknown'
  }
}

/** Reads a property; lenient walks turn a throwing getter into a marker. */
function read(record: object, key: string, walk: EncodeWalk): unknown {
  if (!walk.lenient) return (record as Record<string, unknown>)[key]
  try {
    return (record as Record<string, unknown>)[key]
  } catch (error) {
    return new Unreadable(error)
  }
}

/** A property whose getter threw (lenient walks only). */
class Unreadable {
  readonly text: string
  constructor(error: unknown) {
    this.text = `unreadable: ${describeThrown(error)}`
  }
}

function field(value: unknown, depth: number, walk: EncodeWalk): unknown {
  return value instanceof Unreadable ? { $unsupported: value.text } : encode(value, depth, walk)
}

function encodeObject(value: object, next: number, walk: EncodeWalk): unknown {
  if (Array.isArray(value)) return encodeArray(value, next, walk)
  if (value instanceof Date) {
    const time = value.getTime()
    return { $date: Number.isNaN(time) ? null : value.toISOString() }
  }
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encode(k, next, walk), encode(v, next, walk)]) }
  if (value instanceof Set) return { $set: [...value].map((item) => encode(item, next, walk)) }
  if (value instanceof Error) return { $error: encodeError(value, next, walk) }
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(value)) {
    if (key === '__proto__') {
      // Readers refuse it (a prototype-pollution vector): a state saying so now beats a file
      // that cannot be loaded; a thrown value loses the key.
      if (walk.lenient) continue
      throw new TypeError("an own '__proto__' key cannot be exported: readers reject it")
    }
    out[key] = field(read(value, key, walk), next, walk)
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    return { $instance: { class: className(proto, walk), fields: out } }
  }
  return isTagLike(out) ? { $object: out } : out
}

function className(proto: unknown, walk: EncodeWalk): string {
  const name = read(proto as object, 'constructor', walk)
  const text = typeof name === 'function' ? (name as { name?: unknown }).name : undefined
  return typeof text === 'string' && text !== '' ? text.slice(0, 200) : 'Object'
}

// Holes stay holes, and cost one tag per run of them, not one per index: a sparse array of
// length 10,000,000 is a few bytes.
function encodeArray(value: readonly unknown[], next: number, walk: EncodeWalk): unknown[] {
  const length = value.length
  const out = new Array<unknown>()
  for (let i = 0; i < length; ) {
    const item = value[i]
    if (item === undefined && !(i in value)) {
      let end = i + 1
      while (end < length && !(end in value)) end++
      out.push({ $holes: end - i })
      if (walk.notes !== undefined) walk.notes.sparse = true
      i = end
    } else {
      out.push(encode(item, next, walk))
      i++
    }
  }
  return out
}

function encodeError(value: Error, next: number, walk: EncodeWalk): Record<string, unknown> {
  const text = (key: string): string => {
    const raw = read(value, key, walk)
    if (typeof raw === 'string') return raw
    if (raw instanceof Unreadable) return `[${raw.text}]`
    try {
      return String(raw)
    } catch (error) {
      return `[unreadable: ${describeThrown(error)}]`
    }
  }
  const error: Record<string, unknown> = { name: text('name'), message: text('message') }
  const stack = read(value, 'stack', walk)
  if (typeof stack === 'string') error['stack'] = stack
  const code = read(value, 'code', walk)
  if (code !== undefined) error['code'] = field(code, next, walk)
  const cause = read(value, 'cause', walk)
  if (cause !== undefined) error['cause'] = field(cause, next, walk)
  return error
}
