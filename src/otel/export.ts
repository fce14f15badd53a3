// Post-hoc export: the spans of a recorded (or imported) run, with its recorded times.
import { context, ROOT_CONTEXT, trace, type Context, type Span, type SpanContext, type Tracer } from '@opentelemetry/api'
import type { TimelineEvent } from '../events.js'
import type { Run } from '../run.js'
import type { LinkInfo } from '../types.js'
import { ATTR, hrTime, runSpanOptions, linkSpanName, middlewareAttributes, nsAttribute, recordFailure, runSpanName, setMetricAttributes } from './names.js'
import { rememberSpan, spanContextOf } from './registry.js'
import { ownStart } from '../run.js'

/** Options of {@link exportRun}. */
export interface ExportRunOptions {
  /** The tracer to emit with (from your SDK's provider). */
  tracer: Tracer
  /** Nest the run span under this span or context (default: the active context). */
  parent?: Span | Context
  /**
   * Export even if this run already has spans in this process (it was traced live or exported
   * before). Each export emits new spans: a backend then shows the run twice.
   */
  force?: boolean
}

/** What {@link exportRun} did. */
export interface ExportRunResult {
  /** The run span's context (of the earlier export when this one was skipped). */
  readonly spanContext: SpanContext
  /** Spans emitted by this call (0 when skipped). */
  readonly spans: number
  /** True when the run already had spans in this process and nothing was emitted. */
  readonly skipped: boolean
}

function isSpan(value: Span | Context): value is Span {
  return typeof (value as Span).spanContext === 'function'
}

interface Step {
  readonly link: LinkInfo
  readonly span: Span
  end: bigint
  metrics: object | undefined
}

/**
 * Emits the spans of a recorded run, with start and end times exactly its recorded nanoseconds:
 * the same tree live tracing makes (`chain <name>` with one `link <name>` child per link,
 * middleware calls as span events, errors as exceptions with status ERROR, a fork's or replay's
 * run span linked to its parent's or original's when that one has spans too).
 *
 * Exporting is deliberate about repetition: a run that already has spans in this process (traced
 * live, or exported before) is not exported again unless `force: true`, because every export
 * emits new span ids and a backend would show the run twice. Across processes nothing can know,
 * so export a run file once.
 *
 * @example
 * const result = exportRun(await loadRun('checkout.run.json'), { tracer: provider.getTracer('replay') })
 */
export function exportRun<C>(run: Run<C>, options: ExportRunOptions): ExportRunResult {
  const known = spanContextOf(run)
  if (known !== undefined && options.force !== true) return { spanContext: known, spans: 0, skipped: true }
  const parent = options.parent === undefined ? context.active() : isSpan(options.parent) ? trace.setSpan(ROOT_CONTEXT, options.parent) : options.parent
  const { tracer } = options
  const events = run.timeline.events
  // A fork's first events are its parent's: its spans start at its own fork event.
  const forkAt = ownStart(run) === 0 ? -1 : ownStart(run)
  const own = forkAt === -1 ? events : events.slice(forkAt)

  const runSpan = tracer.startSpan(runSpanName(run.chainName), runSpanOptions(run.chainName, run.id, run.startedAt, run), parent)
  const runContext = trace.setSpan(parent, runSpan)
  let spans = 1
  let step: Step | undefined

  const closeStep = (): void => {
    if (step === undefined) return
    setMetricAttributes(step.span, step.metrics)
    step.span.end(hrTime(step.end))
    step = undefined
  }
  const stepFor = (link: LinkInfo, t: bigint): Step => {
    if (step?.link === link) return step
    closeStep()
    const time = hrTime(t)
    const span = tracer.startSpan(linkSpanName(link.name), { attributes: { [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index }, ...(time && { startTime: time }) }, runContext)
    spans++
    return (step = { link, span, end: t, metrics: undefined })
  }

  for (const event of own as readonly TimelineEvent<C>[]) {
    switch (event.type) {
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error': {
        const failed = event.type === 'middleware.error'
        const attrs = middlewareAttributes(event.middleware, event.durationNs, failed ? event.error : undefined)
        if (event.link === undefined) {
          closeStep()
          runSpan.addEvent(event.type, attrs, hrTime(event.t))
        } else {
          const current = stepFor(event.link, event.t)
          current.span.addEvent(event.type, attrs, hrTime(event.t))
          current.end = event.t + event.durationNs
          current.metrics = event.metrics as object | undefined
        }
        break
      }
      case 'link.start':
        stepFor(event.link, event.t)
        break
      case 'link.end':
      case 'link.error': {
        const current = stepFor(event.link, event.t)
        current.span.setAttribute(ATTR.linkDuration, nsAttribute(event.durationNs))
        if (event.type === 'link.error') recordFailure(current.span, event.error, hrTime(event.t))
        current.end = event.t
        current.metrics = event.metrics as object | undefined
        break
      }
      case 'run.end':
        closeStep()
        break
      default:
        // run.start, fork and ctx.write events have no span of their own.
        break
    }
  }
  closeStep()
  runSpan.setAttribute(ATTR.runStatus, run.status)
  if (run.error !== undefined) {
    runSpan.setAttribute(ATTR.errorCode, run.error.code)
    recordFailure(runSpan, { name: 'ChainRunError', message: run.error.message }, hrTime(run.endedAt))
  }
  runSpan.end(hrTime(run.endedAt))
  const spanContext = runSpan.spanContext()
  rememberSpan(run, spanContext)
  return { spanContext, spans, skipped: false }
}
