/**
 * The events of a shadow timeline (DESIGN §5). Every event carries its `seq`, its epoch-nanosecond
 * time `t`, its `type`, and the states at that moment: shared, frozen references, never copies.
 *
 * @module
 */
import type { Immutable, Patch } from 'immer'
import type { LinkInfo, Metrics, MiddlewareCallInfo, MwCtx, RecordedIO, RunStatus, SkipReason } from '../core/types.js'

// Defined in core (compile and the runner use them too); part of the event vocabulary here.
export type { MiddlewareCallInfo, RecordedIO }
import type { WriteOp } from './write-capture.js'

/** The states of one moment of a run. */
export interface States<C = unknown> {
  /** The business context. */
  readonly ctx: Immutable<C>
  /** The middleware context. */
  readonly mwctx: Immutable<MwCtx>
  /** The current link execution's metrics; `undefined` outside a link. */
  readonly metrics: Immutable<Metrics> | undefined
}

/** What every event has. */
export interface EventBase<C = unknown> extends States<C> {
  /** Position in the timeline: 0, 1, 2, … */
  readonly seq: number
  /** Epoch nanoseconds (`0n` with `timestamps: false`). */
  readonly t: bigint
}

/** The run began; `input` is the first ctx state. */
export interface RunStartTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'run.start'
  readonly input: unknown
}

/** A middleware call that returned (or settled) normally. States are as the call left them. */
export interface MiddlewareTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'middleware.before' | 'middleware.after'
  readonly middleware: MiddlewareCallInfo
  /** Absent for `runStart` / `runEnd` calls. */
  readonly link?: LinkInfo
  readonly durationNs: bigint
}

/** A middleware call that threw or rejected; the run went on. */
export interface MiddlewareErrorTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'middleware.error'
  readonly middleware: MiddlewareCallInfo
  readonly hook: 'before' | 'after' | 'runStart' | 'runEnd'
  readonly link?: LinkInfo
  readonly error: unknown
  readonly durationNs: bigint
}

/** Stamped just before the link is called. */
export interface LinkStartTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'link.start'
  readonly link: LinkInfo
}

/** What the end of a link or branch call may carry besides its outcome (each absent when unused). */
export interface CallFields {
  /** The id of the run a nested chain made in this call (DESIGN §9): `timeline.child(id)`. */
  readonly child?: string
  /** The span id `io.inject` wrote into an outbound request (DESIGN §11): a called service's run names it as its `remoteParent`. */
  readonly span?: string
  /** What the call drew from `io.now()` / `io.random()`, when it called them (replay gives them back). */
  readonly io?: RecordedIO
}

/** What a link's `link.end` / `link.error` may carry besides its outcome. */
export interface LinkCallFields extends CallFields {
  /**
   * Set when the link left something in `io.metrics` (before it returned or threw) that could not
   * be recorded as it was (a cycle, a getter that threw, nesting past 100 levels…): an `Error`
   * naming what. The recorded metrics hold a marker in its place. Absent when everything was recorded.
   */
  readonly metricsError?: unknown
  /**
   * With `capture: 'writes'`: how many writes of this link execution were made but not recorded
   * as `ctx.write` events, past the run's `maxWritesPerLink`. Absent when none was dropped.
   */
  readonly writesDropped?: number
}

/** Stamped as soon as the link returned (or its promise settled). */
export interface LinkEndTimelineEvent<C = unknown> extends EventBase<C>, LinkCallFields {
  readonly type: 'link.end'
  readonly link: LinkInfo
  /**
   * What the link changed, in immer's patch format: the diff of its `link.start` state and this
   * event's, made when the event is first read; immer's own patches (a Map's or a Set's members
   * named one by one, an object assigned whole replaced whole) when the run's ctx holds a Map, a
   * Set or an immerable class instance, or is wide (see the README, *Decisions*).
   */
  readonly patches: readonly Patch[]
  /** Patches that turn this event's state back into its `link.start` state. */
  readonly inversePatches: readonly Patch[]
  /** `t` of this event minus `t` of its `link.start`. */
  readonly durationNs: bigint
}

/** Replaces `link.end` when the link threw or rejected; its changes were discarded. */
export interface LinkErrorTimelineEvent<C = unknown> extends EventBase<C>, LinkCallFields {
  readonly type: 'link.error'
  readonly link: LinkInfo
  readonly error: unknown
  readonly durationNs: bigint
}

/**
 * A link that did not run (DESIGN §9): its `when` returned false (`'when'`), or an earlier link
 * called `io.stop()` (`'stopped'`). No hook ran for it; `t` is where the previous step ended,
 * the states are those it would have received (`metrics` is `undefined`: it had no execution).
 */
export interface LinkSkipTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'link.skip'
  readonly link: LinkInfo
  readonly reason: SkipReason
}

/**
 * A failed attempt of a link with `retry` that is tried again (DESIGN §9): its draft was
 * discarded, so ctx is the link's input. The link's `link.start` comes before its first attempt.
 */
export interface LinkAttemptTimelineEvent<C = unknown> extends EventBase<C>, Pick<CallFields, 'child' | 'io'> {
  readonly type: 'link.attempt'
  readonly link: LinkInfo
  /** Which attempt failed, from 1. */
  readonly attempt: number
  readonly error: unknown
  readonly durationNs: bigint
}

/**
 * A branch of a parallel step began (DESIGN §9), between the step's `link.start` and its
 * `link.end` / `link.error`. Its states are the step's input: branches work on drafts of their
 * own, and ctx changes only when the step merges them (its `link.end`).
 */
export interface BranchStartTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'branch.start'
  readonly link: LinkInfo
  readonly branch: string
}

/** A branch of a parallel step returned: its own patches against the step's input (ctx is still that input). */
export interface BranchEndTimelineEvent<C = unknown> extends EventBase<C>, CallFields {
  readonly type: 'branch.end'
  readonly link: LinkInfo
  readonly branch: string
  readonly patches: readonly Patch[]
  /** `t` of this event minus `t` of its `branch.start`. */
  readonly durationNs: bigint
}

/** A branch of a parallel step threw or rejected: its draft was discarded, and the step fails. */
export interface BranchErrorTimelineEvent<C = unknown> extends EventBase<C>, CallFields {
  readonly type: 'branch.error'
  readonly link: LinkInfo
  readonly branch: string
  readonly error: unknown
  readonly durationNs: bigint
}

/** `capture: 'writes'`: one write a link made to its draft, stamped as it happened. */
export interface CtxWriteTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'ctx.write'
  readonly link: LinkInfo
  /** What kind of write: `'set'`, `'delete'`, an array mutator (`'push'`, `'splice'`, …), `'map.set'`, `'set.add'`, … */
  readonly op: WriteOp
  /** Where, from the ctx root (array mutators and Set changes: the collection's path). */
  readonly path: readonly (string | number)[]
  /** The value written (array mutators: their arguments; deletes: `undefined`). */
  readonly value: unknown
  /**
   * A parallel step's branch that wrote, on its own draft of the step's input (absent for a
   * link's own writes). The step's `link.end` has the branches' writes merged.
   */
  readonly branch?: string
  /** With `stacks: true`: `file:line:column` of the write in user code. */
  readonly stack?: string
}

/** The first event of a fork after the prefix it shares with its parent. */
export interface ForkTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'fork'
  /** The parent run and the seq of its last shared event. */
  readonly parent: { readonly runId: string; readonly seq: number }
  /** What the fork's `edit` changed (empty without an edit). */
  readonly patches: readonly Patch[]
  readonly inversePatches: readonly Patch[]
}

/** The run ended, after the `runEnd` hooks. */
export interface RunEndTimelineEvent<C = unknown> extends EventBase<C> {
  readonly type: 'run.end'
  readonly status: RunStatus
  readonly error?: unknown
  /** The link that called `io.stop()`, when the run ended that way (then `status` is `'ok'`). */
  readonly stoppedBy?: LinkInfo
  /** The reason given to `io.stop(reason)`, when one was. */
  readonly stopReason?: string
}

/**
 * A run's `run.end` event, in the one shape the engine and `Run` both append it in: the run's
 * states as it ended (metrics belong to links: none), its status, then the error and the stop,
 * each only when there is one.
 */
export function runEndEvent<C>(
  seq: number,
  t: bigint,
  ctx: unknown,
  mwctx: unknown,
  status: RunStatus,
  error: unknown,
  stoppedBy: LinkInfo | undefined,
  stopReason: string | undefined,
): TimelineEvent<C> {
  const end: Record<string, unknown> = { seq, t, type: 'run.end', ctx, mwctx, metrics: undefined, status }
  if (error !== undefined) end['error'] = error
  if (stoppedBy !== undefined) end['stoppedBy'] = stoppedBy
  if (stopReason !== undefined) end['stopReason'] = stopReason
  return end as unknown as TimelineEvent<C>
}

/** Any event of a timeline. */
export type TimelineEvent<C = unknown> =
  | RunStartTimelineEvent<C>
  | MiddlewareTimelineEvent<C>
  | MiddlewareErrorTimelineEvent<C>
  | LinkStartTimelineEvent<C>
  | LinkEndTimelineEvent<C>
  | LinkErrorTimelineEvent<C>
  | LinkSkipTimelineEvent<C>
  | LinkAttemptTimelineEvent<C>
  | BranchStartTimelineEvent<C>
  | BranchEndTimelineEvent<C>
  | BranchErrorTimelineEvent<C>
  | CtxWriteTimelineEvent<C>
  | ForkTimelineEvent<C>
  | RunEndTimelineEvent<C>

/** The `type` of any event. */
export type TimelineEventType = TimelineEvent['type']

/** Whether an event of this type ends a link that ran: `link.end` or `link.error`. */
export function endsLink(type: string): boolean {
  return type === 'link.end' || type === 'link.error'
}

/** The links that ran among `events` (the first `length` of them), a timeline's or a run document's alike: see {@link endsLink}. */
export function countLinkEvents(events: readonly { readonly type: string }[], length = events.length): number {
  let n = 0
  for (let i = 0; i < length; i++) if (endsLink((events[i] as { readonly type: string }).type)) n++
  return n
}
