// Post-hoc export: the spans of a recorded (or imported) run, with its recorded times.
import { context, diag, INVALID_SPAN_CONTEXT, ROOT_CONTEXT, trace, type Context, type HrTime, type Span, type SpanContext, type Tracer } from '@opentelemetry/api'
import { describeError } from '../core/errors.js'
import type { TimelineEvent } from '../record/events.js'
import type { Run } from '../lineage/run.js'
import { mergeRedactPaths, redactor, type Redactor } from '../files/redact.js'
import type { LinkInfo, RedactPath } from '../core/types.js'
import { ATTR, addAttemptEvent, addSkipEvent, branchSpanName, branchSpanOptions, endBranchSpan, endRunSpan, setStopAttributes, middlewareAttributes, startLinkSpan, nsAttribute, recordFailure, runSpanName, runSpanOptions, setChildAttribute, setMetricAttributes, timesOf } from './names.js'
import { rememberExportedSpan, spanContextOf } from './registry.js'
import { ownStart } from '../lineage/run.js'

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
  /**
   * More paths to redact, on top of the run's own (`run.redact`, always applied): values at
   * these paths, and copies of them anywhere in the run (metrics, error messages and stacks),
   * never reach a span.
   */
  redact?: readonly RedactPath[]
}

/** What {@link exportRun} did. */
export interface ExportRunResult {
  /** The run span's context (of the earlier export when this one was skipped). */
  readonly spanContext: SpanContext
  /** Spans emitted by this call (0 when skipped). */
  readonly spans: number
  /** True when the run already had spans in this process and nothing was emitted. */
  readonly skipped: boolean
  /**
   * Set when the tracer threw: nothing was thrown into your code, the spans emitted before it
   * are ended (and counted in `spans`), the rest were not emitted. Also reported through OTel's
   * `diag` logger.
   */
  readonly error?: unknown
}

function isSpan(value: Span | Context): value is Span {
  return typeof (value as Span).spanContext === 'function'
}

/** The link span being built; it ends where its step's last event ended (`lastEnd`). */
interface Step {
  readonly link: LinkInfo
  readonly span: Span
  metrics: object | undefined
}

/**
 * Emits the spans of a recorded run, with start and end times exactly its recorded nanoseconds:
 * the same tree, and the same times, live tracing makes (`chain <name>` with one `link <name>`
 * child per link, each starting where the previous step ended; middleware calls as span events
 * at the time each call began; errors as exceptions with status ERROR; a fork's or replay's run
 * span linked to its parent's or original's when that one has spans too). A fork, or a replay of
 * a fork, exports only the links it ran; a run recorded with `capture: 'off'` (no link events)
 * exports as its run span alone, with its status and errors. The runs of nested chains (DESIGN
 * §9) are exported with it, each with its own recorded times under the span of the link or branch
 * that ran it (a retried link's every attempt's), which names it (`shadowchain.child.run_id`).
 *
 * Exporting is deliberate about repetition: a run that already has spans in this process (traced
 * live by a recording tracer, or exported before; a copy loaded from a file counts as the run it
 * copies) is not exported again unless `force: true`, because every export emits new span ids
 * and a backend would show the run twice. Across processes nothing can know, so export a run
 * file once.
 *
 * Never throws because of the tracer: if it throws, the spans begun are ended and the result
 * carries the `error` (also reported through OTel's `diag` logger).
 *
 * @param run - a run from `chain.run()`, a replay or fork, or `Run.fromJSON` / `loadRun`
 * Redaction: the run's own paths (`run.redact`: its `redact` run option and chain default, or a
 * loaded document's) and `options.redact` are applied to every attribute and event: values at
 * those paths and copies of them (metrics, error messages, stacks) never reach a span.
 *
 * @param options - the `tracer`, a `parent` span or context, `force`, and more `redact` paths
 * @throws TypeError when `options.redact` is malformed (never because of the tracer)
 * @example
 * const result = exportRun(await loadRun('checkout.run.json'), { tracer: provider.getTracer('replay') })
 */
export function exportRun<C>(run: Run<C>, options: ExportRunOptions): ExportRunResult {
  const parent = options.parent === undefined ? context.active() : isSpan(options.parent) ? trace.setSpan(ROOT_CONTEXT, options.parent) : options.parent
  return exportTree(run, options, parent)
}

/**
 * One run and, recursively, the runs of its nested chains (each under the span of the link or
 * branch that ran it), by the same rules: a child that already has spans is not exported again
 * unless `force`.
 */
function exportTree<C>(run: Run<C>, options: ExportRunOptions, parent: Context): ExportRunResult {
  const known = spanContextOf(run, run.id)
  if (known !== undefined && options.force !== true) return { spanContext: known, spans: 0, skipped: true }
  const { tracer } = options
  // A run recorded with `timestamps: false` has every time 0n: its spans are stamped by the SDK.
  const at = timesOf(run.startedAt !== 0n || run.endedAt !== 0n)
  const redact = redactionOf(run, options.redact)
  let runSpan: Span
  try {
    runSpan = tracer.startSpan(runSpanName(run.chainName), runSpanOptions(run.chainName, run.id, at(run.startedAt), run), parent)
  } catch (error) {
    diag.warn(`shadowchain: exportRun: the tracer's startSpan failed, run ${run.id} was not exported: ${describeError(error)}`)
    return { spanContext: INVALID_SPAN_CONTEXT, spans: 0, skipped: false, error }
  }
  let spanContext: SpanContext = INVALID_SPAN_CONTEXT
  const emitted = { spans: 1, open: undefined as Span | undefined }
  try {
    spanContext = runSpan.spanContext()
    // Spans reach a backend from the first one on: a second export is a repeat even if this one
    // stops part-way.
    if (runSpan.isRecording()) rememberExportedSpan(run, spanContext)
    const nest = (id: string | undefined, span: Span, within: Context): void => {
      const child = id === undefined ? undefined : (run.timeline.child(id) as Run<unknown> | undefined)
      if (child === undefined) return
      const result = exportTree(child, options, trace.setSpan(within, span))
      emitted.spans += result.spans
      // The tracer failed inside the child (which ended its own spans): this run stops too.
      if (result.error !== undefined) throw result.error
    }
    emitLinkSpans(run, tracer, trace.setSpan(parent, runSpan), runSpan, emitted, at, redact, nest)
    setStopAttributes(runSpan, run.stoppedBy === undefined ? undefined : { link: run.stoppedBy, reason: run.stopReason }, redact)
    endRunSpan(runSpan, run.status, run.error, at(run.endedAt), redact)
    return { spanContext, spans: emitted.spans, skipped: false }
  } catch (error) {
    // A tracer that throws part-way: end what is open (a span never ended is never exported).
    diag.warn(`shadowchain: exportRun: the tracer failed part-way through run ${run.id} (${emitted.spans} spans emitted): ${describeError(error)}`)
    for (const span of [emitted.open, runSpan]) {
      try {
        span?.end()
      } catch {
        // Nothing more can be done with this tracer.
      }
    }
    return { spanContext, spans: emitted.spans, skipped: false, error }
  }
}

/**
 * The link spans of a run, from its own events (a fork's first events are its parent's). A link
 * span starts where the previous step ended (the end of the last middleware call or link, or
 * the run's start) and ends with its step's last reading, as live tracing stamps them.
 */
function emitLinkSpans<C>(
  run: Run<C>,
  tracer: Tracer,
  runContext: Context,
  runSpan: Span,
  emitted: { spans: number; open: Span | undefined },
  at: (ns: bigint) => HrTime | undefined,
  redact: Redactor | undefined,
  nest: (childId: string | undefined, span: Span, runContext: Context) => void,
): void {
  const events = run.timeline.events
  const from = ownStart(run)
  // A run recorded with capture 'off' has no link events, only its errors: those go on the run
  // span (there are no recorded steps to make link spans of).
  let steps = false
  for (let i = from; i < events.length && !steps; i++) steps = (events[i] as TimelineEvent<C>).type === 'link.start'
  let step: Step | undefined
  let lastEnd = run.startedAt
  const branches = new Map<string, Span>()

  const closeStep = (): void => {
    if (step === undefined) return
    setMetricAttributes(step.span, step.metrics, redact)
    step.span.end(at(lastEnd))
    step = emitted.open = undefined
  }
  const stepFor = (link: LinkInfo): Step => {
    if (step?.link === link) return step
    closeStep()
    const span = startLinkSpan(tracer, link, at(lastEnd), runContext)
    emitted.spans++
    emitted.open = span
    return (step = { link, span, metrics: undefined })
  }

  for (let i = from; i < events.length; i++) {
    const event = events[i] as TimelineEvent<C>
    switch (event.type) {
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error': {
        const failed = event.type === 'middleware.error'
        const attrs = middlewareAttributes(event.middleware, event.durationNs, failed ? event.error : undefined, redact)
        if (event.link === undefined || !steps) {
          closeStep()
          runSpan.addEvent(event.type, attrs, at(event.t))
        } else {
          const current = stepFor(event.link)
          current.span.addEvent(event.type, attrs, at(event.t))
          current.metrics = event.metrics as object | undefined
        }
        lastEnd = event.t + event.durationNs
        break
      }
      case 'link.start':
        stepFor(event.link)
        break
      case 'link.end':
      case 'link.error': {
        if (!steps) break // the run span records the run's failure
        const current = stepFor(event.link)
        current.span.setAttribute(ATTR.linkDuration, nsAttribute(event.durationNs))
        if (event.type === 'link.error') recordFailure(current.span, event.error, at(event.t), redact)
        // A nested chain's run: named on the link span, exported under it.
        setChildAttribute(current.span, event.child)
        nest(event.child, current.span, runContext)
        lastEnd = event.t
        current.metrics = event.metrics as object | undefined
        break
      }
      case 'link.attempt':
        // As live tracing: a failed attempt that was retried is an event on its link's span.
        if (steps) {
          const current = stepFor(event.link)
          addAttemptEvent(current.span, event.attempt, event.error, event.durationNs, at(event.t), redact, event.child)
          // Each attempt's child run under the link span (the span names the last one only).
          nest(event.child, current.span, runContext)
        }
        break
      case 'branch.start':
        // As live tracing: a branch is a span under its step's span.
        if (steps) {
          const current = stepFor(event.link)
          branches.set(event.branch, tracer.startSpan(branchSpanName(event.link.name, event.branch), branchSpanOptions(event.link, event.branch, at(event.t)), trace.setSpan(runContext, current.span)))
          emitted.spans++
        }
        break
      case 'branch.end':
      case 'branch.error': {
        const span = branches.get(event.branch)
        if (span === undefined) break
        branches.delete(event.branch)
        setChildAttribute(span, event.child)
        nest(event.child, span, runContext)
        endBranchSpan(span, event.durationNs, event.type === 'branch.error', event.type === 'branch.error' ? event.error : undefined, at(event.t), redact)
        break
      }
      case 'link.skip':
        // As live tracing: the step before it has ended; the skip is an event of the run.
        closeStep()
        addSkipEvent(runSpan, event.link, event.reason, at(event.t))
        break
      case 'run.start':
      case 'fork':
        lastEnd = event.t
        break
      case 'run.end':
        closeStep()
        break
      default:
        // ctx.write events have no span of their own.
        break
    }
  }
  closeStep()
}

/**
 * The run's redaction and the export's, knowing every value at a redacted path in the whole run
 * (undefined when nothing is redacted: nothing is paid then).
 */
function redactionOf<C>(run: Run<C>, extra: readonly RedactPath[] | undefined): Redactor | undefined {
  const paths = mergeRedactPaths(run.redact, extra)
  if (paths.length === 0) return undefined
  const redact = redactor(paths)
  redact.collect(run.input)
  redact.collectEvents(run.timeline.events as Iterable<TimelineEvent<unknown>>)
  return redact
}
