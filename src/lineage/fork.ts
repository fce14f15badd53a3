import { produce, type Patch } from 'immer'
import type { Chain } from '../core/chain.js'
import type { TimelineEvent } from '../record/events.js'
import { runStartEnd, stepEnd } from './compare.js'
import { isLinkEnd, lastLinkEnd } from './cut-index.js'
import type { RecordedRun } from './recorded-run.js'
import type { ForkOptions, Run } from './run.js'
import type { Timeline } from '../record/timeline.js'

/**
 * The cut: the seq of the last shared event, and the name of the last link completed by then.
 * By name, the link's last end comes from an index of the run's timeline (built once per
 * timeline), so its cost depends neither on where the link is nor on the run's length; by seq,
 * it scans back from `at` through `timeline.at` to the step before it. Neither joins a fork's
 * shared prefix into one array.
 */
export function findCut(run: RecordedRun<unknown>, at: string | number): { seq: number; linkName: string | undefined } {
  const timeline = run.timeline
  const length = timeline.length
  if (typeof at === 'string') {
    // A skipped link is a step too (one event): a fork may be cut after it like after a link that ran.
    const end = lastLinkEnd(run, at)
    if (end !== undefined) return { seq: stepEnd(timeline, end), linkName: at }
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
function ranUnrecorded<C>(run: RecordedRun<C>, chain: Chain<C>): boolean {
  const timeline = run.timeline as Timeline<unknown>
  const own = run.parent === undefined ? 0 : run.parent.seq + 1
  let linkEnd = false
  let hooks = false
  for (let seq = own; seq < timeline.length; seq++) {
    const type = timeline.at(seq)?.type
    // Skips are recorded only with a timeline (never with capture 'off').
    if (type === 'link.start' || type === 'link.skip') return false
    if (type === 'link.error' || type === 'link.end') linkEnd = true
    // Only a recorded run has successful middleware calls in its timeline.
    if (type === 'middleware.before' || type === 'middleware.after') hooks = true
  }
  if (linkEnd) return true
  if (hooks) return false
  // No link event at all: right when no link was due to run, or none ran before the run ended.
  const first = run.parent === undefined ? 0 : chain.indexOf(findCut(run as RecordedRun<unknown>, run.parent.seq).linkName ?? '') + 1
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
export function checkRecorded<C>(run: RecordedRun<C>, chain: Chain<C>, what: string): void {
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

/**
 * Starts a daughter run from a cut of `parent` and runs the rest of `chain`: what `run.fork()`
 * does, reached through the engine (`Run.fork` has checked `options` and chosen `chain`: the one
 * given in `options`, or the run's own).
 */
export async function forkRun<C>(chain: Chain<C>, parent: Run<C>, options: ForkOptions<C>): Promise<Run<C>> {
  const { at, edit, chain: _chosen, ...runOptions } = options
  // Its only state is the raw input the schema refused: a fork would run links on it unchecked.
  if (parent.error?.code === 'INVALID_INPUT') {
    throw new TypeError(
      `fork: run ${parent.id} of chain '${parent.chainName}' never started: its input was rejected (INVALID_INPUT), so no link ran to branch after; run the chain on a corrected input, or replay the run on a chain that accepts it`,
    )
  }
  checkRecorded(parent, chain, 'fork')
  const cut = findCut(parent as RecordedRun<unknown>, at)
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
