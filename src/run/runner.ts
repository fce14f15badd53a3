// The runner: executes one run of a compiled chain and records it.
//
// It is a small state machine rather than an async function: `advance()` does one unit of work
// (a hook call or a link call) and returns a promise only when that unit really returned one,
// so synchronous links and hooks never pay for an `await` (2.6x on the hot path, measured).
import { createDraft, current, enableMapSet, enablePatches, finishDraft, freeze, isDraft, isDraftable, isModified } from 'immer'
import type { Immutable, Objectish, Patch } from 'immer'
import type { CompiledChain, CompiledLink, HookCall } from '../core/compile.js'
import { captureThrown } from './capture-thrown.js'
import { describeError, type ChainRunErrorCode } from '../core/errors.js'
import type { MiddlewareCallInfo, RecordedIO, TimelineEvent } from '../record/events.js'
import { AfterCall, BeforeCall, LinkCallIO, RunHookCall, isThenable } from './hook-events.js'
import type { HookCallEvent, LinkOutcome, WorkingStates } from './hook-events.js'
import { FrozenDateError, findPath, pathName, sealInput, sealPatches, sealState, type StateProblem } from '../core/seal-state.js'
import { settle, type Settlement } from './settle.js'
import { emptyState, resolveDrafts, snapshot, snapshotCarefully, thaw } from '../record/snapshot.js'
import { callSite, recordWrites, type WriteListener } from '../record/write-capture.js'
import type { LiveTrace } from '../otel/live.js'
import type { Clock, LinkInfo, Metrics, MwCtx, RunInfo, RunStatus } from '../core/types.js'

/** Why a run failed, before it becomes a `ChainRunError`. */
export interface Failure {
  readonly code: ChainRunErrorCode
  readonly message: string
  readonly link: LinkInfo | undefined
  readonly cause: unknown
}

/** A middleware error kept for `safe: false`. */
export interface MiddlewareFailure {
  readonly middleware: MiddlewareCallInfo
  readonly link: LinkInfo | undefined
  readonly error: unknown
}

/** Everything one execution needs, resolved from chain defaults and run options. */
export interface ExecutionPlan<C> {
  readonly chain: CompiledChain<C>
  readonly info: RunInfo
  readonly input: Immutable<C>
  readonly clock: Clock
  readonly record: boolean
  readonly safe: boolean
  readonly signal: AbortSignal | undefined
  // Every field is always present (undefined when unused): one object shape for every plan, so
  // the runner's reads of them stay monomorphic whatever mix of runs a process makes.
  /** `capture: 'writes'`: record every write a link makes as a `ctx.write` event. */
  readonly writes: boolean
  /** With `writes`: add the user call site of each write (a stack capture per write). */
  readonly stacks: boolean
  /** Replay: the values each link (by name) drew from io when it was recorded. */
  readonly recordedIO: ReadonlyMap<string, RecordedIO> | undefined
  /** Fork: continue from a cut of another run instead of starting afresh. */
  readonly resume: ResumePoint<C> | undefined
  /** Live OpenTelemetry tracing of this run. */
  readonly trace: LiveTrace | undefined
  /** How long an async middleware call may stay pending (ms; `Infinity`: no limit). */
  readonly hookTimeoutMs: number
  /** With `writes`: `ctx.write` events kept per link execution; later writes are only counted. */
  readonly maxWritesPerLink: number
}

/** Where a fork picks up: the shared prefix, the fork event, and the states to go on from. */
export interface ResumePoint<C> {
  /** The parent's events: the first `prefixLength` of them are shared (the same objects, not copied). */
  readonly prefix: readonly TimelineEvent<C>[]
  readonly prefixLength: number
  /** Index in the chain of the first link to run. */
  readonly linkIndex: number
  /** The mwctx state at the cut. */
  readonly mwctx: Immutable<MwCtx>
  /** Fields of the `fork` event (besides seq, t and the states). */
  readonly fork: Readonly<Record<string, unknown>>
}

/** What an execution leaves behind; `run.ts` turns it into a `Run`. */
export interface ExecutionResult<C> {
  readonly status: RunStatus
  readonly ctx: Immutable<C>
  readonly failure: Failure | undefined
  /** This run's own events (after a fork's shared prefix). */
  readonly events: TimelineEvent<C>[]
  /** A fork's shared prefix: the first `length` events of `events`. */
  readonly prefix: { readonly events: readonly TimelineEvent<C>[]; readonly length: number } | undefined
  readonly endedAt: bigint
  /** Replay: links that drew more io values than were recorded, with the seq of their end. */
  readonly ioOverruns: readonly { readonly link: LinkInfo; readonly seq: number }[]
}

// Events are built field by field here and frozen in type only (readonly) once pushed.
type MutableEvent = Record<string, unknown>

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

const NO_PATCHES: readonly Patch[] = Object.freeze([])
const NEVER_ABORTED = new AbortController().signal

/** Executes one run. `finish` receives the result once, synchronously when nothing was async. */
export function execute<C>(
  plan: ExecutionPlan<C>,
  finish: (result: ExecutionResult<C>) => void,
): void {
  new Execution(plan, finish).start()
}

class Execution<C> implements WorkingStates {
  readonly mwWork: MwCtx
  metricsWork: Metrics = {}
  mwTouched = false
  metricsTouched = false

  /** Own events; a fork's shared prefix is not copied, its events' seqs start after it. */
  private readonly events: TimelineEvent<C>[] = []
  private readonly seqBase: number
  private ctx: Immutable<C>
  private mwState: Immutable<MwCtx> = emptyState()
  private metricsState: Immutable<Metrics> | undefined = undefined
  private phase = Phase.RunStart
  private linkIndex = 0
  private hookIndex = 0
  private link: CompiledLink<C> | undefined = undefined
  private linkInput: Immutable<C>
  private outcome: LinkOutcome<C> | undefined = undefined
  private failure: Failure | undefined = undefined
  private readonly middlewareFailures: MiddlewareFailure[] = []
  private readonly ioOverruns: { link: LinkInfo; seq: number }[] = []
  /** What the current link's metrics could not record (see `metricsError` on link events). */
  private metricsError: Error | undefined = undefined
  /** `ctx.write` events of the current link not recorded past `maxWritesPerLink`. */
  private writesDropped = 0
  private readonly signal: AbortSignal
  /** Middleware calls are timed when something records or traces them. */
  private readonly timed: boolean
  /**
   * The end of the last thing timed: the run's (or fork's) start, a middleware call's end, a
   * link's end. A link span starts here and ends at the step's last one, so a tracer takes no
   * clock reading of its own: a traced recording has the same times as an untraced one.
   */
  private lastReading: bigint

  constructor(
    private readonly plan: ExecutionPlan<C>,
    private readonly finish: (result: ExecutionResult<C>) => void,
  ) {
    this.ctx = plan.input
    this.linkInput = plan.input
    this.signal = plan.signal ?? NEVER_ABORTED
    this.timed = plan.record || plan.trace !== undefined
    this.lastReading = plan.info.startedAt
    const resume = plan.resume
    if (resume === undefined) {
      this.seqBase = 0
      this.mwWork = {}
    } else {
      this.seqBase = resume.prefixLength
      this.mwState = resume.mwctx
      this.mwWork = thaw(resume.mwctx) as MwCtx
      this.linkIndex = resume.linkIndex
      this.phase = Phase.LinkBegin
    }
  }

  start(): void {
    const resume = this.plan.resume
    // Dates frozen; a cycle (in an input, or made by a fork's edit) rejected like any bad
    // input: no hooks run (DESIGN §2), and the state is recorded with the cycle cut by a
    // marker, so that the failed run still exports.
    const problem = sealInput(this.plan.input)
    if (problem !== undefined) this.ctx = freeze(captureThrown(this.plan.input), true) as Immutable<C>
    if (resume === undefined) this.push({ type: 'run.start', t: this.plan.info.startedAt, input: this.ctx })
    else this.push({ ...(problem === undefined ? resume.fork : (captureThrown(resume.fork) as object)), type: 'fork', t: this.plan.info.startedAt })
    if (problem !== undefined) {
      const what = resume === undefined ? 'invalid input' : 'invalid fork state (after its edit)'
      this.failure = {
        code: 'INVALID_INPUT',
        message: `${what} for chain '${this.plan.chain.name}': ${problem.message}`,
        link: undefined,
        cause: new TypeError(problem.message),
      }
      this.end()
      return
    }
    this.loop()
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
        if (this.hookIndex < chain.runStart.length) {
          return this.callRunHook(chain.runStart[this.hookIndex++] as HookCall, 'ok', undefined)
        }
        this.hookIndex = 0
        this.phase = Phase.LinkBegin
        return undefined
      case Phase.LinkBegin:
        return this.beginLink()
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
        return this.callLink(this.link as CompiledLink<C>)
      case Phase.After: {
        const link = this.link as CompiledLink<C>
        if (this.hookIndex < link.after.length) return this.callAfter(link, link.after[this.hookIndex++] as HookCall)
        if (this.plan.trace !== undefined) this.traceLinkEnd(this.plan.trace)
        this.metricsState = undefined
        this.hookIndex = 0
        if (this.failure !== undefined) {
          this.phase = Phase.RunEnd
        } else {
          this.linkIndex++
          this.phase = Phase.LinkBegin
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

  private beginLink(): undefined {
    const links = this.plan.chain.links
    if (this.linkIndex >= links.length) {
      this.phase = Phase.RunEnd
      return undefined
    }
    const link = links[this.linkIndex] as CompiledLink<C>
    // Without a signal there is nothing to read (AbortSignal's getter validates its receiver).
    if (this.plan.signal !== undefined && this.signal.aborted) {
      this.abortBefore(link.info)
      return undefined
    }
    this.link = link
    this.linkInput = this.ctx
    this.outcome = undefined
    if (this.plan.trace !== undefined) this.plan.trace.linkBegin(link.info, this.lastReading)
    this.metricsWork = {}
    this.metricsError = undefined
    this.metricsState = emptyState()
    this.hookIndex = 0
    this.phase = Phase.Before
    return undefined
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
    this.metricsState = undefined
    this.hookIndex = 0
    this.phase = Phase.RunEnd
  }

  // ---- middleware -------------------------------------------------------------------------

  private callBefore(link: CompiledLink<C>, call: HookCall): Promise<void> | undefined {
    const info = call.info
    const event = new BeforeCall<C>(this, this.plan.info, link.info, info.position as 'chain-before', info.index, this.ctx)
    return this.invoke(call, event, link.info, 'middleware.before')
  }

  private callAfter(link: CompiledLink<C>, call: HookCall): Promise<void> | undefined {
    const info = call.info
    const event = new AfterCall<C>(
      this,
      this.plan.info,
      link.info,
      info.position as 'link-after',
      info.index,
      this.linkInput,
      this.outcome as LinkOutcome<C>,
    )
    return this.invoke(call, event, link.info, 'middleware.after')
  }

  private callRunHook(call: HookCall, status: RunStatus, error: unknown): Promise<void> | undefined {
    const event = new RunHookCall<C>(this, this.plan.info, this.ctx, status, this.failure !== undefined, error)
    return this.invoke(call, event, undefined, call.hook === 'runStart' ? 'middleware.before' : 'middleware.after')
  }

  private invoke(
    call: HookCall,
    event: HookCallEvent,
    link: LinkInfo | undefined,
    type: 'middleware.before' | 'middleware.after',
  ): Promise<void> | undefined {
    const t0 = this.timed ? this.plan.clock.now() : 0n
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

  private hookSettled(
    call: HookCall,
    event: HookCallEvent,
    link: LinkInfo | undefined,
    t0: bigint,
    type: 'middleware.before' | 'middleware.after',
    settled: Settlement,
  ): void {
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
        if (this.phase === Phase.RunStart || this.phase === Phase.Before) {
          // Stop at once: the rest of the run's start, or the link and its after hooks, do not
          // happen; runEnd hooks do.
          this.metricsState = undefined
          this.hookIndex = 0
          this.phase = Phase.RunEnd
        }
        return
      }
    }
  }

  /** The duration of a middleware call that began at `t0`, ending now (`0n` when untimed). */
  private hookDuration(t0: bigint): bigint {
    return this.timed ? (this.lastReading = this.plan.clock.now()) - t0 : 0n
  }

  private hookDone(call: HookCall, link: LinkInfo | undefined, t0: bigint, type: string): void {
    const durationNs = this.hookDuration(t0)
    if (!this.plan.record) {
      this.mwTouched = this.metricsTouched = false
      this.plan.trace?.middleware(type, call.info, link, t0, durationNs, undefined)
      return
    }
    // A state that cannot be recorded in full turns the call into a middleware error that
    // says what was lost (the state is recorded with markers in its place).
    const lost = this.takeSnapshots(true)
    if (lost !== undefined) {
      this.hookError(call, link, t0, durationNs, lost)
      return
    }
    this.plan.trace?.middleware(type, call.info, link, t0, durationNs, undefined)
    const event: Record<string, unknown> = { type, t: t0, middleware: call.info }
    if (link !== undefined) event['link'] = link
    event['durationNs'] = durationNs
    this.push(event)
  }

  private hookFailed(call: HookCall, link: LinkInfo | undefined, t0: bigint, error: unknown): void {
    const durationNs = this.hookDuration(t0)
    // The call's own error is what its event reports; a state it also left that cannot be
    // recorded in full (a cycle) is dropped with it, as a failed link's changes are: one call,
    // one event, one reading.
    if (this.plan.record) this.takeSnapshots(false)
    else this.mwTouched = this.metricsTouched = false
    this.hookError(call, link, t0, durationNs, error)
  }

  /** Records (and traces) a middleware call that failed, once. */
  private hookError(call: HookCall, link: LinkInfo | undefined, t0: bigint, durationNs: bigint, error: unknown): void {
    this.plan.trace?.middleware('middleware.error', call.info, link, t0, durationNs, error)
    this.middlewareFailures.push({ middleware: call.info, link, error })
    const event: Record<string, unknown> = { type: 'middleware.error', t: t0, middleware: call.info, hook: call.hook }
    if (link !== undefined) event['link'] = link
    event['error'] = error
    event['durationNs'] = durationNs
    this.push(event)
  }

  /**
   * Freezes what the call wrote to mwctx / metrics. What the fast snapshot refuses (a draft, a
   * cycle, a getter that throws) is recorded carefully: drafts by their current values, the
   * rest as markers (or, for a call that failed, `keepLosses` false: the state it left is
   * dropped, as a failed link's changes are). The working state is then reset to what was
   * recorded, so later middleware go on from it instead of all failing on the same value.
   * Returns what was lost, if anything. Recording never throws into the run.
   */
  private takeSnapshots(keepLosses: boolean): Error | undefined {
    let lost: Error | undefined
    if (this.mwTouched) {
      this.mwTouched = false
      try {
        this.mwState = snapshot(this.mwWork, this.mwState) as Immutable<MwCtx>
      } catch {
        const careful = snapshotCarefully(this.mwWork, this.mwState, 'mwctx')
        if (keepLosses || careful.error === undefined) this.mwState = careful.state as Immutable<MwCtx>
        resetInPlace(this.mwWork, thaw(this.mwState) as MwCtx)
        lost = careful.error
      }
    }
    if (this.metricsTouched) {
      this.metricsTouched = false
      if (this.metricsState !== undefined) {
        try {
          this.metricsState = snapshot(this.metricsWork, this.metricsState) as Immutable<Metrics>
        } catch {
          const careful = snapshotCarefully(this.metricsWork, this.metricsState, 'metrics')
          if (keepLosses || careful.error === undefined) this.metricsState = careful.state as Immutable<Metrics>
          this.metricsWork = thaw(this.metricsState) as Metrics
          lost ??= careful.error
        }
      }
    }
    return lost
  }

  // ---- links --------------------------------------------------------------------------------

  private callLink(link: CompiledLink<C>): Promise<void> | undefined {
    const base = this.ctx
    const draft = isDraftable(base) ? createDraft(base as Objectish) : base
    const io = new LinkCallIO<C>(this, this.plan.info, link.info, this.signal, base, this.plan.recordedIO?.get(link.info.name))
    const clock = this.plan.clock
    let start: MutableEvent | undefined
    if (this.plan.record) start = this.push({ type: 'link.start', t: 0n, link: link.info })
    this.writesDropped = 0
    const given = this.plan.writes && isDraft(draft) ? recordWrites(draft as object, this.writeListener(link.info)) : draft
    const t0 = clock.now()
    if (start !== undefined) start['t'] = t0
    let returned: unknown
    try {
      const trace = this.plan.trace
      returned = trace === undefined ? link.fn(given as never, io) : trace.runInLink(link.fn, given as never, io)
    } catch (error) {
      this.linkFailed(link, draft, io, t0, clock.now(), error)
      return undefined
    }
    if (isThenable(returned)) {
      if (this.plan.signal === undefined) {
        return Promise.resolve(returned).then(
          (value) => this.linkReturned(link, base, draft, io, t0, clock.now(), value === given ? draft : value),
          (error: unknown) => this.linkFailed(link, draft, io, t0, clock.now(), error),
        )
      }
      // An abort stops the wait at once; what the link does later is discarded (its draft is
      // finished, so its late writes throw inside it, and its result is never read).
      return settle(returned, Infinity, this.signal).then((settled) => {
        const t1 = clock.now()
        if (settled.kind === 'value') this.linkReturned(link, base, draft, io, t0, t1, settled.value === given ? draft : settled.value)
        else if (settled.kind === 'error') this.linkFailed(link, draft, io, t0, t1, settled.error)
        else {
          io.detach()
          this.linkFailed(link, draft, io, t0, t1, settled.kind === 'abort' ? settled.reason : new Error('link timed out'))
        }
      })
    }
    this.linkReturned(link, base, draft, io, t0, clock.now(), returned === given ? draft : returned)
    return undefined
  }

  /** Pushes one `ctx.write` event per write, stamped as it happens. */
  private writeListener(link: LinkInfo): WriteListener {
    const events = this.events
    const base = this.seqBase
    const clock = this.plan.clock
    const stacks = this.plan.stacks
    let room = this.plan.maxWritesPerLink
    return (op, path, value) => {
      // Bounded: a hot loop inside a link must not grow the timeline without limit.
      if (room <= 0) {
        this.writesDropped++
        return
      }
      room--
      // Built whole (one shape, one allocation): this runs once per single write. The path
      // array is the capture layer's own and never reused; it is read-only by type (freezing
      // it cost ~85 ns a write, measured).
      const event: MutableEvent = {
        seq: base + events.length,
        t: clock.now(),
        type: 'ctx.write',
        ctx: this.ctx,
        mwctx: this.mwState,
        metrics: this.metricsState,
        link,
        op,
        path,
        value,
      }
      if (stacks) {
        const site = callSite()
        if (site !== undefined) event['stack'] = site
      }
      events.push(event as unknown as TimelineEvent<C>)
    }
  }

  private linkReturned(
    link: CompiledLink<C>,
    base: Immutable<C>,
    draft: unknown,
    io: LinkCallIO<C>,
    t0: bigint,
    t1: bigint,
    value: unknown,
  ): void {
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
        const error = new TypeError(
          `link '${link.info.name}' both modified its draft and returned a new value: do one or the other`,
        )
        this.linkFailed(link, draft, io, t0, t1, error)
        return
      }
      try {
        next = settleReplacement(value) as Immutable<C>
      } catch (error) {
        this.linkFailed(link, draft, io, t0, t1, error)
        return
      }
      if (isDraft(draft)) finishDraft(draft)
      if (next !== base) {
        // Dates frozen, cycles refused: no later write can change this state, and it exports.
        if (this.unsealable(link, draft, io, t0, t1, sealState(next, base, 'ctx'))) return
        if (wantPatches) {
          patches = [{ op: 'replace', path: [], value: next }]
          inversePatches = [{ op: 'replace', path: [], value: base }]
        }
      }
    } else if (draft !== base) {
      // callLink drafts the ctx whenever it can, so the draft is what is not the base: no
      // isDraft, which on a draft is a read through the Proxy's get trap.
      // Sealing reads what changed: from the patches when they are made anyway, or when the
      // ctx is wide (cheaper than walking 1,000 keys after every link), else by a walk.
      const hint = this.plan.chain.seal
      const viaPatches = wantPatches || hint.usePatches
      // Finishing reads and freezes what the link wrote: a value it cannot finish (a getter
      // that throws, say) is the link's failure, not the runner's.
      try {
        next = (
          viaPatches
            ? finishDraft(draft, (p, inverse) => {
                patches = p
                inversePatches = inverse
              })
            : finishDraft(draft)
        ) as Immutable<C>
      } catch (error) {
        this.linkFailed(link, draft, io, t0, t1, error)
        return
      }
      if (next !== base) {
        const problem = viaPatches ? sealPatches(patches ?? NO_PATCHES, next, base, 'ctx') : sealState(next, base, 'ctx', hint)
        if (this.unsealable(link, draft, io, t0, t1, problem)) return
      }
    } else {
      next = base
    }
    this.ctx = next
    this.outcome = { base, result: next, patches, durationNs: t1 - t0, failed: false, error: undefined }
    if (this.plan.record) {
      const event: MutableEvent = { type: 'link.end', t: t1, link: link.info, patches, inversePatches, durationNs: t1 - t0 }
      this.addLinkEventFields(event, io)
      this.push(event)
    }
    if (io.overrun) this.ioOverruns.push({ link: link.info, seq: this.seqBase + this.events.length - 1 })
  }

  /** A state that cannot be recorded (a cycle) fails its link, naming the path. */
  private unsealable(link: CompiledLink<C>, draft: unknown, io: LinkCallIO<C>, t0: bigint, t1: bigint, problem: StateProblem | undefined): boolean {
    if (problem === undefined) return false
    this.linkFailed(link, draft, io, t0, t1, new TypeError(`link '${link.info.name}' left a state that cannot be recorded: ${problem.message}`))
    return true
  }

  private linkFailed(link: CompiledLink<C>, draft: unknown, io: LinkCallIO<C>, t0: bigint, t1: bigint, thrown: unknown): void {
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
    this.plan.trace?.linkFailed(error, t1)
    this.failure = {
      code: aborted ? 'ABORTED' : 'LINK_FAILED',
      message: aborted
        ? `run of chain '${this.plan.chain.name}' aborted during link '${link.info.name}': ${describeError(error)}`
        : `link '${link.info.name}' (#${link.info.index}) of chain '${this.plan.chain.name}' failed: ${describeError(error)}`,
      link: link.info,
      cause: error,
    }
    this.outcome = { base: this.ctx, result: this.ctx, patches: NO_PATCHES, durationNs: t1 - t0, failed: true, error }
    const event: MutableEvent = { type: 'link.error', t: t1, link: link.info, error, durationNs: t1 - t0 }
    this.addLinkEventFields(event, io)
    this.push(event)
    if (io.overrun) this.ioOverruns.push({ link: link.info, seq: this.seqBase + this.events.length - 1 })
  }

  private traceLinkEnd(trace: LiveTrace): void {
    const outcome = this.outcome as LinkOutcome<C>
    const metrics = this.plan.record ? (this.metricsState as object | undefined) : this.metricsWork
    // The step ends with its last reading: the link's end, or its last after-middleware's.
    trace.linkEnd(outcome.durationNs, metrics, this.lastReading)
  }

  /**
   * What the link wrote to its metrics, taken while its draft lives: recorded, or (nothing
   * recorded) with drafts replaced by their values, so that the after-middleware read the same
   * metrics at every capture level.
   */
  private settleMetrics(): void {
    if (this.plan.record) {
      this.snapshotMetrics()
    } else if (this.metricsTouched) {
      this.metricsTouched = false
      resolveDrafts(this.metricsWork)
    }
  }

  /**
   * The link's own writes to its metrics. What cannot be recorded as it is becomes a marker in
   * the state and `metricsError` on the link's event: never a silent loss.
   */
  private snapshotMetrics(): void {
    if (!this.metricsTouched) return
    this.metricsTouched = false
    try {
      this.metricsState = snapshot(this.metricsWork, this.metricsState) as Immutable<Metrics>
    } catch {
      const careful = snapshotCarefully(this.metricsWork, this.metricsState, 'metrics')
      this.metricsState = careful.state as Immutable<Metrics>
      // Drafts resolved, markers in place: what the after-middleware see is what was recorded.
      this.metricsWork = thaw(this.metricsState) as Metrics
      this.metricsError = careful.error
    }
  }

  /** The optional fields of `link.end` / `link.error`: drawn io, lost metrics, dropped writes. */
  private addLinkEventFields(event: MutableEvent, io: LinkCallIO<C>): void {
    const drawn = recordedIO(io)
    if (drawn !== undefined) event['io'] = drawn
    if (this.metricsError !== undefined) {
      event['metricsError'] = this.metricsError
      this.metricsError = undefined
    }
    if (this.writesDropped > 0) {
      event['writesDropped'] = this.writesDropped
      this.writesDropped = 0
    }
  }

  /** What a link threw, captured; a write to a frozen Date is named by its path in ctx. */
  private linkError(thrown: unknown): unknown {
    if (isFrozenDateError(thrown)) {
      const path = findPath(this.ctx, thrown.date)
      const where = path === undefined ? 'a Date of ctx' : `the Date at ${pathName('ctx', path)}`
      const error = new TypeError(
        `${where} cannot be changed in place (${thrown.method}): recorded states are immutable; assign a new Date instead`,
      )
      return error
    }
    return captureThrown(thrown)
  }

  // ---- the end ------------------------------------------------------------------------------

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
    this.plan.trace?.runEnd(status, failure, this.lastReading, endedAt)
    const resume = this.plan.resume
    const prefix = resume === undefined ? undefined : { events: resume.prefix, length: resume.prefixLength }
    this.finish({ status, ctx: this.ctx, failure, events: this.events, prefix, endedAt, ioOverruns: this.ioOverruns })
  }

  /** Appends an event with the current states; the caller gives type, t and the extra fields. */
  private push(fields: Record<string, unknown>): MutableEvent {
    fields['seq'] = this.seqBase + this.events.length
    fields['ctx'] = this.ctx
    fields['mwctx'] = this.mwState
    fields['metrics'] = this.metricsState
    this.events.push(fields as unknown as TimelineEvent<C>)
    return fields
  }
}

function statusOf(code: ChainRunErrorCode): RunStatus {
  return code === 'ABORTED' ? 'aborted' : 'error'
}

function middlewareFailure(chainName: string, failures: readonly MiddlewareFailure[]): Failure {
  const first = failures[0] as MiddlewareFailure
  const where = first.link === undefined ? first.middleware.position : `${first.middleware.position} of link '${first.link.name}'`
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more middleware error${failures.length > 2 ? 's' : ''})` : ''
  return {
    code: 'MIDDLEWARE_FAILED',
    message: `middleware '${first.middleware.name}' failed at ${where} in chain '${chainName}': ${describeError(first.error)}${more}`,
    link: first.link,
    cause: failures.length === 1 ? first.error : new AggregateError(failures.map((f) => f.error), 'middleware errors'),
  }
}

function recordedIO(io: LinkCallIO<unknown>): RecordedIO | undefined {
  const drawn = io.drawn
  if (drawn === undefined) return undefined
  const out: { now?: readonly number[]; random?: readonly number[] } = {}
  if (drawn.now !== undefined) out.now = Object.freeze(drawn.now)
  if (drawn.random !== undefined) out.random = Object.freeze(drawn.random)
  return Object.freeze(out)
}

/**
 * A value a link returned instead of mutating its draft may still hold drafts (`{ ...ctx }`
 * copies draft children). They are replaced by their current values before the draft is
 * revoked, copy-on-write: a container holding a draft is copied (same order, same prototype),
 * the user's own objects are never rewritten. The result is deep-frozen like any other state
 * (as the input is, and as immer freezes what a recipe returns).
 */
function settleReplacement(value: unknown): unknown {
  return freeze(undraft(value, []), true)
}

function undraft(value: unknown, ancestors: object[]): unknown {
  if (isDraft(value)) return current(value)
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || !isDraftable(value)) return value
  // A cycle is left as it is: the state check after the link names it.
  if (ancestors.includes(value)) return value
  if (ancestors.length > 10_000) throw new RangeError('returned value is nested more than 10,000 levels deep')
  ancestors.push(value)
  try {
    if (value instanceof Map) {
      const entries = [...value].map(([key, item]) => [undraft(key, ancestors), undraft(item, ancestors)] as const)
      let i = 0
      for (const [key, item] of value) {
        const settled = entries[i++] as readonly [unknown, unknown]
        if (settled[0] !== key || settled[1] !== item) return new Map(entries)
      }
      return value
    }
    if (value instanceof Set) {
      const items = [...value]
      const settled = items.map((item) => undraft(item, ancestors))
      // Object.is: a NaN member is not a change.
      return settled.every((item, i) => Object.is(item, items[i])) ? value : new Set(settled)
    }
    if (Array.isArray(value)) {
      let out: unknown[] | undefined
      for (let i = 0; i < value.length; i++) {
        const item: unknown = value[i]
        const settled = undraft(item, ancestors)
        if (settled !== item) out ??= value.slice()
        if (out !== undefined) out[i] = settled
      }
      return out ?? value
    }
    const record = value as Record<string, unknown>
    let out: Record<string, unknown> | undefined
    for (const key of Object.keys(record)) {
      const item = record[key]
      const settled = undraft(item, ancestors)
      if (settled !== item) out ??= copyRecord(record)
      if (out !== undefined) out[key] = settled
    }
    return out ?? value
  } finally {
    ancestors.pop()
  }
}

/** A shallow copy with the same prototype; own keys defined, never set (`__proto__` stays a key). */
function copyRecord(record: Record<string, unknown>): Record<string, unknown> {
  const out = Object.create(Object.getPrototypeOf(record) as object | null) as Record<string, unknown>
  for (const key of Object.keys(record)) Object.defineProperty(out, key, { value: record[key], enumerable: true, writable: true, configurable: true })
  return out
}

/**
 * Makes `target` hold exactly the keys of `source`, in place: middleware may keep a reference
 * to the one mwctx object of a run. Keys it cannot delete (made non-configurable) stay.
 */
function resetInPlace(target: Record<string, unknown>, source: Record<string, unknown>): void {
  try {
    for (const key of Object.keys(target)) delete target[key]
    for (const key of Object.keys(source)) Object.defineProperty(target, key, { value: source[key], enumerable: true, writable: true, configurable: true })
  } catch {
    // A working state a middleware locked down: left as it is; the recording is already right.
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
