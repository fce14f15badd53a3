/**
 * The viewer's comparison and lineage: runs side by side, step by step, with the first divergence
 * found by the library's `compareRuns` (the viewer never decides it on its own), a link's or a
 * fork edit's before and after, and the fork tree of the loaded runs.
 *
 * @module
 */
import type { Patch } from 'immer'
import { describeError } from '../../core/errors.js'
import { compareRuns, type DivergenceReason } from '../../lineage/compare.js'
import type { LinkRecord } from '../../record/timeline.js'
import { formatDivergence, formatPatch } from '../format-patch.js'
import { valueText } from '../value-text.js'
import type { WaterfallRow } from '../waterfall.js'
import type { ViewerRun } from './run-view.js'
import { patchedPaths } from './values.js'

/** A run's input, the first thing compared. */
export interface InputStep {
  readonly kind: 'input'
  readonly name: 'input'
  readonly value: unknown
  readonly lines: readonly string[]
  /** The input schema's message, when the chain rejected the input. */
  readonly message: string | undefined
}

/** A fork edit, at its place among the links. */
export interface EditStep {
  readonly kind: 'edit'
  readonly name: 'fork edit'
  /** How many link executions come before it. */
  readonly position: number
  readonly seq: number
  /** The link it was cut after. */
  readonly after: string | undefined
  /** The ctx the edit left. */
  readonly ctx: unknown
  /** The edit's patches, as lines. */
  readonly lines: readonly string[]
}

/** A link execution. */
export interface LinkStep {
  readonly kind: 'link'
  readonly position: number
  /** Its waterfall row (index, times). */
  readonly row: WaterfallRow
  readonly name: string
  readonly status: 'ok' | 'error' | 'skipped'
  /** Its error, described as the library compares errors. */
  readonly message: string | undefined
  /** Its patches, as lines. */
  readonly lines: readonly string[]
}

/** One step of a run as the comparison lists it. */
export type CompareStep = InputStep | EditStep | LinkStep

/** Where two runs first differ, placed among the viewer's steps. */
export interface ViewerDivergence {
  /** `compareRuns`' reason. */
  readonly reason: DivergenceReason
  /** The link's place; for `'fork'` the place of the link after the edit; 0 at the input. */
  readonly index: number
  /** The link concerned; for `'fork'` the link the edit was made after. */
  readonly link: string | undefined
  /** Each side's step there; `undefined` where a side has none. */
  readonly a: CompareStep | undefined
  readonly b: CompareStep | undefined
  /** `'input'` and `'fork'`: what turns a's state there into b's, as patch lines. */
  readonly lines: readonly string[] | undefined
  /**
   * At a nested chain's link (`'child'`, or `'patches'` / `'error'` with a child divergence):
   * where the nested runs first differ, as `formatDivergence` lines (recursively indented).
   */
  readonly nested?: readonly string[]
}

const linesOf = (patches: readonly Patch[]): string[] => patches.map(formatPatch)

/**
 * Everything compared between runs, in the order a run meets it: its input, then each fork edit
 * at its place among the links, and the links (the library's `timeline.links()`).
 */
export function compareSteps(run: ViewerRun): CompareStep[] {
  const records = run.run.timeline.links()
  const rows = new Map(run.allRows.map((row) => [row.endSeq, row]))
  const links = records.map((record, position): LinkStep => linkStep(record, position, rows.get(record.endSeq)))
  const error = run.run.error
  const input: InputStep = { kind: 'input', name: 'input', value: run.run.input, lines: [], message: error?.code === 'INVALID_INPUT' ? error.message : undefined }
  const steps: CompareStep[] = [input]
  let position = 0
  for (const event of run.events) {
    if (event.event.type !== 'fork') continue
    while (position < links.length && (records[position] as LinkRecord<unknown>).endSeq < event.seq) steps.push(links[position++] as LinkStep)
    steps.push({ kind: 'edit', name: 'fork edit', position, seq: event.seq, after: event.after, ctx: event.event.ctx, lines: linesOf(event.event.patches) })
  }
  steps.push(...links.slice(position))
  return steps
}

function linkStep(record: LinkRecord<unknown>, position: number, row: WaterfallRow | undefined): LinkStep {
  if (row === undefined) throw new Error(`no waterfall row for link '${record.name}'`)
  const message = record.status === 'error' ? describeError(record.error) : undefined
  return { kind: 'link', position, row, name: record.name, status: record.status, message, lines: linesOf(record.patches) }
}

/**
 * Where two runs first differ, as the library's `compareRuns(a.run, b.run)` says, placed among
 * each side's {@link compareSteps}: the input (`'input'`, or `'error'` for an input rejected on
 * one side only), a fork edit (`'fork'`), a link (`'link'`, `'error'`, `'patches'`, `'skip'`), or
 * how the runs ended (`'stop'`, `'status'`). `undefined` when the runs agree.
 */
export function firstDivergence(a: ViewerRun, b: ViewerRun): ViewerDivergence | undefined {
  const divergence = compareRuns(a.run, b.run)
  if (divergence === undefined) return undefined
  const stepsA = compareSteps(a)
  const stepsB = compareSteps(b)
  const linksA = stepsA.filter((step): step is LinkStep => step.kind === 'link')
  const linksB = stepsB.filter((step): step is LinkStep => step.kind === 'link')
  const link = divergence.link?.name
  switch (divergence.reason) {
    case 'input':
      return { reason: 'input', index: 0, link, a: stepsA[0], b: stepsB[0], lines: linesOf(divergence.patches) }
    case 'fork': {
      // compareRuns' seq is b's fork event, or b's first event after the link before the edit.
      const index = linksB.filter((step) => step.row.endSeq < divergence.seq).length
      const editAt = (steps: readonly CompareStep[]): EditStep | undefined =>
        steps.filter((step): step is EditStep => step.kind === 'edit' && step.position === index).at(-1)
      return { reason: 'fork', index, link, a: editAt(stepsA), b: editAt(stepsB), lines: linesOf(divergence.patches) }
    }
    case 'status':
    case 'stop':
      // How the runs ended: past the last link.
      return { reason: divergence.reason, index: linksA.length, link, a: undefined, b: undefined, lines: undefined }
    default: {
      if (divergence.reason === 'error' && divergence.link === undefined) {
        return { reason: 'error', index: 0, link, a: stepsA[0], b: stepsB[0], lines: undefined }
      }
      // At b's link that ended at seq, or past b's last link when b has none there.
      const found = linksB.findIndex((step) => step.row.endSeq === divergence.seq)
      const index = found === -1 ? linksB.length : found
      const child = 'child' in divergence && typeof divergence.child === 'object' ? divergence.child : undefined
      const nested = child === undefined ? {} : { nested: formatDivergence(child, ['this run', 'the other']).split('\n') }
      return { reason: divergence.reason, index, link, a: linksA[index], b: linksB[index], lines: undefined, ...nested }
    }
  }
}

/** A link's change: its states before and after, its patches (and as lines), the changed paths. */
export interface Change {
  readonly before: unknown
  readonly after: unknown
  readonly patches: readonly Patch[]
  readonly lines: readonly string[]
  readonly changed: Set<string>
}

/** Before/after of a link execution: states at its `link.start` and `link.end` / `link.error`, its patches. */
export function linkDiff(run: ViewerRun, row: WaterfallRow): Change & { readonly error: string | undefined } {
  const timeline = run.timeline
  const end = timeline.at(row.endSeq)
  const patches = end?.type === 'link.end' ? end.patches : []
  return {
    before: timeline.stateAt(row.startSeq).ctx,
    after: timeline.stateAt(row.endSeq).ctx,
    patches,
    lines: linesOf(patches),
    changed: patchedPaths(patches),
    error: row.error === undefined ? undefined : valueText(row.error),
  }
}

/** A fork's edit, shown like a link's change: the ctx at the cut, after the edit, the edit's patches. */
export function forkEdit(run: ViewerRun, seq: number): Change & { readonly cutAfter: string | undefined } {
  const timeline = run.timeline
  const event = timeline.at(seq)
  const patches = event?.type === 'fork' ? event.patches : []
  return {
    cutAfter: run.events[seq]?.after,
    before: timeline.stateAt(Math.max(seq - 1, 0)).ctx,
    after: timeline.stateAt(seq).ctx,
    patches,
    lines: linesOf(patches),
    changed: patchedPaths(patches),
  }
}

/** A node of the fork tree of the loaded runs. */
export interface ForkNode {
  readonly run: ViewerRun
  readonly kind: 'root' | 'fork' | 'replay'
  readonly children: ForkNode[]
  /** A run whose parent (or replayed original) is not loaded: the parent's id. */
  missingParent?: string
}

/**
 * The loaded runs as a forest, linked by `parent.runId` (forks) and `replayOf.runId` (replays).
 * A run whose parent is not loaded is a root, with `missingParent` set.
 */
export function forkTree(runs: readonly ViewerRun[]): ForkNode[] {
  const nodes = new Map<string, ForkNode>(runs.map((run) => [run.id, { run, kind: run.parent ? 'fork' : run.replayOf ? 'replay' : 'root', children: [] }]))
  const roots: ForkNode[] = []
  for (const run of runs) {
    const parentId = run.parent?.runId ?? run.replayOf?.runId
    const node = nodes.get(run.id) as ForkNode
    const parent = parentId === undefined || parentId === run.id ? undefined : nodes.get(parentId)
    if (parent !== undefined) parent.children.push(node)
    else {
      if (parentId !== undefined) node.missingParent = parentId
      roots.push(node)
    }
  }
  return roots
}
