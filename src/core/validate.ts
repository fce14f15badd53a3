// Build-time checks: bad configuration is a TypeError when the chain is built (or, for run
// options, when run() is called), never a mystery halfway through a run.
import { RECORDER_PORT, type RunRecorder } from './recording.js'
import type { ZodError } from 'zod'
import type { RedactPath, RetryOptions, RunOptions } from './types.js'

const HOOKS = ['before', 'around', 'after', 'runStart', 'runEnd'] as const
const CAPTURE_LEVELS: readonly string[] = ['timeline', 'writes', 'off']

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  return typeof value
}

export function checkLinkName(name: unknown, where: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${where}: a link name must be a non-empty string, got ${describe(name)}`)
  }
}

/**
 * @param linkLevel - link-level middleware (`use` of a link) has no run hooks: one is an error,
 *   not a silently ignored function
 */
export function checkMiddleware(middleware: unknown, where: string, linkLevel = false): void {
  if (typeof middleware !== 'object' || middleware === null) {
    throw new TypeError(`${where}: middleware must be an object { name, priority?, before?, around?, after?, runStart?, runEnd? }, got ${describe(middleware)}`)
  }
  const read = (key: string, label: string): unknown => {
    try {
      return (middleware as Record<string, unknown>)[key]
    } catch (error) {
      throw new TypeError(`${where}: ${label}: reading '${key}' threw: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
    }
  }
  const name = read('name', 'middleware')
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`${where}: middleware needs a non-empty string 'name', got ${describe(name)}`)
  }
  const priority = read('priority', `middleware '${name}'`)
  if (priority !== undefined && !(typeof priority === 'number' && Number.isFinite(priority))) {
    throw new TypeError(`${where}: middleware '${name}' has a priority that is ${typeof priority === 'number' ? String(priority) : describe(priority)}, not a finite number`)
  }
  for (const hook of HOOKS) {
    const fn = read(hook, `middleware '${name}'`)
    if (fn !== undefined && typeof fn !== 'function') {
      throw new TypeError(`${where}: middleware '${name}' has a '${hook}' that is ${describe(fn)}, not a function`)
    }
    if (fn !== undefined && linkLevel && (hook === 'runStart' || hook === 'runEnd')) {
      throw new TypeError(`${where}: middleware '${name}' has a '${hook}' hook, but link-level middleware has no run hooks (they would never be called): add it with chain.use() instead`)
    }
  }
}

const RUN_OPTIONS: readonly string[] = ['capture', 'timestamps', 'signal', 'safe', 'clock', 'tracer', 'stacks', 'redact', 'hookTimeoutMs', 'maxWritesPerLink', 'recorder', 'durable', 'traceContext']

/** Rejects keys nobody reads: a typo (`captrue`) must not silently mean the default. */
export function checkKeys(options: object, known: readonly string[], where: string): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const close = known.find((candidate) => candidate.startsWith(key.slice(0, 3)) || key.startsWith(candidate.slice(0, 3)))
    throw new TypeError(`${where}: unknown option '${key}'${close === undefined ? '' : ` (did you mean '${close}'?)`}; known: ${known.join(', ')}`)
  }
}

/**
 * @param extra - keys that are valid here besides the run options (`input` on a chain, `stub`
 *   on a replay…)
 */
export function checkRunOptions(options: unknown, where: string, extra: readonly string[] = []): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where} must be an object, got ${describe(options)}`)
  }
  checkKeys(options, [...RUN_OPTIONS, ...extra], where)
  const o = options as Record<keyof RunOptions, unknown>
  if (o.capture !== undefined && !CAPTURE_LEVELS.includes(o.capture as string)) {
    throw new TypeError(`${where}: capture must be one of ${CAPTURE_LEVELS.map((c) => `'${c}'`).join(', ')}, got ${JSON.stringify(o.capture)}`)
  }
  for (const flag of ['timestamps', 'safe', 'stacks', 'durable'] as const) {
    if (o[flag] !== undefined && typeof o[flag] !== 'boolean') {
      throw new TypeError(`${where}: ${flag} must be a boolean, got ${describe(o[flag])}`)
    }
  }
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw new TypeError(`${where}: signal must be an AbortSignal, got ${describe(o.signal)}`)
  }
  if (o.tracer !== undefined && typeof (o.tracer as { startSpan?: unknown } | null)?.startSpan !== 'function') {
    throw new TypeError(`${where}: tracer must be an OpenTelemetry Tracer (with startSpan), got ${describe(o.tracer)}`)
  }
  if (o.redact !== undefined) checkRedactPaths(o.redact, `${where}: redact`)
  if (o.hookTimeoutMs !== undefined && !(typeof o.hookTimeoutMs === 'number' && o.hookTimeoutMs > 0)) {
    throw new TypeError(`${where}: hookTimeoutMs must be a number of milliseconds above 0 (Infinity: no limit), got ${typeof o.hookTimeoutMs === 'number' ? o.hookTimeoutMs : describe(o.hookTimeoutMs)}`)
  }
  if (o.maxWritesPerLink !== undefined && !(typeof o.maxWritesPerLink === 'number' && (Number.isSafeInteger(o.maxWritesPerLink) || o.maxWritesPerLink === Infinity) && o.maxWritesPerLink >= 0)) {
    throw new TypeError(`${where}: maxWritesPerLink must be a whole number ≥ 0 (or Infinity), got ${typeof o.maxWritesPerLink === 'number' ? o.maxWritesPerLink : describe(o.maxWritesPerLink)}`)
  }
  if (o.clock !== undefined && typeof (o.clock as { now?: unknown } | null)?.now !== 'function') {
    throw new TypeError(`${where}: clock must be an object with a now() method returning epoch nanoseconds`)
  }
  if (o.traceContext !== undefined && typeof (o.traceContext as { getValue?: unknown } | null)?.getValue !== 'function') {
    throw new TypeError(`${where}: traceContext must be an OpenTelemetry Context (propagation.extract gives one), got ${describe(o.traceContext)}`)
  }
  if (o.recorder !== undefined && typeof (o.recorder as Partial<RunRecorder> | null)?.[RECORDER_PORT] !== 'object') {
    throw new TypeError(`${where}: recorder must be a flight recorder made by recorder(), got ${describe(o.recorder)}`)
  }
}

/**
 * Redaction paths: an array of non-empty arrays of keys (strings or numbers).
 *
 * @throws TypeError naming the first bad path: `redact[1] must be a non-empty array of keys…`
 */
export function checkRedactPaths(paths: unknown, where: string): asserts paths is readonly RedactPath[] {
  if (!Array.isArray(paths)) throw new TypeError(`${where} must be an array of paths such as [['user', 'password']], got ${describe(paths)}`)
  paths.forEach((path: unknown, i) => {
    if (!Array.isArray(path) || path.length === 0 || !path.every((k: unknown) => typeof k === 'string' || (typeof k === 'number' && Number.isFinite(k)))) {
      throw new TypeError(`${where}[${i}] must be a non-empty array of keys (strings or numbers), e.g. ['user', 'password'], got ${JSON.stringify(path) ?? describe(path)}`)
    }
  })
}

/** `items[0].price: expected number, received string; email: invalid email` */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = ''
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`
    else if (typeof key === 'string' && /^[A-Za-z_$][\w$]*$/.test(key)) out += out === '' ? key : `.${key}`
    else out += `[${JSON.stringify(String(key))}]`
  }
  return out === '' ? '(root)' : out
}

export function formatInputError(chainName: string, error: ZodError): string {
  const issues = error.issues.map((issue) => `${formatPath(issue.path)}: ${issue.message}`)
  return `invalid input for chain '${chainName}': ${issues.join('; ')}`
}

/** A duration in milliseconds: a finite number, not negative. */
export function checkMs(value: unknown, what: string): void {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new TypeError(`${what} must be a finite number of milliseconds, not negative, got ${typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value}`)
  }
}

/** A link's `retry` option, checked and frozen (a copy: the caller's object may change later). */
export function checkRetry(retry: unknown, where: string): RetryOptions | undefined {
  if (retry === undefined) return undefined
  if (typeof retry !== 'object' || retry === null) throw new TypeError(`${where}: options.retry must be an object { attempts, delayMs?, backoff?, retryIf? }`)
  checkKeys(retry, ['attempts', 'delayMs', 'backoff', 'retryIf'], `${where}: options.retry`)
  const { attempts, delayMs, backoff, retryIf } = retry as Record<string, unknown>
  if (typeof attempts !== 'number' || !Number.isInteger(attempts) || attempts < 1) {
    throw new TypeError(`${where}: options.retry.attempts must be an integer of at least 1, got ${typeof attempts === 'number' ? String(attempts) : typeof attempts}`)
  }
  if (delayMs !== undefined) checkMs(delayMs, `${where}: options.retry.delayMs`)
  if (backoff !== undefined && (typeof backoff !== 'number' || !Number.isFinite(backoff) || backoff < 0)) {
    throw new TypeError(`${where}: options.retry.backoff must be a finite number, not negative, got ${typeof backoff === 'number' ? String(backoff) : typeof backoff}`)
  }
  if (retryIf !== undefined && typeof retryIf !== 'function') throw new TypeError(`${where}: options.retry.retryIf must be a function (error) => boolean, got ${retryIf === null ? 'null' : typeof retryIf}`)
  return Object.freeze({
    attempts,
    delayMs: (delayMs as number | undefined) ?? 0,
    backoff: (backoff as number | undefined) ?? 1,
    ...(retryIf === undefined ? {} : { retryIf: retryIf as (error: unknown) => boolean }),
  })
}
