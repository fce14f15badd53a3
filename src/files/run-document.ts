// The run file format, versions 1 to 3 (docs/run-format.md): initial states plus per-event
// patches, validated with zod on the way in and rebuilt into the identical timeline.
import type { Patch } from 'immer'
import * as z from 'zod'
import { childPath, decodeValue, DEFAULT_LIMITS, DocumentError, encodeLenient, encodeValue, quote, type DecodeLimits, type EncodeNotes } from './codec.js'
import { diffStates, setsInOrder, wholeSets } from '../core/diff-states.js'
import { applyDocumentPatches, freezeDeep, PatchError, sameValue } from './patch-apply.js'
import type { MiddlewareCallInfo, TimelineEvent } from '../record/events.js'
import { mergeRedactPaths, redactor, type RedactPath } from './redact.js'
import type { LinkInfo, RunStatus } from '../core/types.js'

/** The `format` of every run document. */
export const FORMAT = 'shadowchain/run'
/**
 * The newest version this module reads and writes. A document is written as the oldest version
 * that can hold it: version 1, unless it needs version 2 (a sparse array: `$holes`) or version 3
 * (a link event's `metricsError` or `writesDropped`), so older readers still read every other
 * document.
 */
export const VERSION = 3

/** The document versions this module reads. */
type Version = 1 | 2 | 3

/** Options of `run.toJSON()` and `saveRun()`. */
export interface ExportOptions {
  /**
   * Paths whose values are replaced by `'[REDACTED]'` everywhere in the output: in every ctx,
   * mwctx and metrics state, the input, and the patches. A `'*'` segment matches every key or
   * index at its level: `['users', '*', 'password']`.
   */
  redact?: readonly RedactPath[]
}

/** Options of `Run.fromJSON()` and `loadRun()`. */
export interface ImportOptions extends Partial<DecodeLimits> {}

// ---- the document's shape ----------------------------------------------------------------------

// Names and ids are short; a bound keeps a hostile header from carrying megabytes.
const name = z.string().max(4096, 'longer than 4096 characters')
const nsString = z.string().regex(/^-?\d{1,30}$/, 'expected nanoseconds as a decimal integer string')
// Event times are offsets from run.startedAt in ns: JSON numbers, exact up to 2^53 ns (104 days).
// Past 2^53 ns an offset is written as a decimal string, like the run's own times.
const nsOffset = z.union([z.number().int().refine(Number.isSafeInteger), nsString], {
  error: 'expected whole nanoseconds: a safe integer, or a decimal integer string',
})
const patchDoc = z.strictObject({
  op: z.enum(['add', 'replace', 'remove']),
  path: z.array(z.unknown()),
  value: z.unknown().optional(),
})
const patchList = z.array(patchDoc)
const middlewareDoc = z.strictObject({
  name,
  position: z.enum(['chain-before', 'link-before', 'link-after', 'chain-after', 'run-start', 'run-end']),
  index: z.number().int().nonnegative(),
})
const tableRef = z.number().int().nonnegative()
const ioDoc = z.strictObject({ now: z.array(z.number()).optional(), random: z.array(z.number()).optional() })
// Version 3: what a link left in io.metrics that could not be recorded (a value, like `error`),
// and how many of its writes were not recorded past maxWritesPerLink (a count).
const linkNotes = {
  metricsError: z.unknown().optional(),
  writesDropped: z
    .number()
    .refine((n) => Number.isSafeInteger(n) && n >= 0, { error: 'expected a count: a whole number from 0 to 2^53 - 1' })
    .optional(),
}
const base = {
  seq: z.number().int().nonnegative(),
  t: nsOffset,
  ctx: patchList.optional(),
  mwctx: patchList.optional(),
  metrics: patchList.nullable().optional(),
}
const linkRef = tableRef
const eventDoc = z.discriminatedUnion('type', [
  z.strictObject({ ...base, type: z.literal('run.start') }),
  z.strictObject({
    ...base,
    type: z.enum(['middleware.before', 'middleware.after']),
    middleware: tableRef,
    link: linkRef.optional(),
    durationNs: nsOffset,
  }),
  z.strictObject({
    ...base,
    type: z.literal('middleware.error'),
    middleware: tableRef,
    hook: z.enum(['before', 'after', 'runStart', 'runEnd']),
    link: linkRef.optional(),
    error: z.unknown(),
    durationNs: nsOffset,
  }),
  z.strictObject({ ...base, type: z.literal('link.start'), link: linkRef }),
  z.strictObject({ ...base, type: z.literal('link.end'), link: linkRef, inversePatches: patchList.optional(), durationNs: nsOffset, io: ioDoc.optional(), ...linkNotes }),
  z.strictObject({ ...base, type: z.literal('link.error'), link: linkRef, error: z.unknown(), durationNs: nsOffset, io: ioDoc.optional(), ...linkNotes }),
  z.strictObject({
    ...base,
    type: z.literal('ctx.write'),
    link: linkRef,
    op: z.enum(['set', 'delete', 'push', 'pop', 'shift', 'unshift', 'splice', 'sort', 'reverse', 'fill', 'copyWithin', 'map.set', 'map.delete', 'map.clear', 'set.add', 'set.delete', 'set.clear']),
    path: z.array(z.unknown()),
    value: z.unknown().optional(),
    stack: z.string().max(4096).optional(),
  }),
  z.strictObject({
    ...base,
    type: z.literal('fork'),
    parent: z.strictObject({ runId: z.string().max(4096), seq: z.number().int().nonnegative() }),
    inversePatches: patchList.optional(),
  }),
  z.strictObject({ ...base, type: z.literal('run.end'), status: z.enum(['ok', 'error', 'aborted']) }),
])
const runDocSchema = z.strictObject({
  format: z.literal(FORMAT),
  version: z.union([z.literal(1), z.literal(2), z.literal(3)]),
  run: z.strictObject({
    id: name.min(1),
    chainName: name,
    status: z.enum(['ok', 'error', 'aborted']),
    startedAt: nsString,
    endedAt: nsString,
    error: z
      .strictObject({
        code: z.string(),
        message: z.string(),
        link: linkRef.optional(),
        cause: z.unknown().optional(),
      })
      .optional(),
    parent: z.strictObject({ runId: name, seq: z.number().int().nonnegative() }).optional(),
    replayOf: z.strictObject({ runId: name }).optional(),
    children: z.array(name),
  }),
  redacted: z.strictObject({ paths: z.array(z.array(z.union([z.string(), z.number()]))), placeholder: z.string() }).optional(),
  links: z.array(z.strictObject({ name, index: z.number().int().nonnegative(), meta: z.unknown().optional() })),
  middleware: z.array(middlewareDoc),
  initial: z.strictObject({ ctx: z.unknown(), mwctx: z.unknown() }),
  events: z.array(eventDoc).min(2, 'a run has at least run.start and run.end'),
})

/** A run document, version 1, 2 or 3, as JSON. */
export type RunDocument = z.infer<typeof runDocSchema>
type EventDoc = z.infer<typeof eventDoc>
type PatchDoc = z.infer<typeof patchDoc>

/** What the exporter needs of a run (kept structural so this module does not import `Run`). */
export interface ExportableRun {
  readonly id: string
  readonly chainName: string
  readonly status: RunStatus
  readonly startedAt: bigint
  readonly endedAt: bigint
  readonly error: { readonly code: string; readonly message: string; readonly link: LinkInfo | undefined; readonly cause?: unknown } | undefined
  readonly parent: { readonly runId: string; readonly seq: number } | undefined
  readonly replayOf: { readonly runId: string } | undefined
  readonly childIds: readonly string[]
  readonly timeline: { readonly events: readonly TimelineEvent<unknown>[] }
  /** The run's own redaction (`Run.redact`): always applied, `options.redact` adds to it. */
  readonly redact?: readonly RedactPath[]
}

// ---- export ------------------------------------------------------------------------------------

const RESERVED_KEYS: ReadonlySet<unknown> = new Set(['__proto__', 'constructor', 'prototype'])

/**
 * Encodes patches. `state` is the state the patches produce: a patch whose path goes through a
 * key that readers must refuse in paths (`constructor`, `prototype`) is written as a replace of
 * the nearest ancestor above that key, taken from `state`, so the document still loads.
 */
function encodePatches(patches: readonly Patch[], state: unknown, notes: EncodeNotes): PatchDoc[] {
  // Object members of a Set are named by identity, which no reader can match: such patches are
  // written as a replace of the whole Set.
  return wholeSets(patches, state).map((original) => {
    let patch = original
    // Reserved keys are refused by readers; object Map keys would come back as new objects that
    // match no key: both are written as a replace of the ancestor above them.
    const reserved = patch.path.findIndex((key) => RESERVED_KEYS.has(key) || (typeof key === 'object' && key !== null))
    if (reserved !== -1) {
      const path = patch.path.slice(0, reserved)
      patch = { op: 'replace', path, value: path.reduce<unknown>((node, key) => readKey(node, key), state) }
    }
    const out: PatchDoc = { op: patch.op, path: patch.path.map((key) => encodeValue(key)) }
    // A Set member's removal names the member in `value`.
    if (patch.op !== 'remove' || patch.value !== undefined) out.value = encodeValue(patch.value, notes)
    return out
  })
}

function readKey(node: unknown, key: string | number): unknown {
  if (node instanceof Map) return node.get(key)
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined
}

/** Interns objects into a table, so events refer to links and middleware calls by index. */
function table<T>(): { readonly items: T[]; ref(item: T): number } {
  const items: T[] = []
  const index = new Map<T, number>()
  return {
    items,
    ref(item) {
      let at = index.get(item)
      if (at === undefined) {
        at = items.push(item) - 1
        index.set(item, at)
      }
      return at
    },
  }
}

/** ns from `origin` as a JSON number, or as a decimal string past 2^53 ns (104 days): a fork
 * made long after its parent carries the parent's events, far before its own start. */
function offset(t: bigint, origin: bigint): number | string {
  const ns = Number(t - origin)
  return Number.isSafeInteger(ns) ? ns : String(t - origin)
}

/** The document's header (everything but the events) and a generator of its events, in order. */
export function exportParts(run: ExportableRun, options: ExportOptions = {}): { header: Omit<RunDocument, 'events'>; events: Iterable<EventDoc> } {
  const events = run.timeline.events
  const redact = redactor(mergeRedactPaths(run.redact, options.redact))
  // Every value at a redacted path, in any state, is scrubbed wherever else it was copied: all of
  // them are known before anything is written.
  redact.collectEvents(events)
  const links = table<LinkInfo>()
  const middleware = table<MiddlewareCallInfo>()
  // Both tables are filled before the header is written: events stream out after it.
  for (const event of events) {
    if ('link' in event && event.link !== undefined) links.ref(event.link)
    if ('middleware' in event) middleware.ref(event.middleware)
  }
  const first = events[0] as TimelineEvent<unknown>
  // Set when a value needs a newer version than 1 (a sparse array).
  const notes: EncodeNotes = { sparse: false }
  const initial = { ctx: encodeValue(redact.apply(first.ctx), notes), mwctx: encodeValue(redact.apply(first.mwctx), notes) }
  const header: Omit<RunDocument, 'events'> = {
    format: FORMAT,
    version: 1,
    run: {
      id: run.id,
      chainName: run.chainName,
      status: run.status,
      startedAt: String(run.startedAt),
      endedAt: String(run.endedAt),
      children: [...run.childIds],
    },
    links: [],
    middleware: middleware.items.map(({ name, position, index }) => ({ name, position, index })),
    initial,
  }
  if (run.error !== undefined) {
    const error: NonNullable<RunDocument['run']['error']> = { code: run.error.code, message: redact.scrubText(run.error.message) }
    if (run.error.link !== undefined) error.link = links.ref(run.error.link)
    if (run.error.cause !== undefined) error.cause = encodeLenient(redact.scrub(run.error.cause), notes)
    header.run.error = error
  }
  header.links = links.items.map((link) => (Object.keys(link.meta).length === 0 ? { name: link.name, index: link.index } : { name: link.name, index: link.index, meta: encodeLenient(redact.scrub(link.meta), notes) }))
  if (run.parent !== undefined) header.run.parent = { runId: run.parent.runId, seq: run.parent.seq }
  if (run.replayOf !== undefined) header.run.replayOf = { runId: run.replayOf.runId }
  if (redact.active) header.redacted = { paths: redact.paths.map((p) => [...p]), placeholder: redact.placeholder }
  if (notes.sparse) header.version = 2
  return { header, events: eventDocs(events, run.startedAt, redact, links.ref, middleware.ref, header) }
}

function* eventDocs(
  events: readonly TimelineEvent<unknown>[],
  origin: bigint,
  redact: ReturnType<typeof redactor>,
  linkRef: (link: LinkInfo) => number,
  middlewareRef: (call: MiddlewareCallInfo) => number,
  header: Omit<RunDocument, 'events'>,
): Generator<EventDoc> {
  // The header learns the document's version as events go: a sparse array anywhere needs
  // version 2, a link event's metricsError or writesDropped version 3 (which has $holes too).
  const needs = (version: Version): void => {
    if (header.version < version) header.version = version
  }
  const notes: EncodeNotes = {
    set sparse(value: boolean) {
      if (value) needs(2)
    },
    get sparse() {
      return header.version >= 2
    },
  }
  let prev: TimelineEvent<unknown> | undefined
  for (const event of events) {
    const doc: Record<string, unknown> = { seq: event.seq, t: offset(event.t, origin), type: event.type }
    const prevCtx = prev === undefined ? event.ctx : prev.ctx
    // For a link.end or fork: the structural diff from after back to before. It decides whether
    // inverse patches can be omitted, and its Set replaces name every Set the event changed.
    let back: Patch[] | undefined
    if (event.ctx !== prevCtx) {
      // A link's own patches are exact and already computed (but for the order of Sets);
      // redaction needs a fresh diff.
      const own = (event.type === 'link.end' || event.type === 'fork') && !redact.active
      if (own) back = diffStates(event.ctx, prevCtx)
      doc['ctx'] = encodePatches(
        own ? setsInOrder(event.patches, event.ctx, back as Patch[]) : diffStates(redact.apply(prevCtx), redact.apply(event.ctx)),
        redact.apply(event.ctx),
        notes,
      )
    }
    const prevMw = prev === undefined ? event.mwctx : prev.mwctx
    if (event.mwctx !== prevMw) doc['mwctx'] = encodePatches(diffStates(redact.apply(prevMw), redact.apply(event.mwctx)), redact.apply(event.mwctx), notes)
    const prevMetrics = prev?.metrics
    if (event.metrics !== prevMetrics) {
      doc['metrics'] =
        event.metrics === undefined ? null : encodePatches(diffStates(redact.apply(prevMetrics), redact.apply(event.metrics)), redact.apply(event.metrics), notes)
    }
    switch (event.type) {
      case 'run.start':
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error':
        doc['middleware'] = middlewareRef(event.middleware)
        if (event.type === 'middleware.error') doc['hook'] = event.hook
        if (event.link !== undefined) doc['link'] = linkRef(event.link)
        if (event.type === 'middleware.error') doc['error'] = encodeLenient(redact.scrub(event.error), notes)
        doc['durationNs'] = offset(event.durationNs, 0n)
        break
      case 'link.start':
        doc['link'] = linkRef(event.link)
        break
      case 'link.end':
      case 'link.error':
        doc['link'] = linkRef(event.link)
        if (event.type === 'link.end') {
          // Omitted when a reader can derive them: the structural diff from after back to before.
          const derived = encodePatches(back ?? diffStates(redact.apply(event.ctx), redact.apply(prevCtx)), redact.apply(prevCtx), notes)
          if (!redact.active) {
            const recorded = encodePatches(event.inversePatches, prevCtx, notes)
            if (JSON.stringify(recorded) !== JSON.stringify(derived)) doc['inversePatches'] = recorded
          }
        } else {
          doc['error'] = encodeLenient(redact.scrub(event.error), notes)
        }
        doc['durationNs'] = offset(event.durationNs, 0n)
        if (event.io !== undefined) doc['io'] = { ...redact.scrubNumbers(event.io) }
        // What the link left in io.metrics that could not be recorded: written as errors are.
        if (event.metricsError !== undefined) {
          needs(3)
          doc['metricsError'] = encodeLenient(redact.scrub(event.metricsError), notes)
        }
        if (event.writesDropped !== undefined) {
          needs(3)
          doc['writesDropped'] = event.writesDropped
        }
        break
      case 'ctx.write':
        doc['link'] = linkRef(event.link)
        doc['op'] = event.op
        doc['path'] = event.path.map((key) => encodeLenient(typeof key === 'string' ? redact.scrubText(key) : key, notes))
        // A write on, in or above a redacted path may carry the secret: its value is hidden.
        doc['value'] = encodeLenient(redact.active && redact.overlaps(event.path) ? redact.placeholder : redact.scrub(event.value), notes)
        if (event.stack !== undefined) doc['stack'] = redact.scrubText(event.stack)
        break
      case 'fork': {
        doc['parent'] = { runId: event.parent.runId, seq: event.parent.seq }
        const derived = encodePatches(back ?? diffStates(redact.apply(event.ctx), redact.apply(prevCtx)), redact.apply(prevCtx), notes)
        if (!redact.active) {
          const recorded = encodePatches(event.inversePatches, prevCtx, notes)
          if (JSON.stringify(recorded) !== JSON.stringify(derived)) doc['inversePatches'] = recorded
        }
        break
      }
      case 'run.end':
        doc['status'] = event.status
        break
    }
    prev = event
    yield doc as EventDoc
  }
}

/** The whole document as one object (what `run.toJSON()` returns). */
export function exportRun(run: ExportableRun, options?: ExportOptions): RunDocument {
  const { header, events } = exportParts(run, options)
  // Events first: one of them may raise the header's version (to 2 or 3).
  const list = [...events]
  return { ...header, events: list }
}

// ---- import ------------------------------------------------------------------------------------

/** What the importer rebuilds; `run.ts` turns it into a `Run`. */
export interface ImportedRun {
  readonly doc: RunDocument
  readonly events: TimelineEvent<unknown>[]
  readonly links: readonly LinkInfo[]
  readonly input: unknown
  readonly ctx: unknown
  readonly errorCause: unknown
}

function zodPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => childPath(out, typeof key === 'number' ? key : String(key)), '$')
}

/** Validates a parsed document and rebuilds its events and states. */
export function importRun(input: unknown, options: ImportOptions = {}): ImportedRun {
  const limits: DecodeLimits = { ...DEFAULT_LIMITS, ...options }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new DocumentError('$', `a run document must be a JSON object, got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`)
  }
  const head = input as { format?: unknown; version?: unknown }
  // A bad value is quoted, never stringified whole: it may be 50 MB, or 100,000 levels deep.
  if (head.format !== FORMAT) throw new DocumentError('$.format', `expected '${FORMAT}', got ${quote(head.format)}: this is not a shadowchain run document`)
  if (head.version !== 1 && head.version !== 2 && head.version !== 3) {
    throw new DocumentError('$.version', `unsupported version ${quote(head.version)}: this shadowchain reads versions 1 to ${VERSION}`)
  }
  const parsed = runDocSchema.safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue
    throw new DocumentError(zodPath(issue.path), issue.message)
  }
  const doc = parsed.data
  checkIntegrity(doc)
  checkHeaderStrings(doc, limits)
  const version = doc.version

  const links = doc.links.map((link, i) =>
    Object.freeze({
      name: link.name,
      index: link.index,
      meta: freezeDeep(link.meta === undefined ? {} : decodeValue(link.meta, `$.links[${i}].meta`, limits, version)) as LinkInfo['meta'],
    }),
  )
  const calls = doc.middleware.map((call) => Object.freeze({ ...call }) as MiddlewareCallInfo)
  const callAt = (ref: number, where: string): MiddlewareCallInfo => {
    const call = calls[ref]
    if (call === undefined) throw new DocumentError(where, `middleware ${ref} is not in the middleware table (${calls.length} entries)`)
    return call
  }
  const origin = BigInt(doc.run.startedAt)
  const linkAt = (ref: number, where: string): LinkInfo => {
    const link = links[ref]
    if (link === undefined) throw new DocumentError(where, `link ${ref} is not in the links table (${links.length} links)`)
    return link
  }
  let ctx: unknown = freezeDeep(decodeValue(doc.initial.ctx, '$.initial.ctx', limits, version))
  let mwctx: unknown = freezeDeep(decodeValue(doc.initial.mwctx, '$.initial.mwctx', limits, version))
  let metrics: unknown = undefined
  const input0 = ctx
  const events: TimelineEvent<unknown>[] = []
  doc.events.forEach((e, i) => {
    const at = `$.events[${i}]`
    let patches: readonly Patch[] = []
    const before = ctx
    if (e.ctx !== undefined) ({ state: ctx, patches } = applyAt(ctx, decodePatches(e.ctx, `${at}.ctx`, limits, version), `${at}.ctx`))
    if (e.mwctx !== undefined) mwctx = applyAt(mwctx, decodePatches(e.mwctx, `${at}.mwctx`, limits, version), `${at}.mwctx`).state
    if (e.metrics === null) metrics = undefined
    else if (e.metrics !== undefined) metrics = applyAt(metrics, decodePatches(e.metrics, `${at}.metrics`, limits, version), `${at}.metrics`).state
    const event: Record<string, unknown> = { seq: e.seq, t: origin + BigInt(e.t), type: e.type }
    switch (e.type) {
      case 'run.start':
        event['input'] = input0
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error':
        event['middleware'] = callAt(e.middleware, `${at}.middleware`)
        if (e.type === 'middleware.error') event['hook'] = e.hook
        if (e.link !== undefined) event['link'] = linkAt(e.link, `${at}.link`)
        if (e.type === 'middleware.error') event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        event['durationNs'] = BigInt(e.durationNs)
        break
      case 'link.start':
        event['link'] = linkAt(e.link, `${at}.link`)
        break
      case 'link.end':
      case 'link.error':
        event['link'] = linkAt(e.link, `${at}.link`)
        if (e.type === 'link.end') {
          event['patches'] = Object.freeze(patches)
          event['inversePatches'] = inverseOf(e.inversePatches, ctx, before, `${at}.inversePatches`, limits, version)
        } else {
          event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        }
        event['durationNs'] = BigInt(e.durationNs)
        if (e.io !== undefined) event['io'] = Object.freeze({ ...e.io })
        if (e.metricsError !== undefined) {
          fromVersion3(version, `${at}.metricsError`)
          event['metricsError'] = decodeValue(e.metricsError, `${at}.metricsError`, limits, version)
        }
        if (e.writesDropped !== undefined) {
          fromVersion3(version, `${at}.writesDropped`)
          event['writesDropped'] = e.writesDropped
        }
        break
      case 'ctx.write':
        event['link'] = linkAt(e.link, `${at}.link`)
        event['op'] = e.op
        event['path'] = Object.freeze(e.path.map((key, k) => decodeValue(key, `${at}.path[${k}]`, limits, version)))
        event['value'] = freezeDeep(decodeValue(e.value, `${at}.value`, limits, version))
        if (e.stack !== undefined) event['stack'] = e.stack
        break
      case 'fork':
        event['parent'] = Object.freeze({ ...e.parent })
        event['patches'] = Object.freeze(patches)
        event['inversePatches'] = inverseOf(e.inversePatches, ctx, before, `${at}.inversePatches`, limits, version)
        break
      case 'run.end':
        event['status'] = e.status
        break
    }
    event['ctx'] = ctx
    event['mwctx'] = mwctx
    event['metrics'] = metrics
    events.push(event as unknown as TimelineEvent<unknown>)
  })
  const cause = doc.run.error?.cause === undefined ? undefined : decodeValue(doc.run.error.cause, '$.run.error.cause', limits, version)
  return { doc, events, links, input: input0, ctx, errorCause: cause }
}

/** `metricsError` and `writesDropped` exist from version 3 on: an older document is closed to them. */
function fromVersion3(version: Version, at: string): void {
  if (version < 3) throw new DocumentError(at, `this field exists from version 3 on; the document says version ${version}`)
}

function checkIntegrity(doc: RunDocument): void {
  doc.events.forEach((event, i) => {
    if (event.seq !== i) throw new DocumentError(`$.events[${i}].seq`, `expected seq ${i}, got ${event.seq}: events are missing or out of order`)
  })
  const last = doc.events.length - 1
  if (doc.events[0]?.type !== 'run.start') throw new DocumentError('$.events[0].type', `the first event must be run.start, got ${doc.events[0]?.type}`)
  const end = doc.events[last]
  if (end?.type !== 'run.end') throw new DocumentError(`$.events[${last}].type`, `the last event must be run.end, got ${end?.type}: the document is truncated`)
  if (end.status !== doc.run.status) throw new DocumentError(`$.events[${last}].status`, `run.end says '${end.status}' but the run says '${doc.run.status}'`)
  const ends = doc.events.filter((event) => event.type === 'run.end').length
  if (ends !== 1) throw new DocumentError('$.events', `expected exactly one run.end event, found ${ends}`)
  if ((doc.run.status === 'ok') !== (doc.run.error === undefined)) {
    throw new DocumentError('$.run.error', doc.run.status === 'ok' ? 'an ok run has no error' : `a run with status '${doc.run.status}' needs its error`)
  }
  if (doc.run.error?.link !== undefined && doc.run.error.link >= doc.links.length) {
    throw new DocumentError('$.run.error.link', `link ${doc.run.error.link} is not in the links table (${doc.links.length} links)`)
  }
}

/**
 * The inverse patches of a link or fork: derived (the structural diff back) when the document
 * omits them; when it gives them, they must turn the state after the event back into the state
 * before it, or `timeline.diff` backwards would lie.
 */
function inverseOf(list: readonly PatchDoc[] | undefined, after: unknown, before: unknown, at: string, limits: DecodeLimits, version: number): readonly Patch[] {
  if (list === undefined) return Object.freeze(diffStates(after, before).map((p) => Object.freeze(p)))
  const { state, patches } = applyAt(after, decodePatches(list, at, limits, version), at)
  if (!sameValue(state, before)) throw new DocumentError(at, "inverse patches do not turn the event's state back into the state before it")
  return Object.freeze(patches)
}

// Reserved keys are refused in any container; a key that decodes to an object or array is refused
// too: it names no object key or array index, and code that turns keys into text (immer's
// applyPatches does) would read `["constructor"]` as "constructor".
function pathKey(decoded: unknown, where: string): string | number {
  if (decoded === '__proto__' || decoded === 'constructor' || decoded === 'prototype') {
    throw new DocumentError(where, `'${decoded}' is not allowed in a patch path`)
  }
  if (typeof decoded === 'object' && decoded !== null) throw new DocumentError(where, 'a patch path key must be a string, a number or another primitive Map key')
  return decoded as string | number
}

function decodePatches(list: readonly PatchDoc[], at: string, limits: DecodeLimits, version: number): Patch[] {
  return list.map((patch, i) => {
    const where = childPath(at, i)
    const path = patch.path.map((key, k) => {
      const here = childPath(childPath(where, 'path'), k)
      return pathKey(decodeValue(key, here, limits, version), here)
    })
    if (patch.op !== 'remove' && !('value' in patch)) throw new DocumentError(where, `a '${patch.op}' patch needs a value`)
    const out: Patch = { op: patch.op, path }
    if ('value' in patch) out.value = freezeDeep(decodeValue(patch.value, childPath(where, 'value'), limits, version))
    return Object.freeze(out)
  })
}

function applyAt(state: unknown, patches: readonly Patch[], at: string): { state: unknown; patches: readonly Patch[] } {
  try {
    return applyDocumentPatches(state, patches)
  } catch (error) {
    if (!(error instanceof PatchError)) throw error
    throw new DocumentError(error.index === undefined ? at : childPath(at, error.index), `patch does not apply: ${error.message}`)
  }
}

/** Strings the shape check lets through unbounded: bounded like every decoded string. */
function checkHeaderStrings(doc: RunDocument, limits: DecodeLimits): void {
  const check = (text: string, where: string): void => {
    if (text.length > limits.maxStringLength) throw new DocumentError(where, `string of ${text.length} characters is longer than the limit of ${limits.maxStringLength}`)
  }
  if (doc.run.error !== undefined) {
    check(doc.run.error.code, '$.run.error.code')
    check(doc.run.error.message, '$.run.error.message')
  }
  if (doc.redacted !== undefined) {
    check(doc.redacted.placeholder, '$.redacted.placeholder')
    doc.redacted.paths.forEach((path, i) => path.forEach((key, k) => typeof key === 'string' && check(key, `$.redacted.paths[${i}][${k}]`)))
  }
}
