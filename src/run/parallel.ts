// Parallel steps (DESIGN §9 "Parallel"): every branch runs on its own immer draft of the step's
// ctx with its own io; each is finished (its patches taken) as it settles, so its draft is
// revoked at once; once all settled, their patches merge in declaration order.
import { applyPatches, createDraft, finishDraft, isDraft, isDraftable, isModified, type Objectish, type Patch } from 'immer'
import type { Immutable } from 'immer'
import type { BranchDef, ParallelDef } from '../core/parallel-def.js'
import type { BranchIO } from '../core/parallel-types.js'
import type { Clock, LinkInfo, RecordedIO, RunInfo } from '../core/types.js'
import { sealPatches, sealState, type StateProblem } from '../core/seal-state.js'
import { captureThrown } from './capture-thrown.js'
import { LinkCallIO, NO_PATCHES, isThenable, type WorkingStates } from './hook-events.js'
import type { RunObserver } from './observer.js'
import { settleReplacement } from './replacement.js'
import { settle } from './settle.js'

/** A branch's io: a link's, naming its branch. */
export class BranchCallIO<C> extends LinkCallIO<C> implements BranchIO<C> {
  constructor(states: WorkingStates, run: RunInfo, link: LinkInfo, signal: AbortSignal, base: Immutable<C>, readonly branch: string, recorded: RecordedIO | undefined) {
    super(states, run, link, signal, base, recorded)
  }
}

/**
 * The key of a branch's io values among a replay's recorded io (links are keyed by their name,
 * which holds no NUL; a branch by its step's name and its own).
 */
export function branchKey(link: string, branch: string): string {
  return `${link}\u0000${branch}`
}

/** The key of what a failed attempt of a link drew, among a replay's recorded io (see {@link branchKey}). */
export function attemptKey(link: string, attempt: number): string {
  return `${link}\u0000\u0000${attempt}`
}

/** How one branch settled: its patches (a replacement is one root `replace`), or its error. */
export interface BranchOutcome {
  readonly name: string
  readonly patches: readonly Patch[]
  readonly error: unknown
  readonly failed: boolean
  readonly stopped: boolean
  readonly stopReason: string | undefined
}

/** What the runner hands the branches. */
export interface BranchContext<C> {
  readonly states: WorkingStates
  readonly run: RunInfo
  readonly link: LinkInfo
  readonly signal: AbortSignal
  /** The run's own signal: an abort stops waiting for async branches. */
  readonly runSignal: AbortSignal | undefined
  readonly clock: Clock
  readonly observer: RunObserver<C> | undefined
  /** Replay: the io values links and branches (see {@link branchKey}) drew when recorded. */
  readonly recordedIO: ReadonlyMap<string, RecordedIO> | undefined
}

/** Runs every branch on `base`; returns a promise only when one went async. */
export function runBranches<C>(def: ParallelDef<C>, base: Immutable<C>, cx: BranchContext<C>): BranchOutcome[] | Promise<BranchOutcome[]> {
  const out: (BranchOutcome | Promise<BranchOutcome>)[] = []
  let async = false
  for (const branch of def.branches) {
    const settled = runBranch(branch, base, cx)
    if (!async && !(settled instanceof Promise)) out.push(settled)
    else {
      async = true
      out.push(settled)
    }
  }
  return async ? Promise.all(out) : (out as BranchOutcome[])
}

function runBranch<C>(branch: BranchDef<C>, base: Immutable<C>, cx: BranchContext<C>): BranchOutcome | Promise<BranchOutcome> {
  const draft = isDraftable(base) ? createDraft(base as Objectish) : base
  const io = new BranchCallIO<C>(cx.states, cx.run, cx.link, cx.signal, base, branch.name, cx.recordedIO?.get(branchKey(cx.link.name, branch.name)))
  const t0 = cx.clock.now()
  const observer = cx.observer
  // What the branch is given: its draft, or a recorder's write capture around it.
  const given = observer === undefined ? draft : observer.branchStart(cx.link, branch.name, t0, draft, base)
  let returned: unknown
  try {
    // An observer that wraps link calls (a tracer) runs branches too: in their spans' context.
    returned = observer === undefined || !observer.wrapsLinks ? branch.fn(given as never, io) : observer.runLink(branch.fn, given as never, io)
  } catch (error) {
    return branchSettled(branch, draft, io, t0, base, cx, undefined, error, true)
  }
  // A branch that returns what it was given returned its draft.
  if (isThenable(returned)) {
    return settle(returned, Infinity, cx.runSignal).then((s) => {
      if (s.kind === 'value') return branchSettled(branch, draft, io, t0, base, cx, s.value === given ? draft : s.value, undefined, false)
      if (s.kind === 'error') return branchSettled(branch, draft, io, t0, base, cx, undefined, s.error, true)
      io.detach()
      return branchSettled(branch, draft, io, t0, base, cx, undefined, s.kind === 'abort' ? s.reason : undefined, true)
    })
  }
  return branchSettled(branch, draft, io, t0, base, cx, returned === given ? draft : returned, undefined, false)
}

function branchSettled<C>(branch: BranchDef<C>, draft: unknown, io: BranchCallIO<C>, t0: bigint, base: Immutable<C>, cx: BranchContext<C>, value: unknown, thrown: unknown, failed: boolean): BranchOutcome {
  let patches: readonly Patch[] = NO_PATCHES
  let error: unknown = undefined
  if (!failed) {
    try {
      patches = finishBranch(branch.name, draft, value, base)
    } catch (caught) {
      failed = true
      thrown = caught
    }
  }
  if (failed) {
    error = captureThrown(thrown)
    try {
      if (isDraft(draft)) finishDraft(draft)
    } catch {
      // Already finished, or unfinishable: discarded anyway.
    }
  }
  const t1 = cx.clock.now()
  cx.observer?.branchEnd(cx.link, branch.name, t0, t1, failed ? NO_PATCHES : patches, failed ? error : undefined, failed, base, io)
  return { name: branch.name, patches, error, failed, stopped: io.stopped, stopReason: io.stopReason }
}

/**
 * The branch's patches: its draft's, or one root `replace` for a replacement. What it leaves is
 * sealed as a link's result is (Dates frozen; a cycle is the branch's failure, named by its
 * path), so the merge, the recording and the run file never meet a state they cannot hold.
 */
function finishBranch(name: string, draft: unknown, value: unknown, base: unknown): readonly Patch[] {
  if (value !== undefined && value !== draft) {
    if (isDraft(draft) && isModified(draft)) throw new TypeError(`branch '${name}' both modified its draft and returned a new value: do one or the other`)
    // Settled while the draft lives: `{ ...ctx }` holds draft children.
    const replacement = settleReplacement(value)
    if (isDraft(draft)) finishDraft(draft)
    unsealable(name, sealState(replacement, base, 'ctx'))
    return [{ op: 'replace', path: [], value: replacement }]
  }
  if (!isDraft(draft)) return NO_PATCHES
  let patches: readonly Patch[] = NO_PATCHES
  const next: unknown = finishDraft(draft, (p) => {
    patches = p
  })
  if (next !== base) unsealable(name, sealPatches(patches, next, base, 'ctx'))
  return patches
}

function unsealable(name: string, problem: StateProblem | undefined): void {
  if (problem !== undefined) throw new TypeError(`branch '${name}' left a state that cannot be recorded: ${problem.message}`)
}

/** Two branches that wrote overlapping paths (`merge: 'strict'`). */
export interface MergeConflict {
  readonly path: readonly (string | number)[]
  readonly first: string
  readonly second: string
}

/**
 * The first overlap between branches, in declaration order: the same path, or one inside the
 * other's. A replacement (the root path) overlaps every other branch.
 */
export function findConflict(outcomes: readonly BranchOutcome[]): MergeConflict | undefined {
  const written = new Map<string, string>()
  const inside = new Map<string, string>()
  for (const outcome of outcomes) {
    const replaced = outcome.patches.some((p) => p.path.length === 0)
    if (replaced && outcomes.length > 1) {
      const other = outcomes.find((o) => o !== outcome) as BranchOutcome
      return order(outcomes, [], outcome.name, other.name)
    }
    for (const patch of outcome.patches) {
      const path = patch.path
      const key = keyOf(path, path.length)
      const same = written.get(key) ?? inside.get(key)
      if (same !== undefined && same !== outcome.name) return order(outcomes, path, same, outcome.name)
      for (let n = 0; n < path.length; n++) {
        const above = written.get(keyOf(path, n))
        if (above !== undefined && above !== outcome.name) return order(outcomes, path.slice(0, n), above, outcome.name)
      }
    }
    for (const patch of outcome.patches) {
      const path = patch.path
      written.set(keyOf(path, path.length), written.get(keyOf(path, path.length)) ?? outcome.name)
      for (let n = 0; n < path.length; n++) if (!inside.has(keyOf(path, n))) inside.set(keyOf(path, n), outcome.name)
    }
  }
  return undefined
}

function order(outcomes: readonly BranchOutcome[], path: readonly (string | number)[], a: string, b: string): MergeConflict {
  const ia = outcomes.findIndex((o) => o.name === a)
  const ib = outcomes.findIndex((o) => o.name === b)
  return ia <= ib ? { path, first: a, second: b } : { path, first: b, second: a }
}

function keyOf(path: readonly (string | number)[], length: number): string {
  let key = ''
  for (let i = 0; i < length; i++) key += `\u0000${String(path[i])}`
  return key
}

/**
 * The branches' patches applied in declaration order (later branches win): on a draft of `base`
 * (finished by the runner, which takes the step's patches from it), or, when a branch replaced
 * the state, to a new value.
 */
export function mergeBranches(outcomes: readonly BranchOutcome[], base: Immutable<unknown>): { readonly value: unknown; readonly replaced: boolean } {
  let last = -1
  outcomes.forEach((o, i) => {
    if (o.patches.some((p) => p.path.length === 0)) last = i
  })
  if (last === -1) {
    if (!isDraftable(base)) return { value: base, replaced: false }
    const draft = createDraft(base as Objectish)
    for (const o of outcomes) if (o.patches.length > 0) applyPatches(draft, o.patches as Patch[])
    return { value: draft, replaced: false }
  }
  let value: unknown = base
  for (let i = last; i < outcomes.length; i++) {
    const patches = (outcomes[i] as BranchOutcome).patches
    if (patches.length > 0) value = applyPatches(value as Objectish, patches as Patch[])
  }
  return { value, replaced: true }
}
