// Reading a run document: the shape check (zod), integrity and limits, then the events and states
// rebuilt by applying each event's patches. Nothing is half-loaded: any problem throws a
// DocumentError naming the path of the first one.
import type { Patch } from 'immer'
import type * as z from 'zod'
import { childPath, DEFAULT_LIMITS, DocumentError, type DecodeLimits } from './codec.js'
import { decodeValue } from './decode.js'
import { diffStatesAlong } from '../core/diff-states.js'
import { applyDocumentPatches, freezeDeep, PatchError, sameValue } from './patch-apply.js'
import type { MiddlewareCallInfo, TimelineEvent } from '../record/events.js'
import type { LinkInfo } from '../core/types.js'
import { runDocumentSchema } from './document-schema.js'
import { isWellFormed } from './document-check.js'
import { checkChildren, checkDocumentTree, withinNested } from './read-nested.js'
import { ATTEMPT_IO_SINCE, BRANCH_WRITES_SINCE, EVENT_TYPE_SINCE, MAX_NESTING, RESERVED_PATH_KEYS, TRACE_SINCE, type DocumentPatch, type DocumentVersion, type ImportOptions, type RunDocument } from './run-document.js'

/** What the importer rebuilds; `run.ts` turns it into a `Run`. */
export interface ImportedRun {
  readonly doc: RunDocument
  readonly events: TimelineEvent<unknown>[]
  readonly links: readonly LinkInfo[]
  readonly input: unknown
  readonly ctx: unknown
  readonly errorCause: unknown
  /** The nested runs' documents (version 8), rebuilt, in the order of `doc.nested`. */
  readonly nested: readonly ImportedRun[]
}

function zodPath(path: readonly PropertyKey[]): string {
  return path.reduce<string>((out, key) => childPath(out, typeof key === 'number' ? key : String(key)), '$')
}

/**
 * Validates a parsed document and rebuilds its events and states, and those of every nested
 * run's document (version 8) in `nested`, recursively.
 */
export function importRun(input: unknown, options: ImportOptions = {}): ImportedRun {
  const limits: DecodeLimits = { ...DEFAULT_LIMITS, ...options }
  // Every document of the tree: an object of this format and a known version, nested within the
  // limit. A bad value is quoted, never stringified whole: it may be 50 MB, or 100,000 levels deep.
  checkDocumentTree(input, options.maxNesting ?? MAX_NESTING)
  // The hand-written check passes well-formed documents at a fraction of the schema's cost; the
  // schema decides (and names the problem) for every other.
  if (isWellFormed(input)) return importTree(detached(input), limits, new Set())
  const parsed = runDocumentSchema().safeParse(input)
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue
    throw new DocumentError(zodPath(issue.path), issue.message)
  }
  return importTree(parsed.data, limits, new Set())
}

/**
 * The caller's document, with its own copies of the parts a run keeps (the schema's output is a
 * copy throughout): the run's `children` and the redacted paths. Events are read, never kept.
 */
function detached(doc: RunDocument): RunDocument {
  const copy: RunDocument = { ...doc, run: { ...doc.run, children: [...doc.run.children] } }
  if (doc.redacted !== undefined) copy.redacted = { paths: doc.redacted.paths.map((path) => [...path]), placeholder: doc.redacted.placeholder }
  if (doc.nested !== undefined) copy.nested = doc.nested.map(detached)
  return copy
}

/** A document and its nested documents; a problem in one is reported at its path in this one. */
function importTree(doc: RunDocument, limits: DecodeLimits, enclosing: ReadonlySet<string>): ImportedRun {
  const own = importOne(doc, limits)
  checkChildren(doc, enclosing)
  const inner = new Set([...enclosing, doc.run.id])
  const nested = (doc.nested ?? []).map((child, k) => {
    try {
      return importTree(child, limits, inner)
    } catch (error) {
      throw withinNested(error, k)
    }
  })
  return { ...own, nested }
}

/** One document, its shape checked: integrity, then its events and states rebuilt. */
function importOne(doc: RunDocument, limits: DecodeLimits): Omit<ImportedRun, 'nested'> {
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
  doc.middleware.forEach((call, i) => {
    if (call.position === 'chain-around' || call.position === 'link-around') fromVersion(6, version, `$.middleware[${i}].position`)
  })
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
  // The step whose branch events may come now (between its link.start and its end), and its
  // branches that started and have not ended.
  let openStep: LinkInfo | undefined
  const openBranches = new Set<string>()
  doc.events.forEach((e, i) => {
    const at = `$.events[${i}]`
    let patches: readonly Patch[] = []
    const before = ctx
    if (e.ctx !== undefined) ({ state: ctx, patches } = applyAt(ctx, decodePatches(e.ctx, `${at}.ctx`, limits, version), `${at}.ctx`))
    if (e.mwctx !== undefined) mwctx = applyAt(mwctx, decodePatches(e.mwctx, `${at}.mwctx`, limits, version), `${at}.mwctx`).state
    if (e.metrics === null) metrics = undefined
    else if (e.metrics !== undefined) metrics = applyAt(metrics, decodePatches(e.metrics, `${at}.metrics`, limits, version), `${at}.metrics`).state
    const event: Record<string, unknown> = { seq: e.seq, t: origin + BigInt(e.t), type: e.type }
    const since = EVENT_TYPE_SINCE[e.type]
    if (since !== undefined) fromVersion(since, version, `${at}.type`)
    switch (e.type) {
      case 'run.start':
        event['input'] = input0
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error':
        event['middleware'] = callAt(e.middleware, `${at}.middleware`)
        if (e.type === 'middleware.error') {
          if (e.hook === 'around') fromVersion(6, version, `${at}.hook`)
          // An around call's error is the around hook's, and only its: the two agree.
          if ((e.hook === 'around') !== isAround(event['middleware'] as MiddlewareCallInfo)) {
            throw new DocumentError(`${at}.hook`, `hook '${e.hook}' does not match the middleware's position '${(event['middleware'] as MiddlewareCallInfo).position}'`)
          }
          event['hook'] = e.hook
        }
        // An around call wraps a link: it always names it.
        if (e.link === undefined && isAround(event['middleware'] as MiddlewareCallInfo)) throw new DocumentError(`${at}.link`, 'an around call belongs to a link: the link is missing')
        if (e.link !== undefined) event['link'] = linkAt(e.link, `${at}.link`)
        if (e.type === 'middleware.error') event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        event['durationNs'] = BigInt(e.durationNs)
        break
      case 'link.start':
        event['link'] = linkAt(e.link, `${at}.link`)
        openStep = event['link'] as LinkInfo
        openBranches.clear()
        break
      case 'link.end':
      case 'link.error':
        event['link'] = linkAt(e.link, `${at}.link`)
        if (event['link'] === openStep && openBranches.size > 0) throw new DocumentError(`${at}.type`, `the step ends while branch '${quoteName([...openBranches][0] as string)}' has not ended`)
        openStep = undefined
        if (e.type === 'link.end') {
          event['patches'] = Object.freeze(patches)
          event['inversePatches'] = inverseOf(e.inversePatches, ctx, before, patches, `${at}.inversePatches`, limits, version)
        } else {
          event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        }
        event['durationNs'] = BigInt(e.durationNs)
        if (e.io !== undefined) event['io'] = ioOf(e.io)
        if (e.span !== undefined) {
          fromVersion(TRACE_SINCE, version, `${at}.span`)
          event['span'] = e.span
        }
        if (e.metricsError !== undefined) {
          fromVersion(3, version, `${at}.metricsError`)
          event['metricsError'] = decodeValue(e.metricsError, `${at}.metricsError`, limits, version)
        }
        if (e.writesDropped !== undefined) {
          fromVersion(3, version, `${at}.writesDropped`)
          event['writesDropped'] = e.writesDropped
        }
        break
      case 'link.skip':
        event['link'] = linkAt(e.link, `${at}.link`)
        event['reason'] = e.reason
        break
      case 'link.attempt':
        event['link'] = linkAt(e.link, `${at}.link`)
        event['attempt'] = e.attempt
        event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        event['durationNs'] = BigInt(e.durationNs)
        if (e.io !== undefined) {
          fromVersion(ATTEMPT_IO_SINCE, version, `${at}.io`)
          event['io'] = ioOf(e.io)
        }
        break
      case 'branch.start':
      case 'branch.end':
      case 'branch.error':
        // A branch works on a draft of its own: ctx changes only at the step's merge.
        if (e.ctx !== undefined) throw new DocumentError(`${at}.ctx`, 'a branch event does not change ctx (the step merges its branches at its link.end)')
        event['link'] = linkAt(e.link, `${at}.link`)
        if (event['link'] !== openStep) throw new DocumentError(`${at}.link`, "a branch event belongs between its step's link.start and its link.end / link.error")
        if (e.type === 'branch.start' && openBranches.has(e.branch)) throw new DocumentError(`${at}.branch`, `branch '${quoteName(e.branch)}' already started`)
        if (e.type !== 'branch.start' && !openBranches.delete(e.branch)) throw new DocumentError(`${at}.branch`, `branch '${quoteName(e.branch)}' ends without its branch.start`)
        if (e.type === 'branch.start') openBranches.add(e.branch)
        event['branch'] = e.branch
        if (e.type === 'branch.end') event['patches'] = e.patches === undefined ? Object.freeze([]) : applyAt(ctx, decodePatches(e.patches, `${at}.patches`, limits, version), `${at}.patches`).patches
        if (e.type === 'branch.error') event['error'] = decodeValue(e.error, `${at}.error`, limits, version)
        if (e.type !== 'branch.start') event['durationNs'] = BigInt(e.durationNs)
        if (e.type !== 'branch.start' && e.io !== undefined) {
          if (version < 8) throw new DocumentError(`${at}.io`, `a branch event's io needs version 8 or later; this document says version ${version}`)
          event['io'] = ioOf(e.io)
        }
        if (e.type !== 'branch.start' && e.span !== undefined) {
          fromVersion(TRACE_SINCE, version, `${at}.span`)
          event['span'] = e.span
        }
        break
      case 'ctx.write':
        event['link'] = linkAt(e.link, `${at}.link`)
        event['op'] = e.op
        event['path'] = Object.freeze(e.path.map((key, k) => decodeValue(key, `${at}.path[${k}]`, limits, version)))
        event['value'] = freezeDeep(decodeValue(e.value, `${at}.value`, limits, version))
        if (e.branch !== undefined) {
          fromVersion(BRANCH_WRITES_SINCE, version, `${at}.branch`)
          event['branch'] = e.branch
        }
        if (e.stack !== undefined) event['stack'] = e.stack
        break
      case 'fork':
        event['parent'] = Object.freeze({ ...e.parent })
        event['patches'] = Object.freeze(patches)
        event['inversePatches'] = inverseOf(e.inversePatches, ctx, before, patches, `${at}.inversePatches`, limits, version)
        break
      case 'run.end':
        event['status'] = e.status
        // Stored once, on the run (§1.1); the run.end event carries it, as it carries the error.
        if (doc.run.stoppedBy !== undefined) event['stoppedBy'] = linkAt(doc.run.stoppedBy, '$.run.stoppedBy')
        if (doc.run.stopReason !== undefined) event['stopReason'] = doc.run.stopReason
        break
    }
    // Version 8: the nested run this call made (checkChildren: it is embedded).
    if ('child' in e && e.child !== undefined) event['child'] = e.child
    event['ctx'] = ctx
    event['mwctx'] = mwctx
    event['metrics'] = metrics
    events.push(event as unknown as TimelineEvent<unknown>)
  })
  const cause = doc.run.error?.cause === undefined ? undefined : decodeValue(doc.run.error.cause, '$.run.error.cause', limits, version)
  return { doc, events, links, input: input0, ctx, errorCause: cause }
}

/** What a link or branch drew from its io, in arrays of its own (the document's are the caller's). */
function ioOf(io: { now?: number[] | undefined; random?: number[] | undefined }): object {
  const out = { ...io }
  if (out.now !== undefined) out.now = out.now.slice()
  if (out.random !== undefined) out.random = out.random.slice()
  return Object.freeze(out)
}

/** A `chain-around` or `link-around` call site (version 6). */
function isAround(call: MiddlewareCallInfo): boolean {
  return call.position === 'chain-around' || call.position === 'link-around'
}

/**
 * `metricsError` and `writesDropped` exist from version 3 on, `link.skip` and a run's `stoppedBy`
 * / `stopReason` from version 4, `link.attempt` from version 5, around calls from version 6: an older document is closed to them.
 */
function fromVersion(since: DocumentVersion, version: DocumentVersion, at: string): void {
  if (version < since) throw new DocumentError(at, `this ${at.endsWith('.type') ? 'event type' : 'field'} exists from version ${since} on; the document says version ${version}`)
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
  if (doc.run.trace !== undefined) fromVersion(TRACE_SINCE, doc.version, '$.run.trace')
  const { stoppedBy, stopReason, status } = doc.run
  if (stoppedBy !== undefined || stopReason !== undefined) {
    const at = stoppedBy === undefined ? '$.run.stopReason' : '$.run.stoppedBy'
    fromVersion(4, doc.version, at)
    if (stoppedBy === undefined) throw new DocumentError(at, 'stopReason without stoppedBy: a reason belongs to the link that stopped the run')
    if (status !== 'ok') throw new DocumentError(at, `a stopped run ended 'ok'; this one says '${status}'`)
  }
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
function inverseOf(list: readonly DocumentPatch[] | undefined, after: unknown, before: unknown, applied: readonly Patch[], at: string, limits: DecodeLimits, version: number): readonly Patch[] {
  // `after` is `before` with `applied` applied copy-on-write: off their paths the two states are
  // one, so the diff back is walked along those paths only.
  if (list === undefined) return Object.freeze(diffStatesAlong(after, before, applied).map((p) => Object.freeze(p)))
  const { state, patches } = applyAt(after, decodePatches(list, at, limits, version), at)
  if (!sameValue(state, before)) throw new DocumentError(at, "inverse patches do not turn the event's state back into the state before it")
  return Object.freeze(patches)
}

// Reserved keys are refused in any container; a key that decodes to an object or array is refused
// too: it names no object key or array index, and code that turns keys into text (immer's
// applyPatches does) would read `["constructor"]` as "constructor".
function pathKey(decoded: unknown, where: string): string | number {
  if (RESERVED_PATH_KEYS.has(decoded)) {
    throw new DocumentError(where, `'${decoded}' is not allowed in a patch path`)
  }
  if (typeof decoded === 'object' && decoded !== null) throw new DocumentError(where, 'a patch path key must be a string, a number or another primitive Map key')
  return decoded as string | number
}

// Most path keys and many values are strings and numbers that decode to themselves: their paths
// in the document (for errors) are built only for what goes through decodeValue.
function decodePatches(list: readonly DocumentPatch[], at: string, limits: DecodeLimits, version: number): Patch[] {
  const out = new Array<Patch>(list.length)
  for (let i = 0; i < list.length; i++) {
    const patch = list[i] as DocumentPatch
    const keys = patch.path
    const path = new Array<string | number>(keys.length)
    for (let k = 0; k < keys.length; k++) {
      const key = keys[k]
      if (isScalar(key, limits) && !RESERVED_PATH_KEYS.has(key)) {
        path[k] = key as string | number
      } else {
        const here = childPath(childPath(childPath(at, i), 'path'), k)
        path[k] = pathKey(decodeValue(key, here, limits, version), here)
      }
    }
    const hasValue = 'value' in patch
    if (patch.op !== 'remove' && !hasValue) throw new DocumentError(childPath(at, i), `a '${patch.op}' patch needs a value`)
    const decoded: Patch = { op: patch.op, path }
    if (hasValue) decoded.value = isScalar(patch.value, limits) ? patch.value : freezeDeep(decodeValue(patch.value, childPath(childPath(at, i), 'value'), limits, version))
    out[i] = Object.freeze(decoded)
  }
  return out
}

/** A string, finite number, boolean or null that `decodeValue` would hand back as it is. */
function isScalar(value: unknown, limits: DecodeLimits): boolean {
  switch (typeof value) {
    case 'string':
      return value.length <= limits.maxStringLength
    case 'number':
      return Number.isFinite(value)
    case 'boolean':
      return true
    default:
      return value === null
  }
}

function applyAt(state: unknown, patches: readonly Patch[], at: string): { state: unknown; patches: readonly Patch[] } {
  try {
    return applyDocumentPatches(state, patches)
  } catch (error) {
    if (!(error instanceof PatchError)) throw error
    throw new DocumentError(error.index === undefined ? at : childPath(at, error.index), `patch does not apply: ${error.message}`)
  }
}

/** A branch name in a message: bounded (it may be 4,096 characters). */
function quoteName(name: string): string {
  return name.length > 60 ? `${name.slice(0, 60)}…` : name
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
