// The run document, versions 1 to 10, as TypeScript types: docs/run-format.md, section by section.
// The zod schema that validates documents (document-schema.ts) is checked against these types.
import type { WriteOp } from '../record/write-capture.js'
import type { RedactPath, RunStatus, SkipReason } from '../core/types.js'
import type { DecodeLimits } from './codec.js'

/** The `format` of every run document. */
export const FORMAT = 'shadowchain/run'

/** The newest version read and written; a document is written as the oldest that holds it (docs/run-format.md §9). */
export const VERSION = 10

/** The document versions this module reads. */
export type DocumentVersion = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9 | 10
/** The same, as values: 1 to {@link VERSION} (the readers' first check of a document). */
export const VERSIONS: ReadonlySet<unknown> = new Set(Array.from({ length: VERSION }, (_, i) => i + 1))

/** The version that added the writes of parallel steps' branches: a `ctx.write` event's `branch`. */
export const BRANCH_WRITES_SINCE = 10

/** The version that added what a retried link's failed attempt drew: a `link.attempt` event's `io`. */
export const ATTEMPT_IO_SINCE = 10

/** The version that added distributed traces: the run's `trace`, an event's `span`. */
export const TRACE_SINCE = 9

/** The version that added nested chains: an event's `child` and the document's `nested`. */
export const NESTED_SINCE = 8

/** The event types that may name a nested chain's run (`child`, version 8). */
export const CHILD_EVENT_TYPES: ReadonlySet<string> = new Set(['link.end', 'link.error', 'link.attempt', 'branch.end', 'branch.error'])

/** Keys a patch path may not name: readers refuse them, writers replace the ancestor above them. */
export const RESERVED_PATH_KEYS: ReadonlySet<unknown> = new Set(['__proto__', 'constructor', 'prototype'])

/** How many levels of nested documents a reader accepts by default (`maxNesting`). */
export const MAX_NESTING = 100

/** Event types newer than version 2, and the version each appeared in (writers raise a document's version to it, readers refuse the type below it). */
export const EVENT_TYPE_SINCE: Partial<Record<string, DocumentVersion>> = {
  'link.skip': 4,
  'link.attempt': 5,
  'branch.start': 7,
  'branch.end': 7,
  'branch.error': 7,
}

/** Options of `run.toJSON()` and `saveRun()`. */
export interface ExportOptions {
  /**
   * Paths whose values are replaced by `'[REDACTED]'` everywhere in the output: in every ctx,
   * mwctx and metrics state, the input, and the patches. A `'*'` segment matches every key or
   * index at its level: `['users', '*', 'password']`.
   */
  redact?: readonly RedactPath[]
}

/** Options of `Run.fromJSON()` and `loadRun()`. */
export interface ImportOptions extends Partial<DecodeLimits> {
  /**
   * Most levels of nested documents (`nested`, version 8) accepted: a child's document is level
   * 1, its own child's level 2, … Default {@link MAX_NESTING} (100).
   */
  maxNesting?: number
}

/**
 * A value as the codec writes it (run-format §5): JSON, where bigint, Map, Set, Date, undefined,
 * non-finite numbers, errors and array holes are single-key tagged objects (`{ "$bigint": "12" }`).
 */
export type EncodedValue = unknown

/**
 * Nanoseconds (§6): a JSON number while it is a safe integer, past 2^53 a decimal integer string.
 */
export type Nanoseconds = number | string

/**
 * A run document (`*.run.json`), version 1 to 8, as JSON: one finished run, its initial
 * states, and its timeline as events that carry only the patches that changed the states.
 * Made by `run.toJSON()` and `saveRun()`, read by `Run.fromJSON()` and `loadRun()`. Every object
 * in it is closed: a reader rejects keys not listed here. See `docs/run-format.md`.
 */
export interface RunDocument {
  /** Exactly `'shadowchain/run'`. */
  format: typeof FORMAT
  /**
   * The oldest version that holds the document: 1; 2 when it holds a sparse array (`$holes`); 3
   * when a link event has `metricsError` or `writesDropped`; … 8 when it embeds nested runs.
   */
  version: DocumentVersion
  /** The run's metadata (§1.1). */
  run: DocumentRun
  /** The link table (§1.2): events name a link by its position here. */
  links: DocumentLink[]
  /** The middleware-call table (§1.3): middleware events name their call by its position here. */
  middleware: DocumentMiddleware[]
  /** The states of `run.start` (§3); the run's input is `initial.ctx`. */
  initial: { ctx: EncodedValue; mwctx: EncodedValue }
  /** Present when values were redacted on the way out (§7). */
  redacted?: DocumentRedaction | undefined
  /** The timeline in order (§2): `seq` 0, 1, 2, …, first `run.start`, last `run.end`. */
  events: DocumentEvent[]
  /**
   * Version 8: the complete documents of the runs nested chains made (§2.1), each named by an
   * event's `child`, in the order their ids are first named; recursively, a nested document may
   * have `nested` of its own.
   */
  nested?: RunDocument[] | undefined
}

/** §1.1: who the run is, how it ended, and how it relates to other runs. */
export interface DocumentRun {
  /** The run's id (a UUID); never empty. */
  id: string
  /** The name of the chain that ran. */
  chainName: string
  /** How the run ended; equals its `run.end` event's status. */
  status: RunStatus
  /** Epoch nanoseconds, a decimal string: the origin of every event's `t`. */
  startedAt: string
  /** Epoch nanoseconds, a decimal string. */
  endedAt: string
  /** Why the run failed: present exactly when `status` is not `'ok'`. */
  error?: DocumentRunError | undefined
  /** The run this one was forked from, and the parent's last event it shares. */
  parent?: { runId: string; seq: number } | undefined
  /** The run this one replays. */
  replayOf?: { runId: string } | undefined
  /** Version 4: link ref (§1.2) of the link that ended the run with `io.stop()`; only when `status` is `'ok'`. */
  stoppedBy?: number | undefined
  /** Version 4: the reason given to `io.stop(reason)`; only with `stoppedBy`. */
  stopReason?: string | undefined
  /** Ids of runs forked from this one (they may be in no file). */
  children: string[]
  /**
   * Version 9: the run's place in a distributed trace (DESIGN §11): its trace id (32 lowercase
   * hex), its own span id (16), and the caller's span id when its parent came from another process.
   */
  trace?: { traceId: string; spanId: string; remoteParent?: string | undefined } | undefined
}

/** §1.1 `run.error`: the run's failure (also the `error` of its `run.end` event). */
export interface DocumentRunError {
  /** `LINK_FAILED`, `ABORTED`, `INVALID_INPUT`, …: an open set, a reader accepts any string. */
  code: string
  /** What went wrong, as text. */
  message: string
  /** Link ref: the failed link, or for `ABORTED` the link about to run. */
  link?: number | undefined
  /** What was thrown, or the abort reason. */
  cause?: EncodedValue
}

/** §1.2: one entry of the link table. */
export interface DocumentLink {
  /** The link's name, unique within its chain. */
  name: string
  /** The link's place in its chain, from 0. */
  index: number
  /** The link's `meta` option; absent means `{}`. */
  meta?: EncodedValue
}

/** §1.3: one middleware call site (e.g. a chain-level `before` around every link). */
export interface DocumentMiddleware {
  /** The middleware's name. */
  name: string
  /**
   * Where it runs; `run-start` and `run-end` are the `runStart` and `runEnd` hooks,
   * `chain-around` and `link-around` (version 6) the `around` hooks.
   */
  position: 'chain-before' | 'link-before' | 'link-after' | 'chain-after' | 'run-start' | 'run-end' | 'chain-around' | 'link-around'
  /** Its place in its queue. */
  index: number
}

/** §7: what was redacted, so a reader can say so. */
export interface DocumentRedaction {
  /** The redacted paths (`'*'` matches every key at its level). */
  paths: (string | number)[][]
  /** What redacted values became (`'[REDACTED]'`). */
  placeholder: string
}

/**
 * §4.1: one change to a state, as immer writes it, with path keys and value encoded (§5).
 * `value` is present for `add` and `replace`, and for a `remove` from a Set (the member).
 */
export interface DocumentPatch {
  op: 'add' | 'replace' | 'remove'
  /** Keys from the state's root: object keys, array indexes, encoded Map keys. */
  path: EncodedValue[]
  value?: EncodedValue
}

/** §2: one event of the timeline. */
export type DocumentEvent =
  | DocumentRunStart
  | DocumentMiddlewareCall
  | DocumentMiddlewareError
  | DocumentLinkStart
  | DocumentLinkEnd
  | DocumentLinkError
  | DocumentLinkSkip
  | DocumentLinkAttempt
  | DocumentBranchStart
  | DocumentBranchEnd
  | DocumentBranchError
  | DocumentCtxWrite
  | DocumentFork
  | DocumentRunEnd

/** §2 and §3: what every event has. States change only where a patch list is present. */
export interface DocumentEventBase {
  /** The event's index in `events`. */
  seq: number
  /** Nanoseconds since `run.startedAt` (negative for a fork's inherited events). */
  t: Nanoseconds
  /** Patches to the ctx since the previous event; absent: unchanged. */
  ctx?: DocumentPatch[] | undefined
  /** Patches to the mwctx since the previous event; absent: unchanged. */
  mwctx?: DocumentPatch[] | undefined
  /** Patches to the link's metrics; `null`: no metrics from here on; absent: unchanged. */
  metrics?: DocumentPatch[] | null | undefined
}

/** The run began; its input is `initial.ctx`. */
export interface DocumentRunStart extends DocumentEventBase {
  type: 'run.start'
}

/** One middleware call, stamped when it began; its states are as the call left them. */
export interface DocumentMiddlewareCall extends DocumentEventBase {
  type: 'middleware.before' | 'middleware.after'
  /** Middleware ref (§1.3). */
  middleware: number
  /** Link ref; absent for `run-start` / `run-end` calls. */
  link?: number | undefined
  /** The call's own duration. */
  durationNs: Nanoseconds
}

/** A middleware call that threw or rejected (in place of its event); the run went on. */
export interface DocumentMiddlewareError extends DocumentEventBase {
  type: 'middleware.error'
  /** Middleware ref (§1.3). */
  middleware: number
  /** Which hook threw (`around` from version 6). */
  hook: 'before' | 'around' | 'after' | 'runStart' | 'runEnd'
  /** Link ref; absent for `runStart` / `runEnd` hooks. */
  link?: number | undefined
  /** What was thrown. */
  error: EncodedValue
  /** The call's own duration. */
  durationNs: Nanoseconds
}

/** Just before a link was called. */
export interface DocumentLinkStart extends DocumentEventBase {
  type: 'link.start'
  /** Link ref (§1.2). */
  link: number
}

/** Version 8: the event of a call that ran a nested chain names the run it made (§2.1). */
export interface DocumentChildRef {
  /** The id of the nested run: one of the document's `nested` documents has it. */
  child?: string | undefined
  /** Version 9: the span id `io.inject` wrote into an outbound request (16 lowercase hex). */
  span?: string | undefined
}

/** What a link's `io` recorded (what replay feeds back), and what it could not record (version 3). */
export interface DocumentLinkOutcome {
  /** The link's own duration: this `t` minus its `link.start`'s `t`. */
  durationNs: Nanoseconds
  /** What the link drew from `io.now()` (epoch ms) and `io.random()`, in call order. */
  io?: { now?: number[] | undefined; random?: number[] | undefined } | undefined
  /** Version 3: what the link left in `io.metrics` that could not be recorded. */
  metricsError?: EncodedValue
  /** Version 3: how many of its writes were made but not recorded (capture `'writes'`). */
  writesDropped?: number | undefined
}

/** The link returned; its patches are this event's `ctx` patch list. */
export interface DocumentLinkEnd extends DocumentEventBase, DocumentLinkOutcome, DocumentChildRef {
  type: 'link.end'
  /** Link ref (§1.2). */
  link: number
  /** Patches from the link's result back to its input; absent: the structural diff back (§4.3). */
  inversePatches?: DocumentPatch[] | undefined
}

/** The link threw (in place of `link.end`); its changes were discarded. */
export interface DocumentLinkError extends DocumentEventBase, DocumentLinkOutcome, DocumentChildRef {
  type: 'link.error'
  /** Link ref (§1.2). */
  link: number
  /** What was thrown. */
  error: EncodedValue
}

/** Version 4: a link that did not run (its `when` said no, or the run was stopped). */
export interface DocumentLinkSkip extends DocumentEventBase {
  type: 'link.skip'
  /** Link ref (§1.2). */
  link: number
  /** `'when'` or `'stopped'`. */
  reason: SkipReason
}

/**
 * Version 5: a failed attempt of a link with `retry` that was tried again (between the link's
 * `link.start` and its `link.end` / `link.error`); its changes were discarded.
 */
export interface DocumentLinkAttempt extends DocumentEventBase, DocumentChildRef {
  type: 'link.attempt'
  /** Link ref (§1.2). */
  link: number
  /** Which attempt failed, from 1. */
  attempt: number
  /** What the attempt threw (or its timeout). */
  error: EncodedValue
  /** How long the attempt took. */
  durationNs: Nanoseconds
  /** Version 10: what this attempt drew from its `io` (replay gives it back to the same attempt). */
  io?: { now?: number[] | undefined; random?: number[] | undefined } | undefined
}

/**
 * Version 7: a branch of a parallel step began (between the step's `link.start` and its
 * `link.end` / `link.error`). Branch events never change ctx (no `ctx` patch list).
 */
export interface DocumentBranchStart extends DocumentEventBase {
  type: 'branch.start'
  /** Link ref (§1.2): the parallel step. */
  link: number
  /** The branch's name (non-empty). */
  branch: string
}

/** Version 8: what a branch drew from its `io` (replay gives it back), like a link's `io`. */
export interface DocumentBranchIO {
  io?: { now?: number[] | undefined; random?: number[] | undefined } | undefined
}

/** Version 7: a branch returned; `patches` are its own, against the step's input. */
export interface DocumentBranchEnd extends DocumentEventBase, DocumentChildRef, DocumentBranchIO {
  type: 'branch.end'
  link: number
  branch: string
  /** The branch's own patches (absent = `[]`); they apply to the event's ctx. */
  patches?: DocumentPatch[] | undefined
  durationNs: Nanoseconds
}

/** Version 7: a branch threw or rejected; its draft was discarded. */
export interface DocumentBranchError extends DocumentEventBase, DocumentChildRef, DocumentBranchIO {
  type: 'branch.error'
  link: number
  branch: string
  error: EncodedValue
  durationNs: Nanoseconds
}

/** Capture `'writes'`: one write a link made to its draft, as it happened. */
export interface DocumentCtxWrite extends DocumentEventBase {
  type: 'ctx.write'
  /** Link ref (§1.2). */
  link: number
  /** `set`, `delete`, an array mutator, or a Map or Set method (`map.set`, `set.add`, …). */
  op: WriteOp
  /** Keys from the ctx root, encoded like patch paths. */
  path: EncodedValue[]
  /** The value written (for an array mutator, its arguments). */
  value?: EncodedValue
  /** The parallel step's branch that wrote (version 10); absent for the link's own writes. */
  branch?: string | undefined
  /** `file:line:column` of the write in user code. */
  stack?: string | undefined
}

/** A fork's first own event; its `ctx` patch list is the fork's edit. */
export interface DocumentFork extends DocumentEventBase {
  type: 'fork'
  /** The parent run, and the parent's last event this fork shares. */
  parent: { runId: string; seq: number }
  /** As for `link.end`. */
  inversePatches?: DocumentPatch[] | undefined
}

/** The run ended. */
export interface DocumentRunEnd extends DocumentEventBase {
  type: 'run.end'
  /** Equals `run.status`. */
  status: RunStatus
}
