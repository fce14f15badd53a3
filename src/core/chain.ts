import type { ZodType } from 'zod'
import { compileChain, type CompiledChain, type LinkDef } from './compile.js'
import { LinkList } from './link-list.js'
import { checkParallel, type ParallelDef } from './parallel-def.js'
import type { BranchFn, ParallelOptions } from './parallel-types.js'
import type { ChainOptions, LinkFn, LinkInfo, LinkOptions, Middleware, RunOptions } from './types.js'
import { nestedLink, type NestMapping } from './nested.js'
import { checkKeys, checkLinkName, checkMiddleware, checkMs, checkRetry, checkRunOptions } from './validate.js'

// What executes a chain: core defines the chain value and the Engine interface; the layers
// below core (run, record, lineage, otel) implement it and the root of src/ composes them into
// the engine every `chain()` carries. So the builder names no layer beneath it, and a bundler
// keeps the engine: it is a value each chain holds, not a registration made on import.

/**
 * The types of a run, filled in by the layer that makes runs (lineage augments this
 * interface with `run`, `replayOptions`, `replayResult`, `forkOptions`, `extras` and `outcome`).
 * Core names them through {@link RunOf} and its siblings without importing that layer.
 */
export interface RunTypes<C> {}

/** A finished run of a `Chain<C>` (lineage's `Run<C>`). */
export type RunOf<C> = RunTypes<C> extends { readonly run: infer R } ? R : never
/** @internal How replay and fork steer an execution (lineage's `RunExtras<C>`). */
export type ExtrasOf<C> = RunTypes<C> extends { readonly extras: infer E } ? E : never
/** @internal What an execution gives replay and fork (lineage's `ExecutionOutcome<C>`). */
export type OutcomeOf<C> = RunTypes<C> extends { readonly outcome: infer O } ? O : never
/** @internal The options of `run.replay()` (lineage's `ReplayOptions<C>`). */
export type ReplayOptionsOf<C> = RunTypes<C> extends { readonly replayOptions: infer O } ? O : never
/** @internal What `run.replay()` resolves with (lineage's `ReplayResult<C>`). */
export type ReplayResultOf<C> = RunTypes<C> extends { readonly replayResult: infer R } ? R : never
/** @internal The options of `run.fork()` (lineage's `ForkOptions<C>`). */
export type ForkOptionsOf<C> = RunTypes<C> extends { readonly forkOptions: infer O } ? O : never

/**
 * @internal Executes runs of chains: validation of the input, the runner, the recorder, tracing;
 * and replays and forks of recorded runs (a `Run` reaches them through the chain it runs on).
 */
export interface Engine {
  /** `chain.run()`: resolves with the run, rejects with its `ChainRunError`. */
  run<C>(chain: Chain<C>, input: C, options: RunOptions | undefined): Promise<RunOf<C>>
  /** `chain._execute()`: resolves with the outcome whatever the run's status (rejects on bad options). */
  execute<C>(chain: Chain<C>, input: unknown, options: RunOptions | undefined, extras: ExtrasOf<C>): Promise<OutcomeOf<C>>
  /** `run.replay()` on `chain` (the one given, or the run's own): re-executes `run`'s input and compares. */
  replay<C>(chain: Chain<C>, run: RunOf<C>, options: ReplayOptionsOf<C> | undefined): Promise<ReplayResultOf<C>>
  /** `run.fork()` on `chain` (the one given, or the run's own): a daughter run from a cut of `run`. */
  fork<C>(chain: Chain<C>, run: RunOf<C>, options: ForkOptionsOf<C>): Promise<RunOf<C>>
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
  /** What runs this chain: the one it was built with, handed on by `link`, `use` and `insert`. */
  readonly #engine: Engine
  #compiled: CompiledChain<C> | undefined
  #linkInfos: readonly LinkInfo[] | undefined
  #lastRun: RunOf<C> | undefined

  /** @internal Use {@link chain}. */
  constructor(engine: Engine, name: string, options: ChainOptions<C>, links: LinkList<C>, middleware: readonly Middleware<C>[]) {
    this.#engine = engine
    this.name = name
    this.options = Object.freeze({ ...options })
    this.#links = links
    this.#middleware = middleware
  }

  /** The most recently finished run of this chain value (succeeded or failed). */
  get lastRun(): RunOf<C> | undefined {
    return this.#lastRun
  }

  /** @internal Set by the engine when a run of this chain value finishes. */
  _finished(run: RunOf<C>): void {
    this.#lastRun = run
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
  link(name: string, fn: LinkFn<C>, options?: LinkOptions<C>): Chain<C>
  /**
   * A new chain with a nested chain as its last link (DESIGN §9): the child starts from the
   * ctx the link receives and its final ctx becomes the link's result (recorded as the link's
   * patches). The child is a full run with its own id and timeline, named by the link's
   * `link.end` / `link.error` (`child`) and given by `timeline.links()` (`child`). A failed
   * child fails the link, its `ChainRunError` as the cause. The child runs with this run's
   * options (capture, clock, tracer, signal, redaction) over its own chain's defaults.
   *
   * @throws TypeError when `child` is this chain
   * @example
   * const checkout = chain<Order>('checkout').link('price', price).link('loyalty', loyaltyChain)
   */
  link(name: string, child: Chain<C>, options?: LinkOptions<C>): Chain<C>
  /**
   * A new chain with a nested chain of another ctx type `D` as its last link: `input` makes the
   * child's input from the link's ctx, `output` writes the child's final ctx into the link's
   * draft (without `output` the link changes nothing).
   *
   * @example
   * .link('loyalty', loyaltyChain, {
   *   input: (order) => ({ customer: order.customer, total: order.total }),
   *   output: (order, loyalty) => { order.points = loyalty.points },
   * })
   */
  link<D>(name: string, child: Chain<D>, options: LinkOptions<C> & NestMapping<C, D>): Chain<C>
  link(name: string, fn: unknown, options?: unknown): Chain<C> {
    return this.#withLinks(this.#links.length, name, fn, options)
  }

  /**
   * A new chain with one parallel step at the end (DESIGN §9): its branches run concurrently,
   * each on its own draft of the step's ctx with its own `io` (`io.branch` names it), and their
   * patches are merged in declaration order once every branch settled. Middleware wraps the
   * whole step. A failed branch fails the step (the others still settle and are recorded).
   *
   * @param name - the step's name, unique within the chain
   * @param branches - `{ [branch]: (ctx, io) => … }`, in declaration order; a branch may be a
   *   chain of the same ctx type (nested, on the branch's draft)
   * @param options - `merge` (`'strict'`, default: overlapping writes fail with `'CONFLICT'`;
   *   `'ordered'`: later branches win), `use`, `meta`, `when`
   * @throws TypeError on no branches, an empty branch name, a non-function, a bad `merge`
   * @example
   * .parallel('quote', {
   *   tax: (ctx) => { ctx.tax = ctx.subtotal * 0.2 },
   *   shipping: async (ctx) => { ctx.shipping = await rate(ctx.address) },
   * })
   */
  parallel(name: string, branches: Readonly<Record<string, BranchFn<C> | Chain<C>>>, options?: ParallelOptions<C>): Chain<C> {
    const where = `chain '${this.name}': parallel step '${String(name)}'`
    if (options !== undefined && (typeof options !== 'object' || options === null)) throw new TypeError(`${where}: options must be an object { merge?, use?, meta?, when? }`)
    if (options !== undefined) checkKeys(options, ['merge', 'use', 'meta', 'when'], `${where} options`)
    // A branch may be a chain of the same ctx type: it runs nested, on the branch's draft.
    const nests = typeof branches === 'object' && branches !== null && Object.values(branches).some((b) => b instanceof Chain)
    const fns: unknown = !nests
      ? branches
      : Object.fromEntries(Object.entries(branches).map(([branch, b]) => [branch, b instanceof Chain ? this.#nest(`${String(name)}' branch '${branch}`, b as Chain<unknown>, undefined) : b]))
    const parallel = checkParallel<C>(fns, options?.merge, where)
    const linkOptions: LinkOptions<C> = {}
    if (options?.use !== undefined) linkOptions.use = options.use
    if (options?.meta !== undefined) linkOptions.meta = options.meta
    if (options?.when !== undefined) linkOptions.when = options.when
    return this.#withLinks(this.#links.length, name, parallelStep, linkOptions, { def: parallel, nests })
  }

  /**
   * A new chain with more chain-level middleware; it wraps every link, outside link-level
   * middleware, in the order added.
   */
  use(...middleware: Middleware<C>[]): Chain<C> {
    middleware.forEach((mw, i) => checkMiddleware(mw, `chain '${this.name}': use() argument #${i}`))
    return new Chain(this.#engine, this.name, this.options, this.#links, [...this.#middleware, ...middleware])
  }

  /**
   * A new chain with a link inserted right before or after an existing one.
   *
   * @example
   * const audited = checkout.insert({ after: 'price' }, 'audit', (ctx) => { ctx.audited = true })
   */
  insert(where: InsertPosition, name: string, fn: LinkFn<C>, options?: LinkOptions<C>): Chain<C>
  /** A new chain with a nested chain (see {@link Chain.link}) inserted before or after a link. */
  insert(where: InsertPosition, name: string, child: Chain<C>, options?: LinkOptions<C>): Chain<C>
  /** A new chain with a nested chain of another ctx type inserted before or after a link. */
  insert<D>(where: InsertPosition, name: string, child: Chain<D>, options: LinkOptions<C> & NestMapping<C, D>): Chain<C>
  insert(where: InsertPosition, name: string, fn: unknown, options?: unknown): Chain<C> {
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
  run(input: C, options?: RunOptions): Promise<RunOf<C>> {
    return this.#engine.run(this, input, options)
  }

  /**
   * @internal What `run`, `Run.replay` and `Run.fork` share: resolves with the finished run
   * whatever its status (rejects only on bad options), plus what replay needs to know.
   */
  _execute(input: unknown, options: RunOptions | undefined, extras: ExtrasOf<C>): Promise<OutcomeOf<C>> {
    return this.#engine.execute(this, input, options, extras)
  }

  /** @internal `run.replay()` on this chain: through this chain's engine. */
  _replay(run: RunOf<C>, options: ReplayOptionsOf<C> | undefined): Promise<ReplayResultOf<C>> {
    return this.#engine.replay(this, run, options)
  }

  /** @internal `run.fork()` on this chain: through this chain's engine. */
  _fork(run: RunOf<C>, options: ForkOptionsOf<C>): Promise<RunOf<C>> {
    return this.#engine.fork(this, run, options)
  }

  /** @internal The compiled chain (built once); throws when middleware getters throw now. */
  _compiled(): CompiledChain<C> {
    return this.#compile()
  }

  #withLinks(
    at: number,
    name: string,
    fnOrChain: unknown,
    given: unknown,
    step?: { readonly def: ParallelDef<C>; readonly nests: boolean },
  ): Chain<C> {
    const parallel = step?.def
    const options = given as (LinkOptions<C> & Partial<NestMapping<C, unknown>>) | undefined
    const where = `chain '${this.name}'`
    checkLinkName(name, where)
    if (this.#links.indexOf(name) !== -1) {
      throw new TypeError(`${where}: a link named '${name}' already exists; link names must be unique`)
    }
    const child = fnOrChain instanceof Chain ? fnOrChain : undefined
    if (child === undefined && typeof fnOrChain !== 'function') {
      throw new TypeError(`${where}: link '${name}' must be a function or a chain, got ${fnOrChain === null ? 'null' : typeof fnOrChain}`)
    }
    if (options !== undefined) {
      if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: link '${name}': options must be an object { use?, meta?, when?, retry?, timeoutMs? }`)
      checkKeys(options, child === undefined ? ['use', 'meta', 'when', 'retry', 'timeoutMs'] : ['use', 'meta', 'when', 'retry', 'timeoutMs', 'input', 'output'], `${where}: link '${name}' options`)
    }
    const fn = child === undefined ? (fnOrChain as LinkFn<C>) : this.#nest(name, child, options)
    const nests = child !== undefined || step?.nests === true
    const when = options?.when
    if (when !== undefined && typeof when !== 'function') {
      throw new TypeError(`${where}: link '${name}': options.when must be a function (ctx) => boolean, got ${when === null ? 'null' : typeof when}`)
    }
    const use = options?.use ?? []
    if (!Array.isArray(use)) throw new TypeError(`${where}: link '${name}': options.use must be an array of middleware`)
    use.forEach((mw, i) => checkMiddleware(mw, `${where}: link '${name}' use[${i}]`, true))
    const retry = checkRetry(options?.retry, `${where}: link '${name}'`)
    const timeoutMs = options?.timeoutMs
    if (timeoutMs !== undefined) checkMs(timeoutMs, `${where}: link '${name}': options.timeoutMs`)
    const def: LinkDef<C> = { name, fn, use: [...use], meta: Object.freeze({ ...(options?.meta ?? {}) }), when, retry, timeoutMs, parallel, nests }
    const links = at === this.#links.length ? this.#links.append(def) : this.#links.insert(at, def)
    return new Chain(this.#engine, this.name, this.options, links, this.#middleware)
  }

  /** The link function of a nested chain, its mapping checked. */
  #nest(name: string, child: Chain<unknown>, options: Partial<NestMapping<C, unknown>> | undefined): LinkFn<C> {
    const where = `chain '${this.name}': link '${name}'`
    // Chains are immutable, so a chain cannot hold itself: this one is the only way to ask.
    if ((child as unknown) === this) throw new TypeError(`${where}: a chain cannot be nested into itself`)
    for (const key of ['input', 'output'] as const) {
      const fn: unknown = options?.[key]
      if (fn !== undefined && typeof fn !== 'function') throw new TypeError(`${where}: options.${key} must be a function, got ${fn === null ? 'null' : typeof fn}`)
    }
    if (options?.output !== undefined && options.input === undefined) throw new TypeError(`${where}: options.output needs options.input (a child of the same ctx type needs neither)`)
    return nestedLink<C>(child, options?.input === undefined ? undefined : options)
  }

  #compile(): CompiledChain<C> {
    return (this.#compiled ??= compileChain(this.name, this.#links.toArray(), this.#middleware))
  }
}

/** The fn a parallel step's definition carries: the runner runs its branches instead. */
function parallelStep(): never {
  throw new TypeError('a parallel step is run by its branches')
}

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
 * @internal A new, empty chain run by `engine` (the public `chain()` passes the library's engine).
 *
 * @param engine - what executes runs of this chain and of every chain built from it
 * @param name - shown in runs, errors and traces
 * @param options - run defaults and the `input` schema
 * @throws TypeError on an empty name or malformed options
 */
export function newChain<C>(engine: Engine, name: string, options: ChainOptions<C> = {}): Chain<C> {
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`chain(): the name must be a non-empty string, got ${JSON.stringify(name) ?? String(name)}`)
  }
  checkRunOptions(options, `chain '${name}': options`, ['input'])
  const schema: unknown = options.input
  if (schema !== undefined && typeof (schema as Partial<ZodType>).safeParse !== 'function') {
    throw new TypeError(`chain '${name}': options.input must be a zod schema`)
  }
  return new Chain<C>(engine, name, options, LinkList.empty<C>(), [])
}
