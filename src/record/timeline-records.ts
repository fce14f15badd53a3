// What a timeline's questions answer with (timeline.ts): the query `filter` takes, and the record
// `links()` gives of each link that ran and of each branch of a parallel step.
import type { Immutable, Patch } from 'immer'
import type { RunOf } from '../core/chain.js'
import type { LinkInfo, Metrics, Position, SkipReason } from '../core/types.js'
import type { RecordedIO, TimelineEventType } from './events.js'

/** Selects events; every field given must match. */
export interface EventQuery {
  /** One event type or several. */
  type?: TimelineEventType | readonly TimelineEventType[]
  /** Events about the link of this name (link, link-level and chain-level middleware events). */
  link?: string
  /** Events of the middleware of this name. */
  middleware?: string
  /** Middleware events at this position. */
  position?: Position
}

/**
 * One link execution, gathered from its events; or a link that did not run (`status:
 * 'skipped'`, with its `reason`): then start and end seqs are its `link.skip` event, start and
 * end its time, the duration `0n`, no patches, `before` and `after` the ctx it would have had.
 */
export interface LinkRecord<C = unknown> {
  /** The link (the same object as in its events). */
  readonly link: LinkInfo
  /** Its name. */
  readonly name: string
  /** Its place in the chain. */
  readonly index: number
  /** `seq` of its `link.start` event. */
  readonly startSeq: number
  /** `seq` of its `link.end` or `link.error` event. */
  readonly endSeq: number
  /** Epoch ns when the link was called. */
  readonly start: bigint
  /** Epoch ns when it returned or settled. */
  readonly end: bigint
  /** The link alone, middleware excluded. */
  readonly durationNs: bigint
  /**
   * How many times the link was called, when more than once (link option `retry`): its failed
   * attempts are the `link.attempt` events between its start and end seqs.
   */
  readonly attempts?: number
  /**
   * A parallel step's branches, in the order they ended (their `branch.*` events lie between the
   * step's start and end seqs). Absent for a plain link.
   */
  readonly branches?: readonly BranchRecord[]
  /** `'error'` when it threw or rejected; `'skipped'` when it did not run. */
  readonly status: 'ok' | 'error' | 'skipped'
  /** Why a skipped link did not run: `'when'` (its condition said no) or `'stopped'` (`io.stop()`). */
  readonly reason?: SkipReason
  /** What it changed (empty when it failed). */
  readonly patches: readonly Patch[]
  /** The patches that undo it. */
  readonly inversePatches: readonly Patch[]
  /** Its error, when it failed. */
  readonly error?: unknown
  /** The ctx it received and the ctx it left. */
  readonly before: Immutable<C>
  readonly after: Immutable<C>
  /** Its metrics as the last middleware around it left them. */
  readonly metrics: Immutable<Metrics>
  /** What it drew from `io.now()` / `io.random()`. */
  readonly io?: RecordedIO
  /**
   * The run of the chain nested as this link (DESIGN §9): a full `Run` with its own id and
   * timeline (its last attempt's, for a link with `retry`). Absent for a plain link.
   */
  readonly child?: RunOf<unknown>
}

/** One branch of a parallel step, as `timeline.links()` gives it. */
export interface BranchRecord {
  /** The branch's name. */
  readonly name: string
  /** `seq` of its `branch.start` and of its `branch.end` / `branch.error`. */
  readonly startSeq: number
  readonly endSeq: number
  /** Epoch ns when it was called, and when it returned or settled. */
  readonly start: bigint
  readonly end: bigint
  readonly durationNs: bigint
  readonly status: 'ok' | 'error'
  /** Its own patches against the step's input (empty when it failed). */
  readonly patches: readonly Patch[]
  /** Its error, when it failed. */
  readonly error?: unknown
  /** The run of the chain nested as this branch (DESIGN §9), when the branch is a chain. */
  readonly child?: RunOf<unknown>
  /** What it drew from `io.now()` / `io.random()`. */
  readonly io?: RecordedIO
}
