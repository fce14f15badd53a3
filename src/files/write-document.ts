// Writing a run document (docs/run-format.md): initial states plus per-event patches, values
// encoded by the codec, redaction applied on the way out. Events are produced one at a time, so
// `saveRun` streams them to a file.
import { applyPatches, type Objectish, type Patch } from 'immer'
import { CtxChanges, documentLink, documentMiddleware, encodePatches, inverseUnlessDerived, offset, table, type Table } from './encode-parts.js'
import { encodeLenient, encodeValue, type EncodeNotes } from './codec.js'
import { diffStates } from '../core/diff-states.js'
import type { MiddlewareCallInfo, TimelineEvent } from '../record/events.js'
import { mergeRedactPaths, redactor, type RedactPath, type Redactor } from './redact.js'
import type { LinkInfo, RunStatus } from '../core/types.js'
import { ATTEMPT_IO_SINCE, BRANCH_WRITES_SINCE, EVENT_TYPE_SINCE, FORMAT, NESTED_SINCE, TRACE_SINCE, type DocumentEvent, type DocumentPatch, type DocumentRunError, type DocumentVersion, type ExportOptions, type RunDocument } from './run-document.js'

/** A document without its events and nested documents: what is written before them. */
export type DocumentHeader = Omit<RunDocument, 'events' | 'nested'>

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
  /** Its place in a distributed trace (version 9). */
  readonly trace?: { readonly traceId: string; readonly spanId: string; readonly remoteParent?: string } | undefined
  readonly childIds: readonly string[]
  /** The link that ended the run with `io.stop()`, and its reason (version 4). */
  readonly stoppedBy?: LinkInfo | undefined
  readonly stopReason?: string | undefined
  /** Its events, and the runs of nested chains they name (`child`), by id. */
  readonly timeline: { readonly events: readonly TimelineEvent<unknown>[]; readonly nested?: ReadonlyMap<string, ExportableRun> }
  /** The run's own redaction (`Run.redact`): always applied, `options.redact` adds to it. */
  readonly redact?: readonly RedactPath[]
}

// ---- export ------------------------------------------------------------------------------------

/**
 * The document's header (everything but the events and nested documents), an iterable of its
 * events, in order, and one of the nested runs' documents (version 8), in the order their ids are
 * first named. Each nested document is exported with the same `options` (and its run's own
 * `redact`); the header's version is at least 8 when there is one, and at least each one's.
 */
export function exportParts(
  run: ExportableRun,
  options: ExportOptions = {},
  tree: ReadonlyMap<ExportableRun, Redactor> | undefined = treeRedactors(run, options),
): { header: DocumentHeader; events: Iterable<DocumentEvent>; nested: Iterable<RunDocument> } {
  const events = run.timeline.events
  const redact = tree?.get(run) ?? redactor(mergeRedactPaths(run.redact, options.redact))
  // Every value at a redacted path, in any state, is scrubbed wherever else it was copied: all of
  // them are known before anything is written.
  redact.collectEvents(events)
  const links = table<LinkInfo>()
  const middleware = table<MiddlewareCallInfo>()
  // Both tables are filled before the header is written: events stream out after it. So are the
  // nested runs, in the order events first name them (an id whose run is unknown is not written).
  for (const event of events) {
    if ('link' in event && event.link !== undefined) links.ref(event.link)
    if ('middleware' in event) middleware.ref(event.middleware)
  }
  const children = namedChildren(run)
  const header = documentHeader(run, events[0] as TimelineEvent<unknown>, redact, links, middleware.items, children)
  return { header, events: new EncodedEvents(events, eventEncoder(run.startedAt, redact, links.ref, middleware.ref, header, children)), nested: nestedDocs(children, options, header, tree) }
}

/** What a document's header is made of: the run without its events. */
export type HeaderRun = Omit<ExportableRun, 'timeline' | 'redact'>

/**
 * The document's header, once the events have named their links and middleware calls (`links`
 * is then completed with the run's own: the link it stopped at, the link its error names).
 * `first` is the run's first event: its states are the document's initial ones.
 */
export function documentHeader(
  run: HeaderRun,
  first: TimelineEvent<unknown>,
  redact: Redactor,
  links: Table<LinkInfo>,
  middleware: readonly MiddlewareCallInfo[],
  children: ReadonlyMap<string, unknown>,
): DocumentHeader {
  // Capture 'off' records no link events: the stopping link is referenced by the run alone.
  if (run.stoppedBy !== undefined) links.ref(run.stoppedBy)
  // Set when a value needs a newer version than 1 (a sparse array).
  const notes: EncodeNotes = { sparse: false }
  const initial = { ctx: encodeValue(redact.apply(first.ctx), notes), mwctx: encodeValue(redact.apply(first.mwctx), notes) }
  const header: DocumentHeader = {
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
    middleware: middleware.map(documentMiddleware),
    initial,
  }
  if (run.error !== undefined) {
    const error: DocumentRunError = { code: run.error.code, message: redact.scrubText(run.error.message) }
    if (run.error.link !== undefined) error.link = links.ref(run.error.link)
    if (run.error.cause !== undefined) error.cause = encodeLenient(redact.scrub(run.error.cause), notes)
    header.run.error = error
  }
  header.links = links.items.map((link) => documentLink(link, redact, notes))
  if (run.parent !== undefined) header.run.parent = { runId: run.parent.runId, seq: run.parent.seq }
  if (run.replayOf !== undefined) header.run.replayOf = { runId: run.replayOf.runId }
  if (run.trace !== undefined) header.run.trace = { ...run.trace }
  if (redact.active) header.redacted = { paths: redact.paths.map((p) => [...p]), placeholder: redact.placeholder }
  if (notes.sparse) header.version = 2
  // A stopped run (like a link.skip event, below) needs version 4.
  if (run.stoppedBy !== undefined) {
    header.version = 4
    header.run.stoppedBy = links.ref(run.stoppedBy)
    if (run.stopReason !== undefined) header.run.stopReason = redact.scrubText(run.stopReason)
  }
  if (children.size > 0 && header.version < NESTED_SINCE) header.version = NESTED_SINCE
  if (run.trace !== undefined && header.version < TRACE_SINCE) header.version = TRACE_SINCE
  return header
}

/** The id of the nested run an event names (`child`), if it names one. */
function childOf(event: TimelineEvent<unknown>): string | undefined {
  return 'child' in event && typeof event.child === 'string' ? event.child : undefined
}

/** The runs of nested chains a run's events name, by id, in the order first named (known runs only). */
function namedChildren(run: ExportableRun): Map<string, ExportableRun> {
  const children = new Map<string, ExportableRun>()
  const nested = run.timeline.nested
  if (nested === undefined || nested.size === 0) return children
  for (const event of run.timeline.events) {
    const id = childOf(event)
    const child = id === undefined ? undefined : nested.get(id)
    if (id !== undefined && child !== undefined) children.set(id, child)
  }
  return children
}

/**
 * For a run with nested runs: a redactor for each run of the tree (its own paths and the
 * export's), each knowing the secrets found in all of them, so a value redacted in one document
 * is scrubbed wherever the others copied it (a mapped child's input, a child's error in its
 * parent's `link.error`). Undefined for a run without nested runs.
 */
function treeRedactors(run: ExportableRun, options: ExportOptions): ReadonlyMap<ExportableRun, Redactor> | undefined {
  if (namedChildren(run).size === 0) return undefined
  const all = new Map<ExportableRun, Redactor>()
  const visit = (each: ExportableRun): void => {
    if (all.has(each)) return
    const redact = redactor(mergeRedactPaths(each.redact, options.redact))
    redact.collectEvents(each.timeline.events)
    all.set(each, redact)
    for (const child of namedChildren(each).values()) visit(child)
  }
  visit(run)
  const secrets = new Set<string>()
  for (const redact of all.values()) for (const text of redact.secretTexts()) secrets.add(text)
  if (secrets.size > 0) for (const redact of all.values()) redact.learnSecrets(secrets)
  return all
}

/**
 * A run's events as documents, encoded when read: one at a time by iterating (`saveRun` streams
 * them), or all at once into an array (`exportRun`: a plain loop, no generator to resume per event).
 */
class EncodedEvents implements Iterable<DocumentEvent> {
  constructor(
    private readonly events: readonly TimelineEvent<unknown>[],
    private readonly encode: (event: TimelineEvent<unknown>) => DocumentEvent,
  ) {}

  *[Symbol.iterator](): Generator<DocumentEvent> {
    for (const event of this.events) yield this.encode(event)
  }

  all(): DocumentEvent[] {
    const out = new Array<DocumentEvent>(this.events.length)
    for (let i = 0; i < this.events.length; i++) out[i] = this.encode(this.events[i] as TimelineEvent<unknown>)
    return out
  }
}

/** The nested runs' documents, one at a time: the parent's version covers each one's. */
function* nestedDocs(children: ReadonlyMap<string, ExportableRun>, options: ExportOptions, header: DocumentHeader, tree: ReadonlyMap<ExportableRun, Redactor> | undefined): Generator<RunDocument> {
  for (const child of children.values()) {
    const { header: childHeader, events, nested } = exportParts(child, options, tree)
    const doc = wholeDocument(childHeader, events, nested)
    if (header.version < doc.version) header.version = doc.version
    yield doc
  }
}

/** Notes of an encoding that raise `header.version` to 2 when a sparse array is written. */
export function versionNotes(header: { version: DocumentVersion }): EncodeNotes {
  return {
    set sparse(value: boolean) {
      if (value && header.version < 2) header.version = 2
    },
    get sparse() {
      return header.version >= 2
    },
  }
}

/**
 * Encodes events one at a time, each against the one before it: what a whole document, a file
 * written as a stream (`saveRun`) and a durable run's steps are made of. The tables grow as events name
 * links and middleware calls; `header.version` rises to what the events need.
 */
export function eventEncoder(
  origin: bigint,
  redact: ReturnType<typeof redactor>,
  linkRef: (link: LinkInfo) => number,
  middlewareRef: (call: MiddlewareCallInfo) => number,
  header: DocumentHeader,
  children: ReadonlyMap<string, unknown>,
): (event: TimelineEvent<unknown>) => DocumentEvent {
  // The header learns the document's version as events go: a sparse array anywhere needs
  // version 2, a link event's metricsError or writesDropped version 3 (which has $holes too), a
  // link.skip version 4, a link.attempt version 5, an around call version 6 (each has all of the
  // older ones).
  const needs = (version: DocumentVersion): void => {
    if (header.version < version) header.version = version
  }
  const notes = versionNotes(header)
  let prev: TimelineEvent<unknown> | undefined
  const ctxChanges = new CtxChanges()
  return (event) => {
    const doc: Record<string, unknown> = { seq: event.seq, t: offset(event.t, origin), type: event.type }
    const prevCtx = prev === undefined ? event.ctx : prev.ctx
    // For a link.end or fork: the structural diff from after back to before (see CtxChanges).
    let back: Patch[] | undefined
    if (event.ctx !== prevCtx) {
      // Redaction needs a fresh diff.
      const own = (event.type === 'link.end' || event.type === 'fork') && !redact.active ? event.patches : undefined
      const forward = ctxChanges.change(prevCtx, event.ctx, own, redact)
      back = ctxChanges.back
      doc['ctx'] = encodePatches(forward, redact.apply(event.ctx), notes)
    }
    const prevMw = prev === undefined ? event.mwctx : prev.mwctx
    if (event.mwctx !== prevMw) doc['mwctx'] = encodePatches(diffStates(redact.apply(prevMw), redact.apply(event.mwctx)), redact.apply(event.mwctx), notes)
    const prevMetrics = prev?.metrics
    if (event.metrics !== prevMetrics) {
      doc['metrics'] =
        event.metrics === undefined ? null : encodePatches(diffStates(redact.apply(prevMetrics), redact.apply(event.metrics)), redact.apply(event.metrics), notes)
    }
    const since = EVENT_TYPE_SINCE[event.type]
    if (since !== undefined) needs(since)
    switch (event.type) {
      case 'run.start':
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error':
        doc['middleware'] = middlewareRef(event.middleware)
        // An around call (its halves, or its error) needs version 6.
        if (event.middleware.position === 'chain-around' || event.middleware.position === 'link-around') needs(6)
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
          const inverse = inverseUnlessDerived(event.inversePatches, event.ctx, prevCtx, back, redact, notes)
          if (inverse !== undefined) doc['inversePatches'] = inverse
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
      case 'link.skip':
        doc['link'] = linkRef(event.link)
        doc['reason'] = event.reason
        break
      case 'link.attempt':
        doc['link'] = linkRef(event.link)
        doc['attempt'] = event.attempt
        doc['error'] = encodeLenient(redact.scrub(event.error), notes)
        doc['durationNs'] = offset(event.durationNs, 0n)
        if (event.io !== undefined) {
          needs(ATTEMPT_IO_SINCE)
          doc['io'] = { ...redact.scrubNumbers(event.io) }
        }
        break
      case 'branch.start':
      case 'branch.end':
      case 'branch.error':
        doc['link'] = linkRef(event.link)
        doc['branch'] = redact.scrubText(event.branch)
        if (event.type === 'branch.end' && event.patches.length > 0) doc['patches'] = branchPatches(event.patches, event.ctx, redact, notes)
        if (event.type === 'branch.error') doc['error'] = encodeLenient(redact.scrub(event.error), notes)
        if (event.type !== 'branch.start') doc['durationNs'] = offset(event.durationNs, 0n)
        // What a branch drew from its io: version 8, like the nested runs.
        if (event.type !== 'branch.start' && event.io !== undefined) {
          needs(8)
          doc['io'] = { ...redact.scrubNumbers(event.io) }
        }
        break
      case 'ctx.write':
        doc['link'] = linkRef(event.link)
        doc['op'] = event.op
        doc['path'] = event.path.map((key) => encodeLenient(typeof key === 'string' ? redact.scrubText(key) : key, notes))
        // A write on, in or above a redacted path may carry the secret: its value is hidden.
        doc['value'] = encodeLenient(redact.active && redact.overlaps(event.path) ? redact.placeholder : redact.scrub(event.value), notes)
        if (event.branch !== undefined) {
          needs(BRANCH_WRITES_SINCE)
          doc['branch'] = event.branch
        }
        if (event.stack !== undefined) doc['stack'] = redact.scrubText(event.stack)
        break
      case 'fork': {
        doc['parent'] = { runId: event.parent.runId, seq: event.parent.seq }
        const inverse = inverseUnlessDerived(event.inversePatches, event.ctx, prevCtx, back, redact, notes)
        if (inverse !== undefined) doc['inversePatches'] = inverse
        break
      }
      case 'run.end':
        doc['status'] = event.status
        break
    }
    // A nested chain's run, embedded in `nested` (version 8).
    const child = childOf(event)
    if (child !== undefined && children.has(child)) doc['child'] = child
    // The span an outbound request carried (version 9).
    if ('span' in event && typeof event.span === 'string') {
      needs(TRACE_SINCE)
      doc['span'] = event.span
    }
    prev = event
    return doc as unknown as DocumentEvent
  }
}

/**
 * A branch's own patches, against the step's input `ctx`. Under redaction they are the diff of
 * the redacted states, so no redacted value reaches the file through them.
 */
function branchPatches(patches: readonly Patch[], ctx: unknown, redact: Redactor, notes: EncodeNotes): DocumentPatch[] {
  const after: unknown = applyPatches(ctx as Objectish, patches as Patch[])
  if (!redact.active) return encodePatches(patches, after, notes)
  return encodePatches(diffStates(redact.apply(ctx), redact.apply(after)), redact.apply(after), notes)
}

/** The whole document as one object (what `run.toJSON()` returns), nested runs embedded. */
export function exportRun(run: ExportableRun, options?: ExportOptions): RunDocument {
  const { header, events, nested } = exportParts(run, options)
  return wholeDocument(header, events, nested)
}

function wholeDocument(header: DocumentHeader, events: Iterable<DocumentEvent>, nested: Iterable<RunDocument>): RunDocument {
  // Events and nested documents first: one of them may raise the header's version.
  const list = events instanceof EncodedEvents ? events.all() : [...events]
  const docs = [...nested]
  return docs.length === 0 ? { ...header, events: list } : { ...header, events: list, nested: docs }
}

