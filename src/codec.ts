// Plain data ⇄ JSON, losslessly. JSON has no bigint, Map, Set, Date, undefined, NaN, ±Infinity
// or -0, so those become single-key tagged objects ({ "$bigint": "12" }). A plain object that
// itself looks like a tag (one key starting with "$") is escaped as { "$object": {...} }, so no
// user data can be mistaken for a tag. Decoding is defensive: it runs on files from anywhere.

/** Limits that keep a hostile document from exhausting the process. */
export interface DecodeLimits {
  /** Deepest nesting accepted in any value. Default 2,000. */
  readonly maxDepth: number
  /** Longest string accepted, in UTF-16 code units. Default 16 Mi (16,777,216). */
  readonly maxStringLength: number
}

export const DEFAULT_LIMITS: DecodeLimits = { maxDepth: 2_000, maxStringLength: 16 * 1024 * 1024 }

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
  if (depth > DEFAULT_LIMITS.maxDepth) throw new RangeError(`value nested more than ${DEFAULT_LIMITS.maxDepth} levels deep`)
  const next = depth + 1
  if (Array.isArray(value)) return value.map((item) => encode(item, next))
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
  for (const key of Object.keys(record)) out[key] = encode(record[key], next)
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) {
    return { $instance: { class: (proto as { constructor?: { name?: string } }).constructor?.name ?? 'Object', fields: out } }
  }
  return isTagLike(out) ? { $object: out } : out
}

/** Defines an own, enumerable property, so keys like `__proto__` stay plain data. */
function defineOwn(target: object, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true })
}

/**
 * Decodes what {@link encodeValue} produced. Rejects, with the path of the first problem,
 * unknown tags, malformed tag payloads, nesting past `maxDepth` and strings past
 * `maxStringLength`. Never assigns through `__proto__`.
 */
export function decodeValue(value: unknown, path: string, limits: DecodeLimits = DEFAULT_LIMITS): unknown {
  return decode(value, path, 0, limits)
}

function decode(value: unknown, path: string, depth: number, limits: DecodeLimits): unknown {
  if (value === null || typeof value === 'boolean') return value
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new DocumentError(path, 'a number must be finite (non-finite numbers are tagged)')
    return value
  }
  if (typeof value === 'string') {
    if (value.length > limits.maxStringLength) {
      throw new DocumentError(path, `string of ${value.length} characters is longer than the limit of ${limits.maxStringLength}`)
    }
    return value
  }
  if (typeof value !== 'object') throw new DocumentError(path, `${typeof value} is not JSON data`)
  if (depth >= limits.maxDepth) throw new DocumentError(path, `nested more than ${limits.maxDepth} levels deep`)
  const next = depth + 1
  if (Array.isArray(value)) return value.map((item, i) => decode(item, childPath(path, i), next, limits))
  const record = value as Record<string, unknown>
  if (isTagLike(record)) return decodeTag(record, path, next, limits)
  const out: Record<string, unknown> = {}
  for (const key of Object.keys(record)) defineOwn(out, key, decode(record[key], childPath(path, key), next, limits))
  return out
}

function decodeTag(record: Record<string, unknown>, path: string, depth: number, limits: DecodeLimits): unknown {
  const [tag] = Object.keys(record) as [string]
  const payload = record[tag]
  const at = childPath(path, tag)
  switch (tag) {
    case '$undefined':
      return undefined
    case '$bigint':
      if (typeof payload !== 'string' || !/^-?\d{1,10000}$/.test(payload)) throw new DocumentError(at, 'expected a decimal integer string')
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
      throw new DocumentError(at, "expected 'NaN', 'Infinity', '-Infinity' or '-0'")
    case '$date': {
      if (payload === null) return new Date(NaN)
      const date = typeof payload === 'string' ? new Date(payload) : undefined
      if (date === undefined || Number.isNaN(date.getTime())) throw new DocumentError(at, 'expected an ISO date string or null')
      return date
    }
    case '$map': {
      if (!Array.isArray(payload)) throw new DocumentError(at, 'expected an array of [key, value] pairs')
      const map = new Map<unknown, unknown>()
      payload.forEach((entry: unknown, i) => {
        const where = childPath(at, i)
        if (!Array.isArray(entry) || entry.length !== 2) throw new DocumentError(where, 'expected a [key, value] pair')
        map.set(decode(entry[0], childPath(where, 0), depth, limits), decode(entry[1], childPath(where, 1), depth, limits))
      })
      return map
    }
    case '$set': {
      if (!Array.isArray(payload)) throw new DocumentError(at, 'expected an array')
      return new Set(payload.map((item, i) => decode(item, childPath(at, i), depth, limits)))
    }
    case '$object': {
      if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) throw new DocumentError(at, 'expected an object')
      const out: Record<string, unknown> = {}
      for (const key of Object.keys(payload)) {
        defineOwn(out, key, decode((payload as Record<string, unknown>)[key], childPath(at, key), depth, limits))
      }
      return out
    }
    case '$error':
      return decodeError(payload, at, depth, limits)
    case '$instance': {
      // Class instances cannot be rebuilt without their class: keep their data as a plain object.
      const fields = (payload as { fields?: unknown } | null)?.fields
      if (typeof fields !== 'object' || fields === null || Array.isArray(fields)) throw new DocumentError(at, 'expected { class, fields }')
      return decode(fields, childPath(at, 'fields'), depth, limits)
    }
    case '$unsupported':
      return `[${String(payload)}]`
  }
  throw new DocumentError(at, `unknown tag '${tag}' (a plain object with one '$' key must be wrapped in { "$object": … })`)
}

function decodeError(payload: unknown, at: string, depth: number, limits: DecodeLimits): Error {
  if (typeof payload !== 'object' || payload === null) throw new DocumentError(at, 'expected { name, message }')
  const fields = payload as Record<string, unknown>
  if (typeof fields['message'] !== 'string' || typeof fields['name'] !== 'string') {
    throw new DocumentError(at, 'an error needs string name and message')
  }
  const error = new Error(fields['message'])
  defineOwn(error, 'name', fields['name'])
  if (typeof fields['stack'] === 'string') defineOwn(error, 'stack', fields['stack'])
  else delete error.stack
  if (fields['code'] !== undefined) defineOwn(error, 'code', decode(fields['code'], childPath(at, 'code'), depth, limits))
  if (fields['cause'] !== undefined) defineOwn(error, 'cause', decode(fields['cause'], childPath(at, 'cause'), depth, limits))
  return error
}
