// Which runs have spans already (traced live, or exported), and their run span's context: a
// fork or replay links to its parent's span, and a second export of one run is deliberate. Only
// tracing and exporting write here; saving or loading a run never does.
//
// Two places, both owned by this module:
// - On the run itself, a private field stamped on the first time the run gets a span (see
//   RunSpanSlot). Only traced or exported runs ever carry it (their object shape changes then, no
//   other run's), and no one else can see it: not a key, not a symbol, so comparisons and copies
//   of runs do not see it. (A WeakMap entry per traced run cost ~250 ns, mostly the garbage
//   collector's work on ephemerons; a non-enumerable symbol property, Object.defineProperty,
//   ~140 ns; stamping the field ~5 ns.)
// - By run id, for the last EXPORTED_IDS runs: runs loaded from files are new objects, and find
//   the spans of the runs they name there (an imported fork links to its parent's span; exporting
//   a loaded copy of a run traced or exported before is a repeat). A traced run only appends its
//   id to a ring (two array stores); the ring is indexed by id when someone asks by id, which is
//   rare (an export, a fork's span): inserting a fresh id into a table of 10,000 on every traced
//   run cost ~1 µs, measured, half a link span.
import { diag, type SpanContext } from '@opentelemetry/api'

/** A base class whose constructor returns the object it is given: `super(run)` makes `run` the `this` of the subclass. */
class Stamp {
  constructor(target: object) {
    return target
  }
}

/**
 * The run's own slot: a private field, which `new RunSpanSlot(run, …)` adds to the run itself
 * (a class's fields are defined on whatever its base constructor returned). Nothing outside this
 * class can read, list, copy or compare it.
 */
class RunSpanSlot extends Stamp {
  #span: SpanContext

  private constructor(run: object, span: SpanContext) {
    super(run)
    this.#span = span
  }

  /** The run's span context, when it has one. */
  static get(run: object): SpanContext | undefined {
    return #span in run ? (run as RunSpanSlot).#span : undefined
  }

  /** Sets the run's span context; true when it is the run's first. */
  static set(run: object, span: SpanContext): boolean {
    if (#span in run) {
      ;(run as RunSpanSlot).#span = span
      return false
    }
    new RunSpanSlot(run, span)
    return true
  }
}

/** How many run ids with spans are remembered (the oldest are forgotten first). */
export const EXPORTED_IDS = 10_000

// The ring: slot `written % EXPORTED_IDS` is written next.
const ids = new Array<string | undefined>(EXPORTED_IDS).fill(undefined)
const contexts = new Array<SpanContext | undefined>(EXPORTED_IDS).fill(undefined)
let written = 0
// The index by id covers the ring up to `indexed`; `indexedIds` says which id each slot held then,
// so that an overwritten slot's old id leaves the index.
const slotOf = new Map<string, number>()
const indexedIds = new Array<string | undefined>(EXPORTED_IDS).fill(undefined)
let indexed = 0
// Ids forgotten to stay within EXPORTED_IDS: counted, and said once (like a full span queue).
let forgotten = 0

/** The table of run ids with spans (see {@link describeSpanTable}). */
export interface SpanTableStats {
  /** Run ids remembered now. */
  readonly remembered: number
  /** The most it remembers ({@link EXPORTED_IDS}). */
  readonly limit: number
  /** Ids forgotten since the process started, oldest first, to stay within `limit`. */
  readonly forgotten: number
}

/**
 * How full the process's table of run ids with spans (runs traced live or exported) is, and how
 * many ids it has forgotten. A run loaded from a file whose id was forgotten is exported again
 * by `exportRun` (a backend shows it twice), and a loaded fork of it no longer links to its span.
 * The first id forgotten is also reported, once, through OTel's `diag` logger.
 *
 * @example
 * if (describeSpanTable().forgotten > 0) console.warn('export each run file once')
 */
export function describeSpanTable(): SpanTableStats {
  index()
  return { remembered: slotOf.size, limit: EXPORTED_IDS, forgotten }
}

/** The run span of a run: the one it was traced or exported with, else one remembered under its id. */
export function spanContextOf(run: object | undefined, runId: string | undefined): SpanContext | undefined {
  const own = run === undefined ? undefined : RunSpanSlot.get(run)
  if (own !== undefined || runId === undefined) return own
  index()
  const slot = slotOf.get(runId)
  return slot === undefined ? undefined : contexts[slot]
}

/**
 * A run traced live got its run span: kept on the run, and under the run's id for copies of it
 * loaded from files. (The live tracer calls this once a run, so the id is only appended.)
 */
export function rememberSpan(run: object & { readonly id: string }, context: SpanContext): void {
  if (RunSpanSlot.set(run, context)) append(run.id, context)
  else rememberSpanById(run.id, context)
}

/** A run was exported: as {@link rememberSpan}, for a run that may be known by its id already. */
export function rememberExportedSpan(run: object & { readonly id: string }, context: SpanContext): void {
  RunSpanSlot.set(run, context)
  rememberSpanById(run.id, context)
}

/** Under a run id only: a run with this id has spans with this run span context. */
export function rememberSpanById(runId: string, context: SpanContext): void {
  index()
  const slot = slotOf.get(runId)
  if (slot === undefined) append(runId, context)
  else contexts[slot] = context
}

function append(runId: string, context: SpanContext): void {
  const slot = written % EXPORTED_IDS
  if (ids[slot] !== undefined && forgotten++ === 0) {
    diag.warn(
      `shadowchain: the table of run ids with spans is full (${EXPORTED_IDS}): the oldest are forgotten from now on (describeSpanTable() from 'shadowchain/otel' counts them). A run loaded from a file whose id is forgotten is exported again, and its loaded forks do not link to its span.`,
    )
  }
  ids[slot] = runId
  contexts[slot] = context
  written++
}

/** Brings the index by id up to date with the ring (only the last lap of it still exists). */
function index(): void {
  for (let at = Math.max(indexed, written - EXPORTED_IDS); at < written; at++) {
    const slot = at % EXPORTED_IDS
    const old = indexedIds[slot]
    if (old !== undefined && slotOf.get(old) === slot) slotOf.delete(old)
    const id = ids[slot] as string
    indexedIds[slot] = id
    slotOf.set(id, slot)
  }
  indexed = written
}
