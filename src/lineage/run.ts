import type { Draft, Immutable } from 'immer'
import type { Chain } from '../core/chain.js'
import type { Divergence } from './compare.js'
import type { RecordedRun } from './recorded-run.js'
import { DocumentError } from '../files/codec.js'
import type { ChainRunErrorCode } from '../core/errors.js'
import { ChainRunError } from './chain-run-error.js'
import type { ExportOptions, ImportOptions, RunDocument } from '../files/run-document.js'
import { exportRun } from '../files/write-document.js'
import { importRun, type ImportedRun } from '../files/read-document.js'
import { runEndEvent, type TimelineEvent } from '../record/events.js'
import type { Failure } from '../run/runner.js'
import { emptyState } from '../record/snapshot.js'
import { Timeline } from '../record/timeline.js'
import type { LinkInfo, RedactPath, RunInfo, RunOptions, RunStatus, RunTrace } from '../core/types.js'

const NO_REDACTION: readonly RedactPath[] = Object.freeze([])

/**
 * Where a run came from: the parent run and the seq of the event it branched after. `run` is the
 * parent itself when it is in memory; a run loaded from a file knows only its parent's `runId`
 * until the parent is loaded too.
 */
export interface RunParent {
  /** The parent, when it is in memory. */
  readonly run: Run<unknown> | undefined
  /** The parent's id, always. */
  readonly runId: string
  /** The seq of the parent's last event shared with this run (the cut). */
  readonly seq: number
}

/**
 * The seq of a run's first own event: 0, or for a fork the seq of its fork event (right after
 * its parent's cut; a fork of a fork also holds its parent's fork event). A replay of a fork
 * shares the fork's prefix too (it re-runs only the fork's own links): its own events start at
 * its last fork event.
 */
export function ownStart(run: { readonly parent: RunParent | undefined; readonly replayOf: RunRef | undefined; readonly timeline: Timeline<unknown> }): number {
  if (run.parent !== undefined) return run.parent.seq + 1
  if (run.replayOf === undefined) return 0
  const events = run.timeline.events
  for (let i = events.length - 1; i >= 0; i--) if ((events[i] as TimelineEvent<unknown>).type === 'fork') return i
  return 0
}

/** A reference to another run: the run itself when it is in memory, its id always. */
export interface RunRef {
  /** The run, when it is in memory. */
  readonly run: Run<unknown> | undefined
  /** Its id, always. */
  readonly runId: string
}

/** Options of `run.replay()`: run options plus what to replay against. */
export interface ReplayOptions<C> extends RunOptions {
  /** The chain to replay on (a new version of the code); default: the run's own chain. */
  chain?: Chain<C>
  /**
   * Links whose recorded outcome is applied instead of running them (payments, HTTP, LLM
   * calls): their recorded patches, or their recorded error. Names, or a predicate on links.
   */
  stub?: readonly string[] | ((link: LinkInfo) => boolean)
}

/** What a replay found. */
export interface ReplayResult<C> {
  /** The replay: an ordinary recorded run with its own id; `replayOf` points back. */
  readonly run: Run<C>
  /** True when every link behaved as recorded and the runs ended alike. */
  readonly identical: boolean
  /**
   * Where the replay first differs from the recording (see {@link Divergence}): an input the
   * chain now accepts or rejects (`'error'` without `link`), or the first link whose outcome
   * differs, or the run's end.
   */
  readonly divergence?: Divergence
}

/** Options of `run.fork()`. */
export interface ForkOptions<C> extends RunOptions {
  /**
   * Where to branch: a link name (the state after that link and all its after-middleware), or
   * an event seq (snapped back to the end of the last link completed at that point).
   */
  at: string | number
  /** An immer recipe applied to the state at the cut; its patches are the `fork` event's. */
  edit?: (ctx: Draft<C>) => void | C
  /** Run the remaining links of this chain instead (those after the link of the cut's name). */
  chain?: Chain<C>
}

declare module '../core/chain.js' {
  // What `Chain<C>`'s `run` and `lastRun`, `ChainRunError`'s `run` and the engine's `replay` and
  // `fork` are. Declared with `Run`, so that whatever sees `Run` (a published .d.ts included)
  // sees these too; lineage/execution.ts adds the engine's internal ones.
  interface RunTypes<C> {
    readonly run: Run<C>
    /** @internal */
    readonly replayOptions: ReplayOptions<C>
    /** @internal */
    readonly replayResult: ReplayResult<C>
    /** @internal */
    readonly forkOptions: ForkOptions<C>
  }
}

/**
 * The chain a replay or fork of `run` runs on: the one given, or the run's own; a clear error
 * without either (a run loaded from a file has no chain unless it was given one).
 */
function chainFor<C>(run: Run<C>, given: Chain<C> | undefined, what: 'replay' | 'fork'): Chain<C> {
  const chain = given ?? (run.source as Chain<C> | undefined)
  if (chain === undefined) {
    throw new TypeError(
      `${what}: run ${run.id} of chain '${run.chainName}' has no chain attached: pass { chain } (a run loaded from a file knows only its chain's name)`,
    )
  }
  return chain
}

/** The checks of `run.fork()`'s arguments that come before any chain is looked at. */
function checkForkOptions<C>(options: ForkOptions<C>): void {
  if (typeof options !== 'object' || options === null) throw new TypeError('fork: options { at, edit?, chain? } are required')
  const edit: unknown = options.edit
  if (edit !== undefined && typeof edit !== 'function') throw new TypeError(`fork: edit must be a function (an immer recipe), got ${typeof edit}`)
}

/** Options of {@link Run.fromJSON}. */
export interface FromJSONOptions<C> extends ImportOptions {
  /** The chain the run belongs to; its name must match the document's. */
  chain?: Chain<C>
}

/** What `Run` is built from (internal: runs come from `chain.run()` and, later, from files). */
export interface RunInit<C> {
  readonly info: RunInfo
  readonly status: RunStatus
  readonly input: unknown
  readonly ctx: Immutable<C>
  readonly failure: Failure | undefined
  readonly endedAt: bigint
  /** The link that called `io.stop()` and its reason (a live run; an import has them on `run.end`). */
  readonly stop?: { readonly link: LinkInfo; readonly reason: string | undefined } | undefined
  /** Without a final `run.end` (a live run) the run appends it; with one (an import) it is kept. */
  readonly events: TimelineEvent<C>[]
  /** A fork's shared prefix: the first `length` of these events come before `events`. */
  readonly prefix?: { readonly events: readonly TimelineEvent<C>[]; readonly length: number } | undefined
  /** The chain that made the run, or that an import was given; replay and fork use it. */
  readonly chain?: unknown
  readonly parent?: RunParent
  readonly replayOf?: RunRef
  /** Ids of children not in memory (an imported run's lineage). */
  readonly childIds?: readonly string[]
  /** The run's redaction paths (run option and chain default, or an imported document's). */
  readonly redact?: readonly RedactPath[]
  /** The runs of nested chains its events name (`child`), by id (a fork's include its parent's). */
  readonly nested?: ReadonlyMap<string, Run<unknown>>
  /** Its place in a distributed trace (DESIGN §11), when it has one. */
  readonly trace?: RunTrace
}

/**
 * One finished execution of a chain, complete and recorded, whether it succeeded or not.
 *
 * @example
 * const run = await checkout.run(order)
 * run.status            // 'ok'
 * run.ctx.total         // the final, frozen ctx
 * run.timeline.links()  // one record per link
 */
export class Run<C = unknown> implements RecordedRun<C> {
  /** A unique id (UUID). */
  readonly id: string
  /** The name of the chain that ran. */
  readonly chainName: string
  /** `'ok'`, `'error'` (a link or, with `safe: false`, middleware failed; or bad input) or `'aborted'`. */
  readonly status: RunStatus
  /** The input as the run received it (after schema parsing, frozen). */
  readonly input: unknown
  /** The final ctx: frozen, shares every untouched subtree with the input. */
  readonly ctx: Immutable<C>
  /** Why the run failed; `undefined` when it succeeded. */
  readonly error: ChainRunError<C> | undefined
  /** Epoch nanoseconds. */
  readonly startedAt: bigint
  /** Epoch nanoseconds. */
  readonly endedAt: bigint
  /** Every recorded event of the run. */
  readonly timeline: Timeline<C>
  /**
   * The link that ended the run early with `io.stop()` (the run's status is then `'ok'`, and
   * the links after it are `link.skip` events with reason `'stopped'`); `undefined` otherwise.
   */
  readonly stoppedBy: LinkInfo | undefined
  /** The reason that link gave (`io.stop(reason)`), if it gave one. */
  readonly stopReason: string | undefined
  /** The run this one was forked or replayed from; `undefined` for an original run. */
  readonly parent: RunParent | undefined
  /** The run this one replays, when it is a replay. */
  readonly replayOf: RunRef | undefined
  /**
   * Its place in a distributed trace (DESIGN §11): trace id, its own span id, and the caller's
   * span id when its parent context came from another process (W3C headers). `undefined` for a
   * run with no tracer, no parent trace context and no `io.inject` call.
   */
  readonly trace: RunTrace | undefined
  /** Runs forked from this one that are in memory (the lineage tree grows as forks are made). */
  readonly children: readonly Run<unknown>[] = []
  /**
   * Paths whose values never leave the process (the `redact` run option and chain default, a
   * fork's or replay's original's, or a loaded document's): `toJSON()`, `saveRun`, the command
   * line, the viewer and `exportRun` apply them by default. Empty when nothing is redacted.
   */
  readonly redact: readonly RedactPath[]
  /** @internal The chain that made the run (or that an import was given). */
  readonly source: unknown
  readonly #childIds: readonly string[]

  /** @internal Runs are made by `chain.run()`. */
  constructor(init: RunInit<C>) {
    this.id = init.info.id
    this.chainName = init.info.chainName
    this.status = init.status
    this.input = init.input
    this.ctx = init.ctx
    this.startedAt = init.info.startedAt
    this.endedAt = init.endedAt
    const failure = init.failure
    this.error =
      failure === undefined ? undefined : new ChainRunError(failure.code, failure.message, this, failure.link, failure.cause)
    this.source = init.chain
    this.parent = init.parent
    this.replayOf = init.replayOf
    this.trace = init.trace
    this.#childIds = init.childIds ?? []
    this.redact = init.redact ?? NO_REDACTION
    // The run.end event carries the run's error, which refers to the run: so the run writes it.
    const last = init.events.at(-1)
    if (last?.type === 'run.end') {
      if (this.error !== undefined) (last as { error?: unknown }).error = this.error
      this.stoppedBy = last.stoppedBy
      this.stopReason = last.stopReason
    } else {
      this.stoppedBy = init.stop?.link
      this.stopReason = init.stop?.reason
      const seq = (init.prefix?.length ?? 0) + init.events.length
      init.events.push(runEndEvent<C>(seq, init.endedAt, init.ctx, last?.mwctx ?? emptyState(), init.status, this.error, this.stoppedBy, this.stopReason))
    }
    this.timeline = init.prefix === undefined ? new Timeline(init.events, init.nested) : Timeline.afterPrefix(init.prefix.events, init.prefix.length, init.events, init.nested)
  }

  /** Ids of every known child: those in memory and those an imported document listed. */
  get childIds(): readonly string[] {
    const ids = new Set(this.#childIds)
    for (const child of this.children) ids.add(child.id)
    return [...ids]
  }

  /**
   * Re-executes this run's input through its chain (or a new version of it, `chain`) and
   * reports the first link whose outcome differs from this recording. `io.now()` and
   * `io.random()` give back the recorded values; `stub` links play back their recorded outcome
   * instead of running. Resolves whatever the replay's status; a replay of a failed run that
   * fails the same way (same link, same message) is identical.
   *
   * @example
   * const { identical, divergence } = await run.replay({ chain: checkoutV2, stub: ['charge'] })
   */
  replay(options?: ReplayOptions<C>): Promise<ReplayResult<C>> {
    // Through the engine of the chain replayed on (lineage/replay.ts, composed in src/engine.ts).
    try {
      return chainFor(this, options?.chain, 'replay')._replay(this, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * Starts a daughter run from a point of this one: the state after link `at` (or at event seq
   * `at`), optionally edited, then the remaining links run live (of `chain` when given). The
   * daughter shares this run's events up to the cut (the same objects), then records a `fork`
   * event and its own; it is listed in `children`. `runStart` hooks do not run again; `runEnd`
   * hooks do. Rejects with `ChainRunError` like `chain.run()`.
   *
   * @example
   * const fixed = await failed.fork({ at: 'price', chain: checkoutFixed })
   * const what = await run.fork({ at: 'price', edit: (ctx) => { ctx.total = 0 } })
   */
  fork(options: ForkOptions<C>): Promise<Run<C>> {
    // Through the engine of the chain forked on (lineage/fork.ts, composed in src/engine.ts).
    try {
      checkForkOptions(options)
      return chainFor(this, options.chain, 'fork')._fork(this, options)
    } catch (error) {
      return Promise.reject(error)
    }
  }

  /**
   * The run as a versioned, self-describing JSON document (`format: 'shadowchain/run'`,
   * `version: 1`): initial states plus per-event patches; bigint, Map, Set, Date, undefined and
   * non-finite numbers tagged; the runs of nested chains embedded (`nested`, version 8). See
   * `docs/run-format.md`.
   *
   * @param options - `redact`: more paths whose values become `'[REDACTED]'` everywhere, on top
   *   of the run's own {@link Run.redact}
   */
  toJSON(options?: ExportOptions): RunDocument {
    return exportRun(this, options)
  }

  /**
   * Rebuilds a run from a document made by {@link Run.toJSON}: the same events, times, states
   * and lineage. The document is validated first; a bad one throws a `DocumentError` naming the
   * path of the first problem (a truncated document is rejected, never half-loaded). The runs of
   * nested chains it embeds (version 8) are rebuilt too, without a chain: `timeline.nested`,
   * `timeline.child(id)` and `links()` give them.
   *
   * @param doc - the parsed JSON document
   * @param options - `chain`: the chain to attach (replay and fork need it); limits on depth and
   *   string length for untrusted files
   */
  static fromJSON<C = unknown>(doc: unknown, options: FromJSONOptions<C> = {}): Run<C> {
    const imported = importRun(doc, options)
    const meta = imported.doc.run
    if (options.chain !== undefined && options.chain.name !== meta.chainName) {
      throw new DocumentError('$.run.chainName', `the document is a run of chain '${meta.chainName}', not of '${options.chain.name}'`)
    }
    return loadedRun<C>(imported, options.chain)
  }
}

/**
 * A run rebuilt from an imported document, with the runs of its nested documents (version 8)
 * rebuilt the same way, without a chain (like any loaded run), as its `timeline.nested`.
 */
/** A document's `run.trace` as a run has it (no `remoteParent: undefined` key). */
function traceOf(trace: { traceId: string; spanId: string; remoteParent?: string | undefined }): RunTrace {
  return trace.remoteParent === undefined ? { traceId: trace.traceId, spanId: trace.spanId } : { traceId: trace.traceId, spanId: trace.spanId, remoteParent: trace.remoteParent }
}

function loadedRun<C>(imported: ImportedRun, chain: Chain<C> | undefined): Run<C> {
  const meta = imported.doc.run
  const error = meta.error
  const nested = imported.nested.length === 0 ? undefined : new Map(imported.nested.map((child) => [child.doc.run.id, loadedRun<unknown>(child, undefined)] as const))
  const init: RunInit<C> = {
    info: Object.freeze({ id: meta.id, chainName: meta.chainName, startedAt: BigInt(meta.startedAt) }),
    status: meta.status,
    input: imported.input,
    ctx: imported.ctx as Immutable<C>,
    failure:
      error === undefined
        ? undefined
        : {
            code: error.code as ChainRunErrorCode,
            message: error.message,
            link: error.link === undefined ? undefined : imported.links[error.link],
            cause: imported.errorCause,
          },
    endedAt: BigInt(meta.endedAt),
    events: imported.events as TimelineEvent<C>[],
    chain,
    childIds: meta.children,
    ...(imported.doc.redacted !== undefined && { redact: imported.doc.redacted.paths }),
    ...(nested !== undefined && { nested }),
  }
  const parent = meta.parent
  return new Run<C>({
    ...init,
    ...(parent !== undefined && { parent: { run: undefined, runId: parent.runId, seq: parent.seq } }),
    ...(meta.replayOf !== undefined && { replayOf: { run: undefined, runId: meta.replayOf.runId } }),
    ...(meta.trace !== undefined && { trace: traceOf(meta.trace) }),
  })
}
