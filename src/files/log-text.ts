// A finished run's document as JSON text, written straight from its event log (issue #13): what a
// flight recorder hands its store for every run. `JSON.stringify(exportRun(run))` builds the
// run's events, diffs each mwctx and metrics state against the one before, makes the document's
// objects and then their text; here each entry of the log (record/log-scan.ts) becomes its text
// at once, and a change the log kept as one key of mwctx or metrics is the one patch it is.
//
// The text is the very same, character for character: every patch that is not such a key is
// found by the same functions `exportRun` calls, and a test holds the two to each other over
// generated runs. A run this writer does not follow (a redaction, an error, a fork, a nested run,
// any event the log keeps whole but its start and end) is left to `exportRun`: `undefined`.
import type { Patch } from 'immer'
import { diffStates } from '../core/diff-states.js'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import type { TimelineEvent } from '../record/events.js'
import { buildFlat, FlatShadow } from '../record/flat-state.js'
import { H, State } from '../record/log-header.js'
import { LogScan, Scan, type LogView, type StateStep } from '../record/log-scan.js'
import { emptyState } from '../record/snapshot.js'
import { encodeValue, type EncodeNotes } from './codec.js'
import { CtxChanges, encodePatches, inverseUnlessDerived, offset, table } from './encode-parts.js'
import { redactor } from './redact.js'
import { RESERVED_PATH_KEYS, type DocumentPatch, type DocumentVersion } from './run-document.js'
import { documentHeader, versionNotes, type ExportableRun } from './write-document.js'

/** A followed state not built into an object: its keys and values say what it is. */
const NOT_BUILT: unknown = Symbol('not built')

/**
 * No redaction: what `exportRun` applies to a run without `redact` paths. One for every run (a
 * redactor holds weak maps the collector must trace); nothing here makes it learn a secret.
 */
const NONE = redactor([])

/** Characters a JSON string writes escaped (lone surrogates too). */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/

/**
 * One of the two working states (mwctx, metrics) as the writer follows it from entry to entry:
 * its object, or, while it is a change the log kept, the keys and values (the recorder's shadow
 * of a flat state, flat-state.ts) that say what it is.
 */
class Followed extends FlatShadow {
  /** The state's object, or NOT_BUILT while it is the change `keys` and `values` say. */
  object: unknown
  /** `keys` and `values` are the state's (made from `object` when a change needs them). */
  flat = false

  constructor(object: unknown) {
    super()
    this.object = object
  }

  /** The state now as an object: a new one, equal to what a reader builds, when not built. */
  current(): unknown {
    return this.object === NOT_BUILT ? buildFlat(this.keys, this.values) : this.object
  }

  /** Keys and values made from the object, as the recorder's shadow of it. */
  unfold(): void {
    if (this.flat) return
    this.flat = true
    this.reset(this.object)
  }

  becomes(object: unknown): void {
    this.object = object
    this.flat = false
  }
}

/**
 * The JSON text of `exportRun(run)` (no export options) and the number of links that ended in it
 * (its `link.end` events), or `undefined` when this writer does not follow the run (see the file
 * comment): the caller then exports it as a document.
 *
 * @param view - the run's own event log (`run.timeline.log()?.view()`)
 */
export function exportText(run: ExportableRun, view: LogView): { readonly text: string; readonly links: number } | undefined {
  if ((run.redact !== undefined && run.redact.length > 0) || run.error !== undefined || run.stoppedBy !== undefined || run.childIds.length > 0) return undefined
  // A log a reader has walked holds objects it built that the scan would not know as the same.
  if (view.seqBase !== 0 || view.count === 0 || view.walked) return undefined
  const writer = new TextWriter(run.startedAt)
  const entry = new LogScan(view, Scan.Forward)
  while (entry.next()) if (!writer.entry(entry)) return undefined
  const first = writer.first
  if (first === undefined) return undefined
  const header = documentHeader(run, first, NONE, writer.links, writer.middleware.items, new Map())
  if (header.version < writer.version.version) header.version = writer.version.version
  const head = JSON.stringify(header)
  const text = `${head.slice(0, -1)},"events":[${writer.out}]}`
  // Made flat now: a string built by `+=` is a tree of its pieces until it is read, and a run
  // waiting for its store would keep hundreds of them alive (charCodeAt flattens it in place).
  text.charCodeAt(0)
  return { text, links: writer.ends }
}

/** Writes a log's entries as the events of a document's text (see `eventEncoder`, whose output it matches). */
class TextWriter {
  out = ''
  readonly links = table<LinkInfo>()
  readonly middleware = table<MiddlewareCallInfo>()
  /** The version the events need (raised as `eventEncoder` raises the header's). */
  readonly version: { version: DocumentVersion } = { version: 1 }
  readonly notes: EncodeNotes = versionNotes(this.version)
  /** The run's first event (its `run.start`), once read. */
  first: TimelineEvent<unknown> | undefined = undefined
  ctx: unknown = undefined
  readonly mw = new Followed(undefined)
  readonly metrics = new Followed(undefined)
  /** `link.end` events written. */
  ends = 0
  readonly ctxChanges = new CtxChanges()

  constructor(private readonly origin: bigint) {}

  /** Writes one entry; false for an entry this writer does not follow. */
  entry(e: LogScan): boolean {
    if (e.kind === H.Event) return this.whole(e)
    if (this.first === undefined) return false
    let text = `${this.out === '' ? '' : ','}{"seq":${e.seq},"t":${offsetText(e.t, this.origin)},"type":"${e.kind === H.Hook ? (e.after ? 'middleware.after' : 'middleware.before') : e.kind === H.Start ? 'link.start' : 'link.end'}"`
    const before = this.ctx
    // For a link.end: the structural diff from after back to before (see CtxChanges).
    let back: Patch[] | undefined
    if (e.ctxChanged) {
      const end = e.kind === H.End
      text += `,"ctx":${this.ctxPatches(before, e.ctx, end ? e.patches : undefined, end && e.derived)}`
      back = this.ctxChanges.back
      this.ctx = e.ctx
    }
    const mw = this.step(this.mw, e.mw, false)
    if (mw === undefined) return false
    if (mw !== '') text += `,"mwctx":${mw}`
    const metrics = this.step(this.metrics, e.metrics, true)
    if (metrics === undefined) return false
    if (metrics !== '') text += `,"metrics":${metrics}`
    if (e.kind === H.Hook) {
      const call = e.call as MiddlewareCallInfo
      // An around call (its halves) needs version 6.
      if ((call.position === 'chain-around' || call.position === 'link-around') && this.version.version < 6) this.version.version = 6
      text += `,"middleware":${this.middleware.ref(call)}`
      if (e.link !== undefined) text += `,"link":${this.links.ref(e.link)}`
      text += `,"durationNs":${offsetText(e.durationNs, 0n)}`
    } else {
      text += `,"link":${this.links.ref(e.link as LinkInfo)}`
      if (e.kind === H.End) {
        this.ends++
        // A derived link's inverse patches are the diff back (the scan does not make them): omitted.
        const inverse = e.derived ? undefined : inverseUnlessDerived(e.inversePatches, this.ctx, before, back, NONE, this.notes)
        if (inverse !== undefined) text += `,"inversePatches":${patchesText(inverse)}`
        text += `,"durationNs":${offsetText(e.durationNs, 0n)}`
      }
    }
    this.out += `${text}}`
    return true
  }

  /** The `ctx` field: a link's own patches (`own`), or the diff of the two states; `derived`: see CtxChanges. */
  private ctxPatches(before: unknown, after: unknown, own: readonly Patch[] | undefined, derived = false): string {
    return patchesText(encodePatches(this.ctxChanges.change(before, after, own, NONE, derived), after, this.notes))
  }

  /** The run's start and end (kept whole by the log); false for any other event. */
  private whole(e: LogScan): boolean {
    const event = e.event as TimelineEvent<unknown>
    if ('span' in event || 'child' in event) return false
    if (event.type === 'run.start') {
      if (this.first !== undefined || e.seq !== 0) return false
      this.first = event
      this.ctx = event.ctx
      this.mw.becomes(event.mwctx)
      this.metrics.becomes(undefined)
    } else if (event.type !== 'run.end' || this.first === undefined) return false
    let text = `${this.out === '' ? '' : ','}{"seq":${e.seq},"t":${offsetText(event.t, this.origin)},"type":"${event.type}"`
    if (event.ctx !== this.ctx) {
      text += `,"ctx":${this.ctxPatches(this.ctx, event.ctx, undefined)}`
      this.ctx = event.ctx
    }
    if (event.mwctx !== this.mw.object) {
      text += `,"mwctx":${this.stateText(this.mw.current(), event.mwctx, false)}`
      this.mw.becomes(event.mwctx)
    }
    if (event.metrics !== this.metrics.object) {
      text += `,"metrics":${this.stateText(this.metrics.current(), event.metrics, true)}`
      this.metrics.becomes(event.metrics)
    }
    if (event.type === 'run.end') text += `,"status":"${event.status}"`
    this.out += `${text}}`
    return true
  }

  /**
   * The field of one state's change ('' for none), as `eventEncoder` writes the diff of the
   * states before and after: a change of one key is its one patch; anything else is diffed.
   * `undefined` when the change names no key the followed state has (never, from a sound log).
   */
  private step(state: Followed, step: StateStep, isMetrics: boolean): string | undefined {
    const how = step.how
    if (how === State.Same) return ''
    if (how === State.Set || how === State.Append) {
      state.unfold()
      const set = how === State.Set
      const index = set ? (step.a as number) : state.keys.length
      if (set && index >= state.keys.length) return undefined
      const key = set ? (state.keys[index] as string) : (step.a as string)
      const before = state.object === NOT_BUILT ? undefined : state.object
      const beforeKeys = state.keys
      const beforeValues = state.values
      if (set) {
        const values = beforeValues.slice()
        values[index] = step.value
        state.values = values
      } else {
        state.keys = [...beforeKeys, key]
        state.values = [...beforeValues, step.value]
      }
      state.object = step.built ?? NOT_BUILT
      // A reserved key is written as a replace of the whole state: diffed, as exportRun does.
      if (RESERVED_PATH_KEYS.has(key)) return this.stateText(before ?? buildFlat(beforeKeys, beforeValues), state.current(), isMetrics)
      return `[{"op":"${set ? 'replace' : 'add'}","path":[${quoted(key)}],"value":${valueText(step.value, this.notes)}}]`
    }
    if (how === State.Empty) {
      const text = emptiedText(state)
      if (text !== undefined) {
        state.becomes(emptyState())
        return text
      }
    }
    const before = state.current()
    let after: unknown
    if (how === State.Object) after = step.a
    else if (how === State.Empty) after = emptyState()
    else if (how === State.Undefined) after = undefined
    else {
      // The empty state with one key added.
      state.keys = [step.a as string]
      state.values = [step.value]
      state.flat = true
      state.object = step.built ?? NOT_BUILT
      return this.stateText(before, state.current(), isMetrics)
    }
    // The same object again (changed, then changed back before an entry recorded it): no field.
    const same = state.object !== NOT_BUILT && state.object === after
    state.becomes(after)
    return same ? '' : this.stateText(before, after, isMetrics)
  }

  /** The diff of two states as `eventEncoder` writes it (`null` for metrics that end with the link). */
  private stateText(before: unknown, after: unknown, isMetrics: boolean): string {
    if (isMetrics && after === undefined) return 'null'
    return patchesText(encodePatches(diffStates(before, after), after, this.notes))
  }
}

/** What the diff of a state and the empty state writes, from `undefined` (metrics before a link). */
const EMPTIED_FROM_NOTHING = '[{"op":"replace","path":[],"value":{}}]'

/**
 * The field of a followed state emptied (`State.Empty`: metrics as a link begins), as
 * `stateText` writes the diff: a remove of each key, in the state's order, without building the
 * state or diffing it. `undefined` for a state that is not a plain object or has a reserved key
 * (written as `stateText` writes them).
 */
function emptiedText(state: Followed): string | undefined {
  const object = state.object
  if (object === emptyState()) return ''
  if (object === undefined) return EMPTIED_FROM_NOTHING
  let keys: readonly string[]
  if (object === NOT_BUILT) keys = state.keys
  else {
    if (typeof object !== 'object' || object === null) return undefined
    const proto: unknown = Object.getPrototypeOf(object)
    if (proto !== Object.prototype && proto !== null) return undefined
    keys = Object.keys(object)
  }
  let text = '['
  for (let i = 0; i < keys.length; i++) {
    const key = keys[i] as string
    if (RESERVED_PATH_KEYS.has(key)) return undefined
    text += `${i === 0 ? '' : ','}{"op":"remove","path":[${quoted(key)}]}`
  }
  return `${text}]`
}

/** `offset` as JSON text: a number, or a decimal string past 2^53. */
function offsetText(t: bigint, origin: bigint): string {
  const value = offset(t, origin)
  return typeof value === 'number' ? String(value) : `"${value}"`
}

/** A JSON string. */
function quoted(text: string): string {
  return ESCAPED.test(text) ? JSON.stringify(text) : `"${text}"`
}

/** A value as `encodeValue` and then JSON write it: plain strings, numbers and booleans directly. */
function valueText(value: unknown, notes: EncodeNotes): string {
  switch (typeof value) {
    case 'string':
      return quoted(value)
    case 'boolean':
      return value ? 'true' : 'false'
    case 'number':
      if (Number.isFinite(value) && !Object.is(value, -0)) return String(value)
  }
  return value === null ? 'null' : JSON.stringify(encodeValue(value, notes))
}

/** Encoded patches as JSON text (what `JSON.stringify` writes of them). */
function patchesText(patches: readonly DocumentPatch[]): string {
  let out = '['
  for (let i = 0; i < patches.length; i++) {
    const patch = patches[i] as DocumentPatch
    if (i > 0) out += ','
    out += `{"op":"${patch.op}","path":[`
    for (let k = 0; k < patch.path.length; k++) out += (k > 0 ? ',' : '') + encodedText(patch.path[k])
    out += ']'
    if (patch.value !== undefined) out += `,"value":${encodedText(patch.value)}`
    out += '}'
  }
  return `${out}]`
}

/** An encoded value (`encodeValue`'s output: JSON data) as JSON text. */
function encodedText(value: unknown): string {
  switch (typeof value) {
    case 'string':
      return quoted(value)
    case 'number':
      return String(value)
    case 'boolean':
      return value ? 'true' : 'false'
  }
  return value === null ? 'null' : JSON.stringify(value)
}
