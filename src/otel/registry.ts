// Which runs have spans already (traced live, or exported), and their run span's context: a
// fork or replay links to its parent's span, and a second export of one run is deliberate.
// Kept in a slot every Run declares rather than in a WeakMap: a WeakMap entry per traced run
// cost ~250 ns (mostly the garbage collector's work on ephemerons), a tenth of a link span.
// Also remembered by run id (a bounded table) when a run is exported or written to a document,
// so that runs loaded from files, which are new objects, find the spans of the runs they name:
// an imported fork links to its exported parent, and exporting a loaded copy of a run traced or
// exported before is a repeat. (Not for every traced run: a fresh id in a table of 10,000 cost
// ~1.3 µs a run, measured, half a link span.)
import { diag, type SpanContext } from '@opentelemetry/api'

/** The slot on a `Run` that holds its run span's context. */
export const RUN_SPAN: unique symbol = Symbol('shadowchain.runSpan')

/** What carries the slot (`Run` does). */
export interface SpanSlot {
  [RUN_SPAN]: SpanContext | undefined
}

/** How many exported run ids are remembered (the oldest are forgotten first). */
export const EXPORTED_IDS = 10_000

const exported = new Map<string, SpanContext>()
// Insertion order for eviction: a ring, because iterating a Map past deleted entries is slow.
const order: (string | undefined)[] = new Array<string | undefined>(EXPORTED_IDS).fill(undefined)
let next = 0
// Ids forgotten to stay within EXPORTED_IDS: counted, and said once (like a full span queue).
let forgotten = 0

/** The table of exported run ids (see {@link describeSpanTable}). */
export interface SpanTableStats {
  /** Run ids remembered now. */
  readonly remembered: number
  /** The most it remembers ({@link EXPORTED_IDS}). */
  readonly limit: number
  /** Ids forgotten since the process started, oldest first, to stay within `limit`. */
  readonly forgotten: number
}

/**
 * How full the process's table of exported run ids is, and how many ids it has forgotten. A run
 * loaded from a file whose id was forgotten is exported again by `exportRun` (a backend shows it
 * twice), and a loaded fork of it no longer links to its span. The first id forgotten is also
 * reported, once, through OTel's `diag` logger.
 *
 * @example
 * if (describeSpanTable().forgotten > 0) console.warn('export each run file once')
 */
export function describeSpanTable(): SpanTableStats {
  return { remembered: exported.size, limit: EXPORTED_IDS, forgotten }
}

/** The run span of a run: the one it was traced or exported with, else one exported under its id. */
export function spanContextOf(run: object | undefined, runId: string | undefined): SpanContext | undefined {
  const own = run === undefined ? undefined : (run as Partial<SpanSlot>)[RUN_SPAN]
  return own ?? (runId === undefined ? undefined : exported.get(runId))
}

/** A run's own slot: set when it is traced live or exported. */
export function rememberSpan(run: SpanSlot, context: SpanContext): void {
  run[RUN_SPAN] = context
}

/** Under the run's id too: for copies of it loaded from files (exports, and documents). */
export function rememberSpanById(runId: string, context: SpanContext): void {
  if (!exported.has(runId)) {
    const oldest = order[next]
    if (oldest !== undefined) {
      exported.delete(oldest)
      if (forgotten++ === 0) {
        diag.warn(
          `shadowchain: the table of exported run ids is full (${EXPORTED_IDS}): the oldest are forgotten from now on (describeSpanTable() from 'shadowchain/otel' counts them). A run loaded from a file whose id is forgotten is exported again, and its loaded forks do not link to its span.`,
        )
      }
    }
    order[next] = runId
    next = (next + 1) % EXPORTED_IDS
  }
  exported.set(runId, context)
}

/** A run written to a document: copies loaded from it will find its spans by its id. */
export function publishSpan(run: object & { readonly id: string }): void {
  const own = (run as Partial<SpanSlot>)[RUN_SPAN]
  if (own !== undefined) rememberSpanById(run.id, own)
}
