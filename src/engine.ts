// The engine every public `chain()` carries: input validation, the runner, the recorder, `Run`,
// replay, fork and live tracing, composed. The one place that knows all the layers (DESIGN §8); core's
// `Chain` only holds it, so the chain builder imports nothing beneath it.
import { freeze, type Immutable } from 'immer'
import { context, diag, type Context, type Tracer } from '@opentelemetry/api'
import { newChain, type Chain, type Engine } from './core/chain.js'
import type { CompiledChain } from './core/compile.js'
import { describeError } from './core/errors.js'
import { systemClock, zeroClock } from './core/clock.js'
import type { ChainOptions, LinkIO, RunInfo, RunOptions } from './core/types.js'
import { checkRunOptions, formatInputError } from './core/validate.js'
import { captureThrown } from './run/capture-thrown.js'
import { execute, type ExecutionPlan, type ExecutionResult, type Failure } from './run/runner.js'
import { fanOut, type RunObserver } from './run/observer.js'
import { Recorder } from './record/recorder.js'
import { runEndEvent, type TimelineEvent } from './record/events.js'
import { EventLog, Times } from './record/event-log.js'
import { emptyState } from './record/snapshot.js'
import { mergeRedactPaths } from './files/redact.js'
import { Run, type ForkOptions, type ReplayOptions, type ReplayResult, type RunInit } from './lineage/run.js'
import { recordedChildren, replayExtras, replayRun } from './lineage/replay.js'
import { branchKey } from './run/parallel.js'
import type { NestHost } from './core/nested.js'
import { RECORDER_PORT, type DurableSink, type RecorderPort } from './core/recording.js'
import { forkRun } from './lineage/fork.js'
import type { ExecutionOutcome, RunExtras } from './lineage/execution.js'
import { LiveTrace } from './otel/live.js'
import { RunTraceContext } from './otel/run-trace.js'
import { checkpointOf, durableSink, handOver, watch } from './engine-recording.js'
import { runId } from './core/run-id.js'

/** Default of `hookTimeoutMs` (DESIGN §4). */
const DEFAULT_HOOK_TIMEOUT_MS = 5_000
/** Default of `maxWritesPerLink`. */
const DEFAULT_MAX_WRITES_PER_LINK = 10_000

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

/** Who is told of a run besides its recorder: its live trace, its flight recorder, its trace context. */
interface Watchers {
  readonly live: LiveTrace | undefined
  readonly port: RecorderPort | undefined
  readonly tracing: RunTraceContext
}

/** How a finished execution settles the promise its caller holds. */
type Settle<C, T> = (outcome: ExecutionOutcome<C>, resolve: (value: T) => void, reject: (reason: unknown) => void) => void

/** `run()`: the run itself, or its error (the error's `run` is complete and recorded). */
function settleRun<C>(outcome: ExecutionOutcome<C>, resolve: (value: Run<C>) => void, reject: (reason: unknown) => void): void {
  if (outcome.run.error === undefined) resolve(outcome.run)
  else reject(outcome.run.error)
}

/** `_execute`: the whole outcome, whatever the run's status. */
function settleOutcome<C>(outcome: ExecutionOutcome<C>, resolve: (value: ExecutionOutcome<C>) => void): void {
  resolve(outcome)
}

function settled<C, T>(outcome: ExecutionOutcome<C>, settle: Settle<C, T>): Promise<T> {
  return new Promise<T>((resolve, reject) => settle(outcome, resolve, reject))
}

/** The library's engine: one object, shared by every chain `chain()` builds. */
const engine: Engine = {
  run<C>(chain: Chain<C>, input: C, options: RunOptions | undefined): Promise<Run<C>> {
    return executeChain(chain, input, options, {}, settleRun)
  },
  execute<C>(chain: Chain<C>, input: unknown, options: RunOptions | undefined, extras: RunExtras<C>): Promise<ExecutionOutcome<C>> {
    return executeChain(chain, input, options, extras, settleOutcome)
  },
  // `Run.replay` and `Run.fork` come here through the chain they run on (lineage names no engine).
  replay<C>(chain: Chain<C>, run: Run<C>, options: ReplayOptions<C> | undefined): Promise<ReplayResult<C>> {
    return replayRun(chain, run, options)
  },
  fork<C>(chain: Chain<C>, run: Run<C>, options: ForkOptions<C>): Promise<Run<C>> {
    return forkRun(chain, run, options)
  },
}

/**
 * One execution, with the caller's promise settled straight from the outcome by `settle`:
 * `run()` resolves with the run itself, without a second promise and a `then` a run (~0.1 µs).
 */
function executeChain<C, T>(chain: Chain<C>, input: unknown, options: RunOptions | undefined, extras: RunExtras<C>, settle: Settle<C, T>): Promise<T> {
  const defaults = chain.options
  const merged: RunOptions = options === undefined ? defaults : { ...defaults, ...options }
  try {
    if (options !== undefined) checkRunOptions(options, `chain '${chain.name}': run options`)
  } catch (error) {
    return Promise.reject(error)
  }
  const clock = merged.timestamps === false ? zeroClock : (merged.clock ?? systemClock)
  const startedAt = clock.now()
  if (typeof startedAt !== 'bigint') {
    return Promise.reject(new TypeError(`chain '${chain.name}': clock.now() must return epoch nanoseconds as a bigint, got ${typeof startedAt}`))
  }
  const info: RunInfo = Object.freeze({ id: runId(), chainName: chain.name, startedAt })
  // Redaction adds up: the chain's, the run's, and what a fork's or replay's original had.
  const redact =
    defaults.redact === undefined && options?.redact === undefined && extras.parent === undefined && extras.replayOf === undefined
      ? undefined // nothing to merge: no list and no closure made for every run
      : mergeRedactPaths(defaults.redact, options?.redact, extras.parent?.run?.redact, extras.replayOf?.run?.redact)
  if (redact !== undefined && redact.length > 0) extras = { ...extras, redact }
  // Traced from the start: a run whose input is rejected is a failed run in the trace too.
  // The run's parent context: what a handler extracted from W3C headers, else the active one.
  const traceParent = merged.traceContext ?? context.active()
  const trace = merged.tracer === undefined ? undefined : startTrace(merged.tracer, info, extras, clock !== zeroClock, input, traceParent)
  const tracing = new RunTraceContext(traceParent, trace)
  // A flight recorder keeps the run when it ends, and may watch it meanwhile (its statistics).
  // Replays and forks are investigations: kept only by a recorder given in their own options.
  const port = (extras.replayOf === undefined && extras.parent === undefined ? merged.recorder : options?.recorder)?.[RECORDER_PORT]
  const durations = port === undefined ? undefined : watch<C>(port, chain, info)
  const watchers: Watchers = { live: trace, port, tracing }
  let sink: DurableSink | undefined
  if (merged.durable === true) {
    sink = merged.capture === 'off' || port === undefined ? undefined : durableSink(port, info, extras, tracing)
    if (sink === undefined) {
      const why = merged.capture === 'off' ? "capture 'off' records no steps" : port === undefined ? 'it has no recorder' : 'its recorder has no store'
      return Promise.reject(new TypeError(`chain '${chain.name}': durable: true needs a recorder with a store (recorder({ store })) and a capture level other than 'off': ${why}`))
    }
  }
  // An input refused before it could be made (an HTTP body that is not JSON): a rejected run.
  if (extras.reject !== undefined) {
    const message = `invalid input for chain '${chain.name}': ${extras.reject.message}`
    return settled(rejectInput(chain, info, input, clock.now(), message, captureThrown(extras.reject.cause), extras, watchers), settle)
  }
  const schema = defaults.input
  let start: unknown = input
  // A fork resumes from a recorded state and a replay re-runs a recorded (already parsed)
  // input: neither goes through the schema again (a transforming schema would reject it).
  if (schema !== undefined && extras.resume === undefined && extras.parsed !== true) {
    let parsed: ReturnType<typeof schema.safeParse>
    try {
      parsed = schema.safeParse(input)
    } catch (error) {
      // A throwing transform or refinement, or an async schema (safeParse cannot await it).
      const message = `invalid input for chain '${chain.name}': the input schema threw: ${describeError(error)}`
      return settled(rejectInput(chain, info, input, clock.now(), message, captureThrown(error), extras, watchers), settle)
    }
    if (!parsed.success) {
      return settled(rejectInput(chain, info, input, clock.now(), formatInputError(chain.name, parsed.error), parsed.error, extras, watchers), settle)
    }
    start = parsed.data
  }
  let compiled: CompiledChain<C>
  try {
    compiled = chain._compiled()
  } catch (error) {
    // Middleware whose getters passed the checks at use() and throw now.
    return Promise.reject(new TypeError(`chain '${chain.name}': its middleware could not be read: ${describeError(error)}`, { cause: error }))
  }
  const overrides = extras.linkOverrides
  if (overrides !== undefined && overrides.size > 0) {
    // A stubbed parallel step is one link that plays back the step's merged patches.
    compiled = {
      ...compiled,
      links: compiled.links.map((link) => {
        const stub = overrides.get(link.info.index)
        return stub === undefined ? link : { ...link, fn: stub, parallel: undefined }
      }),
    }
  }
  const record = merged.capture !== 'off'
  const recorder = new Recorder<C>({
    full: record,
    writes: merged.capture === 'writes',
    stacks: merged.stacks === true,
    maxWritesPerLink: merged.maxWritesPerLink ?? DEFAULT_MAX_WRITES_PER_LINK,
    clock,
    times: clock === systemClock ? Times.Int64 : clock === zeroClock ? Times.Zero : Times.Checked,
    resume: extras.resume,
    // A fork or resumed run records only the links from its cut: room for those, not the chain's.
    size: extras.resume === undefined ? compiled.recordSize : Math.ceil((compiled.recordSize * Math.max(0, compiled.links.length - extras.resume.linkIndex)) / Math.max(1, compiled.links.length)) + 16,
    links: chain.links,
    durations,
  })
  // The recorder first: a state it cannot record turns a call into a failure, which the
  // tracer is then told of instead.
  const observers: RunObserver<C>[] = [recorder]
  if (trace !== undefined) observers.push(trace as RunObserver<C>)
  const observer = fanOut<C>(observers) as RunObserver<C>
  return new Promise<T>((resolve, reject) => {
    const plan: ExecutionPlan<C> = {
      chain: compiled,
      info,
      input: freeze(start, true) as Immutable<C>,
      clock,
      record,
      // Statistics need the middleware's durations too, at every capture level.
      timed: record || trace !== undefined || durations !== undefined,
      safe: merged.safe !== false,
      signal: merged.signal,
      recordedIO: extras.recordedIO,
      resume: extras.resume,
      observer,
      hookTimeoutMs: merged.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
      // Made only for a chain that nests one: other runs pay nothing for nesting.
      nest: compiled.nests ? nestHost(merged, extras, tracing) : undefined,
      checkpoint: sink === undefined ? undefined : checkpointOf(sink as DurableSink, recorder),
      tracing,
    }
    execute<C>(plan, (result) => {
      recorder.log.seal()
      const run = finish(chain, info, extras.input ?? start, result, recorder, extras, watchers)
      const turn = handOver(watchers.port, run, chain)
      const outcome: ExecutionOutcome<C> = { run, ioOverruns: recorder.ioOverruns }
      // The recorder's store is far behind: one turn of the event loop first (see RecorderPort).
      // No closure made for the usual run (a named one costs a `defineProperty` under tsx).
      if (turn === undefined) settle(outcome, resolve, reject)
      else {
        const done = (): void => settle(outcome, resolve, reject)
        void turn.then(done, done)
      }
    })
  })
}

function finish<C>(
  chain: Chain<C>,
  info: RunInfo,
  input: unknown,
  result: ExecutionResult<C>,
  recorded: { readonly log: EventLog<C> | TimelineEvent<C>[]; readonly prefix: Recorder<C>['prefix']; readonly children?: ReadonlyMap<string, unknown> | undefined },
  extras: RunExtras<C>,
  watchers: Watchers,
): Run<C> {
  const { live: trace } = watchers
  const { log, prefix } = recorded
  // Field by field, not spread: one object shape, built once a run. The recorder's log stands in
  // for the events array: `Run` reads its last event and appends its run.end (`at`, `length`,
  // `push`, which the log has), and hands it to its `Timeline`, which builds the events from it
  // when they are first read.
  const events = log as TimelineEvent<C>[]
  if (log instanceof EventLog) appendRunEnd(log, prefix?.length ?? 0, result)
  const init: Mutable<RunInit<C>> = {
    info,
    status: result.status,
    input,
    ctx: result.ctx,
    failure: result.failure,
    endedAt: result.endedAt,
    stop: result.stop,
    events,
    prefix,
    chain,
  }
  if (extras.parent !== undefined) init.parent = extras.parent
  if (extras.replayOf !== undefined) init.replayOf = extras.replayOf
  if (extras.redact !== undefined) init.redact = extras.redact
  const runTrace = watchers.tracing.trace()
  if (runTrace !== undefined) init.trace = runTrace
  const nested = nestedRuns(recorded.children, extras)
  if (nested !== undefined) init.nested = nested
  const run = new Run<C>(init)
  // A run traced by a recording tracer has spans: forks link to them, an export is a repeat.
  trace?.remember(run)
  chain._finished(run)
  return run
}

/**
 * Appends the run's `run.end` to its log, as `Run` would (it adds the error, which refers to the
 * run), but taking the last entry's mwctx from the log instead of building that whole event to
 * read it (`Run` reads `at(-1)`), ~0.2 µs a run.
 */
function appendRunEnd<C>(log: EventLog<C>, prefixLength: number, result: ExecutionResult<C>): void {
  const mwctx = log.length === 0 ? emptyState() : log.lastMwctx()
  log.push(runEndEvent<C>(prefixLength + log.length, result.endedAt, result.ctx, mwctx, result.status, undefined, result.stop?.link, result.stop?.reason))
}

function rejectInput<C>(chain: Chain<C>, info: RunInfo, input: unknown, endedAt: bigint, message: string, cause: unknown, extras: RunExtras<C>, watchers: Watchers): ExecutionOutcome<C> {
  const start = { seq: 0, t: info.startedAt, type: 'run.start', ctx: input, mwctx: emptyState(), metrics: undefined, input }
  // The cause is the ZodError (its `issues`), or what a throwing schema threw.
  const failure: Failure = { code: 'INVALID_INPUT', message, link: undefined, cause }
  watchers.live?.runEnd('error', failure, endedAt, endedAt, undefined)
  const result: ExecutionResult<C> = { status: 'error', ctx: input as Immutable<C>, failure, endedAt, stop: undefined }
  const run = finish(chain, info, input, result, { log: [start as never], prefix: undefined }, extras, watchers)
  void handOver(watchers.port, run, chain)
  return { run, ioOverruns: [] }
}

/**
 * The nested runs a run's events name: its own, and for a fork (or a replay of one) those its
 * shared prefix names. Undefined when there are none.
 */
function nestedRuns<C>(own: ReadonlyMap<string, unknown> | undefined, extras: RunExtras<C>): ReadonlyMap<string, Run<unknown>> | undefined {
  const before = extras.resume === undefined ? undefined : (extras.parent?.run ?? extras.replayOf?.run)?.timeline.nested
  if ((own === undefined || own.size === 0) && (before === undefined || before.size === 0)) return undefined
  return new Map([...(before ?? []), ...((own ?? []) as ReadonlyMap<string, Run<unknown>>)])
}

/**
 * What runs the nested chains of one run (DESIGN §9): with the run's options (over each child
 * chain's own defaults) and the link call's signal; on replay, each child as a replay of the
 * child the same call made in the recording (its io values, and its own nested children).
 */
function nestHost<C>(merged: RunOptions, extras: RunExtras<C>, tracing: RunTraceContext): NestHost {
  const inherited: RunOptions = {}
  for (const key of INHERITED) if (merged[key] !== undefined) (inherited as Record<string, unknown>)[key] = merged[key]
  if (extras.redact !== undefined) inherited.redact = extras.redact
  const recording = extras.replayOf?.run
  let recorded: Map<string, Run<unknown>[]> | undefined
  const calls = new Map<string, number>()
  return {
    run(child: object, input: unknown, io: LinkIO<unknown>): Promise<Run<unknown>> {
      let childExtras: RunExtras<unknown> = {}
      if (recording !== undefined) {
        const branch: unknown = (io as { readonly branch?: unknown }).branch
        const key = typeof branch === 'string' ? branchKey(io.link.name, branch) : io.link.name
        const n = calls.get(key) ?? 0
        calls.set(key, n + 1)
        const same = (recorded ??= recordedChildren(recording)).get(key)?.[n]
        if (same !== undefined) childExtras = replayExtras(same)
      }
      // A traced child's run span nests under the link's (or branch's) span, whether or not a
      // context manager carries the active context into the link call.
      const parent = tracing.callContext(io)
      const options: RunOptions = parent === undefined ? { ...inherited, signal: io.signal } : { ...inherited, signal: io.signal, traceContext: parent }
      return (child as Chain<unknown>)._execute(input, options, childExtras).then((outcome) => outcome.run)
    },
  }
}

/** The run options a nested run takes from its parent run (the signal is the link call's). */
const INHERITED = ['capture', 'timestamps', 'clock', 'safe', 'hookTimeoutMs', 'stacks', 'maxWritesPerLink', 'tracer', 'redact'] as const

/**
 * A live trace for a run: the caller's active context is its parent. A tracer that throws here
 * leaves the run untraced (and says so through OTel's diag logger), never failed.
 */
function startTrace<C>(tracer: Tracer, info: RunInfo, extras: RunExtras<C>, stamped: boolean, input: unknown, parent: Context): LiveTrace | undefined {
  try {
    return new LiveTrace(tracer, info, parent, extras, stamped, extras.redact, input)
  } catch (error) {
    diag.warn(`shadowchain: OpenTelemetry startSpan failed, run ${info.id} is not traced: ${describeError(error)}`)
    return undefined
  }
}

/**
 * Starts a chain. Give the ctx type explicitly, or an `input` schema to infer it from.
 *
 * @param name - shown in runs, errors and traces
 * @param options - run defaults (`capture`, `timestamps`, `signal`, `safe`, `clock`) and `input`,
 *   a zod schema every input is validated with (a bad input rejects with `'INVALID_INPUT'`)
 * @throws TypeError on an empty name or malformed options
 *
 * @example
 * const checkout = chain<Order>('checkout', { capture: 'timeline' })
 * const typed = chain('checkout', { input: OrderSchema }) // Chain<z.output<typeof OrderSchema>>
 */
export function chain<C>(name: string, options: ChainOptions<C> = {}): Chain<C> {
  return newChain<C>(engine, name, options)
}
