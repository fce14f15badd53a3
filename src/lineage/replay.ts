import { applyPatches, type Draft, type Objectish } from 'immer'
import type { Chain } from '../core/chain.js'
import { compareLinks } from './compare.js'
import type { LinkFn } from '../core/types.js'
import type { RecordedIO, TimelineEvent } from '../record/events.js'
import type { ReplayOptions, ReplayResult, Run } from './run.js'
import type { RecordedRun } from './recorded-run.js'
import type { ResumePoint } from '../record/recorder.js'
import { checkRecorded, findCut, nextLinkIndex } from './fork.js'
import type { LinkRecord, Timeline } from '../record/timeline.js'
import { attemptKey, branchKey } from '../run/parallel.js'

// `ReplayOptions` and `ReplayResult` are declared with `Run` (lineage/run.ts), whose `replay()`
// names them; re-exported here, where src/testing imports ReplayOptions from.
export type { ReplayOptions, ReplayResult } from './run.js'

/**
 * A link that plays back a recorded outcome instead of running (and stops the run again when
 * the recorded link stopped it: `stop` is its reason, or null when it stopped it without one).
 */
function stubOf<C>(record: LinkRecord<C>, stop: string | null | undefined): LinkFn<C> {
  if (record.status === 'error') {
    return function recordedFailure() {
      throw record.error
    }
  }
  return function recordedPatches(ctx: Draft<C>, io) {
    if (stop !== undefined) io.stop(stop ?? undefined)
    // applyPatches mutates a draft in place; a recorded replacement comes back as a new value.
    const result = applyPatches(ctx as Objectish, record.patches as never) as unknown
    return result === ctx ? undefined : (result as C)
  }
}

function stubs<C>(chain: Chain<C>, original: Run<C>, records: ReadonlyMap<string, LinkRecord<C>>, stub: ReplayOptions<C>['stub']): Map<number, LinkFn<C>> {
  const out = new Map<number, LinkFn<C>>()
  if (stub === undefined) return out
  if (typeof stub !== 'function' && !Array.isArray(stub)) {
    throw new TypeError(`replay: stub must be an array of link names or a predicate, got ${typeof stub}`)
  }
  const links = chain.links
  const names = typeof stub === 'function' ? links.filter((link) => stub(link)).map((link) => link.name) : stub
  for (const name of names) {
    const link = links.find((candidate) => candidate.name === name)
    if (link === undefined) {
      throw new TypeError(`replay: cannot stub link '${name}': chain '${chain.name}' has no such link (links: ${links.map((l) => `'${l.name}'`).join(', ') || 'none'})`)
    }
    const record = records.get(name)
    if (record === undefined || record.status === 'skipped') {
      throw new TypeError(`replay: cannot stub link '${name}': the recording ${record === undefined ? 'never reached it' : `skipped it (${record.reason ?? 'when'})`}, so it has no recorded outcome to play back`)
    }
    out.set(link.index, stubOf(record, original.stoppedBy?.name === name ? (original.stopReason ?? null) : undefined))
  }
  return out
}

/**
 * A fork replays from where it was forked: its parent's events up to the cut are shared as
 * they are, its edited state is the starting point, and only its own links run again.
 */
function forkResume<C>(original: Run<C>, chain: Chain<C>): { resume?: ResumePoint<C>; state?: unknown; input?: unknown } {
  if (original.parent === undefined) return {}
  const forkSeq = original.parent.seq + 1
  const fork = original.timeline.at(forkSeq)
  if (fork?.type !== 'fork') throw new TypeError(`replay: run ${original.id} says it was forked after seq ${original.parent.seq}, but event ${forkSeq} is not its fork event`)
  const cut = findCut(original as RecordedRun<unknown>, original.parent.seq)
  return {
    state: fork.ctx,
    input: original.input,
    resume: {
      ...original.timeline.prefixOf(forkSeq),
      linkIndex: nextLinkIndex(chain, cut.linkName),
      mwctx: fork.mwctx,
      fork: { parent: fork.parent, patches: fork.patches, inversePatches: fork.inversePatches },
    },
  }
}

/** What a replay reads of its recording: its links (by name too) and the io values they drew. */
interface Recording<C> {
  readonly length: number
  readonly links: readonly LinkRecord<C>[]
  readonly records: ReadonlyMap<string, LinkRecord<C>>
  readonly recordedIO: ReadonlyMap<string, RecordedIO>
}

/** Recordings read by a replay, by timeline: a run replayed again reads them once. */
const recordings = new WeakMap<Timeline<unknown>, Recording<unknown>>()

/**
 * The links of `original` and what a replay derives from them, listed once per recording (kept
 * while its timeline has as many events: they and the links made of them never change).
 */
function recordingOf<C>(original: Run<C>): Recording<C> {
  const timeline = original.timeline as Timeline<unknown>
  const known = recordings.get(timeline) as Recording<C> | undefined
  if (known !== undefined && known.length === timeline.length) return known
  const links = original.timeline.links()
  const records = new Map<string, LinkRecord<C>>()
  for (const record of links) records.set(record.name, record)
  const recording: Recording<C> = { length: timeline.length, links, records, recordedIO: recordedIOOf(links, original.timeline.events) }
  recordings.set(timeline, recording as Recording<unknown>)
  return recording
}

/**
 * Re-executes a recorded run's input on `chain` and reports the first divergence: what
 * `run.replay()` does, reached through the engine (`chain` is the one given in `options`, or the
 * run's own, chosen by `Run.replay`).
 */
export async function replayRun<C>(chain: Chain<C>, original: Run<C>, options: ReplayOptions<C> = {}): Promise<ReplayResult<C>> {
  const { chain: _chosen, stub, ...runOptions } = options
  // The recording's links, listed once: for the stubs, the io to play back and the comparison.
  const { links: recordedLinks, records, recordedIO } = recordingOf(original)
  checkRecorded(original, chain, 'replay')
  const extras = {
    recordedIO,
    ...replayOrigin(original),
    linkOverrides: stubs(chain, original, records, stub),
    ...forkResume(original, chain),
  }
  // A replay is compared link by link: it always records the links, whatever the defaults.
  const capture = runOptions.capture === 'writes' ? 'writes' : 'timeline'
  const { run, ioOverruns } = await chain._execute(extras.state ?? original.input, { ...runOptions, capture }, extras)
  let divergence = compareLinks(original as RecordedRun<unknown>, run as RecordedRun<unknown>, recordedLinks as readonly LinkRecord<unknown>[])
  const overrun = ioOverruns[0]
  if (overrun !== undefined && (divergence === undefined || overrun.seq <= divergence.seq)) {
    const drawn = (run.timeline.at(overrun.seq) as { io?: RecordedIO } | undefined)?.io
    divergence = { reason: 'io', link: overrun.link, seq: overrun.seq, expected: records.get(overrun.link.name)?.io, actual: drawn }
  }
  return divergence === undefined ? { run, identical: true } : { run, identical: false, divergence }
}

/**
 * @internal What a replay of `original` re-executes with: the io values its links drew, and
 * the recording it compares with (a nested chain's run is replayed with these too).
 */
export function replayExtras<C>(original: Run<C>): { recordedIO: Map<string, RecordedIO>; replayOf: { run: Run<unknown>; runId: string }; parsed: boolean } {
  return { recordedIO: recordedIOOf(original.timeline.links(), original.timeline.events), ...replayOrigin(original) }
}

/**
 * The io values recorded links drew, by link name (their last attempt's), `branchKey` for a
 * branch's and `attemptKey` for a failed attempt's (its `link.attempt`).
 */
function recordedIOOf<C>(links: readonly LinkRecord<C>[], events: readonly TimelineEvent<C>[]): Map<string, RecordedIO> {
  const recordedIO = new Map<string, RecordedIO>()
  for (const record of links) {
    if (record.io !== undefined) recordedIO.set(record.name, record.io)
    for (const branch of record.branches ?? []) if (branch.io !== undefined) recordedIO.set(branchKey(record.name, branch.name), branch.io)
  }
  for (const event of events) if (event.type === 'link.attempt' && event.io !== undefined) recordedIO.set(attemptKey(event.link.name, event.attempt), event.io)
  return recordedIO
}

/** The recording a replay of `original` compares with, and whether its input is parsed already. */
function replayOrigin<C>(original: Run<C>): { replayOf: { run: Run<unknown>; runId: string }; parsed: boolean } {
  // A recorded input was parsed already, unless the schema rejected it: then the recording is
  // the raw input, and the replay must check it again (against the chain replayed on).
  return { replayOf: { run: original as Run<unknown>, runId: original.id }, parsed: original.error?.code !== 'INVALID_INPUT' }
}

/**
 * @internal The runs nested chains made in `original`, by call site (`branchKey(link, branch)`
 * for a branch, the link's name for a link), in the order they were made: the `n`-th call of a
 * replay at that site is compared with the `n`-th and draws its io from it. One pass.
 */
export function recordedChildren(original: Run<unknown>): Map<string, Run<unknown>[]> {
  const out = new Map<string, Run<unknown>[]>()
  for (const event of original.timeline.events) {
    const named = event as { readonly link?: { readonly name: string }; readonly branch?: string; readonly child?: string }
    const child = named.child === undefined ? undefined : original.timeline.child(named.child)
    if (child === undefined || named.link === undefined) continue
    const key = named.branch === undefined ? named.link.name : branchKey(named.link.name, named.branch)
    const list = out.get(key)
    if (list === undefined) out.set(key, [child])
    else list.push(child)
  }
  return out
}
