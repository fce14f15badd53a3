// Decoding what codec.ts encodes, defensively: it runs on files from anywhere. Limits bound depth,
// strings and arrays; deep values are decoded in segments so the stack stays shallow; nothing is
// ever assigned through `__proto__`.
import { childPath, DEFAULT_LIMITS, DocumentError, isTagLike, type DecodeLimits } from './codec.js'

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
  // Most values in a document are scalars that decode to themselves: no walk to set up.
  if (value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)) || (typeof value === 'string' && value.length <= limits.maxStringLength)) return value
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
