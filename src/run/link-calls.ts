// Link calls: the link runs on an immer draft of ctx (or returns a replacement), sync or async,
// until the run's signal aborts; what it leaves is sealed (Dates frozen, cycles refused) and
// becomes ctx, or its failure fails the run.
import { createDraft, finishDraft, isDraft, isDraftable, isModified, type Objectish, type Patch } from 'immer'
import type { Immutable } from 'immer'
import type { RetryOptions } from '../core/types.js'
import type { CompiledLink } from '../core/compile.js'
import { describeError } from '../core/errors.js'
import { FrozenDateError } from '../core/frozen-date.js'
import { findPath, pathName, sealPatches, sealState, type StateProblem } from '../core/seal-state.js'
import { captureThrown } from './capture-thrown.js'
import { HookCalls } from './hook-calls.js'
import { LinkCallIO, NO_PATCHES, isThenable } from './hook-events.js'
import { settleReplacement } from './replacement.js'
import { settle } from './settle.js'
import { AttemptSignal, delayAfter, shouldRetry, timeoutError, wait } from './retry.js'
import { resolveDrafts } from './working-states.js'
import { attemptKey, findConflict, mergeBranches, runBranches, type BranchOutcome } from './parallel.js'
import type { ParallelDef } from '../core/parallel-def.js'

/**
 * Where `finishDraft` hands a link's patches (it calls its listener before it returns): one
 * listener for every link, instead of a closure made for each.
 */
const taken: { patches: readonly Patch[]; inversePatches: readonly Patch[] } = { patches: NO_PATCHES, inversePatches: NO_PATCHES }
function takePatches(patches: Patch[], inversePatches: Patch[]): void {
  taken.patches = patches
  taken.inversePatches = inversePatches
}

/** An execution that can call links (and, through its base, hooks). */
export abstract class LinkCalls<C> extends HookCalls<C> {
  /** Calls the current link (every attempt of it); returns a promise only when it went async. */
  protected callLink(link: CompiledLink<C>): Promise<void> | undefined {
    return link.parallel === undefined ? this.attemptLink(link, 1) : this.callParallel(link, link.parallel)
  }

  /** A parallel step: its branches, then their merge, as one link call. */
  private callParallel(link: CompiledLink<C>, def: ParallelDef<C>): Promise<void> | undefined {
    const base = this.ctx
    const io = new LinkCallIO<C>(this, this.plan.info, link.info, this.signal, base, undefined)
    const clock = this.plan.clock
    const t0 = clock.now()
    this.observer?.linkStart(link.info, base, base, t0, 1)
    const cx = { states: this, run: this.plan.info, link: link.info, signal: this.signal, runSignal: this.plan.signal, clock, observer: this.observer, recordedIO: this.plan.recordedIO }
    const settled = runBranches(def, base, cx)
    if (settled instanceof Promise) return settled.then((outcomes) => this.branchesSettled(link, def, base, io, t0, outcomes))
    return this.branchesSettled(link, def, base, io, t0, settled)
  }

  private branchesSettled(link: CompiledLink<C>, def: ParallelDef<C>, base: Immutable<C>, io: LinkCallIO<C>, t0: bigint, outcomes: readonly BranchOutcome[]): Promise<void> | undefined {
    const t1 = this.plan.clock.now()
    const failed = outcomes.find((o) => o.failed)
    if (failed !== undefined) {
      return this.linkFailed(link, undefined, io, t0, t1, failed.error, false, { branch: failed.name })
    }
    const conflict = def.merge === 'strict' ? findConflict(outcomes) : undefined
    if (conflict !== undefined) {
      const where = conflict.path.length === 0 ? 'ctx (a branch returned a replacement)' : pathName('ctx', conflict.path)
      const error = new TypeError(`parallel step '${link.info.name}': branches '${conflict.first}' and '${conflict.second}' both wrote ${where}`)
      return this.linkFailed(link, undefined, io, t0, t1, error, false, { conflict: true })
    }
    const stopped = outcomes.find((o) => o.stopped)
    if (stopped !== undefined) io.stop(stopped.stopReason)
    const merged = mergeBranches(outcomes, base)
    if (merged.replaced) return this.linkReturned(link, base, base, io, t0, t1, merged.value)
    return this.linkReturned(link, base, merged.value, io, t0, t1, merged.value)
  }

  private attemptLink(link: CompiledLink<C>, attempt: number): Promise<void> | undefined {
    const base = this.ctx
    const draft = isDraftable(base) ? createDraft(base as Objectish) : base
    // A link with a deadline gets a signal of its own per attempt; every other link the run's.
    const timeoutMs = link.timeoutMs
    const guard = timeoutMs === undefined ? undefined : new AttemptSignal(this.plan.signal)
    const recorded = this.plan.recordedIO
    // On replay, each attempt is given back what the same attempt drew (a failed one's are on its
    // link.attempt), else the link's last attempt's.
    const drawn = recorded === undefined ? undefined : (recorded.get(attemptKey(link.info.name, attempt)) ?? recorded.get(link.info.name))
    const io = new LinkCallIO<C>(this, this.plan.info, link.info, guard === undefined ? this.signal : guard.signal, base, drawn, attempt)
    const clock = this.plan.clock
    const observer = this.observer
    const t0 = clock.now()
    const given = observer === undefined ? draft : observer.linkStart(link.info, draft, base, t0, attempt)
    let returned: unknown
    try {
      // Only an observer that wraps link calls (a tracer) is asked to make this one.
      returned = observer === undefined || !observer.wrapsLinks ? link.fn(given as never, io) : observer.runLink(link.fn, given as never, io)
    } catch (error) {
      guard?.release()
      return this.linkFailed(link, draft, io, t0, clock.now(), error, false)
    }
    if (isThenable(returned)) {
      if (this.plan.signal === undefined && guard === undefined) {
        return Promise.resolve(returned).then(
          (value) => this.linkReturned(link, base, draft, io, t0, clock.now(), value === given ? draft : value),
          (error: unknown) => this.linkFailed(link, draft, io, t0, clock.now(), error, false),
        )
      }
      // An abort or the deadline stops the wait at once; what the link does later is discarded
      // (its draft is finished, so its late writes throw inside it, and its result is never read).
      return settle(returned, timeoutMs ?? Infinity, this.plan.signal).then((settled) => {
        const t1 = clock.now()
        if (settled.kind === 'timeout') {
          const error = timeoutError(link.info.name, timeoutMs as number, attempt)
          io.detach()
          guard?.abort(error)
          guard?.release()
          return this.linkFailed(link, draft, io, t0, t1, error, true)
        }
        guard?.release()
        if (settled.kind === 'value') return this.linkReturned(link, base, draft, io, t0, t1, settled.value === given ? draft : settled.value)
        if (settled.kind === 'error') return this.linkFailed(link, draft, io, t0, t1, settled.error, false)
        io.detach()
        return this.linkFailed(link, draft, io, t0, t1, settled.reason, false)
      })
    }
    guard?.release()
    return this.linkReturned(link, base, draft, io, t0, clock.now(), returned === given ? draft : returned)
  }

  protected linkReturned(link: CompiledLink<C>, base: Immutable<C>, draft: unknown, io: LinkCallIO<C>, t0: bigint, t1: bigint, value: unknown): Promise<void> | undefined {
    this.lastReading = t1
    // Before the draft is finished: metrics may hold parts of it (`io.metrics.who = ctx.customer`).
    // Unrecorded and untouched (most links), there is nothing to settle.
    if (this.plan.record || this.metricsTouched) this.settleMetrics()
    const wantPatches = this.plan.record
    let patches: readonly Patch[] | undefined = wantPatches ? NO_PATCHES : undefined
    let inversePatches: readonly Patch[] = NO_PATCHES
    let next: Immutable<C>
    if (value !== undefined && value !== draft) {
      if (isDraft(draft) && isModified(draft)) {
        const error = new TypeError(`link '${link.info.name}' both modified its draft and returned a new value: do one or the other`)
        return this.linkFailed(link, draft, io, t0, t1, error, false)
      }
      try {
        next = settleReplacement(value) as Immutable<C>
      } catch (error) {
        return this.linkFailed(link, draft, io, t0, t1, error, false)
      }
      if (isDraft(draft)) finishDraft(draft)
      if (next !== base) {
        // Dates frozen, cycles refused: no later write can change this state, and it exports.
        const problem = sealState(next, base, 'ctx', this.seal)
        if (problem !== undefined) return this.unsealable(link, draft, io, t0, t1, problem)
        if (wantPatches) {
          patches = [{ op: 'replace', path: [], value: next }]
          inversePatches = [{ op: 'replace', path: [], value: base }]
        }
      }
    } else if (draft !== base) {
      // callLink drafts the ctx whenever it can, so the draft is what is not the base: no
      // isDraft, which on a draft is a read through the Proxy's get trap.
      // Immer is asked for patches where sealing reads them (a wide ctx, where they cost less
      // than walking 1,000 keys after every link), and for a ctx that holds a Map, a Set or an
      // immerable instance, whose changes immer names member by member (at every capture level:
      // after-middleware read the same patches whatever is recorded). Elsewhere the state is
      // sealed by a walk, and a recording keeps the two states: the link's patches are their
      // diff, found when read (immer making them costs ~25 % of a link: #15).
      const hint = this.seal
      const viaPatches = hint.usePatches || hint.exotic
      // Finishing reads and freezes what the link wrote: a value it cannot finish (a getter
      // that throws, say) is the link's failure, not the runner's.
      try {
        if (viaPatches) {
          next = finishDraft(draft, takePatches) as Immutable<C>
          patches = taken.patches
          inversePatches = taken.inversePatches
        } else {
          next = finishDraft(draft) as Immutable<C>
          patches = undefined
        }
      } catch (error) {
        return this.linkFailed(link, draft, io, t0, t1, error, false)
      } finally {
        taken.patches = taken.inversePatches = NO_PATCHES
      }
      if (next !== base) {
        const problem = viaPatches ? sealPatches(patches ?? NO_PATCHES, next, base, 'ctx') : sealState(next, base, 'ctx', hint)
        if (problem !== undefined) return this.unsealable(link, draft, io, t0, t1, problem)
      }
    } else {
      next = base
    }
    this.ctx = next
    // Only a link that succeeded stops the run; one that failed fails it.
    if (io.stopped) this.stop = { link: link.info, reason: io.stopReason }
    const attempts = link.retry === undefined && link.timeoutMs === undefined ? undefined : io.attempt
    this.outcome = { base, result: next, patches, durationNs: t1 - t0, failed: false, error: undefined, attempts }
    this.observer?.linkEnd(link.info, t0, t1, patches, inversePatches, io, next, base)
    return undefined
  }

  /** A state that cannot be recorded (a cycle) fails its link, naming the path. */
  private unsealable(link: CompiledLink<C>, draft: unknown, io: LinkCallIO<C>, t0: bigint, t1: bigint, problem: StateProblem): Promise<void> | undefined {
    return this.linkFailed(link, draft, io, t0, t1, new TypeError(`link '${link.info.name}' left a state that cannot be recorded: ${problem.message}`), false)
  }

  /**
   * The attempt failed: tried again when the link's `retry` allows it (after its delay, unless
   * the run aborts meanwhile), else the run fails.
   * @param timedOut - it outlived the link's `timeoutMs`: a last attempt fails with `'TIMEOUT'`
   * @param step - a parallel step's failure: the branch that failed, or branches that conflicted
   */
  protected linkFailed(
    link: CompiledLink<C>,
    draft: unknown,
    io: LinkCallIO<C>,
    t0: bigint,
    t1: bigint,
    thrown: unknown,
    timedOut: boolean,
    step?: { readonly branch?: string; readonly conflict?: boolean },
  ): Promise<void> | undefined {
    this.lastReading = t1
    // While the draft is alive: what was thrown, and the metrics, may hold parts of it.
    const error = this.linkError(thrown)
    this.settleMetrics()
    // Finishing revokes the draft, so a link that keeps a reference cannot write to it later.
    try {
      if (isDraft(draft)) finishDraft(draft)
    } catch {
      // Already finished (isDraft reads a revoked proxy), or unfinishable: discarded anyway.
    }
    const aborted = this.signal.aborted
    const retry = link.retry
    if (!aborted && retry !== undefined && shouldRetry(retry, io.attempt, error)) return this.retryLink(link, retry, io, t0, t1, error)
    const tries = retry === undefined ? '' : ` (attempt ${io.attempt} of ${retry.attempts})`
    this.failure = {
      code: aborted ? 'ABORTED' : step?.conflict === true ? 'CONFLICT' : timedOut ? 'TIMEOUT' : 'LINK_FAILED',
      message: aborted
        ? `run of chain '${this.plan.chain.name}' aborted during link '${link.info.name}': ${describeError(error)}`
        : `${step?.branch === undefined ? 'link' : `branch '${step.branch}' of parallel step`} '${link.info.name}' (#${link.info.index}) of chain '${this.plan.chain.name}' ${timedOut ? 'timed out' : 'failed'}${tries}: ${describeError(error)}`,
      link: link.info,
      cause: error,
    }
    const attempts = retry === undefined && link.timeoutMs === undefined ? undefined : io.attempt
    this.outcome = { base: this.ctx, result: this.ctx, patches: NO_PATCHES, durationNs: t1 - t0, failed: true, error, attempts }
    this.observer?.linkError(link.info, t0, t1, error, io, this.ctx)
    return undefined
  }

  /** Reports the failed attempt, waits its delay (unless the run aborts), and tries again. */
  private retryLink(link: CompiledLink<C>, retry: RetryOptions, io: LinkCallIO<C>, t0: bigint, t1: bigint, error: unknown): Promise<void> | undefined {
    const attempt = io.attempt
    this.observer?.linkAttempt(link.info, attempt, t0, t1, error, this.ctx, io)
    const ms = delayAfter(retry, attempt)
    if (ms <= 0) return this.attemptLink(link, attempt + 1)
    return wait(ms, this.plan.signal).then((waited) => {
      if (waited) return this.attemptLink(link, attempt + 1)
      // Aborted while waiting: the run ends at once, the abort being the link's last word.
      const t = this.plan.clock.now()
      return this.linkFailed(link, undefined, io, t, t, this.signal.reason, false)
    })
  }

  /**
   * What the link wrote to its metrics, taken while its draft lives: recorded, or (nothing
   * recorded) with drafts replaced by their values, so that the after-middleware read the same
   * metrics at every capture level.
   */
  private settleMetrics(): void {
    if (this.plan.record) {
      this.observer?.linkSettling(this)
    } else if (this.metricsTouched) {
      this.metricsTouched = false
      resolveDrafts(this.metricsWork)
    }
  }

  /** What a link threw, captured; a write to a frozen Date is named by its path in ctx. */
  private linkError(thrown: unknown): unknown {
    if (isFrozenDateError(thrown)) {
      const path = findPath(this.ctx, thrown.date)
      const where = path === undefined ? 'a Date of ctx' : `the Date at ${pathName('ctx', path)}`
      return new TypeError(`${where} cannot be changed in place (${thrown.method}): recorded states are immutable; assign a new Date instead`)
    }
    return captureThrown(thrown)
  }
}

/** `instanceof`, which a revoked Proxy answers by throwing. */
function isFrozenDateError(value: unknown): value is FrozenDateError {
  try {
    return value instanceof FrozenDateError
  } catch {
    return false
  }
}
