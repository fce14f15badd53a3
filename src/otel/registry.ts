// Which runs have spans already (traced live, or exported), and their run span's context: a
// fork or replay links to its parent's span, and a second export of one run is deliberate.
import type { SpanContext } from '@opentelemetry/api'

const spans = new WeakMap<object, SpanContext>()

export function spanContextOf(run: object | undefined): SpanContext | undefined {
  return run === undefined ? undefined : spans.get(run)
}

export function rememberSpan(run: object, context: SpanContext): void {
  spans.set(run, context)
}
