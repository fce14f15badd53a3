import { produce, type Draft, type Patch } from 'immer'
import type { Chain } from './chain.js'
import type { TimelineEvent } from './events.js'
import { chainFor } from './replay.js'
import type { Run } from './run.js'
import type { LinkRecord } from './timeline.js'
import type { RunOptions } from './types.js'

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

/** The seq of the last event of a link's step: its end and every after-middleware call. */
function stepEnd(events: readonly TimelineEvent<unknown>[], record: LinkRecord<unknown>): number {
  let seq = record.endSeq
  while (seq + 1 < events.length && (events[seq + 1] as { link?: unknown }).link === record.link) seq++
  return seq
}

/** The cut: the seq of the last shared event and the last link completed by then, if any. */
function findCut<C>(run: Run<C>, at: string | number): { seq: number; record: LinkRecord<C> | undefined } {
  const events = run.timeline.events as readonly TimelineEvent<unknown>[]
  const records = run.timeline.links()
  if (typeof at === 'string') {
    const record = [...records].reverse().find((candidate) => candidate.name === at)
    if (record === undefined) {
      const ran = records.map((r) => `'${r.name}'`).join(', ') || 'none'
      throw new TypeError(`fork: link '${at}' never ran in run ${run.id} of chain '${run.chainName}' (links that ran: ${ran})`)
    }
    return { seq: stepEnd(events, record as LinkRecord<unknown>), record }
  }
  if (!Number.isInteger(at) || at < 0 || at >= events.length) {
    throw new RangeError(`fork: seq ${String(at)} is out of range: run ${run.id} has ${events.length} events (0…${events.length - 1})`)
  }
  let found: { seq: number; record: LinkRecord<C> } | undefined
  for (const record of records) {
    const end = stepEnd(events, record as LinkRecord<unknown>)
    if (end <= at) found = { seq: end, record }
  }
  if (found !== undefined) return found
  // Before any link completed: branch after the run's start (and its runStart hooks).
  let seq = 0
  while (seq + 1 < events.length && (events[seq + 1] as { middleware?: { position: string } }).middleware?.position === 'run-start') seq++
  return { seq, record: undefined }
}

/** Starts a daughter run from a cut of `parent`. */
export async function forkRun<C>(parent: Run<C>, options: ForkOptions<C>): Promise<Run<C>> {
  const { at, edit, chain: given, ...runOptions } = options
  const chain = chainFor(parent, given, 'fork')
  const cut = findCut(parent, at)
  let linkIndex = 0
  if (cut.record !== undefined) {
    const after = chain.links.find((link) => link.name === cut.record?.name)
    if (after === undefined) throw new TypeError(`fork: chain '${chain.name}' has no link named '${cut.record.name}' to continue after`)
    linkIndex = after.index + 1
  }
  const event = parent.timeline.events[cut.seq] as TimelineEvent<C>
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
      prefix: parent.timeline.events.slice(0, cut.seq + 1),
      linkIndex,
      mwctx: event.mwctx,
      fork: { parent: Object.freeze({ runId: parent.id, seq: cut.seq }), patches, inversePatches },
    },
  })
  ;(parent.children as Run<unknown>[]).push(run as Run<unknown>)
  if (run.error !== undefined) throw run.error
  return run
}
