// The runner: executes one run of a compiled chain, and tells its observer what happens.
//
// It is a small state machine rather than an async function: `advance()` does one unit of work
// (a hook call or a link call) and returns a promise only when that unit really returned one,
// so synchronous links and hooks never pay for an `await` (2.6x on the hot path, measured).
// The phases of a run, in order:
//
//   RunStart   the runStart hooks
//   LinkBegin  the next link (skipped when its `when` says no), or the end of the links (RunEnd)
//   Before     its before hooks (chain-level, then link-level)
//   Call       the link itself (link-calls.ts), inside its around hooks (around-calls.ts)
//   After      its after hooks; then the next link (LinkBegin), or RunEnd after a failure
//   RunEnd     the runEnd hooks; then the run ends (Done)
//
// Hook calls are in hook-calls.ts, link calls in link-calls.ts, failures in failures.ts; what
// the recorder and the live tracer are told is the observer interface (observer.ts).
import { enableMapSet, enablePatches, freeze } from 'immer'
import type { Immutable } from 'immer'
import type { CompiledLink, HookCall } from '../core/compile.js'
import { describeError } from '../core/errors.js'
import { sealInput } from '../core/seal-state.js'
import type { LinkInfo, RunStatus } from '../core/types.js'
import { captureThrown } from './capture-thrown.js'
import type { ExecutionPlan, ExecutionResult } from './execution.js'
import { middlewareFailure, statusOf } from './failures.js'
import type { LinkOutcome } from './hook-events.js'
import { AroundCalls } from './around-calls.js'

export type { ExecutionPlan, ExecutionResult, ResumeAt } from './execution.js'
export type { Failure, MiddlewareFailure } from './failures.js'

const enum Phase {
  RunStart,
  LinkBegin,
  Before,
  Call,
  After,
  RunEnd,
  Done,
}

// Patches (link.end events, replay) and Map/Set drafts (ctx may hold them) are opt-in immer
// plugins; enabling them is idempotent. Done here, in a module whose exports are used, so that
// bundlers honouring "sideEffects": false keep it.
enablePatches()
enableMapSet()

/** Executes one run. `finish` receives the result once, synchronously when nothing was async. */
export function execute<C>(plan: ExecutionPlan<C>, finish: (result: ExecutionResult<C>) => void): void {
  new Execution(plan, finish).start()
}

class Execution<C> extends AroundCalls<C> {
  private phase: Phase
  private linkIndex: number

  constructor(plan: ExecutionPlan<C>, finish: (result: ExecutionResult<C>) => void) {
    super(plan, finish)
    this.phase = plan.resume === undefined ? Phase.RunStart : Phase.LinkBegin
    this.linkIndex = plan.resume === undefined ? 0 : plan.resume.linkIndex
  }

  start(): void {
    // Dates frozen; a cycle (in an input, or made by a fork's edit) rejected like any bad
    // input: no hooks run (DESIGN §2), and the state is recorded with the cycle cut by a
    // marker, so that the failed run still exports.
    const problem = sealInput(this.plan.input, this.seal)
    if (problem !== undefined) this.ctx = freeze(captureThrown(this.plan.input), true) as Immutable<C>
    this.observer?.runStart(this.ctx, this.plan.info.startedAt, problem !== undefined)
    if (problem !== undefined) {
      const what = this.plan.resume === undefined ? 'invalid input' : 'invalid fork state (after its edit)'
      this.failure = {
        code: 'INVALID_INPUT',
        message: `${what} for chain '${this.plan.chain.name}': ${problem.message}`,
        link: undefined,
        cause: new TypeError(problem.message),
      }
      this.end()
      return
    }
    // A durable fork (a resumed run) reaches its store with its shared prefix before it goes on.
    const pending = this.plan.resume === undefined ? undefined : this.plan.checkpoint?.()
    if (pending === undefined) this.loop()
    else
      pending.then(
        () => this.loop(),
        (error: unknown) => this.abandon(error),
      )
  }

  // Whatever user code does is caught where it is called; an error that still reaches here is
  // shadowchain's own. The run must settle all the same, recorded, never hang.
  private abandon(error: unknown): void {
    if (this.phase === Phase.Done) return
    const cause = captureThrown(error)
    // An internal error overrides a link's or a middleware's failure: it is what stopped the
    // run, and it is nobody's fault but shadowchain's.
    this.failure = {
      code: 'INTERNAL',
      message: `run of chain '${this.plan.chain.name}' could not go on (an internal error of shadowchain, please report it): ${describeError(cause)}`,
      link: undefined,
      cause,
    }
    this.end()
  }

  private loop(): void {
    try {
      for (;;) {
        const pending = this.advance()
        if (pending !== undefined) {
          // Callbacks made only when a unit went async: arrow-function fields made for every
          // run cost ~400 ns a run under tsx (keepNames wraps each in a defineProperty).
          pending.then(
            () => this.loop(),
            (error: unknown) => this.abandon(error),
          )
          return
        }
        if (this.phase === Phase.Done) return
      }
    } catch (error) {
      this.abandon(error)
    }
  }

  /** One unit of work. Returns a promise when (and only when) that unit went async. */
  private advance(): Promise<void> | undefined {
    const chain = this.plan.chain
    switch (this.phase) {
      case Phase.RunStart:
        if (this.hookIndex < chain.runStart.length) return this.callRunHook(chain.runStart[this.hookIndex++] as HookCall, 'ok', undefined)
        this.hookIndex = 0
        this.phase = Phase.LinkBegin
        // A durable run's start reaches its store before the first link runs.
        return this.plan.checkpoint?.()
      case Phase.LinkBegin:
        this.beginLink()
        return undefined
      case Phase.Before: {
        const link = this.link as CompiledLink<C>
        if (this.hookIndex < link.before.length) return this.callBefore(link, link.before[this.hookIndex++] as HookCall)
        this.phase = Phase.Call
        return undefined
      }
      case Phase.Call:
        if (this.plan.signal !== undefined && this.signal.aborted) {
          // Aborted by (or while waiting for) a before hook: the link never starts.
          this.abortBefore((this.link as CompiledLink<C>).info)
          return undefined
        }
        this.phase = Phase.After
        this.hookIndex = 0
        return this.callWrapped(this.link as CompiledLink<C>)
      case Phase.After: {
        const link = this.link as CompiledLink<C>
        if (this.hookIndex < link.after.length) return this.callAfter(link, link.after[this.hookIndex++] as HookCall)
        // The step ends with its last reading: the link's end, or its last after-middleware's.
        this.observer?.stepEnd((this.outcome as LinkOutcome<C>).durationNs, this, this.lastReading)
        this.hookIndex = 0
        if (this.failure !== undefined) {
          this.phase = Phase.RunEnd
        } else if (this.stop !== undefined) {
          this.skipRest()
          this.phase = Phase.RunEnd
        } else {
          this.linkIndex++
          this.phase = Phase.LinkBegin
          // A durable run's completed step reaches its store before the next one starts.
          return this.plan.checkpoint?.()
        }
        return undefined
      }
      case Phase.RunEnd:
        if (this.hookIndex < chain.runEnd.length) {
          const status = this.failure === undefined ? 'ok' : statusOf(this.failure.code)
          return this.callRunHook(chain.runEnd[this.hookIndex++] as HookCall, status, this.failure?.cause)
        }
        this.end()
        return undefined
      case Phase.Done:
        return undefined
    }
  }

  private beginLink(): void {
    const links = this.plan.chain.links
    if (this.linkIndex >= links.length) {
      this.phase = Phase.RunEnd
      return
    }
    const link = links[this.linkIndex] as CompiledLink<C>
    // Without a signal there is nothing to read (AbortSignal's getter validates its receiver).
    if (this.plan.signal !== undefined && this.signal.aborted) {
      this.abortBefore(link.info)
      return
    }
    if (link.when !== undefined && !this.admits(link)) return
    this.link = link
    this.linkInput = this.ctx
    this.outcome = undefined
    this.observer?.linkBegin(link.info, this.lastReading)
    this.metricsWork = {}
    this.hookIndex = 0
    this.phase = Phase.Before
  }

  /**
   * Asks the link's `when`. No: the link is skipped (the loop stays at LinkBegin, on the next
   * link). A throw, or an answer that is not a boolean (an async `when` would always be truthy),
   * is the link's failure: the run ends before any hook of the link, as if it had thrown.
   */
  private admits(link: CompiledLink<C>): boolean {
    let answer: unknown
    try {
      answer = (link.when as (ctx: Immutable<C>) => unknown)(this.ctx)
      if (typeof answer !== 'boolean') throw new TypeError(`its when() returned ${answer === null ? 'null' : typeof answer}, not a boolean (when cannot be async)`)
    } catch (error) {
      const cause = captureThrown(error)
      this.failure = {
        code: 'LINK_FAILED',
        message: `link '${link.info.name}' (#${link.info.index}) of chain '${this.plan.chain.name}' failed: its condition (when) failed: ${describeError(cause)}`,
        link: link.info,
        cause,
      }
      this.hookIndex = 0
      this.phase = Phase.RunEnd
      return false
    }
    if (answer) return true
    this.observer?.linkSkip(link.info, 'when', this.lastReading, this.ctx)
    this.linkIndex++
    return false
  }

  /** `io.stop()` was called: every link after the current one is recorded as skipped. */
  private skipRest(): void {
    const links = this.plan.chain.links
    const observer = this.observer
    if (observer === undefined) return
    for (let i = this.linkIndex + 1; i < links.length; i++) observer.linkSkip((links[i] as CompiledLink<C>).info, 'stopped', this.lastReading, this.ctx)
  }

  /** The run was aborted before `link` was called: it ends, with what ran recorded. */
  private abortBefore(link: LinkInfo): void {
    const reason = captureThrown(this.signal.reason)
    this.failure ??= {
      code: 'ABORTED',
      message: `run of chain '${this.plan.chain.name}' aborted before link '${link.name}': ${describeError(reason)}`,
      link,
      cause: reason,
    }
    this.observer?.stepCut()
    this.hookIndex = 0
    this.phase = Phase.RunEnd
  }

  protected stopAtOnce(): void {
    // Aborted while waiting for a hook: the rest of the run's start, or the link and its after
    // hooks, do not happen; runEnd hooks do.
    if (this.phase === Phase.RunStart || this.phase === Phase.Before) {
      this.observer?.stepCut()
      this.hookIndex = 0
      this.phase = Phase.RunEnd
    }
  }

  private end(): void {
    this.phase = Phase.Done
    let failure = this.failure
    if (failure === undefined && !this.plan.safe && this.middlewareFailures.length > 0) {
      try {
        failure = middlewareFailure(this.plan.chain.name, this.middlewareFailures)
      } catch (error) {
        // Never reached (describeError does not throw): but a run must settle, whatever.
        failure = { code: 'INTERNAL', message: `run of chain '${this.plan.chain.name}' could not report its middleware errors`, link: undefined, cause: captureThrown(error) }
      }
    }
    const status: RunStatus = failure === undefined ? 'ok' : statusOf(failure.code)
    let endedAt: bigint
    try {
      endedAt = this.plan.clock.now()
    } catch {
      // A clock that throws (what made an internal failure, maybe) cannot keep a run open.
      endedAt = this.lastReading
    }
    // A step cut short by an internal error still ends its link span (at the step's last reading).
    // A stop counts only in a run that ended well (a later failure, say `safe: false`, wins).
    const stop = status === 'ok' ? this.stop : undefined
    // What the run's walks learnt of width is its chain's from now on (the next runs start with it).
    if (this.seal.usePatches) this.plan.chain.seal.usePatches = true
    this.observer?.runEnd(status, failure, this.lastReading, endedAt, stop)
    this.finish({ status, ctx: this.ctx, failure, endedAt, stop })
  }
}
