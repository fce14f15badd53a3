// The one place span names, attribute keys and conversions are defined, so live tracing and
// post-hoc export cannot drift apart.
import { SpanStatusCode, type Attributes, type HrTime, type Link, type Span, type SpanOptions } from '@opentelemetry/api'
import { describeError } from '../errors.js'
import type { MiddlewareCallInfo } from '../events.js'
import type { LinkInfo, RunStatus } from '../types.js'
import { spanContextOf } from './registry.js'

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
} as const

export const runSpanName = (chainName: string): string => `chain ${chainName}`
export const linkSpanName = (linkName: string): string => `link ${linkName}`

// Epoch ns are bigints past 2^53; HrTime wants [seconds, nanos] numbers. One bigint subtraction
// from a whole second near now, then number arithmetic (4 bigint divisions measured ~270 ns a
// link).
const ANCHOR_S = Math.floor(Date.now() / 1000)
const ANCHOR_NS = BigInt(ANCHOR_S) * 1_000_000_000n

/**
 * Epoch nanoseconds as an OTel HrTime, exact to the nanosecond. (A run recorded with
 * `timestamps: false` has no times: callers pass no time at all then, and the SDK stamps.)
 */
export function hrTime(ns: bigint): HrTime {
  const offset = Number(ns - ANCHOR_NS)
  if (!Number.isSafeInteger(offset) || offset < 0) return [Number(ns / 1_000_000_000n), Number(ns % 1_000_000_000n)]
  let seconds = Math.floor(offset / 1e9)
  let nanos = offset - seconds * 1e9
  // offset / 1e9 is rounded: next to a whole second, far from the anchor, the floor can be one off.
  if (nanos < 0) (seconds -= 1), (nanos += 1e9)
  else if (nanos >= 1e9) (seconds += 1), (nanos -= 1e9)
  return [ANCHOR_S + seconds, nanos]
}

/** Durations as attributes: numbers are exact below 2^53 ns (104 days). */
export function nsAttribute(ns: bigint): number {
  return Number(ns)
}

// `shadowchain.metrics.<key>` for the keys metrics objects use (bounded: keys are the user's).
const metricKeys = new Map<string, string>()

/**
 * Sets the primitive values of a metrics object on a span as `shadowchain.metrics.<key>`
 * attributes (bigints as strings; objects, non-finite numbers and `undefined` are left out).
 * Straight onto the span: no attributes object for the SDK to copy again.
 */
export function setMetricAttributes(span: Span, metrics: object | undefined): void {
  if (metrics === undefined) return
  for (const key in metrics) {
    const value: unknown = (metrics as Record<string, unknown>)[key]
    let attribute: string | number | boolean
    if (typeof value === 'string' || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value))) attribute = value
    else if (typeof value === 'bigint') attribute = value.toString()
    else continue
    let name = metricKeys.get(key)
    if (name === undefined) {
      name = `${ATTR.metricsPrefix}${key}`
      if (metricKeys.size < 10_000) metricKeys.set(key, name)
    }
    span.setAttribute(name, attribute)
  }
}

export function middlewareAttributes(call: MiddlewareCallInfo, durationNs: bigint, error?: unknown): Attributes {
  // Literal keys (the values of ATTR.middleware*): one object shape V8 builds fast, per event.
  const out: Attributes = {
    'shadowchain.middleware.name': call.name,
    'shadowchain.middleware.position': call.position,
    'shadowchain.middleware.index': call.index,
    'shadowchain.middleware.duration_ns': Number(durationNs),
  }
  if (error !== undefined) {
    out['exception.type'] = error instanceof Error ? error.name : typeof error
    out['exception.message'] = describeError(error)
  }
  return out
}

/** Marks a span failed the way OTel conventions ask: an exception event and status ERROR. */
export function recordFailure(span: Span, error: unknown, time: HrTime | undefined): void {
  const fields = error as { name?: unknown; message?: unknown } | null
  const name = typeof fields?.name === 'string' ? fields.name : typeof error
  const message = typeof fields?.message === 'string' ? fields.message : describeError(error)
  span.recordException({ name, message }, time)
  span.setStatus({ code: SpanStatusCode.ERROR, message })
}

// Link attributes never change: built once per link (the SDK copies what it is given).
const linkAttributesCache = new WeakMap<LinkInfo, Attributes>()

/** The options of a link span, live or exported alike: the link's attributes and its start. */
export function linkSpanOptions(link: LinkInfo, startTime: HrTime | undefined): SpanOptions {
  let attributes = linkAttributesCache.get(link)
  if (attributes === undefined) {
    attributes = Object.freeze({ [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index })
    linkAttributesCache.set(link, attributes)
  }
  // One literal of one shape (not a property added later): cheaper to build, every link.
  return startTime === undefined ? { attributes } : { attributes, startTime }
}

/** Ends a run span, live or exported alike: its status, and a failed run's code and exception. */
export function endRunSpan(span: Span, status: RunStatus, failure: { readonly code: string; readonly message: string } | undefined, time: HrTime | undefined): void {
  span.setAttribute(ATTR.runStatus, status)
  if (failure !== undefined) {
    span.setAttribute(ATTR.errorCode, failure.code)
    recordFailure(span, { name: 'ChainRunError', message: failure.message }, time)
  }
  span.end(time)
}

/** `hrTime`, or nothing for a run recorded without timestamps (every time `0n`). */
export function timesOf(stamped: boolean): (ns: bigint) => HrTime | undefined {
  return stamped ? hrTime : unstamped
}
function unstamped(): undefined {
  return undefined
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
  const links: Link[] = []
  const related = lineage.parent ?? lineage.replayOf
  if (related !== undefined) {
    const kind = lineage.parent !== undefined ? 'fork' : 'replay'
    attributes[ATTR.relation] = kind
    attributes[ATTR.relatedRunId] = related.runId
    if (lineage.parent !== undefined) attributes[ATTR.forkSeq] = lineage.parent.seq
    const context = spanContextOf(related.run, related.runId)
    if (context !== undefined) links.push({ context, attributes: { [ATTR.relation]: kind } })
  }
  // No empty links array: the SDK would copy it.
  const options: SpanOptions = links.length === 0 ? { attributes } : { attributes, links }
  if (startTime !== undefined) options.startTime = startTime
  return options
}
