import { randomUUID } from 'node:crypto'
import { freeze } from 'immer'
import type { Immutable } from 'immer'
import type { ZodType } from 'zod'
import { compileChain, type CompiledChain, type LinkDef } from './compile.js'
import { LinkList } from './link-list.js'
import { emptyState } from '../record/snapshot.js'
import { systemClock, zeroClock } from './clock.js'
import { execute, type ExecutionPlan, type ExecutionResult, type Failure, type ResumePoint } from '../run/runner.js'
import { Run, type RunInit, type RunParent, type RunRef } from '../lineage/run.js'
import type { RecordedIO } from '../record/events.js'
import { context, diag, type Tracer } from '@opentelemetry/api'
import { LiveTrace } from '../otel/live.js'
import { describeError } from './errors.js'
import { captureThrown } from '../run/capture-thrown.js'
import { rememberSpan } from '../otel/registry.js'
import { mergeRedactPaths, type RedactPath } from '../files/redact.js'
import type { ChainOptions, LinkFn, LinkInfo, LinkOptions, Middleware, RunInfo, RunOptions } from './types.js'
import { checkKeys, checkLinkName, checkMiddleware, checkRunOptions, formatInputError } from './validate.js'

/** @internal How replay and fork steer an execution. */
export interface RunExtras<C> {
  /** The run's `input` when it differs from the first state (a fork keeps its parent's). */
  readonly input?: unknown
  readonly resume?: ResumePoint<C>
  readonly recordedIO?: ReadonlyMap<string, RecordedIO>
  /** Replacement functions by link index (stubs). */
  readonly linkOverrides?: ReadonlyMap<number, LinkFn<C>>
  readonly parent?: RunParent
  readonly replayOf?: RunRef
  /** The input was recorded after parsing (a replay): do not parse it again. */
  readonly parsed?: boolean
  /** Set by `_execute`: the run's redaction (chain default, run option, and a fork's or replay's original's). */
  readonly redact?: readonly RedactPath[]
}

/** @internal */
export interface ExecutionOutcome<C> {
  readonly run: Run<C>
  readonly ioOverruns: ExecutionResult<C>['ioOverruns']
}

/** Where `insert` puts a link: right before or right after the link of that name. */
export type InsertPosition = { readonly before: string } | { readonly after: string }

/**
 * An ordered list of links with chain-level middleware and default run options. A chain is an
 * immutable value: `link`, `use` and `insert` return a new chain and leave this one as it was.
 * Build it once (bad configuration is rejected here, with a `TypeError`), run it many times,
 * concurrently if you like.
 *
 * @example
 * const checkout = chain<Order>('checkout')
 *   .link('price', (ctx) => { ctx.total = ctx.items.reduce((s, i) => s + i.price, 0) })
 *   .use(timing)
 * const run = await checkout.run({ items: [{ price: 5 }] })
 */
export class Chain<C> {
  /** The chain's name, shown in runs, errors and traces. */
  readonly name: string
  /** The defaults of every run of this chain (merged under each run's own options). */
  readonly options: Readonly<ChainOptions<C>>
  readonly #links: LinkList<C>
  readonly #middleware: readonly Middleware<C>[]
  #compiled: CompiledChain<C> | undefined
  #linkInfos: readonly LinkInfo[] | undefined
  #lastRun: Run<C> | undefined

  /** @internal Use {@link chain}. */
  constructor(name: string, options: ChainOptions<C>, links: LinkList<C>, middleware: readonly Middleware<C>[]) {
    this.name = name
    this.options = Object.freeze({ ...options })
    this.#links = links
    this.#middleware = middleware
  }

  /** The most recently finished run of this chain value (succeeded or failed). */
  get lastRun(): Run<C> | undefined {
    return this.#lastRun
  }

  /** The links in order, as runs will see them (one frozen array: a chain never changes). */
  get links(): readonly LinkInfo[] {
    // Built once: replay and fork read it on every call (a 1,000-link chain cost ~2 µs a fork).
    return (this.#linkInfos ??= Object.freeze(this.#compile().links.map((link) => link.info)))
  }

  /** The index of the link of this name, or -1. */
  indexOf(name: string): number {
    return this.#links.indexOf(name)
  }

  /** The chain-level middleware, in the order added. */
  get middleware(): readonly Middleware<C>[] {
    return this.#middleware
  }

  /**
   * A new chain with one more link at the end.
   *
   * @param name - unique within the chain (replay, fork and `insert` find links by name)
   * @param fn - mutates the draft it gets, or returns a replacement (never both); sync or async
   * @param options - link-level middleware (`use`) and free-form `meta`
   * @throws TypeError on a duplicate or empty name, a non-function, or malformed middleware
   */
  link(name: string, fn: LinkFn<C>, options?: LinkOptions<C>): Chain<C> {
    return this.#withLinks(this.#links.length, name, fn, options)
  }

  /**
   * A new chain with more chain-level middleware; it wraps every link, outside link-level
   * middleware, in the order added.
   */
  use(...middleware: Middleware<C>[]): Chain<C> {
    middleware.forEach((mw, i) => checkMiddleware(mw, `chain '${this.name}': use() argument #${i}`))
    return new Chain(this.name, this.options, this.#links, [...this.#middleware, ...middleware])
  }

  /**
   * A new chain with a link inserted right before or after an existing one.
   *
   * @example
   * const audited = checkout.insert({ after: 'price' }, 'audit', (ctx) => { ctx.audited = true })
   */
  insert(where: InsertPosition, name: string, fn: LinkFn<C>, options?: LinkOptions<C>): Chain<C> {
    const target = insertTarget(this.name, where)
    const at = this.#links.indexOf(target)
    if (at === -1) {
      const known = this.#links.toArray().map((def) => `'${def.name}'`).join(', ') || 'none'
      throw new TypeError(`chain '${this.name}': insert() refers to link '${String(target)}', which does not exist (links: ${known})`)
    }
    return this.#withLinks(Object.hasOwn(where, 'before') ? at : at + 1, name, fn, options)
  }

  /**
   * Runs the chain on an input and records the run.
   *
   * The input becomes the run's first state, so it is deep-frozen (as immer freezes what it
   * produces) and never mutated. With an `input` schema, the schema's parsed copy is frozen
   * instead and the caller's object is left as it was.
   *
   * @returns the finished `Run`; rejects with `ChainRunError` (its `run` is complete and recorded)
   */
  run(input: C, options?: RunOptions): Promise<Run<C>> {
    return this.#execute(input, options, {}, settleRun)
  }

  /**
   * @internal What `run`, `Run.replay` and `Run.fork` share: resolves with the finished run
   * whatever its status (rejects only on bad options), plus what replay needs to know.
   */
  _execute(input: unknown, options: RunOptions | undefined, extras: RunExtras<C>): Promise<ExecutionOutcome<C>> {
    return this.#execute(input, options, extras, settleOutcome)
  }

  /**
   * `_execute`, with the caller's promise settled straight from the outcome by `settle`:
   * `run()` resolves with the run itself, without a second promise and a `then` a run (~0.1 µs).
   */
  #execute<T>(input: unknown, options: RunOptions | undefined, extras: RunExtras<C>, settle: Settle<C, T>): Promise<T> {
    const merged: RunOptions = options === undefined ? this.options : { ...this.options, ...options }
    try {
      if (options !== undefined) checkRunOptions(options, `chain '${this.name}': run options`)
    } catch (error) {
      return Promise.reject(error)
    }
    const clock = merged.timestamps === false ? zeroClock : (merged.clock ?? systemClock)
    const startedAt = clock.now()
    if (typeof startedAt !== 'bigint') {
      return Promise.reject(new TypeError(`chain '${this.name}': clock.now() must return epoch nanoseconds as a bigint, got ${typeof startedAt}`))
    }
    const info: RunInfo = Object.freeze({ id: randomUUID(), chainName: this.name, startedAt })
    // Redaction adds up: the chain's, the run's, and what a fork's or replay's original had.
    const redact =
      this.options.redact === undefined && options?.redact === undefined && extras.parent === undefined && extras.replayOf === undefined
        ? undefined // nothing to merge: no list and no closure made for every run
        : mergeRedactPaths(this.options.redact, options?.redact, extras.parent?.run?.redact, extras.replayOf?.run?.redact)
    if (redact !== undefined && redact.length > 0) extras = { ...extras, redact }
    // Traced from the start: a run whose input is rejected is a failed run in the trace too.
    const trace = merged.tracer === undefined ? undefined : startTrace(merged.tracer, info, extras, clock !== zeroClock, input)
    const schema = this.options.input
    let start: unknown = input
    // A fork resumes from a recorded state and a replay re-runs a recorded (already parsed)
    // input: neither goes through the schema again (a transforming schema would reject it).
    if (schema !== undefined && extras.resume === undefined && extras.parsed !== true) {
      let parsed: ReturnType<typeof schema.safeParse>
      try {
        parsed = schema.safeParse(input)
      } catch (error) {
        // A throwing transform or refinement, or an async schema (safeParse cannot await it).
        const message = `invalid input for chain '${this.name}': the input schema threw: ${describeError(error)}`
        return settled(this.#rejectInput(info, input, clock.now(), message, captureThrown(error), extras, trace), settle)
      }
      if (!parsed.success) {
        return settled(this.#rejectInput(info, input, clock.now(), formatInputError(this.name, parsed.error), parsed.error, extras, trace), settle)
      }
      start = parsed.data
    }
    let compiled: CompiledChain<C>
    try {
      compiled = this.#compile()
    } catch (error) {
      // Middleware whose getters passed the checks at use() and throw now.
      return Promise.reject(new TypeError(`chain '${this.name}': its middleware could not be read: ${describeError(error)}`, { cause: error }))
    }
    const overrides = extras.linkOverrides
    if (overrides !== undefined && overrides.size > 0) {
      compiled = { ...compiled, links: compiled.links.map((link) => ({ ...link, fn: overrides.get(link.info.index) ?? link.fn })) }
    }
    return new Promise<T>((resolve, reject) => {
      const plan: ExecutionPlan<C> = {
        chain: compiled,
        info,
        input: freeze(start, true) as Immutable<C>,
        clock,
        record: merged.capture !== 'off',
        safe: merged.safe !== false,
        signal: merged.signal,
        writes: merged.capture === 'writes',
        stacks: merged.stacks === true,
        hookTimeoutMs: merged.hookTimeoutMs ?? DEFAULT_HOOK_TIMEOUT_MS,
        maxWritesPerLink: merged.maxWritesPerLink ?? DEFAULT_MAX_WRITES_PER_LINK,
        recordedIO: extras.recordedIO,
        resume: extras.resume,
        trace,
      }
      execute<C>(plan, (result) => {
        const run = this.#finish(info, extras.input ?? start, result, extras, trace)
        settle({ run, ioOverruns: result.ioOverruns }, resolve, reject)
      })
    })
  }

  #finish(info: RunInfo, input: unknown, result: ExecutionResult<C>, extras: RunExtras<C>, trace: LiveTrace | undefined): Run<C> {
    // Field by field, not spread: one object shape, built once a run.
    const init: Mutable<RunInit<C>> = {
      info,
      status: result.status,
      input,
      ctx: result.ctx,
      failure: result.failure,
      endedAt: result.endedAt,
      events: result.events,
      prefix: result.prefix,
      chain: this,
    }
    if (extras.parent !== undefined) init.parent = extras.parent
    if (extras.replayOf !== undefined) init.replayOf = extras.replayOf
    if (extras.redact !== undefined) init.redact = extras.redact
    const run = new Run<C>(init)
    // A run traced by a recording tracer has spans: forks link to them, an export is a repeat.
    if (trace?.spanContext !== undefined) rememberSpan(run, trace.spanContext)
    this.#lastRun = run
    return run
  }

  #rejectInput(info: RunInfo, input: unknown, endedAt: bigint, message: string, cause: unknown, extras: RunExtras<C>, trace: LiveTrace | undefined): ExecutionOutcome<C> {
    const start = { seq: 0, t: info.startedAt, type: 'run.start', ctx: input, mwctx: emptyState(), metrics: undefined, input }
    // The cause is the ZodError (its `issues`), or what a throwing schema threw.
    const failure: Failure = { code: 'INVALID_INPUT', message, link: undefined, cause }
    trace?.runEnd('error', failure, endedAt, endedAt)
    const result: ExecutionResult<C> = {
      status: 'error',
      ctx: input as Immutable<C>,
      failure,
      events: [start as never],
      prefix: undefined,
      endedAt,
      ioOverruns: [],
    }
    return { run: this.#finish(info, input, result, extras, trace), ioOverruns: [] }
  }

  #withLinks(at: number, name: string, fn: LinkFn<C>, options: LinkOptions<C> | undefined): Chain<C> {
    const where = `chain '${this.name}'`
    checkLinkName(name, where)
    if (this.#links.indexOf(name) !== -1) {
      throw new TypeError(`${where}: a link named '${name}' already exists; link names must be unique`)
    }
    if (typeof fn !== 'function') {
      throw new TypeError(`${where}: link '${name}' must be a function, got ${fn === null ? 'null' : typeof fn}`)
    }
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: link '${name}': options must be an object { use?, meta? }`)
      checkKeys(options, ['use', 'meta'], `${where}: link '${name}' options`)
    }
    const use = options?.use ?? []
    if (!Array.isArray(use)) throw new TypeError(`${where}: link '${name}': options.use must be an array of middleware`)
    use.forEach((mw, i) => checkMiddleware(mw, `${where}: link '${name}' use[${i}]`, true))
    const def: LinkDef<C> = { name, fn, use: [...use], meta: Object.freeze({ ...(options?.meta ?? {}) }) }
    const links = at === this.#links.length ? this.#links.append(def) : this.#links.insert(at, def)
    return new Chain(this.name, this.options, links, this.#middleware)
  }

  #compile(): CompiledChain<C> {
    return (this.#compiled ??= compileChain(this.name, this.#links.toArray(), this.#middleware))
  }
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

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

/** Default of `hookTimeoutMs` (DESIGN §4). */
const DEFAULT_HOOK_TIMEOUT_MS = 5_000
/** Default of `maxWritesPerLink`. */
const DEFAULT_MAX_WRITES_PER_LINK = 10_000

/** The link name an `insert` position refers to, or a TypeError naming the argument. */
function insertTarget(chainName: string, where: unknown): string {
  const shape = "{ before: 'linkName' } or { after: 'linkName' }"
  if (typeof where !== 'object' || where === null || Array.isArray(where)) {
    throw new TypeError(`chain '${chainName}': insert() position (the first argument) must be ${shape}, got ${where === null ? 'null' : Array.isArray(where) ? 'an array' : typeof where}`)
  }
  const hasBefore = Object.hasOwn(where, 'before')
  const hasAfter = Object.hasOwn(where, 'after')
  if (hasBefore === hasAfter) {
    throw new TypeError(`chain '${chainName}': insert() position (the first argument) must have exactly one of 'before' and 'after': ${shape}`)
  }
  const target: unknown = (where as Record<string, unknown>)[hasBefore ? 'before' : 'after']
  if (typeof target !== 'string') {
    throw new TypeError(`chain '${chainName}': insert() position.${hasBefore ? 'before' : 'after'} must be a link name (a string), got ${target === null ? 'null' : typeof target}`)
  }
  return target
}

/**
 * A live trace for a run: the caller's active context is its parent. A tracer that throws here
 * leaves the run untraced (and says so through OTel's diag logger), never failed.
 */
function startTrace<C>(tracer: Tracer, info: RunInfo, extras: RunExtras<C>, stamped: boolean, input: unknown): LiveTrace | undefined {
  try {
    return new LiveTrace(tracer, info, context.active(), extras, stamped, extras.redact, input)
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
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`chain(): the name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`)
  }
  checkRunOptions(options, `chain '${name}': options`, ['input'])
  const schema: unknown = options.input
  if (schema !== undefined && typeof (schema as Partial<ZodType>).safeParse !== 'function') {
    throw new TypeError(`chain '${name}': options.input must be a zod schema`)
  }
  return new Chain<C>(name, options, LinkList.empty<C>(), [])
}
