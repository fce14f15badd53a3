// Plain data ⇄ JSON, losslessly. JSON has no bigint, Map, Set, Date, undefined, NaN, ±Infinity
// or -0, so those become single-key tagged objects ({ "$bigint": "12" }). A plain object that
// itself looks like a tag (one key starting with "$") is escaped as { "$object": {...} }, so no
// user data can be mistaken for a tag. Decoding is defensive: it runs on files from anywhere.

/** Limits that keep a hostile document from exhausting the process. */
export interface DecodeLimits {
  /** Deepest nesting accepted in any value. Default 1,000. */
  readonly maxDepth: number
  /** Longest string accepted, in UTF-16 code units. Default 16 Mi (16,777,216). */
  readonly maxStringLength: number
}

export const DEFAULT_LIMITS: DecodeLimits = { maxDepth: 1_000, maxStringLength: 16 * 1024 * 1024 }

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

/** Appends a key to a readable JSON path: `a.b`, `a[3]`, `a["odd key"]`. */
export function childPath(path: string, key: string | number): string {
  if (typeof key === 'number') return `${path}[${key}]`
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${path}.${key}` : `${path}[${JSON.stringify(key)}]`
}

function isTagLike(record: Record<string, unknown>): boolean {
  const keys = Object.keys(record)
  return keys.length === 1 && (keys[0] as string).startsWith('$')
}

/**
 * Encodes a value for JSON. Errors keep name, message, stack, code and cause; class instances
 * other than Date, Map, Set and Error keep their own enumerable fields under `$instance`;
 * functions and symbols become `{ "$unsupported": "function" }`.
 */
export function encodeValue(value: unknown): unknown {
  return encode(value, 0)
}

function encode(value: unknown, depth: number): unknown {
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
    case 'symbol':
      return { $unsupported: typeof value }
  }
  if (value === null) return null
  if (depth >= DEFAULT_LIMITS.maxDepth) throw new RangeError(`value nested more than ${DEFAULT_LIMITS.maxDepth} levels deep: too deep to export`)
  const next = depth + 1
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = encode(value[i], next)
    return out
  }
  if (value instanceof Date) return { $date: Number.isNaN(value.getTime()) ? null : value.toISOString() }
  if (value instanceof Map) return { $map: [...value].map(([k, v]) => [encode(k, next), encode(v, next)]) }
  if (value instanceof Set) return { $set: [...value].map((item) => encode(item, next)) }
  if (value instanceof Error) {
    const error: Record<string, unknown> = { name: value.name, message: value.message }
    if (value.stack !== undefined) error['stack'] = value.stack
    const code = (value as { code?: unknown }).code
    if (code !== undefined) error['code'] = encode(code, next)
    if (value.cause !== undefined) error['cause'] = encode(value.cause, next)
    return { $error: error }
  }
  const record = value as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record)) {
    // Readers refuse it (a prototype-pollution vector), so say so now rather than write a file
    // that cannot be loaded.
    if (key === '__proto__') throw new TypeError("an own '__proto__' key cannot be exported: readers reject it")
    out[key] = encode(record[key], next)
  }
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    return { $instance: { class: (proto as { constructor?: { name?: string } }).constructor?.name ?? 'Object', fields: out } }
  }
  return isTagLike(out) ? { $object: out } : out
}

/** Defines an own, enumerable property (never through a setter such as `__proto__`'s). */
function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}


/**
 * Decodes what {@link encodeValue} produced. Rejects, with the path of the first problem,
 * unknown tags, malformed tag payloads, nesting past `maxDepth` and strings past
 * `maxStringLength`. Never assigns through `__proto__`.
 */
export function decodeValue(value: unknown, path: string, limits: DecodeLimits = DEFAULT_LIMITS): unknown {
  return decode(value, { parent: undefined, key: path }, 0, limits)
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

function pathText(ref: PathRef): string {
  const keys: (string | number)[] = []
  for (let r: PathRef | undefined = ref; r !== undefined; r = r.parent) keys.push(r.key)
  keys.reverse()
  let out = String(keys[0])
  for (let i = 1; i < keys.length; i++) out = childPath(out, keys[i] as string | number)
  return out
}

function fail(ref: PathRef, problem: string): never {
  throw new DocumentError(pathText(ref), problem)
}

function decode(value: unknown, ref: PathRef, depth: number, limits: DecodeLimits): unknown {
  if (value === null || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(ref, 'a number must be finite (non-finite numbers are tagged)')
    return value
  }
  if (typeof value === 'string') {
    if (value.length > limits.maxStringLength) {
      fail(ref, `string of ${value.length} characters is longer than the limit of ${limits.maxStringLength}`)
    }
    return value
  }
  if (typeof value !== 'object') fail(ref, `${typeof value} is not JSON data`)
  if (depth >= limits.maxDepth) fail(ref, `nested more than ${limits.maxDepth} levels deep`)
  const next = depth + 1
  if (Array.isArray(value)) {
    const out = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) out[i] = decode(value[i], at(ref, i), next, limits)
    return out
  }
  const record = value as Record<string, unknown>
  if (isTagLike(record)) return decodeTag(record, ref, next, limits)
  return decodeObject(record, ref, next, limits)
}

function decodeObject(record: Record<string, unknown>, ref: PathRef, depth: number, limits: DecodeLimits): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record)) {
    // Such a key is a prototype-pollution attempt in a file, and would turn into one in any code
    // (immer's applyPatches included) that copies the decoded object by assignment.
    if (key === '__proto__') fail(at(ref, key), "the key '__proto__' is not allowed in a run document")
    defineOwn(out, key, decode(record[key], at(ref, key), depth, limits))
  }
  return out
}

function decodeTag(record: Record<string, unknown>, ref: PathRef, depth: number, limits: DecodeLimits): unknown {
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
      const date = typeof payload === 'string' ? new Date(payload) : undefined
      if (date === undefined || Number.isNaN(date.getTime())) fail(here, 'expected an ISO date string or null')
      return date
    }
    case '$map': {
      if (!Array.isArray(payload)) fail(here, 'expected an array of [key, value] pairs')
      const map = new Map<unknown, unknown>()
      for (let i = 0; i < payload.length; i++) {
        const entry: unknown = payload[i]
        const where = at(here, i)
        if (!Array.isArray(entry) || entry.length !== 2) fail(where, 'expected a [key, value] pair')
        map.set(decode(entry[0], at(where, 0), depth, limits), decode(entry[1], at(where, 1), depth, limits))
      }
      return map
    }
    case '$set': {
      if (!Array.isArray(payload)) fail(here, 'expected an array')
      const set = new Set<unknown>()
      for (let i = 0; i < payload.length; i++) set.add(decode(payload[i], at(here, i), depth, limits))
      return set
    }
    case '$object':
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) fail(here, 'expected an object')
      return decodeObject(payload as Record<string, unknown>, here, depth, limits)
    case '$error':
      return decodeError(payload, here, depth, limits)
    case '$instance': {
      // Class instances cannot be rebuilt without their class: keep their data as a plain object.
      const fields = (payload as { fields?: unknown } | null)?.fields
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) fail(here, 'expected { class, fields }')
      return decodeObject(fields as Record<string, unknown>, at(here, 'fields'), depth, limits)
    }
    case '$unsupported':
      return `[${String(payload)}]`
  }
  return fail(here, `unknown tag '${tag}' (a plain object with one '$' key must be wrapped in { "$object": … })`)
}

function decodeError(payload: unknown, here: PathRef, depth: number, limits: DecodeLimits): Error {
  if (typeof payload !== 'object' || payload === null) fail(here, 'expected { name, message }')
  const fields = payload as Record<string, unknown>
  if (typeof fields['message'] !== 'string' || typeof fields['name'] !== 'string') {
    fail(here, 'an error needs string name and message')
  }
  for (const key of ['name', 'message', 'stack'] as const) {
    const text = fields[key]
    if (typeof text === 'string') decode(text, at(here, key), depth, limits)
  }
  const error = new Error(fields['message'])
  // name and stack stay non-enumerable, as on any error.
  Object.defineProperty(error, 'name', { value: fields['name'], writable: true, configurable: true })
  if (typeof fields['stack'] === 'string') Object.defineProperty(error, 'stack', { value: fields['stack'], writable: true, configurable: true })
  else delete error.stack
  if (fields['code'] !== undefined) defineOwn(error, 'code', decode(fields['code'], at(here, 'code'), depth, limits))
  if (fields['cause'] !== undefined) defineOwn(error, 'cause', decode(fields['cause'], at(here, 'cause'), depth, limits))
  return error
}
