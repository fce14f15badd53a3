// One tree across services (DESIGN §11): runs of several processes that share a W3C trace, each
// placed under the link (or branch) whose `io.inject` call carried the trace to it.
import type { LinkInfo, RunTrace } from '../core/types.js'
import type { Run } from '../lineage/run.js'
import type { TimelineEvent } from '../record/events.js'
import { waterfallLines, type WaterfallOptions } from './waterfall.js'
import { shortRunId } from '../core/run-id.js'

/** Any run, whatever its ctx type (`Run<C>` is invariant in `C`). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyRun = Run<any>

/**
 * What stitching reads of a run: a `Run`, or a run the devtools viewer read from its document
 * (its states not rebuilt).
 */
export interface StitchableRun {
  readonly id: string
  readonly startedAt: bigint
  readonly trace: RunTrace | undefined
  readonly timeline: { readonly events: readonly TimelineEvent<unknown>[]; child(id: string): StitchableRun | undefined }
}

/** A run given to {@link stitchRuns}, with where it came from (a file, a store: shown as its service). */
export interface StitchInput<R extends StitchableRun = AnyRun> {
  readonly run: R
  /** A name for where the run was read (a file name, a store): shown next to a remote run. */
  readonly origin?: string | undefined
}

/** The link call (or branch) of another run that called a remote run over the wire. */
export interface RemoteCall {
  /** The span id `io.inject` wrote (the called run's `trace.remoteParent`). */
  readonly span: string
  /** The run whose event recorded the span: the caller, or a nested run inside it. */
  readonly runId: string
  /** The seq of that `link.end` / `link.error` / `branch.end` / `branch.error` event. */
  readonly seq: number
  /** The link that made the call. */
  readonly link: LinkInfo
  /** The branch of a parallel step that made it, if a branch did. */
  readonly branch?: string | undefined
}

/** A run in a stitched trace, with the remote runs its links called. */
export interface StitchedRun<R extends StitchableRun = Run<unknown>> {
  readonly run: R
  readonly origin?: string | undefined
  /** Where it was called from; `undefined` for a root (its caller is not among the runs given). */
  readonly calledBy?: RemoteCall | undefined
  /** The runs its links (and its nested runs' links) called, by the calling event's seq, then start time. */
  readonly remote: readonly StitchedRun<R>[]
}

/** The runs of one distributed trace as trees. */
export interface StitchedTrace<R extends StitchableRun = Run<unknown>> {
  /** The W3C trace id; `undefined` for a run that has no trace (it is a trace of its own). */
  readonly traceId: string | undefined
  /** The runs whose caller is not among those given, oldest first. */
  readonly roots: readonly StitchedRun<R>[]
  /** Every run placed under a call, by the span id of that call (for drawing in place). */
  readonly calls: ReadonlyMap<string, readonly StitchedRun<R>[]>
  /** How many runs the trace holds. */
  readonly size: number
  /** What was set aside or decided on hostile input (duplicates, a span recorded twice, a cycle). */
  readonly notes: readonly string[]
}

interface Site {
  readonly call: RemoteCall
  readonly caller: string
}

type Node = { run: StitchableRun; origin?: string | undefined; calledBy?: RemoteCall | undefined; remote: Node[] }

/**
 * Groups runs by trace id and places each run whose `trace.remoteParent` is the `span` recorded
 * on a link or branch event of another run (or of a nested run inside it) under that call; the
 * others are roots.
 *
 * Hostile or odd input never hangs and always gives every run exactly one place:
 * - the same run id twice (the same run read from two stores): the first is kept, the others dropped (noted);
 * - a span recorded by two events (in one run or two): the first, in the order the runs were
 *   given and then by seq, is the call site (noted);
 * - a run naming a span of its own events, or a cycle (A under B under A): in each cycle the
 *   run that started first (then the smallest id) becomes a root (noted);
 * - several runs naming one span (a retried request): all are placed under it, by start time.
 *
 * @param runs - runs, or `{ run, origin }` entries naming where each was read
 * @returns one {@link StitchedTrace} per trace id (runs without a trace each alone), by first start time
 */
export function stitchRuns(runs: Iterable<AnyRun | StitchInput>): StitchedTrace[]
export function stitchRuns<R extends StitchableRun>(runs: Iterable<StitchInput<R>>): StitchedTrace<R>[]
export function stitchRuns(runs: Iterable<StitchableRun | StitchInput<StitchableRun>>): StitchedTrace<StitchableRun>[] {
  const notes = new Map<string | undefined, string[]>()
  const note = (trace: string | undefined, text: string): void => {
    const list = notes.get(trace) ?? []
    if (list.length < 100) list.push(text)
    notes.set(trace, list)
  }
  const nodes = new Map<string, Node>()
  for (const entry of runs) {
    const input: StitchInput<StitchableRun> = 'timeline' in entry ? { run: entry } : entry
    const run = input.run
    if (nodes.has(run.id)) {
      note(run.trace?.traceId, `run ${shortRunId(run.id)} given twice: the first kept`)
      continue
    }
    nodes.set(run.id, { run, origin: input.origin, remote: [] })
  }
  // The call sites of each trace: span → the event that recorded it (the first one).
  const sites = new Map<string, Map<string, Site>>()
  for (const node of nodes.values()) {
    const traceId = node.run.trace?.traceId
    if (traceId === undefined) continue
    let bySpan = sites.get(traceId)
    if (bySpan === undefined) sites.set(traceId, (bySpan = new Map()))
    for (const call of callSites(node.run)) {
      if (bySpan.has(call.span)) {
        note(traceId, `span ${call.span} recorded twice (run ${shortRunId(call.runId)} seq ${call.seq}): the first call site kept`)
        continue
      }
      bySpan.set(call.span, { call, caller: node.run.id })
    }
  }
  // Each run's caller, then cycles broken.
  const parent = new Map<string, Site>()
  for (const node of nodes.values()) {
    const trace = node.run.trace
    if (trace?.remoteParent === undefined) continue
    const site = sites.get(trace.traceId)?.get(trace.remoteParent)
    if (site === undefined) continue
    if (site.caller === node.run.id) {
      note(trace.traceId, `run ${shortRunId(node.run.id)} names a span of its own: shown as a root`)
      continue
    }
    parent.set(node.run.id, site)
  }
  breakCycles(nodes, parent, note)
  // Trees.
  const byTrace = new Map<string | undefined, Node[]>()
  const calls = new Map<string | undefined, Map<string, Node[]>>()
  for (const node of nodes.values()) {
    const traceId = node.run.trace?.traceId
    const site = parent.get(node.run.id)
    if (site === undefined) {
      const key = traceId ?? `\u0000${node.run.id}`
      const roots = byTrace.get(key) ?? []
      roots.push(node)
      byTrace.set(key, roots)
      continue
    }
    node.calledBy = site.call
    ;(nodes.get(site.caller) as Node).remote.push(node)
    let bySpan = calls.get(traceId)
    if (bySpan === undefined) calls.set(traceId, (bySpan = new Map()))
    const placed = bySpan.get(site.call.span)
    if (placed === undefined) bySpan.set(site.call.span, [node])
    else placed.push(node)
  }
  const byStart = (a: Node, b: Node): number => (a.run.startedAt === b.run.startedAt ? (a.run.id < b.run.id ? -1 : 1) : a.run.startedAt < b.run.startedAt ? -1 : 1)
  for (const node of nodes.values()) node.remote.sort((a, b) => (a.calledBy as RemoteCall).seq - (b.calledBy as RemoteCall).seq || byStart(a, b))
  for (const list of calls.values()) for (const placed of list.values()) placed.sort(byStart)
  const traces: { traceId: string | undefined; roots: Node[]; calls: ReadonlyMap<string, readonly Node[]>; size: number; notes: readonly string[] }[] = []
  for (const [key, roots] of byTrace) {
    roots.sort(byStart)
    const traceId = (roots[0] as Node).run.trace?.traceId
    const inTrace = key?.startsWith('\u0000') === true ? undefined : traceId
    let size = 0
    const count = (n: Node): void => {
      size++
      for (const r of n.remote) count(r)
    }
    roots.forEach(count)
    traces.push({ traceId: inTrace, roots, calls: calls.get(inTrace) ?? new Map(), size, notes: inTrace === undefined ? [] : (notes.get(inTrace) ?? []) })
  }
  return traces.sort((a, b) => byStart(a.roots[0] as Node, b.roots[0] as Node))
}

/** The spans a run's link and branch events recorded, its nested runs' included. */
function callSites(run: StitchableRun, seen = new Set<StitchableRun>()): RemoteCall[] {
  if (seen.has(run)) return []
  seen.add(run)
  const out: RemoteCall[] = []
  for (const event of run.timeline.events) {
    if (event.type === 'link.end' || event.type === 'link.error' || event.type === 'branch.end' || event.type === 'branch.error') {
      if (typeof event.span === 'string') {
        out.push({ span: event.span, runId: run.id, seq: event.seq, link: event.link, ...('branch' in event && { branch: event.branch }) })
      }
    }
    const child = 'child' in event && typeof event.child === 'string' ? run.timeline.child(event.child) : undefined
    if (child !== undefined) out.push(...callSites(child, seen))
  }
  return out
}

/** In each cycle of `parent`, the run that started first (then the smallest id) loses its caller. */
function breakCycles(nodes: ReadonlyMap<string, Node>, parent: Map<string, Site>, note: (traceId: string | undefined, text: string) => void): void {
  const done = new Set<string>()
  for (const start of nodes.keys()) {
    const path: string[] = []
    const onPath = new Set<string>()
    let at: string | undefined = start
    while (at !== undefined && !done.has(at) && !onPath.has(at)) {
      path.push(at)
      onPath.add(at)
      at = parent.get(at)?.caller
    }
    if (at !== undefined && onPath.has(at)) {
      const cycle = path.slice(path.indexOf(at))
      const first = cycle
        .map((id) => (nodes.get(id) as Node).run)
        .reduce((a, b) => (b.startedAt < a.startedAt || (b.startedAt === a.startedAt && b.id < a.id) ? b : a))
      parent.delete(first.id)
      note(first.trace?.traceId, `runs ${cycle.map((id) => shortRunId(id)).join(' → ')} call each other in a cycle: run ${shortRunId(first.id)} shown as a root`)
    }
    for (const id of path) done.add(id)
  }
}

// ---- a stitched trace in the terminal, and as plain data ----------------------------------------

/**
 * Draws one trace of {@link stitchRuns}: a header line (`trace <id>  N runs`), then each root
 * run's waterfall, every remote run indented under the link (or branch) that called it
 * (`⇢ remote run <id> '<chain>' (<origin>)`), on the root's time axis, then what was set aside.
 *
 * @example
 * for (const trace of stitchRuns([ordersRun, paymentsRun])) console.log(formatTrace(trace))
 */
export function formatTrace(trace: StitchedTrace, options: Omit<WaterfallOptions, 'remote'> = {}): string {
  return [...traceLines(trace, options)].join('\n')
}

/** The lines of {@link formatTrace}, one at a time (the CLI writes each as it comes). */
export function* traceLines(trace: StitchedTrace, options: Omit<WaterfallOptions, 'remote'> = {}): Generator<string, void, undefined> {
  const remote = (span: string): readonly StitchedRun[] => trace.calls.get(span) ?? []
  yield trace.traceId === undefined ? `run without a trace` : `trace ${trace.traceId}  ${trace.size} run${trace.size === 1 ? '' : 's'}`
  for (const root of trace.roots) {
    // A root read from somewhere says where on its first line (its block's end trimmed).
    let held: string | undefined
    let first = true
    for (const line of waterfallLines(root.run, { ...options, remote })) {
      if (held !== undefined) yield held
      held = first && root.origin !== undefined ? `${line}  (${root.origin})` : line
      first = false
    }
    if (held !== undefined) yield root.origin === undefined ? held : held.trimEnd()
  }
  for (const note of trace.notes) yield `! ${note}`
}

/** A stitched run as JSON-friendly data: ids, chains, sources and where each remote run was called. */
export interface TraceTreeNode {
  readonly id: string
  readonly chain: string
  readonly status: string
  readonly origin?: string | undefined
  readonly calledBy?: { readonly runId: string; readonly link: string; readonly branch?: string | undefined; readonly seq: number; readonly span: string } | undefined
  readonly remote: readonly TraceTreeNode[]
}

/** {@link StitchedTrace} as plain data (`inspect --json` prints it). */
export function describeTrace(trace: StitchedTrace): { traceId: string | undefined; size: number; roots: TraceTreeNode[]; notes: readonly string[] } {
  const node = (n: StitchedRun): TraceTreeNode => ({
    id: n.run.id,
    chain: n.run.chainName,
    status: n.run.status,
    ...(n.origin !== undefined && { origin: n.origin }),
    ...(n.calledBy !== undefined && {
      calledBy: { runId: n.calledBy.runId, link: n.calledBy.link.name, ...(n.calledBy.branch !== undefined && { branch: n.calledBy.branch }), seq: n.calledBy.seq, span: n.calledBy.span },
    }),
    remote: n.remote.map(node),
  })
  return { traceId: trace.traceId, size: trace.size, roots: trace.roots.map(node), notes: trace.notes }
}
