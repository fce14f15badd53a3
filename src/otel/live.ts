// Live tracing: the runner reports to a LiveTrace as it goes; spans carry the recorded times.
import { context, diag, trace, type Context, type Link, type Span, type Tracer } from '@opentelemetry/api'
import { describeError } from '../errors.js'
import type { MiddlewareCallInfo } from '../events.js'
import type { Failure } from '../runner.js'
import type { LinkInfo, RunInfo, RunStatus } from '../types.js'
import { ATTR, hrTime, linkSpanName, metricAttributes, middlewareAttributes, nsAttribute, recordFailure, runSpanName } from './names.js'
import { spanContextOf } from './registry.js'

/** How a run relates to another (fork or replay), for the span link and attributes. */
export interface Relation {
  readonly kind: 'fork' | 'replay'
  readonly run: object | undefined
  readonly runId: string
  readonly seq?: number
}

/** Runs a tracing call; a tracer or SDK that throws is reported once and ignored. */
function guarded(what: string, call: () => void): void {
  try {
    call()
  } catch (error) {
    diag.warn(`shadowchain: OpenTelemetry ${what} failed and was skipped: ${describeError(error)}`)
  }
}

/**
 * Live tracing of one run. Every call into the tracer is guarded: observability never throws
 * into a run.
 */
export class LiveTrace {
  private readonly tracer: Tracer
  readonly runSpan: Span
  private readonly runContext: Context
  private linkSpan: Span | undefined = undefined
  private linkContext: Context | undefined = undefined

  /**
   * @param parent - the context active when `run()` was called: a run started inside a span
   *   becomes its child
   */
  constructor(tracer: Tracer, info: RunInfo, parent: Context, relation: Relation | undefined) {
    this.tracer = tracer
    const links: Link[] = []
    const attributes: Record<string, string | number> = { [ATTR.chainName]: info.chainName, [ATTR.runId]: info.id }
    if (relation !== undefined) {
      attributes[ATTR.relation] = relation.kind
      attributes[ATTR.relatedRunId] = relation.runId
      if (relation.seq !== undefined) attributes[ATTR.forkSeq] = relation.seq
      const related = spanContextOf(relation.run)
      if (related !== undefined) links.push({ context: related, attributes: { [ATTR.relation]: relation.kind } })
    }
    const startTime = hrTime(info.startedAt)
    this.runSpan = tracer.startSpan(runSpanName(info.chainName), { attributes, links, ...(startTime && { startTime }) }, parent)
    this.runContext = trace.setSpan(parent, this.runSpan)
  }

  linkBegin(link: LinkInfo, t: bigint): void {
    this.linkSpan = this.linkContext = undefined
    guarded('startSpan', () => {
      const startTime = hrTime(t)
      this.linkSpan = this.tracer.startSpan(
        linkSpanName(link.name),
        { attributes: { [ATTR.linkName]: link.name, [ATTR.linkIndex]: link.index }, ...(startTime && { startTime }) },
        this.runContext,
      )
      this.linkContext = trace.setSpan(this.runContext, this.linkSpan)
    })
  }

  /** Runs the link function inside its span's context, so spans it starts nest under it. */
  runInLink<T>(fn: () => T): T {
    return this.linkContext === undefined ? fn() : context.with(this.linkContext, fn)
  }

  middleware(call: MiddlewareCallInfo, link: LinkInfo | undefined, t: bigint, durationNs: bigint, failed: boolean, error: unknown): void {
    const span = link === undefined ? this.runSpan : (this.linkSpan ?? this.runSpan)
    const name = failed ? 'middleware.error' : call.position === 'chain-before' || call.position === 'link-before' || call.position === 'run-start' ? 'middleware.before' : 'middleware.after'
    guarded('addEvent', () => span.addEvent(name, middlewareAttributes(call, durationNs, failed ? error : undefined), hrTime(t)))
  }

  /** The link threw or rejected: recorded when it happens, before its after-middleware. */
  linkFailed(error: unknown, t: bigint): void {
    const span = this.linkSpan
    if (span !== undefined) guarded('recordException', () => recordFailure(span, error, hrTime(t)))
  }

  linkEnd(durationNs: bigint, metrics: object | undefined, t: bigint): void {
    const span = this.linkSpan
    this.linkSpan = this.linkContext = undefined
    if (span === undefined) return
    guarded('end', () => {
      span.setAttributes({ [ATTR.linkDuration]: nsAttribute(durationNs), ...metricAttributes(metrics) })
      span.end(hrTime(t))
    })
  }

  runEnd(status: RunStatus, failure: Failure | undefined, t: bigint): void {
    guarded('end', () => {
      this.runSpan.setAttribute(ATTR.runStatus, status)
      if (failure !== undefined) {
        this.runSpan.setAttribute(ATTR.errorCode, failure.code)
        recordFailure(this.runSpan, { name: 'ChainRunError', message: failure.message }, hrTime(t))
      }
      this.runSpan.end(hrTime(t))
    })
  }
}
