// The one place span names, attribute keys and conversions are defined, so live tracing and
// post-hoc export cannot drift apart.
import { SpanStatusCode, type Attributes, type Context, type HrTime, type Span, type SpanOptions, type Tracer } from '@opentelemetry/api'
import { describeError } from '../core/errors.js'
import type { MiddlewareCallInfo } from '../record/events.js'
import type { Redactor } from '../files/redact.js'
import type { LinkInfo, RunStatus } from '../core/types.js'
import { spanContextOf } from './registry.js'
import { nsAttribute } from './times.js'

export { hrTime, nsAttribute, timesOf } from './times.js'

/**
 * The attribute names shadowchain puts on spans and span events (all under `shadowchain.`), for
 * queries and dashboards: `attributeNames.linkDuration` is `'shadowchain.link.duration_ns'`.
 */
export const ATTR = {
  chainName: 'shadowchain.chain.name',
  runId: 'shadowchain.run.id',
  runStatus: 'shadowchain.run.status',
  errorCode: 'shadowchain.error.code',
  relation: 'shadowchain.run.relation',
  relatedRunId: 'shadowchain.run.related_id',
  forkSeq: 'shadowchain.fork.seq',
  linkName: 'shadowchain.link.name',
  linkIndex: 'shadowchain.link.index',
  linkDuration: 'shadowchain.link.duration_ns',
  metricsPrefix: 'shadowchain.metrics.',
  middlewareName: 'shadowchain.middleware.name',
  middlewarePosition: 'shadowchain.middleware.position',
  middlewareIndex: 'shadowchain.middleware.index',
  middlewareDuration: 'shadowchain.middleware.duration_ns',
  /**
   * On a `middleware.error` span event: the error's class name. (Not `exception.type`: the
   * middleware's error is not the span's exception; the link and the run go on.)
   */
  middlewareErrorType: 'shadowchain.middleware.error.type',
  /** On a `middleware.error` span event: the error's message. */
  middlewareErrorMessage: 'shadowchain.middleware.error.message',
  /** On a `link.skip` run-span event: `'when'` or `'stopped'`. */
  skipReason: 'shadowchain.skip.reason',
  /** On a `link.attempt` link-span event: which attempt failed (from 1). */
  attempt: 'shadowchain.attempt',
  /** On a `link.attempt` link-span event: the failed attempt's error class name. */
  attemptErrorType: 'shadowchain.attempt.error.type',
  /** On a `link.attempt` link-span event: the failed attempt's error message. */
  attemptErrorMessage: 'shadowchain.attempt.error.message',
  /** On a `link.attempt` link-span event: how long the failed attempt took. */
  attemptDuration: 'shadowchain.attempt.duration_ns',
  /** On a branch span (a branch of a parallel step): the branch's name. */
  branchName: 'shadowchain.branch.name',
  /** On a branch span: how long the branch took. */
  branchDuration: 'shadowchain.branch.duration_ns',
  /** On a run span ended by `io.stop()`: the name of the link that stopped it. */
  stoppedBy: 'shadowchain.run.stopped_by',
  /** On a run span ended by `io.stop(reason)`: the reason. */
  stopReason: 'shadowchain.run.stop_reason',
  /**
   * On a link span or branch span that ran a nested chain (DESIGN §9): the id of the child run,
   * whose `chain <name>` span is a child of that span (for a retried link, its last attempt's).
   */
  childRunId: 'shadowchain.child.run_id',
  /** On a `link.attempt` link-span event of a nested chain: the id of that attempt's child run. */
  attemptChildRunId: 'shadowchain.attempt.child.run_id',
} as const

/**
 * A skipped link as an event on the run span (live and exported alike): it has no span, it
 * never ran.
 */
export function addSkipEvent(span: Span, link: LinkInfo, reason: string, time: HrTime | undefined): void {
  if (!span.isRecording()) return
  span.addEvent('link.skip', { [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index, [ATTR.skipReason]: reason }, time)
}

/**
 * A failed attempt of a retried link as an event on its link span (live and exported alike), at
 * the time the attempt failed.
 */
export function addAttemptEvent(span: Span, attempt: number, error: unknown, durationNs: bigint, time: HrTime | undefined, redact?: Redactor, childRunId?: string): void {
  if (!span.isRecording()) return
  const message = describeError(error)
  const attributes: Attributes = {
    [ATTR.attempt]: attempt,
    [ATTR.attemptErrorType]: errorType(error),
    [ATTR.attemptErrorMessage]: redact === undefined ? message : redact.scrubText(message),
    [ATTR.attemptDuration]: nsAttribute(durationNs),
  }
  if (childRunId !== undefined) attributes[ATTR.attemptChildRunId] = childRunId
  span.addEvent('link.attempt', attributes, time)
}

/**
 * A link or branch that ran a nested chain: names its child run on its span (live and exported
 * alike; the child's run span is the span's child).
 */
export function setChildAttribute(span: Span, childRunId: string | undefined): void {
  if (childRunId !== undefined && span.isRecording()) span.setAttribute(ATTR.childRunId, childRunId)
}

/** What a stopped run's span says about the stop (nothing for a run that was not stopped). */
export function setStopAttributes(span: Span, stop: { readonly link: LinkInfo; readonly reason: string | undefined } | undefined, redact?: Redactor): void {
  if (stop === undefined) return
  span.setAttribute(ATTR.stoppedBy, stop.link.name)
  if (stop.reason !== undefined) span.setAttribute(ATTR.stopReason, redact === undefined ? stop.reason : redact.scrubText(stop.reason))
}

/** The run span's name: `chain <name>`. */
export const runSpanName = (chainName: string): string => `chain ${chainName}`
/** A link span's name: `link <name>`. */
export const linkSpanName = (linkName: string): string => `link ${linkName}`

/** A branch of a parallel step: a span under its step's span, `branch <step>/<branch>`. */
export const branchSpanName = (linkName: string, branch: string): string => `branch ${linkName}/${branch}`

/** The options of a branch span (live and exported alike). */
export function branchSpanOptions(link: LinkInfo, branch: string, startTime: HrTime | undefined): SpanOptions {
  const attributes = { [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index, [ATTR.branchName]: branch }
  return startTime === undefined ? { attributes } : { attributes, startTime }
}

/** Ends a branch span: its duration, and a failed branch's exception and status. */
export function endBranchSpan(span: Span, durationNs: bigint, failed: boolean, error: unknown, time: HrTime | undefined, redact?: Redactor): void {
  if (span.isRecording()) {
    span.setAttribute(ATTR.branchDuration, nsAttribute(durationNs))
    if (failed) recordFailure(span, error, time, redact)
  }
  span.end(time)
}

/**
 * A metrics key in the form OpenTelemetry attribute names take: lowercase snake_case, dots kept
 * as namespace separators. `latencyMs` → `latency_ms`, `HTTPStatus` → `http_status`,
 * `Weird Key` → `weird_key`, `db.Calls` → `db.calls`; every run of characters other than letters,
 * digits, `_` and `.` becomes one
 * `_`; leading and trailing `_` and `.` are dropped; a key with nothing left is `unnamed`.
 */
export function normaliseMetricKey(key: string): string {
  const out = key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[^\p{L}\p{N}_.]+/gu, '_')
    .replace(/_*\._*/g, '.')
    .replace(/\.{2,}/g, '.')
    .replace(/_{2,}/g, '_')
    .replace(/^[._]+|[._]+$/g, '')
  return out === '' ? 'unnamed' : out
}

/** A metrics key's attribute name, and whether normalising changed the key. */
interface MetricName {
  readonly name: string
  readonly renamed: boolean
}

// Keys are the user's and few: normalised once each (bounded; past the bound, computed each time).
const METRIC_NAMES_LIMIT = 10_000
const metricNames = new Map<string, MetricName>()

// The last key asked, and its name: a link's metrics are mostly the same one or two keys, link
// after link, and a string compared with itself is one pointer comparison, a Map lookup hashes.
let lastKey: string | undefined
let lastName: MetricName | undefined

function metricName(key: string): MetricName {
  if (key === lastKey) return lastName as MetricName
  let entry = metricNames.get(key)
  if (entry === undefined) {
    const normal = normaliseMetricKey(key)
    entry = { name: `${ATTR.metricsPrefix}${normal}`, renamed: normal !== key }
    if (metricNames.size < METRIC_NAMES_LIMIT) metricNames.set(key, entry)
  }
  lastKey = key
  lastName = entry
  return entry
}

/** A metric's primitive value as an attribute value, or undefined when it has none. */
function metricValue(value: unknown): string | number | boolean | undefined {
  if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) return value
  if (typeof value === 'bigint') return value.toString()
  return undefined
}

/**
 * Sets the primitive values of a metrics object on a span as `shadowchain.metrics.<key>`
 * attributes, the key normalised by {@link normaliseMetricKey} (bigints as strings; objects,
 * non-finite numbers and `undefined` are left out). Collisions: a key already in normal form keeps
 * its name; a key that normalising changed takes the normal name unless another key of the same
 * metrics object has it, then the first free of `<name>_2`, `<name>_3`, … (in key order).
 * Straight onto the span: no attributes object for the SDK to copy again.
 *
 * @param redact - the run's redaction: values at redacted paths and copies of them are scrubbed
 */
export function setMetricAttributes(span: Span, metrics: object | undefined, redact?: Redactor): void {
  if (metrics === undefined) return
  const source = (redact === undefined ? metrics : redact.apply(metrics)) as Record<string, unknown>
  let renamed = false
  for (const key in source) {
    const entry = metricName(key)
    if (entry.renamed) {
      renamed = true
      continue
    }
    const attribute = metricValue(source[key])
    if (attribute !== undefined) span.setAttribute(entry.name, attribute)
  }
  if (renamed) setRenamedMetrics(span, source)
}

/** The keys that normalising changed, after the others: they yield on collisions. */
function setRenamedMetrics(span: Span, metrics: Record<string, unknown>): void {
  const taken = new Set<string>()
  for (const key in metrics) {
    const entry = metricName(key)
    if (!entry.renamed) taken.add(entry.name)
  }
  for (const key in metrics) {
    const entry = metricName(key)
    if (!entry.renamed) continue
    let name = entry.name
    for (let n = 2; taken.has(name); n++) name = `${entry.name}_${n}`
    taken.add(name)
    const attribute = metricValue(metrics[key])
    if (attribute !== undefined) span.setAttribute(name, attribute)
  }
}

/**
 * The attributes of a middleware call's span event; for `middleware.error`, the error's type and
 * message as `shadowchain.middleware.error.*`.
 *
 * @param redact - the run's redaction: copies of redacted values are scrubbed from the message
 */
export function middlewareAttributes(call: MiddlewareCallInfo, durationNs: bigint, error?: unknown, redact?: Redactor): Attributes {
  // Literal keys (the values of ATTR.middleware*): one object shape V8 builds fast, per event.
  const out: Attributes = {
    'shadowchain.middleware.name': call.name,
    'shadowchain.middleware.position': call.position,
    'shadowchain.middleware.index': call.index,
    'shadowchain.middleware.duration_ns': nsAttribute(durationNs),
  }
  if (error !== undefined) {
    const message = describeError(error)
    out[ATTR.middlewareErrorType] = errorType(error)
    out[ATTR.middlewareErrorMessage] = redact === undefined ? message : redact.scrubText(message)
  }
  return out
}

/** A field of an error that is a string, or undefined (a getter that throws counts as absent). */
function stringField(error: unknown, key: 'name' | 'message' | 'stack'): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  try {
    const value: unknown = (error as Record<string, unknown>)[key]
    return typeof value === 'string' ? value : undefined
  } catch {
    return undefined
  }
}

function errorType(error: unknown): string {
  return stringField(error, 'name') ?? typeof error
}

/**
 * Marks a span failed the way OTel conventions ask: an `exception` event (`exception.type`,
 * `exception.message` and, when the error has one, `exception.stacktrace`) and status ERROR.
 *
 * @param redact - the run's redaction: copies of redacted values are scrubbed from the text
 */
export function recordFailure(span: Span, error: unknown, time: HrTime | undefined, redact?: Redactor): void {
  const name = errorType(error)
  let message = stringField(error, 'message') ?? describeError(error)
  let stack = stringField(error, 'stack')
  if (redact !== undefined) {
    message = redact.scrubText(message)
    if (stack !== undefined) stack = redact.scrubText(stack)
  }
  span.recordException(stack === undefined ? { name, message } : { name, message, stack }, time)
  span.setStatus({ code: SpanStatusCode.ERROR, message })
}

/** What a link's spans take from the link, which never changes: its span name and attributes. */
export interface LinkSpanParts {
  /** `link <name>` ({@link linkSpanName}). */
  readonly name: string
  /** The link's name and index (frozen: the SDK copies what it is given). */
  readonly attributes: Attributes
}

// Built once per link, found again with one lookup a span (a new name string and a second
// lookup for the attributes were two costs of every link span).
const linkParts = new WeakMap<LinkInfo, LinkSpanParts>()

/** A link's span name and attributes, made the first time its link is traced or exported. */
export function linkSpanParts(link: LinkInfo): LinkSpanParts {
  let parts = linkParts.get(link)
  if (parts === undefined) {
    parts = Object.freeze({ name: linkSpanName(link.name), attributes: Object.freeze({ [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index }) })
    linkParts.set(link, parts)
  }
  return parts
}

/** Starts a link's span, live or exported alike: `link <name>`, the link's attributes, its start. */
export function startLinkSpan(tracer: Tracer, link: LinkInfo, startTime: HrTime | undefined, parent: Context): Span {
  const { name, attributes } = linkSpanParts(link)
  // One literal of one shape (not a property added later): cheaper to build, every link.
  return tracer.startSpan(name, startTime === undefined ? { attributes } : { attributes, startTime }, parent)
}

/**
 * Ends a run span, live or exported alike: its status, and a failed run's code and exception.
 *
 * @param redact - the run's redaction: copies of redacted values are scrubbed from the message
 */
export function endRunSpan(span: Span, status: RunStatus, failure: { readonly code: string; readonly message: string } | undefined, time: HrTime | undefined, redact?: Redactor): void {
  span.setAttribute(ATTR.runStatus, status)
  if (failure !== undefined) {
    span.setAttribute(ATTR.errorCode, failure.code)
    recordFailure(span, { name: 'ChainRunError', message: failure.message }, time, redact)
  }
  span.end(time)
}

/** What a run's lineage says about it: the fork parent or the replayed run. */
export interface Lineage {
  readonly parent?: { readonly run: object | undefined; readonly runId: string; readonly seq: number } | undefined
  readonly replayOf?: { readonly run: object | undefined; readonly runId: string } | undefined
}

/**
 * The options of a run span, live or exported alike: chain and run attributes, and for a fork or
 * replay the relation attributes plus a span link to the related run's span when it has one.
 */
export function runSpanOptions(chainName: string, runId: string, startTime: HrTime | undefined, lineage: Lineage): SpanOptions {
  // Literal keys (the values of ATTR.chainName and ATTR.runId): an object shape V8 builds fast.
  const attributes: Attributes = { 'shadowchain.chain.name': chainName, 'shadowchain.run.id': runId }
  const related = lineage.parent ?? lineage.replayOf
  // A run of its own (most runs): one literal, no links.
  if (related === undefined) return startTime === undefined ? { attributes } : { attributes, startTime }
  const kind = lineage.parent !== undefined ? 'fork' : 'replay'
  attributes[ATTR.relation] = kind
  attributes[ATTR.relatedRunId] = related.runId
  if (lineage.parent !== undefined) attributes[ATTR.forkSeq] = lineage.parent.seq
  const context = spanContextOf(related.run, related.runId)
  // No empty links array: the SDK would copy it.
  const options: SpanOptions = context === undefined ? { attributes } : { attributes, links: [{ context, attributes: { [ATTR.relation]: kind } }] }
  if (startTime !== undefined) options.startTime = startTime
  return options
}
