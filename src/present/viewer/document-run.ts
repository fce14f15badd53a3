/**
 * A run read straight from its document, for a viewer that must open a 100,000-event run at
 * once: its events (types, times, links, middleware, errors, writes, nested runs) are read in
 * one pass without their states, and a state is rebuilt only when it is asked for, by applying
 * the document's patches from the last state rebuilt (stepping to the next event applies one
 * event's patches; the states rebuilt are kept, copy-on-write, so going back costs nothing).
 *
 * Decoding and patching are the library's own (`decodeValue`, `applyDocumentPatches`): a state
 * here is the value `Run.fromJSON` rebuilds. What this reader does NOT do is validate the whole
 * document up front (the schema, every patch, every inverse patch): `Run.fromJSON` does, and the
 * viewer runs it where it does not hold up the page (`prepareRun` in Node, a worker on the page,
 * `checkRun`). A problem this reader meets on the way is a `DocumentError` naming its path.
 *
 * @module
 */
import type { LinkInfo, MiddlewareCallInfo, RunStatus, RunTrace } from '../../core/types.js'
import { DEFAULT_LIMITS, type DecodeLimits } from '../../files/codec.js'
import { decodeValue } from '../../files/decode.js'
import { freezeDeep } from '../../files/patch-apply.js'
import { FORMAT, VERSIONS, type RunDocument } from '../../files/run-document.js'
import type { States, TimelineEvent } from '../../record/events.js'
import { fail, isObject, StateCursor } from './document-states.js'

const EVENT_TYPES = new Set([
  'run.start', 'middleware.before', 'middleware.after', 'middleware.error', 'link.start', 'link.end', 'link.error', 'link.skip', 'link.attempt',
  'branch.start', 'branch.end', 'branch.error', 'ctx.write', 'fork', 'run.end',
])

/** The events whose `patches` are their own change (of ctx: `link.end`, `fork`; merged at the step's end: `branch.end`). */
const WITH_PATCHES = new Set(['link.end', 'fork', 'branch.end'])

/**
 * An event of a {@link DocumentRun}: the library's event, except that its `t` counts from the
 * run's start (as the document stores it, and as the viewer shows it), and it names itself as
 * `event` and, a `fork`, the link it was cut after as `after` (what the viewer lists).
 */
export type DocumentEvent = TimelineEvent<unknown> & { readonly event: DocumentEvent; readonly after?: string | undefined }

/** The timeline of a {@link DocumentRun}: its events (states rebuilt when read) and its nested runs. */
export interface DocumentTimeline {
  /** Every event, in seq order. Reading an event's `ctx`, `mwctx`, `metrics` or `patches` rebuilds the states up to it. */
  readonly events: readonly DocumentEvent[]
  readonly length: number
  /** The event with this seq, or `undefined`. */
  at(seq: number): DocumentEvent | undefined
  /** The states of one moment, rebuilt when first asked for. */
  stateAt(seq: number): States<unknown>
  /** The nested run of this id (an event's `child`) embedded in the document, read when first asked for. */
  child(id: string): DocumentRun | undefined
}

/** A run read from its document, states on demand (see the module's description). */
export interface DocumentRun {
  /** The parsed document it reads. */
  readonly doc: RunDocument
  readonly id: string
  readonly chainName: string
  readonly status: RunStatus
  /** Epoch ns. */
  readonly startedAt: bigint
  readonly endedAt: bigint
  readonly error: { readonly code: string; readonly message: string; readonly link: LinkInfo | undefined } | undefined
  readonly parent: { readonly runId: string; readonly seq: number } | undefined
  readonly replayOf: { readonly runId: string } | undefined
  readonly stoppedBy: LinkInfo | undefined
  readonly stopReason: string | undefined
  readonly childIds: readonly string[]
  readonly trace: RunTrace | undefined
  readonly timeline: DocumentTimeline
  /** How many of its events' states have been rebuilt so far (what a test or a benchmark watches). */
  readonly statesBuilt: number
}


/** A JSON number or decimal string of nanoseconds, as a bigint. */
function nanoseconds(value: unknown, at: string): bigint {
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value)
  if (typeof value === 'string' && /^-?\d{1,30}$/.test(value)) return BigInt(value)
  return fail(at, 'expected nanoseconds: a whole number, or a decimal string of one')
}

/**
 * Reads a parsed run document: its header and events, checked as far as reading them needs (a
 * run document, a version this reader knows, events in seq order from `run.start` to `run.end`,
 * links and middleware calls that are in their tables). States are rebuilt when asked for.
 *
 * @throws DocumentError naming the path of the first problem met
 */
export function readDocumentRun(input: unknown, limits: DecodeLimits = DEFAULT_LIMITS): DocumentRun {
  return read(input, '$', limits)
}

function read(input: unknown, at: string, limits: DecodeLimits): DocumentRun {
  if (!isObject(input)) fail(at, 'expected a JSON object (a shadowchain run document)')
  const doc = input as unknown as RunDocument
  if (doc.format !== FORMAT) fail(`${at}.format`, `expected '${FORMAT}': not a shadowchain run document`)
  if (!VERSIONS.has(doc.version)) fail(`${at}.version`, `unsupported version ${String(doc.version)}`)
  const version = doc.version
  const meta = doc.run
  if (!isObject(meta) || typeof meta.id !== 'string' || typeof meta.chainName !== 'string') fail(`${at}.run`, 'expected the run: { id, chainName, status, startedAt, endedAt, … }')
  if (!Array.isArray(doc.links)) fail(`${at}.links`, 'expected the links table (an array)')
  if (!Array.isArray(doc.middleware)) fail(`${at}.middleware`, 'expected the middleware table (an array)')
  if (!Array.isArray(doc.events) || doc.events.length < 2) fail(`${at}.events`, 'expected the events (an array from run.start to run.end)')
  const startedAt = nanoseconds(meta.startedAt, `${at}.run.startedAt`)
  const endedAt = nanoseconds(meta.endedAt, `${at}.run.endedAt`)
  const links = doc.links.map((link, i): LinkInfo => {
    if (!isObject(link) || typeof link.name !== 'string' || typeof link.index !== 'number') fail(`${at}.links[${i}]`, 'expected { name, index }')
    const linkMeta = link.meta === undefined ? NO_META : freezeDeep(decodeValue(link.meta, `${at}.links[${i}].meta`, limits, version))
    return Object.freeze({ name: link.name, index: link.index, meta: linkMeta as LinkInfo['meta'] })
  })
  const calls = doc.middleware.map((call, i): MiddlewareCallInfo => {
    if (!isObject(call) || typeof call.name !== 'string' || typeof call.position !== 'string' || typeof call.index !== 'number') fail(`${at}.middleware[${i}]`, 'expected { name, position, index }')
    return Object.freeze({ name: call.name, position: call.position, index: call.index }) as MiddlewareCallInfo
  })
  const linkAt = (ref: unknown, where: string): LinkInfo => (typeof ref === 'number' ? links[ref] : undefined) ?? fail(where, `link ${String(ref)} is not in the links table (${links.length} links)`)
  const callAt = (ref: unknown, where: string): MiddlewareCallInfo =>
    (typeof ref === 'number' ? calls[ref] : undefined) ?? fail(where, `middleware ${String(ref)} is not in the middleware table (${calls.length} entries)`)
  const decoded = (value: unknown, where: string): unknown => decodeValue(value, where, limits, version)

  const states = new StateCursor(doc, at, limits)
  // One prototype per event type: its states (and own patches) read from the cursor, its time and
  // duration read from the document when asked for (no bigint is made for an event never looked at).
  const prototypes = new Map<string, object>()
  const prototypeOf = (type: string, e: Record<string, unknown>): object => {
    const key = `${type}:${e['durationNs'] !== undefined}`
    let proto = prototypes.get(key)
    if (proto === undefined) prototypes.set(key, (proto = eventPrototype(doc, states, WITH_PATCHES.has(type), e['durationNs'] !== undefined)))
    return proto
  }
  const error =
    meta.error === undefined
      ? undefined
      : { code: String(meta.error.code), message: String(meta.error.message), link: meta.error.link === undefined ? undefined : linkAt(meta.error.link, `${at}.run.error.link`) }
  const stoppedBy = meta.stoppedBy === undefined ? undefined : linkAt(meta.stoppedBy, `${at}.run.stoppedBy`)
  const runEndError = error === undefined ? undefined : Object.assign(new Error(error.message), { name: 'ChainRunError', code: error.code })
  const last = doc.events.length - 1
  const events = new Array<DocumentEvent>(doc.events.length)
  let lastLink: string | undefined
  for (let i = 0; i < doc.events.length; i++) {
    const e = doc.events[i] as unknown as Record<string, unknown>
    const where = `${at}.events[${i}]`
    if (!isObject(e)) fail(where, 'expected an event object')
    const type = e['type']
    if (typeof type !== 'string' || !EVENT_TYPES.has(type)) fail(`${where}.type`, `unknown event type ${JSON.stringify(type)}`)
    if (e['seq'] !== i) fail(`${where}.seq`, `expected seq ${i}, got ${String(e['seq'])}: events are missing or out of order`)
    if (i === 0 && type !== 'run.start') fail(`${where}.type`, `the first event must be run.start, got ${String(type)}`)
    if (i === last && type !== 'run.end') fail(`${where}.type`, `the last event must be run.end, got ${String(type)}: the document is truncated`)
    const event: Record<string, unknown> = Object.create(prototypeOf(type as string, e))
    event['seq'] = i
    event['type'] = type
    if (e['link'] !== undefined) event['link'] = linkAt(e['link'], `${where}.link`)
    if (e['error'] !== undefined) event['error'] = decoded(e['error'], `${where}.error`)
    switch (type) {
      case 'run.start':
        Object.defineProperty(event, 'input', { get: () => states.stateAt(0).ctx, enumerable: true })
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error':
        event['middleware'] = callAt(e['middleware'], `${where}.middleware`)
        if (type === 'middleware.error') event['hook'] = e['hook']
        break
      case 'link.skip':
        event['reason'] = e['reason']
        break
      case 'link.attempt':
        event['attempt'] = e['attempt']
        break
      case 'branch.start':
      case 'branch.end':
      case 'branch.error':
        event['branch'] = String(e['branch'])
        break
      case 'ctx.write': {
        const path = e['path']
        if (!Array.isArray(path)) fail(`${where}.path`, 'expected the path written (an array)')
        event['op'] = e['op']
        event['path'] = Object.freeze((path as unknown[]).map((key, k) => decoded(key, `${where}.path[${k}]`)))
        event['value'] = freezeDeep(decoded(e['value'], `${where}.value`))
        if (e['branch'] !== undefined) event['branch'] = String(e['branch'])
        if (e['stack'] !== undefined) event['stack'] = e['stack']
        break
      }
      case 'link.end':
      case 'link.error':
        lastLink = (event['link'] as LinkInfo | undefined)?.name
        break
      case 'fork':
        if (!isObject(e['parent'])) fail(`${where}.parent`, 'expected the parent { runId, seq }')
        event['parent'] = Object.freeze({ ...(e['parent'] as object) })
        event['after'] = lastLink
        break
      case 'run.end':
        event['status'] = e['status']
        if (runEndError !== undefined) event['error'] = runEndError
        if (stoppedBy !== undefined) event['stoppedBy'] = stoppedBy
        if (meta.stopReason !== undefined) event['stopReason'] = meta.stopReason
        break
    }
    if (e['io'] !== undefined && isObject(e['io'])) event['io'] = Object.freeze({ ...e['io'] })
    if (typeof e['span'] === 'string') event['span'] = e['span']
    if (e['metricsError'] !== undefined) event['metricsError'] = decoded(e['metricsError'], `${where}.metricsError`)
    if (e['writesDropped'] !== undefined) event['writesDropped'] = e['writesDropped']
    if (typeof e['child'] === 'string') event['child'] = e['child']
    events[i] = event as unknown as DocumentEvent
  }

  // The nested runs' documents (version 8), by id; each read when first asked for.
  const nestedDocs = new Map<string, { doc: unknown; at: string }>()
  const nested = Array.isArray(doc.nested) ? doc.nested : []
  nested.forEach((child, k) => {
    const id = isObject(child) && isObject(child['run']) ? child['run']['id'] : undefined
    if (typeof id === 'string' && !nestedDocs.has(id)) nestedDocs.set(id, { doc: child, at: `${at}.nested[${k}]` })
  })
  const children = new Map<string, DocumentRun>()
  const timeline: DocumentTimeline = {
    events,
    length: events.length,
    at: (seq) => events[Number.isInteger(seq) && seq < 0 ? events.length + seq : seq],
    stateAt: (seq) => {
      if (!Number.isInteger(seq) || seq < 0 || seq >= events.length) throw new RangeError(`stateAt: no event ${seq} (the run has ${events.length})`)
      return states.stateAt(seq)
    },
    child: (id) => {
      let run = children.get(id)
      const found = run === undefined ? nestedDocs.get(id) : undefined
      if (found !== undefined) children.set(id, (run = read(found.doc, found.at, limits)))
      return run
    },
  }
  const trace = isObject(meta.trace) ? meta.trace : undefined
  return {
    doc,
    id: meta.id,
    chainName: meta.chainName,
    status: meta.status,
    startedAt,
    endedAt,
    error,
    parent: isObject(meta.parent) ? { runId: String(meta.parent.runId), seq: Number(meta.parent.seq) } : undefined,
    replayOf: isObject(meta.replayOf) ? { runId: String(meta.replayOf.runId) } : undefined,
    stoppedBy,
    stopReason: meta.stopReason,
    childIds: Array.isArray(meta.children) ? meta.children : [],
    trace:
      trace === undefined
        ? undefined
        : trace.remoteParent === undefined
          ? { traceId: trace.traceId, spanId: trace.spanId }
          : { traceId: trace.traceId, spanId: trace.spanId, remoteParent: trace.remoteParent },
    timeline,
    get statesBuilt() {
      return states.built
    },
  }
}

/** The meta of a link that has none: one frozen object for all. */
const NO_META: LinkInfo['meta'] = Object.freeze({})

/** Where a {@link DocumentRun}'s own events begin: after a fork's shared prefix (as `ownStart` says for a `Run`). */
export function documentOwnStart(run: DocumentRun): number {
  if (run.parent !== undefined) return run.parent.seq + 1
  if (run.replayOf === undefined) return 0
  const events = run.timeline.events
  for (let i = events.length - 1; i >= 0; i--) if ((events[i] as TimelineEvent<unknown>).type === 'fork') return i
  return 0
}

/**
 * The prototype of a run's events of one kind: `t` (and `durationNs`) read from the document,
 * `ctx`, `mwctx`, `metrics` (and `patches`, `inversePatches`) from its cursor.
 */
function eventPrototype(doc: RunDocument, states: StateCursor, withPatches: boolean, timed: boolean): object {
  const getter = (get: (seq: number) => unknown): PropertyDescriptor => ({
    get(this: { seq: number }) {
      return get(this.seq)
    },
    enumerable: true,
  })
  const raw = (seq: number): Record<string, unknown> => doc.events[seq] as unknown as Record<string, unknown>
  const properties: PropertyDescriptorMap = {
    // From the run's start, as the document stores it (no bigint kept for an event never looked at).
    t: getter((seq) => nanoseconds(raw(seq)['t'], `$.events[${seq}].t`)),
    event: {
      get(this: object) {
        return this
      },
    },
    ctx: getter((seq) => states.stateAt(seq).ctx),
    mwctx: getter((seq) => states.stateAt(seq).mwctx),
    metrics: getter((seq) => states.stateAt(seq).metrics),
  }
  if (timed) properties['durationNs'] = getter((seq) => nanoseconds(raw(seq)['durationNs'], `$.events[${seq}].durationNs`))
  if (withPatches) {
    properties['patches'] = getter((seq) => states.patchesAt(seq))
    properties['inversePatches'] = getter((seq) => states.inversePatchesAt(seq))
  }
  return Object.create(Object.prototype, properties)
}
