// Which runs have spans already (traced live, or exported), and their run span's context: a
// fork or replay links to its parent's span, and a second export of one run is deliberate.
// Kept in a slot every Run declares rather than in a WeakMap: a WeakMap entry per traced run
// cost ~250 ns (mostly the garbage collector's work on ephemerons), a tenth of a link span.
import type { SpanContext } from '@opentelemetry/api'

/** The slot on a `Run` that holds its run span's context. */
export const RUN_SPAN: unique symbol = Symbol('shadowchain.runSpan')

/** What carries the slot (`Run` does). */
export interface SpanSlot {
  [RUN_SPAN]: SpanContext | undefined
}

export function spanContextOf(run: object | undefined): SpanContext | undefined {
  return run === undefined ? undefined : (run as Partial<SpanSlot>)[RUN_SPAN]
}

export function rememberSpan(run: SpanSlot, context: SpanContext): void {
  run[RUN_SPAN] = context
}
