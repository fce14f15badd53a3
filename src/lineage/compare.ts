import type { Patch } from 'immer'
import { diffStates } from '../core/diff-states.js'
import { describeError } from '../core/errors.js'
import type { RecordedIO, TimelineEvent } from '../record/events.js'
import type { LinkRecord, Timeline } from '../record/timeline.js'
import type { RecordedRun } from './recorded-run.js'
import { sameData } from './same-data.js'
import { agreedFromLog } from './agree-from-log.js'
import type { LinkInfo, RunStatus, SkipReason } from '../core/types.js'

export { sameData }

/**
 * The runs started from different inputs (compared by content). Reported before any link: every
 * link after would differ only because of it.
 */
export interface InputDivergence {
  readonly reason: 'input'
  /** Always `undefined`: no link is to blame. */
  readonly link: undefined
  /** `0`: the actual run's `run.start`, which holds its input. */
  readonly seq: number
  /** The reference run's input. */
  readonly expected: unknown
  readonly actual: unknown // the other run's input
  /** What turns the expected input into the actual one (immer patches). */
  readonly patches: readonly Patch[]
}

/**
 * A fork edit changed the state between two links: one run (or both, differently) was forked
 * there with an `edit`. Reported instead of the links after it, which only saw another state.
 */
export interface ForkDivergence {
  readonly reason: 'fork'
  /** The link the fork was cut after (in the actual run); `undefined` for a fork cut before the first link. */
  readonly link: LinkInfo | undefined
  /** The actual run's `fork` event, or, when only the expected run was forked here, the actual
   * run's first event after that link's step (its after-middleware). */
  readonly seq: number
  /** The expected run's edit here (its `fork` event's patches); `undefined` when it was not forked here. */
  readonly expected: readonly Patch[] | undefined
  /** The actual run's edit here; `undefined` when it was not forked here. */
  readonly actual: readonly Patch[] | undefined
  /**
   * What turns the expected run's state here into the actual run's: the edit itself when only
   * the actual run was forked, the edit's inverse when only the expected run was, a structural
   * diff of the two states when both were.
   */
  readonly patches: readonly Patch[]
}

/** Another link ran at this place, or one run has a link the other lacks. */
export interface LinkDivergence {
  readonly reason: 'link'
  /** The link at this place in the actual run, or the expected run's when the actual run has none. */
  readonly link: LinkInfo
  /** Its `link.end` / `link.error` in the actual run, or the actual run's `run.end`. */
  readonly seq: number
  /** The expected run's link name here; `undefined` when it has no link here. */
  readonly expected: string | undefined
  /** The actual run's link name here; `undefined` when it has no link here. */
  readonly actual: string | undefined
}

/** The link changed ctx differently (the states it led to differ). */
export interface PatchesDivergence {
  readonly reason: 'patches'
  readonly link: LinkInfo
  /** The link's `link.end` in the actual run. */
  readonly seq: number
  /** The expected run's patches. */
  readonly expected: readonly Patch[]
  /** The actual run's patches. */
  readonly actual: readonly Patch[]
  /** For a parallel step: the first branch (in the actual run's order) whose own patches differ. */
  readonly branch?: string
  /** For a nested chain: where its run first differs from the recorded one (both ran it). */
  readonly child?: Divergence
}

/** A nested chain's run differs inside though the link's outcome agrees (DESIGN §9). */
export interface ChildDivergence {
  readonly reason: 'child'
  /** The parent's link that ran the nested chain; `seq`: its `link.end` / `link.error`. */
  readonly link: LinkInfo
  readonly seq: number
  /** The ids of the expected and of the actual run's nested runs; `child`: where they differ. */
  readonly expected: string
  readonly actual: string
  readonly child: Divergence
}

/**
 * One run failed where the other did not, or both failed with different messages. With a `link`,
 * at that link; without one, at the input: the chain's `input` schema rejected it on one side
 * only (or on both, with different messages).
 */
export interface ErrorDivergence {
  readonly reason: 'error'
  /** The link that failed; `undefined` when the input was rejected. */
  readonly link: LinkInfo | undefined
  /** The link's `link.end` / `link.error` in the actual run; for a rejected input, the actual
   * run's `run.end` when it was rejected, its `run.start` (0) when it was accepted. */
  readonly seq: number
  /** The expected run's error (the link's, or the run's `'INVALID_INPUT'` `ChainRunError`); `undefined` when it did not fail here. */
  readonly expected: unknown
  /** The actual run's error; `undefined` when it did not fail here. */
  readonly actual: unknown
  /** For a parallel step: the first branch (in the actual run's order) that failed on one side only, or otherwise. */
  readonly branch?: string
  /** For a nested chain: where its run first differs from the recorded one (both ran it). */
  readonly child?: Divergence
}

/** Replay only: a link drew more `io.now()` / `io.random()` values than were recorded. */
export interface IoDivergence {
  readonly reason: 'io'
  readonly link: LinkInfo
  /** The link's `link.end` / `link.error` in the replay. */
  readonly seq: number
  /** The values recorded for the link. */
  readonly expected: RecordedIO | undefined
  /** The values the replayed link drew. */
  readonly actual: RecordedIO | undefined
}

/**
 * A link ran in one run and was skipped in the other, or was skipped for another reason (its
 * `when` said no in one run, `io.stop()` cut it off in the other).
 */
export interface SkipDivergence {
  readonly reason: 'skip'
  readonly link: LinkInfo
  /** Its `link.skip` / `link.end` / `link.error` in the actual run. */
  readonly seq: number
  /** Why the expected run skipped it (`'when'`, `'stopped'`); `undefined` when it ran there. */
  readonly expected: SkipReason | undefined
  /** Why the actual run skipped it; `undefined` when it ran there. */
  readonly actual: SkipReason | undefined
}

/** Every link agrees but one run was stopped by `io.stop()` and the other was not (or by another link). */
export interface StopDivergence {
  readonly reason: 'stop'
  /** The link that stopped the actual run, or else the expected run's. */
  readonly link: LinkInfo | undefined
  /** The actual run's `run.end`. */
  readonly seq: number
  /** The name of the link that stopped the expected run; `undefined` when it was not stopped. */
  readonly expected: string | undefined
  /** The name of the link that stopped the actual run; `undefined` when it was not stopped. */
  readonly actual: string | undefined
}

/** Every link agrees but the runs ended differently. */
export interface StatusDivergence {
  readonly reason: 'status'
  /** The actual run's last link; `undefined` when it ran none. */
  readonly link: LinkInfo | undefined
  /** The actual run's `run.end`. */
  readonly seq: number
  readonly expected: RunStatus
  readonly actual: RunStatus
}

/**
 * Where two runs first differ, in the order a run meets them: its input (`'input'`, or an input
 * rejected on one side only: `'error'` without `link`), then at each link a fork edit before it
 * (`'fork'`), the link that ran (`'link'`), its error (`'error'`), its changes (`'patches'`), the
 * io values it drew (`'io'`, replay only), what a nested chain did inside (`'child'`; a
 * `'patches'` or `'error'` at a nested link also carries the child's divergence), whether it ran or was skipped (`'skip'`), and last
 * the run's end: who stopped it (`'stop'`), its status (`'status'`). Switch on
 * `reason`: each reason gives `expected` / `actual` (what the reference run and the other run
 * did there) their own type.
 *
 * @example
 * const d = compareRuns(recorded, replayed)
 * if (d?.reason === 'fork') console.log('forked after', d.link?.name, d.patches)
 * else if (d?.reason === 'patches') console.log(d.link.name, d.expected, d.actual)
 */
export type Divergence =
  | InputDivergence
  | ForkDivergence
  | LinkDivergence
  | PatchesDivergence
  | ErrorDivergence
  | ChildDivergence
  | IoDivergence
  | SkipDivergence
  | StopDivergence
  | StatusDivergence

/** Why two runs differ: `Divergence['reason']`. */
export type DivergenceReason = Divergence['reason']

function errorMessage(record: LinkRecord<unknown>): string | undefined {
  return record.status === 'error' ? describeError(record.error) : undefined
}

/** @internal The seq of the last event of the step of the link that ended at `endSeq` (its after-middleware). */
export function stepEnd(timeline: Timeline<unknown>, endSeq: number): number {
  const link = (timeline.at(endSeq) as { link?: unknown }).link
  let seq = endSeq
  while (seq + 1 < timeline.length && (timeline.at(seq + 1) as { link?: unknown }).link === link) seq++
  return seq
}

/** @internal The seq of the last event before the first link: `run.start` and the runStart hooks. */
export function runStartEnd(timeline: Timeline<unknown>): number {
  let seq = 0
  while (seq + 1 < timeline.length && (timeline.at(seq + 1) as { middleware?: { position: string } }).middleware?.position === 'run-start') seq++
  return seq
}

/** A fork edit in a timeline: before which link record it sits, and the state it left. */
interface Edit {
  /** The number of link records before it: the edit sits between `links[position - 1]` and `links[position]`. */
  readonly position: number
  readonly seq: number
  readonly ctx: unknown
  readonly patches: readonly Patch[]
  readonly inversePatches: readonly Patch[]
}

function editsOf(timeline: Timeline<unknown>, records: readonly LinkRecord<unknown>[]): Edit[] {
  const edits: Edit[] = []
  let position = 0
  for (const event of timeline.events as readonly TimelineEvent<unknown>[]) {
    if (event.type !== 'fork') continue
    while (position < records.length && (records[position] as LinkRecord<unknown>).endSeq < event.seq) position++
    edits.push({ position, seq: event.seq, ctx: event.ctx, patches: event.patches, inversePatches: event.inversePatches })
  }
  return edits
}

/** The input was rejected by the chain's schema: the run ended before anything ran. */
function rejected(run: RecordedRun<unknown>): boolean {
  return run.error?.code === 'INVALID_INPUT'
}

/** An input rejected on one side only, or on both for different reasons. */
function compareRejections(expected: RecordedRun<unknown>, actual: RecordedRun<unknown>): ErrorDivergence | undefined {
  const a = rejected(expected) ? expected.error : undefined
  const b = rejected(actual) ? actual.error : undefined
  if (a === undefined && b === undefined) return undefined
  if (a !== undefined && b !== undefined && a.message === b.message) return undefined
  return { reason: 'error', link: undefined, seq: b === undefined ? 0 : actual.timeline.length - 1, expected: a, actual: b }
}

/**
 * A fork edit at `position` on either side that leaves the runs in different states there.
 * Every link before agreed, so without an edit both states are the last link's result.
 */
function compareEdits(
  expected: RecordedRun<unknown>,
  actual: RecordedRun<unknown>,
  want: readonly LinkRecord<unknown>[],
  got: readonly LinkRecord<unknown>[],
  editA: Edit | undefined,
  editB: Edit | undefined,
  position: number,
): ForkDivergence | undefined {
  if (editA === undefined && editB === undefined) return undefined
  const stateOf = (run: RecordedRun<unknown>, links: readonly LinkRecord<unknown>[], edit: Edit | undefined): unknown =>
    edit !== undefined ? edit.ctx : position === 0 ? run.timeline.at(0)?.ctx : links[position - 1]?.after
  const stateA = stateOf(expected, want, editA)
  const stateB = stateOf(actual, got, editB)
  if (sameData(stateA, stateB)) return undefined
  const before = got[position - 1] ?? want[position - 1]
  const seq =
    editB?.seq ?? (got[position - 1] === undefined ? runStartEnd(actual.timeline) : stepEnd(actual.timeline, (got[position - 1] as LinkRecord<unknown>).endSeq)) + 1
  // One edit on one side: its own patches say exactly what it changed (immer's, not a diff).
  const patches = editA === undefined ? editB?.patches : editB === undefined ? editA.inversePatches : undefined
  return {
    reason: 'fork',
    link: before?.link,
    seq,
    expected: editA?.patches,
    actual: editB?.patches,
    patches: patches !== undefined ? patches : diffStates(stateA, stateB),
  }
}

/** The last edit at `position` (a run goes on with the state it left). */
function editAt(edits: readonly Edit[], position: number): Edit | undefined {
  let found: Edit | undefined
  for (const edit of edits) if (edit.position === position) found = edit
  return found
}

/**
 * Finds where a run first differs from a reference run of the same (or a changed) chain;
 * `undefined` when they agree. In the order a run meets them: the input (an input rejected on
 * one side only is an `'error'` without `link`; different inputs are an `'input'` divergence,
 * so that no link is blamed for what it was given), then link by link a fork edit before the
 * link (`'fork'`), the link itself (`'link'`, `'error'`, `'patches'`), and last the runs'
 * statuses. Links that failed with the same message count as agreeing, as do inputs rejected
 * with the same message. See {@link Divergence} for what each reason reports.
 *
 * @param expected - the reference run (a recording, or a fork's parent): a `Run`, or any
 *   {@link RecordedRun}
 * @param actual - the run to check against it (a replay, a fork, another run)
 *
 * @example
 * const divergence = compareRuns(parent, await parent.fork({ at: 'price', edit: (ctx) => { ctx.total = 0 } }))
 * // { reason: 'fork', link: { name: 'price', … }, expected: undefined, actual: [{ op: 'replace', path: ['total'], value: 0 }], … }
 */
export function compareRuns<A, B>(expected: RecordedRun<A>, actual: RecordedRun<B>): Divergence | undefined {
  return compareLinks(expected as RecordedRun<unknown>, actual as RecordedRun<unknown>)
}

/**
 * @internal `compareRuns`, given the expected run's `timeline.links()` when the caller listed
 * them already (a replay does, for its stubs and the io it plays back).
 */
export function compareLinks(runA: RecordedRun<unknown>, runB: RecordedRun<unknown>, expectedLinks?: readonly LinkRecord<unknown>[]): Divergence | undefined {
  const rejection = compareRejections(runA, runB)
  if (rejection !== undefined || (rejected(runA) && rejected(runB))) return rejection
  if (!sameData(runA.input, runB.input)) {
    return { reason: 'input', link: undefined, seq: 0, expected: runA.input, actual: runB.input, patches: diffStates(runA.input, runB.input) }
  }
  const want = expectedLinks ?? runA.timeline.links()
  // The links that agree, read from runB's log (its events are not built for them): when all
  // do, so do the runs unless their stop or status differ, found below from the events.
  const agreed = agreedFromLog(runA, runB, want)
  if (agreed === want.length && runA.stoppedBy?.name === runB.stoppedBy?.name && runA.status === runB.status) return undefined
  const got = runB.timeline.links()
  const editsA = editsOf(runA.timeline, want)
  const editsB = editsOf(runB.timeline, got)
  const endSeq = runB.timeline.length - 1
  const count = Math.max(want.length, got.length)
  for (let i = Math.max(agreed, 0); i <= count; i++) {
    const fork = compareEdits(runA, runB, want, got, editAt(editsA, i), editAt(editsB, i), i)
    if (fork !== undefined) return fork
    if (i === count) break
    const a = want[i]
    const b = got[i]
    if (a === undefined || b === undefined || a.name !== b.name) {
      const link = (b ?? a) as LinkRecord<unknown>
      return { reason: 'link', link: link.link, seq: b?.endSeq ?? endSeq, expected: a?.name, actual: b?.name }
    }
    if (a.reason !== b.reason) {
      return { reason: 'skip', link: b.link, seq: b.endSeq, expected: a.reason, actual: b.reason }
    }
    const errorA = errorMessage(a)
    const errorB = errorMessage(b)
    const child = a.child !== undefined && b.child !== undefined ? compareRuns(a.child, b.child) : undefined // a stub makes none
    if (errorA !== errorB) {
      const branch = branchDiverging(a, b)
      return { reason: 'error', link: b.link, seq: b.endSeq, expected: a.error, actual: b.error, ...(branch !== undefined && { branch }), ...(child !== undefined && { child }) }
    }
    // Patches may list the same changes in another order (a stubbed link replays the recorded
    // ones through immer): the states they lead to decide. The inputs agree so far.
    if (errorA === undefined && !sameData(a.patches, b.patches) && !sameData(a.after, b.after)) {
      const branch = branchDiverging(a, b)
      return { reason: 'patches', link: b.link, seq: b.endSeq, expected: a.patches, actual: b.patches, ...(branch !== undefined && { branch }), ...(child !== undefined && { child }) }
    }
    if (child !== undefined) return { reason: 'child', link: b.link, seq: b.endSeq, expected: (a.child as RecordedRun).id, actual: (b.child as RecordedRun).id, child }
  }
  if (runA.stoppedBy?.name !== runB.stoppedBy?.name) {
    return { reason: 'stop', link: runB.stoppedBy ?? runA.stoppedBy, seq: endSeq, expected: runA.stoppedBy?.name, actual: runB.stoppedBy?.name }
  }
  if (runA.status !== runB.status) {
    return { reason: 'status', link: got.at(-1)?.link, seq: endSeq, expected: runA.status, actual: runB.status }
  }
  return undefined
}

/**
 * The first branch of a parallel step (in the actual run's order) that ended otherwise in the
 * two runs: failed on one side, failed differently, or changed its own draft differently.
 * Undefined when either side has no branches (a stubbed step plays back its merge only).
 */
function branchDiverging(a: LinkRecord<unknown>, b: LinkRecord<unknown>): string | undefined {
  if (a.branches === undefined || b.branches === undefined) return undefined
  for (const mine of b.branches) {
    const theirs = a.branches.find((branch) => branch.name === mine.name)
    if (theirs === undefined || theirs.status !== mine.status) return mine.name
    const failedA = theirs.status === 'error' ? describeError(theirs.error) : undefined
    const failedB = mine.status === 'error' ? describeError(mine.error) : undefined
    if (failedA !== failedB || !sameData(theirs.patches, mine.patches)) return mine.name
  }
  return undefined
}
