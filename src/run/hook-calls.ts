// Middleware calls: one hook call, awaited only when it returned a promise, bounded by
// `hookTimeoutMs` and the run's signal, timed when something observes it. Non-interruptive:
// whatever a call does, it is reported and the run goes on.
import type { CompiledLink, HookCall } from '../core/compile.js'
import { describeError } from '../core/errors.js'
import type { LinkInfo, RunStatus } from '../core/types.js'
import { captureThrown } from './capture-thrown.js'
import { ExecutionState } from './execution.js'
import { AfterCall, BeforeCall, RunHookCall, isThenable, type HookCallEvent, type LinkOutcome } from './hook-events.js'
import type { HookCallType } from './observer.js'
import { settle, type Settlement } from './settle.js'

/** An execution that can call middleware hooks. */
export abstract class HookCalls<C> extends ExecutionState<C> {
  protected callBefore(link: CompiledLink<C>, call: HookCall): Promise<void> | undefined {
    const info = call.info
    const event = new BeforeCall<C>(this, this.plan.info, link.info, info.position as 'chain-before', info.index, this.ctx)
    return this.invoke(call, event, link.info, 'middleware.before')
  }

  protected callAfter(link: CompiledLink<C>, call: HookCall): Promise<void> | undefined {
    const info = call.info
    const outcome = this.outcome as LinkOutcome<C>
    const event = new AfterCall<C>(this, this.plan.info, link.info, info.position as 'link-after', info.index, this.linkInput, outcome)
    return this.invoke(call, event, link.info, 'middleware.after')
  }

  protected callRunHook(call: HookCall, status: RunStatus, error: unknown): Promise<void> | undefined {
    const event = new RunHookCall<C>(this, this.plan.info, this.ctx, status, this.failure !== undefined, error)
    return this.invoke(call, event, undefined, call.hook === 'runStart' ? 'middleware.before' : 'middleware.after')
  }

  /** Calls one hook; returns a promise only when the call went async. */
  protected invoke(call: HookCall, event: HookCallEvent, link: LinkInfo | undefined, type: HookCallType): Promise<void> | undefined {
    const t0 = this.plan.timed ? this.plan.clock.now() : 0n
    let returned: unknown
    try {
      returned = call.fn.call(call.middleware, event as never)
    } catch (error) {
      this.hookFailed(call, link, t0, captureThrown(error))
      return undefined
    }
    if (isThenable(returned)) {
      // Only a call that really went async arms a timer. An abort stops the wait only when it
      // comes during it: hooks called once the run is aborted (after, runEnd) may still finish.
      const signal = this.plan.signal === undefined || this.signal.aborted ? undefined : this.signal
      return settle(returned, this.plan.hookTimeoutMs, signal).then((settled) => this.hookSettled(call, event, link, t0, type, settled))
    }
    this.hookDone(call, link, t0, type)
    return undefined
  }

  private hookSettled(call: HookCall, event: HookCallEvent, link: LinkInfo | undefined, t0: bigint, type: HookCallType, settled: Settlement): void {
    switch (settled.kind) {
      case 'value':
        this.hookDone(call, link, t0, type)
        return
      case 'error':
        this.hookFailed(call, link, t0, captureThrown(settled.error))
        return
      case 'timeout': {
        // Late results are discarded: the call's event no longer reaches the run's states.
        event.detach()
        const where = link === undefined ? call.info.position : `${call.info.position} of link '${link.name}'`
        const error = new Error(
          `middleware '${call.info.name}' (${call.hook} at ${where}) did not settle within ${this.plan.hookTimeoutMs} ms (hookTimeoutMs): the run went on without it, and what it does later is ignored`,
        )
        error.name = 'TimeoutError'
        this.hookFailed(call, link, t0, error)
        return
      }
      case 'abort': {
        event.detach()
        const reason = captureThrown(settled.reason)
        this.hookFailed(call, link, t0, reason)
        const where = link === undefined ? call.info.position : `${call.info.position} of link '${link.name}'`
        this.failure ??= {
          code: 'ABORTED',
          message: `run of chain '${this.plan.chain.name}' aborted while waiting for middleware '${call.info.name}' (${call.hook} at ${where}): ${describeError(reason)}`,
          link,
          cause: reason,
        }
        this.stopAtOnce()
        return
      }
    }
  }

  /** The duration of a middleware call that began at `t0`, ending now (`0n` when untimed). */
  private hookDuration(t0: bigint): bigint {
    return this.plan.timed ? (this.lastReading = this.plan.clock.now()) - t0 : 0n
  }

  protected hookDone(call: HookCall, link: LinkInfo | undefined, t0: bigint, type: HookCallType): void {
    const durationNs = this.hookDuration(t0)
    const observer = this.observer
    // Calls that went well are reported only to observers that time them (see `timed`).
    if (observer !== undefined && this.plan.timed) {
      // What an observer cannot record in full (a state with a cycle) makes the call a failure.
      const problem = observer.hookDone(type, call.info, link, t0, durationNs, this.ctx, this)
      if (problem !== undefined) {
        this.hookError(call, link, t0, durationNs, problem, false)
        return
      }
    }
    this.mwTouched = this.metricsTouched = false
  }

  protected hookFailed(call: HookCall, link: LinkInfo | undefined, t0: bigint, error: unknown): void {
    this.hookError(call, link, t0, this.hookDuration(t0), error, true)
  }

  /** Reports a middleware call that failed, once; `settle`: its states are still to be taken. */
  private hookError(call: HookCall, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown, settle: boolean): void {
    this.observer?.hookFailed(call.info, call.hook, link, t0, durationNs, error, this.ctx, this, settle)
    this.mwTouched = this.metricsTouched = false
    this.middlewareFailures.push({ middleware: call.info, link, error })
  }
}
