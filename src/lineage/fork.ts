import { produce, type Draft, type Patch } from 'immer'
import type { Chain } from '../core/chain.js'
import type { TimelineEvent } from '../record/events.js'
import { runStartEnd, stepEnd } from './compare.js'
import type { Run } from './run.js'
import type { Timeline } from '../record/timeline.js'
import type { RunOptions } from '../core/types.js'

/** Options of `run.fork()`. */
export interface ForkOptions<C> extends RunOptions {
  /**
   * Where to branch: a link name (the state after that link and all its after-middleware), or
   * an event seq (snapped back to the end of the last link completed at that point).
   */
  at: string | number
  /** An immer recipe applied to the state at the cut; its patches are the `fork` event's. */
  edit?: (ctx: Draft<C>) => void | C
  /** Run the remaining links of this chain instead (those after the link of the cut's name). */
  chain?: Chain<C>
}

const isLinkEnd = (event: TimelineEvent<unknown>): event is Extract<TimelineEvent<unknown>, { type: 'link.end' | 'link.error' }> =>
  event.type === 'link.end' || event.type === 'link.error'

/** Chain of a run, or the one given, or a clear error. */
export function chainFor<C>(run: Run<C>, given: Chain<C> | undefined, what: string): Chain<C> {
  const chain = given ?? (run.source as Chain<C> | undefined)
  if (chain === undefined) {
    throw new TypeError(
      `${what}: run ${run.id} of chain '${run.chainName}' has no chain attached: pass { chain } (a run loaded from a file knows only its chain's name)`,
    )
  }
  return chain
}

/**
 * The cut: the seq of the last shared event, and the name of the last link completed by then.
 * Scans back from the end (or from `at`) through `timeline.at`, so its cost does not grow with
 * the prefix, nor join a fork's shared prefix into one array.
 */
export function findCut(run: Run<unknown>, at: string | number): { seq: number; linkName: string | undefined } {
  const timeline = run.timeline
  const length = timeline.length
  if (typeof at === 'string') {
    for (let seq = length - 1; seq >= 0; seq--) {
      const event = timeline.at(seq) as TimelineEvent<unknown>
      if (isLinkEnd(event) && event.link.name === at) return { seq: stepEnd(timeline, seq), linkName: at }
    }
    const ran = [...new Set(timeline.events.filter(isLinkEnd).map((event) => `'${event.link.name}'`))].join(', ') || 'none'
    throw new TypeError(`fork: link '${at}' never ran in run ${run.id} of chain '${run.chainName}' (links that ran: ${ran})`)
  }
  if (!Number.isInteger(at) || at < 0 || at >= length) {
    throw new RangeError(`fork: seq ${String(at)} is out of range: run ${run.id} has ${length} events (0…${length - 1})`)
  }
  for (let seq = at; seq >= 0; seq--) {
    const event = timeline.at(seq) as TimelineEvent<unknown>
    if (!isLinkEnd(event)) continue
    const end = stepEnd(timeline, seq)
    if (end <= at) return { seq: end, linkName: event.link.name }
  }
  // Before any link completed: branch after the run's start (and its runStart hooks).
  return { seq: runStartEnd(timeline), linkName: undefined }
}

/**
 * Whether a run ran links that its timeline does not hold: it was recorded with `capture: 'off'`,
 * which keeps `run.start`, a failed link's `link.error`, a fork's `fork` event and `run.end`,
 * but no `link.start`. Only the run's own events count (a fork's prefix is its parent's).
 */
function ranUnrecorded<C>(run: Run<C>, chain: Chain<C>): boolean {
  const timeline = run.timeline as Timeline<unknown>
  const own = run.parent === undefined ? 0 : run.parent.seq + 1
  let linkEnd = false
  let hooks = false
  for (let seq = own; seq < timeline.length; seq++) {
    const type = timeline.at(seq)?.type
    if (type === 'link.start') return false
    if (type === 'link.error' || type === 'link.end') linkEnd = true
    // Only a recorded run has successful middleware calls in its timeline.
    if (type === 'middleware.before' || type === 'middleware.after') hooks = true
  }
  if (linkEnd) return true
  if (hooks) return false
  // No link event at all: right when no link was due to run, or none ran before the run ended.
  const first = run.parent === undefined ? 0 : chain.indexOf(findCut(run as Run<unknown>, run.parent.seq).linkName ?? '') + 1
  if (first >= chain.links.length) return false
  const error = run.error
  if (error === undefined) return true
  // A rejected input ends a run before its links; so does an abort before its first link.
  if (error.code === 'INVALID_INPUT') return false
  if (error.code === 'ABORTED') return error.link !== undefined && error.link.index > first
  return true
}

/**
 * A run recorded with `capture: 'off'` has no link events: nothing to compare a replay with, no
 * link to branch after. Say so rather than report nonsense, whether the run succeeded or failed.
 */
export function checkRecorded<C>(run: Run<C>, chain: Chain<C>, what: string): void {
  if (ranUnrecorded(run, chain)) {
    throw new TypeError(`${what}: run ${run.id} of chain '${run.chainName}' recorded no link events (capture 'off'): record it with capture 'timeline' to ${what} it`)
  }
}

/** Index in `chain` of the first link to run after the link named `after` (0 without one). */
export function nextLinkIndex<C>(chain: Chain<C>, after: string | undefined): number {
  if (after === undefined) return 0
  const index = chain.indexOf(after)
  if (index === -1) throw new TypeError(`fork: chain '${chain.name}' has no link named '${after}' to continue after`)
  return index + 1
}

/** Starts a daughter run from a cut of `parent`. */
export async function forkRun<C>(parent: Run<C>, options: ForkOptions<C>): Promise<Run<C>> {
  if (typeof options !== 'object' || options === null) throw new TypeError('fork: options { at, edit?, chain? } are required')
  const { at, edit, chain: given, ...runOptions } = options
  if (edit !== undefined && typeof edit !== 'function') throw new TypeError(`fork: edit must be a function (an immer recipe), got ${typeof edit}`)
  const chain = chainFor(parent, given, 'fork')
  // Its only state is the raw input the schema refused: a fork would run links on it unchecked.
  if (parent.error?.code === 'INVALID_INPUT') {
    throw new TypeError(
      `fork: run ${parent.id} of chain '${parent.chainName}' never started: its input was rejected (INVALID_INPUT), so no link ran to branch after; run the chain on a corrected input, or replay the run on a chain that accepts it`,
    )
  }
  checkRecorded(parent, chain, 'fork')
  const cut = findCut(parent as Run<unknown>, at)
  const linkIndex = nextLinkIndex(chain, cut.linkName)
  const event = parent.timeline.at(cut.seq) as TimelineEvent<C>
  let state = event.ctx
  let patches: readonly Patch[] = []
  let inversePatches: readonly Patch[] = []
  if (edit !== undefined) {
    state = produce(state, edit as never, (p, inverse) => {
      patches = p
      inversePatches = inverse
    }) as typeof state
  }
  const parentRef = { run: parent as Run<unknown>, runId: parent.id, seq: cut.seq }
  const { run } = await chain._execute(state, runOptions, {
    input: parent.input,
    parent: parentRef,
    resume: {
      ...parent.timeline.prefixOf(cut.seq + 1),
      linkIndex,
      mwctx: event.mwctx,
      fork: { parent: Object.freeze({ runId: parent.id, seq: cut.seq }), patches, inversePatches },
    },
  })
  ;(parent.children as Run<unknown>[]).push(run as Run<unknown>)
  if (run.error !== undefined) throw run.error
  return run
}
