// The shape check of run documents, by hand, for documents that pass it: one pass over the
// parsed JSON with no output built, several times faster than the zod schema (document-schema.ts)
// on a 100,000-event document. It answers only "well-formed" or "not sure": for anything it does
// not accept, the reader runs the schema, which names the first problem. So it must never accept
// what the schema refuses: it follows the schema field by field (keep the two in step; the test
// `document-check.test.ts` compares them on mutated documents), and is stricter where that is
// simpler (a key present with the value `undefined`, an object with another prototype).
import { MIDDLEWARE_POSITIONS, WRITE_OPS } from './document-schema.js'
import { FORMAT, VERSIONS, type RunDocument } from './run-document.js'

type Fields = Record<string, unknown>

/** Whether `input` is a run document the schema accepts (`false`: run the schema to know why). */
export function isWellFormed(input: unknown): input is RunDocument {
  return isDocument(input)
}

// ---- values ------------------------------------------------------------------------------------

function isRecord(value: unknown): value is Fields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

/**
 * Every enumerable key of `value` is one of `allowed` and holds a value (not `undefined`), and
 * every key of `required` is there. for-in also sees inherited enumerable keys: a polluted
 * `Object.prototype` makes the answer "not sure", never a wrong "yes".
 */
function hasKeys(value: Fields, allowed: ReadonlySet<string>, required: readonly string[]): boolean {
  for (const key in value) if (!allowed.has(key) || value[key] === undefined) return false
  for (const key of required) if (!Object.hasOwn(value, key)) return false
  return true
}

const isString = (value: unknown): value is string => typeof value === 'string'
/** `name` of the schema: a string of at most 4,096 characters. */
const isName = (value: unknown): boolean => typeof value === 'string' && value.length <= 4096
const isNonEmptyName = (value: unknown): boolean => typeof value === 'string' && value.length >= 1 && value.length <= 4096
/** `z.number().int().nonnegative()` (a table ref, a seq, an index, a count). */
const isCount = (value: unknown): boolean => typeof value === 'number' && Number.isSafeInteger(value) && value >= 0
const NS_STRING = /^-?\d{1,30}$/
const isNsString = (value: unknown): boolean => typeof value === 'string' && NS_STRING.test(value)
const isNsOffset = (value: unknown): boolean => (typeof value === 'number' ? Number.isSafeInteger(value) : isNsString(value))
const SPAN_ID = /^(?!0{16})[0-9a-f]{16}$/
const TRACE_ID = /^(?!0{32})[0-9a-f]{32}$/
const isSpanId = (value: unknown): boolean => typeof value === 'string' && SPAN_ID.test(value)
const isNumber = (value: unknown): boolean => typeof value === 'number' && Number.isFinite(value)

function isArrayOf(value: unknown, item: (value: unknown) => boolean): boolean {
  if (!Array.isArray(value)) return false
  for (let i = 0; i < value.length; i++) if (!item(value[i])) return false
  return true
}

// ---- patches and events -----------------------------------------------------------------------

const PATCH_KEYS = new Set(['op', 'path', 'value'])
const PATCH_REQUIRED = ['op', 'path']
const PATCH_OPS = new Set(['add', 'replace', 'remove'])

function isPatch(value: unknown): boolean {
  return isRecord(value) && hasKeys(value, PATCH_KEYS, PATCH_REQUIRED) && PATCH_OPS.has(value['op'] as string) && Array.isArray(value['path'])
}

const isPatchList = (value: unknown): boolean => isArrayOf(value, isPatch)

const IO_KEYS = new Set(['now', 'random'])

function isIO(value: unknown): boolean {
  if (!isRecord(value) || !hasKeys(value, IO_KEYS, [])) return false
  return (value['now'] === undefined || isArrayOf(value['now'], isNumber)) && (value['random'] === undefined || isArrayOf(value['random'], isNumber))
}

const PARENT_KEYS = new Set(['runId', 'seq'])
const PARENT_REQUIRED = ['runId', 'seq']

/** A run's or a fork event's parent: its run id (at most 4,096 characters) and seq. */
function isParent(value: unknown): boolean {
  return isRecord(value) && hasKeys(value, PARENT_KEYS, PARENT_REQUIRED) && isName(value['runId']) && isCount(value['seq'])
}

/** What each field an event may have must be; `true`: any value (`z.unknown()`). */
const FIELD_CHECKS: Record<string, ((value: unknown) => boolean) | true> = {
  seq: isCount,
  t: isNsOffset,
  type: isString,
  ctx: isPatchList,
  mwctx: isPatchList,
  metrics: (value) => value === null || isPatchList(value),
  middleware: isCount,
  link: isCount,
  durationNs: isNsOffset,
  hook: (value) => value === 'before' || value === 'around' || value === 'after' || value === 'runStart' || value === 'runEnd',
  error: true,
  inversePatches: isPatchList,
  io: isIO,
  metricsError: true,
  writesDropped: isCount,
  child: isNonEmptyName,
  span: isSpanId,
  reason: (value) => value === 'when' || value === 'stopped',
  attempt: (value) => isCount(value) && (value as number) >= 1,
  branch: isNonEmptyName,
  patches: isPatchList,
  op: (value) => WRITE_OP_SET.has(value),
  path: Array.isArray,
  value: true,
  stack: isName,
  parent: isParent,
  status: isStatus,
}

function isStatus(value: unknown): boolean {
  return value === 'ok' || value === 'error' || value === 'aborted'
}

const WRITE_OP_SET: ReadonlySet<unknown> = new Set(WRITE_OPS)

/** An event type's fields: those it may have, and those it must. */
interface EventShape {
  readonly allowed: ReadonlySet<string>
  readonly required: readonly string[]
}

function shape(required: readonly string[], optional: readonly string[] = []): EventShape {
  const all = ['seq', 't', 'type', ...required]
  return { allowed: new Set([...all, 'ctx', 'mwctx', 'metrics', ...optional]), required: all }
}

const LINK_NOTES = ['metricsError', 'writesDropped']
const CHILD_REF = ['child', 'span']

const EVENT_SHAPES: ReadonlyMap<unknown, EventShape> = new Map([
  ['run.start', shape([])],
  ['middleware.before', shape(['middleware', 'durationNs'], ['link'])],
  ['middleware.after', shape(['middleware', 'durationNs'], ['link'])],
  ['middleware.error', shape(['middleware', 'hook', 'error', 'durationNs'], ['link'])],
  ['link.start', shape(['link'])],
  ['link.end', shape(['link', 'durationNs'], ['inversePatches', 'io', ...LINK_NOTES, ...CHILD_REF])],
  ['link.error', shape(['link', 'error', 'durationNs'], ['io', ...LINK_NOTES, ...CHILD_REF])],
  ['link.skip', shape(['link', 'reason'])],
  ['link.attempt', shape(['link', 'attempt', 'error', 'durationNs'], ['io', ...CHILD_REF])],
  ['branch.start', shape(['link', 'branch'])],
  ['branch.end', shape(['link', 'branch', 'durationNs'], ['patches', 'io', ...CHILD_REF])],
  ['branch.error', shape(['link', 'branch', 'error', 'durationNs'], ['io', ...CHILD_REF])],
  ['ctx.write', shape(['link', 'op', 'path'], ['value', 'branch', 'stack'])],
  ['fork', shape(['parent'], ['inversePatches'])],
  ['run.end', shape(['status'])],
])

function isEvent(value: unknown): boolean {
  if (!isRecord(value)) return false
  const form = EVENT_SHAPES.get(value['type'])
  if (form === undefined || !hasKeys(value, form.allowed, form.required)) return false
  for (const key in value) {
    const check = FIELD_CHECKS[key] as ((value: unknown) => boolean) | true
    if (check !== true && !check(value[key])) return false
  }
  return true
}

// ---- the document ------------------------------------------------------------------------------

const RUN_KEYS = new Set(['id', 'chainName', 'status', 'startedAt', 'endedAt', 'error', 'parent', 'replayOf', 'stoppedBy', 'stopReason', 'children', 'trace'])
const RUN_REQUIRED = ['id', 'chainName', 'status', 'startedAt', 'endedAt', 'children']
const ERROR_KEYS = new Set(['code', 'message', 'link', 'cause'])
const RUN_ID_KEYS = new Set(['runId'])
const TRACE_KEYS = new Set(['traceId', 'spanId', 'remoteParent'])

function isRun(value: unknown): boolean {
  if (!isRecord(value) || !hasKeys(value, RUN_KEYS, RUN_REQUIRED)) return false
  const { error, parent, replayOf, stoppedBy, stopReason, trace } = value
  return (
    isNonEmptyName(value['id']) &&
    isName(value['chainName']) &&
    isStatus(value['status']) &&
    isNsString(value['startedAt']) &&
    isNsString(value['endedAt']) &&
    (error === undefined ||
      (isRecord(error) && hasKeys(error, ERROR_KEYS, ['code', 'message']) && isString(error['code']) && isString(error['message']) && (error['link'] === undefined || isCount(error['link'])))) &&
    (parent === undefined || isParent(parent)) &&
    (replayOf === undefined || (isRecord(replayOf) && hasKeys(replayOf, RUN_ID_KEYS, ['runId']) && isName(replayOf['runId']))) &&
    (stoppedBy === undefined || isCount(stoppedBy)) &&
    (stopReason === undefined || isString(stopReason)) &&
    isArrayOf(value['children'], isName) &&
    (trace === undefined ||
      (isRecord(trace) &&
        hasKeys(trace, TRACE_KEYS, ['traceId', 'spanId']) &&
        typeof trace['traceId'] === 'string' &&
        TRACE_ID.test(trace['traceId']) &&
        isSpanId(trace['spanId']) &&
        (trace['remoteParent'] === undefined || isSpanId(trace['remoteParent']))))
  )
}

const DOCUMENT_KEYS = new Set(['format', 'version', 'run', 'redacted', 'links', 'middleware', 'initial', 'events', 'nested'])
const DOCUMENT_REQUIRED = ['format', 'version', 'run', 'links', 'middleware', 'initial', 'events']
const REDACTED_KEYS = new Set(['paths', 'placeholder'])
const LINK_KEYS = new Set(['name', 'index', 'meta'])
const MIDDLEWARE_KEYS = new Set(['name', 'position', 'index'])
const POSITIONS: ReadonlySet<unknown> = new Set(MIDDLEWARE_POSITIONS)
const INITIAL_KEYS = new Set(['ctx', 'mwctx'])

const isLink = (value: unknown): boolean => isRecord(value) && hasKeys(value, LINK_KEYS, ['name', 'index']) && isName(value['name']) && isCount(value['index'])
const isMiddleware = (value: unknown): boolean =>
  isRecord(value) && hasKeys(value, MIDDLEWARE_KEYS, ['name', 'position', 'index']) && isName(value['name']) && POSITIONS.has(value['position']) && isCount(value['index'])
const isPathKey = (value: unknown): boolean => typeof value === 'string' || isNumber(value)

// Recursive through `nested`: the reader has bounded the nesting before (checkDocumentTree).
function isDocument(value: unknown): boolean {
  if (!isRecord(value) || !hasKeys(value, DOCUMENT_KEYS, DOCUMENT_REQUIRED)) return false
  const { redacted, initial, events, nested } = value
  return (
    value['format'] === FORMAT &&
    VERSIONS.has(value['version']) &&
    isRun(value['run']) &&
    (redacted === undefined ||
      (isRecord(redacted) && hasKeys(redacted, REDACTED_KEYS, ['paths', 'placeholder']) && isArrayOf(redacted['paths'], (path) => isArrayOf(path, isPathKey)) && isString(redacted['placeholder']))) &&
    isArrayOf(value['links'], isLink) &&
    isArrayOf(value['middleware'], isMiddleware) &&
    isRecord(initial) &&
    hasKeys(initial, INITIAL_KEYS, ['ctx', 'mwctx']) &&
    Array.isArray(events) &&
    events.length >= 2 &&
    isArrayOf(events, isEvent) &&
    (nested === undefined || isArrayOf(nested, isDocument))
  )
}
