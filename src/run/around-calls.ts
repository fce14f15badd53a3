// Around calls (DESIGN §9, onion middleware): each around hook wraps the rest of the onion, the
// link innermost. `next()` starts the inner part synchronously, inside the hook's call, so the
// link runs in whatever async context the hook set (AsyncLocalStorage.run, an active span).
//
// Non-interruptive: the runner, not the hook, owns the inner part. It runs exactly once: a
// second `next()` gets the same outcome and is the hook's fault; a hook that throws, settles,
// times out or is cut by an abort without calling `next` is a fault, and the runner runs the
// inner part itself.
//
// Recorded as two halves, so the timeline stays in order and middleware time excludes the
// link: the part up to `next()` (`middleware.before` at position `*-around`) and the part from
// the inner part's end until the hook settles (`middleware.after`). A fault is the half's
// `middleware.error` instead (a hook that never called `next` has no second half).
import type { CompiledLink, HookCall } from '../core/compile.js'
import { diffStates } from '../core/diff-states.js'
import { describeError } from '../core/errors.js'
import type { AroundOutcome, BeforePosition } from '../core/types.js'
import { captureThrown } from './capture-thrown.js'
import { BeforeCall, NO_PATCHES, isThenable, type LinkOutcome } from './hook-events.js'
import { LinkCalls } from './link-calls.js'
import { settle, type Settlement } from './settle.js'

const DONE: Promise<void> = Promise.resolve()

/** An execution that can wrap link calls in around hooks. */
export abstract class AroundCalls<C> extends LinkCalls<C> {
  /** Calls the current link inside its around hooks; a promise only when something went async. */
  protected callWrapped(link: CompiledLink<C>): Promise<void> | undefined {
    return link.around.length === 0 ? this.callLink(link) : this.aroundLevel(link, 0)
  }

  private aroundLevel(link: CompiledLink<C>, level: number): Promise<void> | undefined {
    if (level === link.around.length) return this.callLink(link)
    const call = link.around[level] as HookCall
    const where = `middleware '${call.info.name}' (around at ${call.info.position} of link '${link.info.name}')`
    // The event has exactly the fields of a before event; only its position differs.
    const event = new BeforeCall<C>(this, this.plan.info, link.info, call.info.position as BeforePosition, call.info.index, this.ctx)
    const t0 = this.plan.timed ? this.plan.clock.now() : 0n
    let started = false
    let firstHalfReported = false
    let twice = false
    let inner: Promise<void> | undefined
    let outcome: Promise<AroundOutcome<C>> | undefined
    let innerEnd = 0n
    let nextCalled: (() => void) | undefined

    const startInner = (): Promise<AroundOutcome<C>> => {
      if (started) {
        twice = true
        return outcome as Promise<AroundOutcome<C>>
      }
      started = true
      if (!firstHalfReported) {
        firstHalfReported = true
        this.hookDone(call, link.info, t0, 'middleware.before')
      }
      let done: Promise<void> | undefined
      try {
        done = this.aroundLevel(link, level + 1)
      } catch (error) {
        done = Promise.reject(error)
      }
      if (done === undefined) {
        innerEnd = this.lastReading
        inner = undefined
      } else {
        inner = done.then(() => {
          innerEnd = this.lastReading
        })
      }
      // The hook sees the outcome, never a rejection (an internal error reaches the run loop).
      outcome = (inner ?? DONE).then(
        () => this.aroundOutcome(),
        () => this.aroundOutcome(),
      )
      nextCalled?.()
      return outcome
    }
    /** The hook is over (or given up on) without having called next: the runner calls it. */
    const missed = (error: unknown): Promise<void> | undefined => {
      firstHalfReported = true
      this.hookFailed(call, link.info, t0, error)
      startInner()
      return inner
    }
    /** The hook's part after the inner part ended, as it settled. */
    const secondHalf = (settled: Settlement | undefined): void => {
      if (settled !== undefined && settled.kind !== 'value') {
        if (settled.kind !== 'error') event.detach()
        const error = settled.kind === 'error' ? captureThrown(settled.error) : settled.kind === 'timeout' ? this.aroundTimeout(where) : captureThrown(settled.reason)
        this.hookFailed(call, link.info, innerEnd, error)
        if (settled.kind === 'abort') this.abortedIn(where, link, error)
      } else if (twice) {
        this.hookFailed(call, link.info, innerEnd, new Error(`${where} called next() more than once: the link ran once, the later calls got its outcome`))
      } else {
        this.hookDone(call, link.info, innerEnd, 'middleware.after')
      }
    }

    const next = function next(): Promise<AroundOutcome<C>> {
      return startInner()
    }
    let returned: unknown
    try {
      returned = (call.fn as (event: never, next: never) => unknown).call(call.middleware, event as never, next as never)
    } catch (error) {
      const thrown = captureThrown(error)
      if (!started) return missed(thrown)
      return this.then(inner, () => secondHalf({ kind: 'error', error: thrown }))
    }
    // `(e, next) => next()`, `als.run(id, next)`: the hook returned next()'s own promise, which
    // settles with the inner part and never rejects. Nothing of the hook is left to wait for, so a
    // synchronous inner part keeps the step synchronous.
    if (started && returned === outcome) return this.then(inner, () => secondHalf(undefined))
    if (!isThenable(returned)) {
      if (!started) return missed(new Error(`${where} returned without calling next(): the link ran all the same`))
      return this.then(inner, () => secondHalf(undefined))
    }
    // Went async: wait for it to call next() or to settle (bounded by hookTimeoutMs and the
    // run's signal), then for the inner part, then for the hook again (bounded likewise: the
    // inner part's time never counts against the hook's limit).
    const hookTimeoutMs = this.plan.hookTimeoutMs
    const signal = this.plan.signal === undefined || this.signal.aborted ? undefined : this.signal
    const settled = settle(returned, Infinity, undefined)
    const untilNext = started ? DONE : new Promise<void>((resolve) => (nextCalled = resolve))
    return settle(Promise.race([settled, untilNext]), hookTimeoutMs, signal).then((first) => {
      if (!started) {
        let error: unknown
        if (first.kind === 'timeout') error = this.aroundTimeout(where)
        else if (first.kind === 'abort') error = captureThrown(first.reason)
        else {
          const s = first.kind === 'value' ? (first.value as Settlement) : first
          error = s.kind === 'error' ? captureThrown(s.error) : new Error(`${where} settled without calling next(): the link ran all the same`)
        }
        if (first.kind === 'timeout' || first.kind === 'abort') event.detach()
        if (first.kind === 'abort') this.abortedIn(where, link, error)
        return missed(error)
      }
      return (inner ?? DONE).then(() => {
        const late = this.plan.signal === undefined || this.signal.aborted ? undefined : this.signal
        return settle(settled, hookTimeoutMs, late).then((last) => secondHalf(last.kind === 'value' ? (last.value as Settlement) : last))
      })
    })
  }

  /** `after` once `inner` has ended (at once, synchronously, when nothing is pending). */
  private then(inner: Promise<void> | undefined, after: () => void): Promise<void> | undefined {
    if (inner === undefined) {
      after()
      return undefined
    }
    return inner.then(after)
  }

  /** The run was aborted while waiting for an around hook: it ends aborted after this step. */
  private abortedIn(where: string, link: CompiledLink<C>, reason: unknown): void {
    this.failure ??= {
      code: 'ABORTED',
      message: `run of chain '${this.plan.chain.name}' aborted while waiting for ${where}: ${describeError(reason)}`,
      link: link.info,
      cause: reason,
    }
  }

  private aroundTimeout(where: string): Error {
    const error = new Error(`${where} did not settle within ${this.plan.hookTimeoutMs} ms (hookTimeoutMs): the link ran once all the same, and what the hook does later is ignored`)
    error.name = 'TimeoutError'
    return error
  }

  private aroundOutcome(): AroundOutcome<C> {
    const o = this.outcome as LinkOutcome<C> | undefined
    if (o === undefined) return { result: this.ctx, patches: NO_PATCHES, durationNs: 0n }
    const patches = (o.patches ??= Object.freeze(diffStates(o.base, o.result)))
    const base = { result: o.result, patches, durationNs: o.durationNs }
    return o.failed ? { ...base, error: o.error } : base
  }
}
