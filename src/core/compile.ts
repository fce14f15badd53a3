// Turns a chain's definition into the flat, precomputed form the runner walks: per link, the
// exact queue of before and after calls in DESIGN §3 order, so a run allocates no queues.
import type { ParallelDef } from './parallel-def.js'
import type { SealHint } from './seal-state.js'
import type { Immutable } from 'immer'
import type { LinkFn, LinkInfo, Middleware, MiddlewareCallInfo, Position, RetryOptions } from './types.js'

/** A link as the builder stores it. */
export interface LinkDef<C> {
  readonly name: string
  readonly fn: LinkFn<C>
  readonly use: readonly Middleware<C>[]
  readonly meta: Readonly<Record<string, unknown>>
  /** The link's condition (link option `when`), if it has one. */
  readonly when: ((ctx: Immutable<C>) => boolean) | undefined
  /** Link option `retry`, checked (delayMs and backoff filled in). */
  readonly retry: RetryOptions | undefined
  /** Link option `timeoutMs`. */
  readonly timeoutMs: number | undefined
  /** A parallel step's branches (then `fn` is never called). */
  readonly parallel?: ParallelDef<C> | undefined
  /** The link, or one of its branches, is a nested chain. */
  readonly nests?: boolean
}

export type HookName = 'before' | 'around' | 'after' | 'runStart' | 'runEnd'

/** One middleware call site: which middleware, which hook, where. */
export interface HookCall {
  readonly middleware: Middleware<never>
  readonly fn: (event: never) => unknown
  readonly hook: HookName
  readonly info: MiddlewareCallInfo
}

export interface CompiledLink<C> {
  readonly info: LinkInfo
  readonly fn: LinkFn<C>
  readonly when: ((ctx: Immutable<C>) => boolean) | undefined
  readonly retry: RetryOptions | undefined
  readonly timeoutMs: number | undefined
  /** A parallel step's branches, or undefined for a link. */
  readonly parallel: ParallelDef<C> | undefined
  readonly before: readonly HookCall[]
  /** Around calls, outermost first: chain-level, then link-level. */
  readonly around: readonly HookCall[]
  readonly after: readonly HookCall[]
}

export interface CompiledChain<C> {
  readonly name: string
  readonly links: readonly CompiledLink<C>[]
  readonly runStart: readonly HookCall[]
  readonly runEnd: readonly HookCall[]
  /** How the runner checks new states: width learnt by the chain's runs (a cost decision they share). */
  readonly seal: Pick<SealHint, 'usePatches'>
  /** Some link or branch is a nested chain (its runs need a host to run them). */
  readonly nests: boolean
  /** About how many slots a recorded run of the chain takes in its event log (record/event-log.ts). */
  readonly recordSize: number
}

function calls<C>(list: readonly Middleware<C>[], hook: HookName, position: Position): HookCall[] {
  const out: HookCall[] = []
  let prioritised = false
  list.forEach((middleware, index) => {
    const fn = middleware[hook]
    if (fn === undefined) return
    out.push({
      middleware: middleware as Middleware<never>,
      fn: fn as (event: never) => unknown,
      hook,
      info: Object.freeze({ name: middleware.name, position, index }),
    })
    if ((middleware.priority ?? 0) !== 0) prioritised = true
  })
  // Higher priority first (DESIGN §9). Array sort is stable, so equal priorities keep the order
  // added; `index` stays the place in the list, which is how events name the middleware.
  // Done once per chain value, never per run.
  if (prioritised) out.sort((a, b) => (b.middleware.priority ?? 0) - (a.middleware.priority ?? 0))
  return out
}

/** Precomputes every queue of a chain. Link-level middleware contributes no run hooks. */
export function compileChain<C>(
  name: string,
  links: readonly LinkDef<C>[],
  middleware: readonly Middleware<C>[],
): CompiledChain<C> {
  const chainBefore = calls(middleware, 'before', 'chain-before')
  const chainAfter = calls(middleware, 'after', 'chain-after')
  const chainAround = calls(middleware, 'around', 'chain-around')
  const compiled = links.map(
    (def, index): CompiledLink<C> => ({
      info: Object.freeze({ name: def.name, index, meta: def.meta }),
      fn: def.fn,
      when: def.when,
      retry: def.retry,
      timeoutMs: def.timeoutMs,
      parallel: def.parallel,
      before: [...chainBefore, ...calls(def.use, 'before', 'link-before')],
      around: [...chainAround, ...calls(def.use, 'around', 'link-around')],
      after: [...calls(def.use, 'after', 'link-after'), ...chainAfter],
    }),
  )
  const runStart = calls(middleware, 'runStart', 'run-start')
  const runEnd = calls(middleware, 'runEnd', 'run-end')
  // A middleware call that returned is ~3 slots, a link's start and end ~7 (see event-log.ts).
  let recordSize = 8 + 3 * (runStart.length + runEnd.length)
  for (const link of compiled) recordSize += 7 + 3 * (link.before.length + link.after.length + 2 * link.around.length)
  return {
    name,
    links: compiled,
    runStart,
    runEnd,
    seal: { usePatches: false },
    nests: links.some((def) => def.nests === true),
    recordSize,
  }
}
