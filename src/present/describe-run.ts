import { describeError } from '../core/errors.js'
import type { Run } from '../lineage/run.js'
import { ownStart } from '../lineage/run.js'
import type { SkipReason } from '../core/types.js'

/** A compact, JSON-friendly account of a run (what `shadowchain inspect --json` prints). */
export interface RunSummary {
  readonly id: string
  readonly chainName: string
  readonly status: string
  readonly startedAt: bigint
  readonly endedAt: bigint
  readonly durationNs: bigint
  readonly events: number
  readonly error?: { readonly code: string; readonly message: string; readonly link?: string }
  readonly parent?: { readonly runId: string; readonly seq: number }
  readonly replayOf?: string
  /** The link that ended the run with `io.stop()`, and the reason it gave. */
  readonly stoppedBy?: { readonly link: string; readonly reason?: string }
  readonly children: readonly string[]
  /** A nested run (DESIGN §9): from the outermost run's start to its own; its links' and branches' `offsetNs` count from there too. */
  readonly offsetNs?: bigint
  readonly links: readonly {
    readonly name: string
    readonly index: number
    readonly status: 'ok' | 'error' | 'skipped'
    /** Why a skipped link did not run. */
    readonly reason?: SkipReason
    /** A fork's link from before the fork, shared with its parent. */
    readonly inherited: boolean
    /** From the run's start to the link call. */
    readonly offsetNs: bigint
    /** The link alone. */
    readonly durationNs: bigint
    /** Every middleware call around it, added up. */
    readonly middlewareNs: bigint
    readonly changes: number
    readonly error?: string
    /** How many times it was called, when more than once (link option `retry`). */
    readonly attempts?: number
    /** A parallel step's branches, in the order they ended. */
    readonly branches?: readonly { readonly name: string; readonly status: 'ok' | 'error'; readonly offsetNs: bigint; readonly durationNs: bigint; readonly changes: number; readonly error?: string; readonly child?: RunSummary }[]
    /** The run of the chain nested as this link (its last call's), described the same way. */
    readonly child?: RunSummary
    /** The runs of a retried nested link's failed attempts, in order. */
    readonly attemptRuns?: readonly { readonly attempt: number; readonly child: RunSummary }[]
    readonly metrics: unknown
  }[]
  readonly middlewareErrors: readonly {
    readonly seq: number
    readonly middleware: string
    readonly position: string
    readonly link?: string
    readonly error: string
  }[]
}

/** How {@link describeRun} describes nested runs. */
export interface DescribeOptions {
  /**
   * The runs of nested chains (DESIGN §9), each described under its link (`child`), branch
   * (`child`) or failed attempt (`attemptRuns`): `true` (default) every level, a number that
   * many levels, `false` (or 0) none.
   */
  readonly nested?: boolean | number
}

/**
 * Summarises a run: status, timing, one entry per link (its own time apart from its middleware
 * time) and every middleware error; a nested chain's run under its link, recursively.
 */
export function describeRun<C>(run: Run<C>, options: DescribeOptions = {}): RunSummary {
  const nested = options.nested
  const levels = nested === undefined || nested === true ? Infinity : nested === false || !(nested > 0) ? 0 : Math.floor(nested)
  return summarise(run as Run<unknown>, run.startedAt, levels)
}

function summarise(run: Run<unknown>, origin: bigint, levels: number): RunSummary {
  // A nested run, within the levels asked for: described from the outermost run's start.
  const inner = (id: string | undefined): RunSummary | undefined => {
    const child = id === undefined || levels < 1 ? undefined : run.timeline.child(id)
    return child === undefined ? undefined : summarise(child, origin, levels - 1)
  }
  const attemptRuns = new Map<string, { attempt: number; child: RunSummary }[]>()
  for (const event of run.timeline.events) {
    if (event.type !== 'link.attempt') continue
    const child = inner(event.child)
    if (child !== undefined) attemptRuns.set(event.link.name, [...(attemptRuns.get(event.link.name) ?? []), { attempt: event.attempt, child }])
  }
  const middlewareNs = new Map<string, bigint>()
  const middlewareErrors: RunSummary['middlewareErrors'][number][] = []
  for (const event of run.timeline.events) {
    if (event.type !== 'middleware.before' && event.type !== 'middleware.after' && event.type !== 'middleware.error') continue
    if (event.link !== undefined) middlewareNs.set(event.link.name, (middlewareNs.get(event.link.name) ?? 0n) + event.durationNs)
    if (event.type === 'middleware.error') {
      middlewareErrors.push({
        seq: event.seq,
        middleware: event.middleware.name,
        position: event.middleware.position,
        ...(event.link && { link: event.link.name }),
        error: describeError(event.error),
      })
    }
  }
  const forkSeq = ownStart(run) - 1
  return {
    id: run.id,
    chainName: run.chainName,
    status: run.status,
    startedAt: run.startedAt,
    endedAt: run.endedAt,
    durationNs: run.endedAt - run.startedAt,
    events: run.timeline.length,
    ...(run.error && {
      error: { code: run.error.code, message: run.error.message, ...(run.error.link && { link: run.error.link.name }) },
    }),
    ...(run.parent && { parent: { runId: run.parent.runId, seq: run.parent.seq } }),
    ...(run.replayOf && { replayOf: run.replayOf.runId }),
    ...(run.stoppedBy && { stoppedBy: { link: run.stoppedBy.name, ...(run.stopReason !== undefined && { reason: run.stopReason }) } }),
    children: run.childIds,
    ...(origin !== run.startedAt && { offsetNs: run.startedAt - origin }),
    links: run.timeline.links().map((link) => ({
      name: link.name,
      index: link.index,
      status: link.status,
      inherited: link.startSeq < forkSeq,
      offsetNs: link.start - origin,
      durationNs: link.durationNs,
      middlewareNs: middlewareNs.get(link.name) ?? 0n,
      changes: link.patches.length,
      ...(link.status === 'error' && { error: describeError(link.error) }),
      ...(link.reason !== undefined && { reason: link.reason }),
      ...(link.attempts !== undefined && { attempts: link.attempts }),
      ...(link.branches !== undefined && {
        branches: link.branches.map((b) => ({
          name: b.name,
          status: b.status,
          offsetNs: b.start - origin,
          durationNs: b.durationNs,
          changes: b.patches.length,
          ...(b.status === 'error' && { error: describeError(b.error) }),
          ...withChild(inner(b.child?.id)),
        })),
      }),
      ...withChild(inner(link.child?.id)),
      ...withAttempts(attemptRuns.get(link.name)),
      metrics: link.metrics,
    })),
    middlewareErrors,
  }
}

const withChild = (child: RunSummary | undefined): { child?: RunSummary } => (child === undefined ? {} : { child })
const withAttempts = (runs: RunSummary['links'][number]['attemptRuns'] | undefined): { attemptRuns?: NonNullable<RunSummary['links'][number]['attemptRuns']> } => (runs === undefined ? {} : { attemptRuns: runs })
