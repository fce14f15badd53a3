// Plain data ⇄ JSON, losslessly. JSON has no bigint, Map, Set, Date, undefined, NaN, ±Infinity
// or -0, so those become single-key tagged objects ({ "$bigint": "12" }). A plain object that
// itself looks like a tag (one key starting with "$") is escaped as { "$object": {...} }, so no
// user data can be mistaken for a tag. Decoding is defensive: it runs on files from anywhere.

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

function isTagLike(record: Record<string, unknown>): boolean {
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

// ---- decoding ----------------------------------------------------------------------------------

/** Defines an own, enumerable property (never through a setter such as `__proto__`'s). */
function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Decodes what {@link encodeValue} produced. Rejects, with the path of the first problem,
 * unknown tags, malformed tag payloads, nesting past `maxDepth`, strings (object keys included)
 * past `maxStringLength`, arrays past `maxArrayLength`, and an object key `__proto__`. Never
 * assigns through `__proto__`.
 *
 * @param path - where the value is in its document, for errors (`$.initial.ctx`)
 * @param version - the document's version: `$holes` exists from version 2 on
 */
export function decodeValue(value: unknown, path: string, limits: DecodeLimits = DEFAULT_LIMITS, version = 2): unknown {
  const walk: DecodeWalk = { limits, holes: version >= 2, base: 0, later: [] }
  try {
    const out = decode(value, { parent: undefined, key: path }, 0, walk)
    // Containers past a segment's depth were made empty and filled from here, with a fresh stack.
    for (let job = walk.later.pop(); job !== undefined; job = walk.later.pop()) {
      walk.base = job.depth
      fill(job, walk)
    }
    return out
  } catch (error) {
    // Called from deep in the caller's own recursion, even one segment may not fit: say so,
    // rather than let a RangeError out of a reader.
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      throw new DocumentError(path, 'nested too deeply for the stack this reader was left (lower maxDepth, or read the document from a shallower call)')
    }
    throw error
  }
}

interface DecodeWalk {
  readonly limits: DecodeLimits
  /** Whether `$holes` may appear (version 2). */
  readonly holes: boolean
  /** The depth the current segment started at. */
  base: number
  /** Containers made, to be filled once the current segment is done. */
  readonly later: Fill[]
}

/**
 * Levels decoded on the stack before a container is made empty and filled later: decoding never
 * holds more than this many levels (about three frames each) on the stack, whatever `maxDepth`.
 */
const SEGMENT = 300

/** A container made, and what to fill it from. */
interface Fill {
  readonly kind: 'array' | 'object' | 'map' | 'set' | 'error'
  readonly out: object
  readonly source: unknown
  readonly ref: PathRef
  readonly depth: number
}

/** Fills a container now, or after this segment when it is deep in it. */
function fillOrDefer(kind: Fill['kind'], out: object, source: unknown, ref: PathRef, depth: number, walk: DecodeWalk): void {
  if (depth - walk.base < SEGMENT) fill({ kind, out, source, ref, depth }, walk)
  else walk.later.push({ kind, out, source, ref, depth })
}

function fill(job: Fill, walk: DecodeWalk): void {
  const { out, source, ref, depth } = job
  switch (job.kind) {
    case 'array':
      return fillArray(out as unknown[], source as readonly unknown[], ref, depth, walk)
    case 'object':
      return fillObject(out as Record<string, unknown>, source as Record<string, unknown>, ref, depth, walk)
    case 'map':
      return fillMap(out as Map<unknown, unknown>, source as readonly unknown[], ref, depth, walk)
    case 'set':
      for (let i = 0; i < (source as readonly unknown[]).length; i++) (out as Set<unknown>).add(decode((source as readonly unknown[])[i], at(ref, i), depth, walk))
      return
    case 'error': {
      const fields = source as Record<string, unknown>
      if (fields['code'] !== undefined) defineOwn(out, 'code', decode(fields['code'], at(ref, 'code'), depth, walk))
      if (fields['cause'] !== undefined) defineOwn(out, 'cause', decode(fields['cause'], at(ref, 'cause'), depth, walk))
    }
  }
}

// Paths are built only when something is wrong: a linked list of keys costs nothing per level,
// where a string per level would cost O(depth²) on deep documents.
interface PathRef {
  readonly parent: PathRef | undefined
  readonly key: string | number
}

function at(parent: PathRef, key: string | number): PathRef {
  return { parent, key }
}

// A deep path keeps its first and last keys: a message names where, in a few lines at most.
const PATH_ENDS = 12

function pathText(ref: PathRef): string {
  const keys: (string | number)[] = []
  for (let r: PathRef | undefined = ref; r !== undefined; r = r.parent) keys.push(r.key)
  keys.reverse()
  let out = String(keys[0])
  for (let i = 1; i < keys.length; i++) {
    if (i === PATH_ENDS && keys.length > 3 * PATH_ENDS) {
      out += `…(${keys.length - 2 * PATH_ENDS} more keys)…`
      i = keys.length - PATH_ENDS
    }
    out = childPath(out, keys[i] as string | number)
  }
  return out
}

function fail(ref: PathRef, problem: string): never {
  throw new DocumentError(pathText(ref), problem)
}

function checkString(text: string, ref: PathRef, walk: DecodeWalk): string {
  if (text.length > walk.limits.maxStringLength) {
    fail(ref, `string of ${text.length} characters is longer than the limit of ${walk.limits.maxStringLength}`)
  }
  return text
}

function decode(value: unknown, ref: PathRef, depth: number, walk: DecodeWalk): unknown {
  if (value === null || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(ref, 'a number must be finite (non-finite numbers are tagged)')
    return value
  }
  if (typeof value === 'string') return checkString(value, ref, walk)
  if (typeof value !== 'object') fail(ref, `${typeof value} is not JSON data`)
  if (depth >= walk.limits.maxDepth) fail(ref, `nested more than ${walk.limits.maxDepth} levels deep`)
  const next = depth + 1
  if (Array.isArray(value)) {
    const limit = walk.limits.maxArrayLength
    if (value.length > limit) fail(ref, `array of ${value.length} elements is longer than the limit of ${limit}`)
    const out = new Array<unknown>(value.length)
    fillOrDefer('array', out, value, ref, next, walk)
    return out
  }
  const record = value as Record<string, unknown>
  if (isTagLike(record)) return decodeTag(record, ref, next, walk)
  const out: Record<string, unknown> = {}
  fillOrDefer('object', out, record, ref, next, walk)
  return out
}

function fillArray(out: unknown[], value: readonly unknown[], ref: PathRef, depth: number, walk: DecodeWalk): void {
  const limit = walk.limits.maxArrayLength
  let length = 0
  for (let i = 0; i < value.length; i++) {
    const item = value[i]
    if (typeof item === 'object' && item !== null && Object.hasOwn(item, '$holes') && walk.holes) {
      const holes = (item as Record<string, unknown>)['$holes']
      const where = at(at(ref, i), '$holes')
      if (Object.keys(item).length !== 1 || typeof holes !== 'number' || !Number.isSafeInteger(holes) || holes < 1) fail(where, 'expected a count of holes, an integer of at least 1')
      if (length + holes > limit) fail(where, `${length + holes} elements with the holes is longer than the limit of ${limit}`)
      // Skipping indexes leaves holes; the length is set at the end.
      length += holes
    } else {
      out[length++] = decode(item, at(ref, i), depth, walk)
    }
  }
  out.length = length
}

function fillObject(out: Record<string, unknown>, record: Record<string, unknown>, ref: PathRef, depth: number, walk: DecodeWalk): void {
  for (const key of Object.keys(record)) {
    // Such a key is a prototype-pollution attempt in a file, and would turn into one in any code
    // (immer's applyPatches included) that copies the decoded object by assignment.
    if (key === '__proto__') fail(at(ref, key), "the key '__proto__' is not allowed in a run document")
    if (key.length > walk.limits.maxStringLength) fail(ref, `a key of ${key.length} characters is longer than the limit of ${walk.limits.maxStringLength}`)
    defineOwn(out, key, decode(record[key], at(ref, key), depth, walk))
  }
}

function fillMap(map: Map<unknown, unknown>, pairs: readonly unknown[], here: PathRef, depth: number, walk: DecodeWalk): void {
  for (let i = 0; i < pairs.length; i++) {
    const entry: unknown = pairs[i]
    const where = at(here, i)
    if (!Array.isArray(entry) || entry.length !== 2) fail(where, 'expected a [key, value] pair')
    map.set(decode(entry[0], at(where, 0), depth, walk), decode(entry[1], at(where, 1), depth, walk))
  }
}

/** A plain object for `record`, filled now or later. */
function objectOf(record: Record<string, unknown>, ref: PathRef, depth: number, walk: DecodeWalk): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  fillOrDefer('object', out, record, ref, depth, walk)
  return out
}

/** The payload of a tag that holds named fields: an object, without `__proto__`. */
function payloadObject(payload: unknown, here: PathRef, expected: string): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) fail(here, `expected ${expected}`)
  if (Object.hasOwn(payload, '__proto__')) fail(at(here, '__proto__'), "the key '__proto__' is not allowed in a run document")
  return payload as Record<string, unknown>
}

function decodeTag(record: Record<string, unknown>, ref: PathRef, depth: number, walk: DecodeWalk): unknown {
  const [tag] = Object.keys(record) as [string]
  const payload = record[tag]
  const here = at(ref, tag)
  switch (tag) {
    case '$undefined':
      return undefined
    case '$bigint':
      if (typeof payload !== 'string' || !/^-?\d{1,10000}$/.test(payload)) fail(here, 'expected a decimal integer string')
      return BigInt(payload)
    case '$number':
      switch (payload) {
        case 'NaN':
          return NaN
        case 'Infinity':
          return Infinity
        case '-Infinity':
          return -Infinity
        case '-0':
          return -0
      }
      return fail(here, "expected 'NaN', 'Infinity', '-Infinity' or '-0'")
    case '$date': {
      if (payload === null) return new Date(NaN)
      const date = typeof payload === 'string' && payload.length <= 100 ? new Date(payload) : undefined
      if (date === undefined || Number.isNaN(date.getTime())) fail(here, 'expected an ISO date string or null')
      return date
    }
    case '$map': {
      if (!Array.isArray(payload)) fail(here, 'expected an array of [key, value] pairs')
      const map = new Map<unknown, unknown>()
      fillOrDefer('map', map, payload, here, depth, walk)
      return map
    }
    case '$set': {
      if (!Array.isArray(payload)) fail(here, 'expected an array')
      const set = new Set<unknown>()
      fillOrDefer('set', set, payload, here, depth, walk)
      return set
    }
    case '$object':
      return objectOf(payloadObject(payload, here, 'an object'), here, depth, walk)
    case '$error':
      return decodeError(payloadObject(payload, here, '{ name, message }'), here, depth, walk)
    case '$instance': {
      // Class instances cannot be rebuilt without their class: keep their data as a plain object.
      const fields = payloadObject(payload, here, '{ class, fields }')['fields']
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) fail(here, 'expected { class, fields }')
      const name = (payload as Record<string, unknown>)['class']
      if (typeof name === 'string') checkString(name, at(here, 'class'), walk)
      return objectOf(fields as Record<string, unknown>, at(here, 'fields'), depth, walk)
    }
    case '$unsupported':
      if (typeof payload !== 'string') fail(here, 'expected a string saying what could not be written')
      return `[${checkString(payload, here, walk)}]`
    case '$holes':
      return fail(here, walk.holes ? 'holes are only allowed as array elements' : "unknown tag '$holes' (holes exist from version 2 on)")
  }
  return fail(here, `unknown tag '${tag.length > 60 ? `${tag.slice(0, 60)}…` : tag}' (a plain object with one '$' key must be wrapped in { "$object": … })`)
}

function decodeError(fields: Record<string, unknown>, here: PathRef, depth: number, walk: DecodeWalk): Error {
  if (typeof fields['message'] !== 'string' || typeof fields['name'] !== 'string') {
    fail(here, 'an error needs string name and message')
  }
  for (const key of ['name', 'message', 'stack'] as const) {
    const text = fields[key]
    if (typeof text === 'string') checkString(text, at(here, key), walk)
  }
  const error = new Error(fields['message'])
  // name and stack stay non-enumerable, as on any error.
  Object.defineProperty(error, 'name', { value: fields['name'], writable: true, configurable: true })
  if (typeof fields['stack'] === 'string') Object.defineProperty(error, 'stack', { value: fields['stack'], writable: true, configurable: true })
  else delete error.stack
  fillOrDefer('error', error, fields, here, depth, walk)
  return error
}
