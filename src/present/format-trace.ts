// A stitched trace (DESIGN §11) in the terminal: each root run's waterfall, with the runs of other
// services drawn in place under the links that called them.
import { formatWaterfall, type WaterfallOptions } from './waterfall.js'
import type { StitchedRun, StitchedTrace } from './stitch.js'

/**
 * Draws one trace of {@link stitchRuns}: a header line (`trace <id>  N runs`), then each root
 * run's waterfall, every remote run indented under the link (or branch) that called it
 * (`⇢ remote run <id> '<chain>' (<source>)`), on the root's time axis, then what was set aside.
 *
 * @example
 * for (const trace of stitchRuns([ordersRun, paymentsRun])) console.log(formatTrace(trace))
 */
export function formatTrace(trace: StitchedTrace, options: Omit<WaterfallOptions, 'remote'> = {}): string {
  const remote = (span: string): readonly StitchedRun[] => trace.calls.get(span) ?? []
  const head = trace.traceId === undefined ? `run without a trace` : `trace ${trace.traceId}  ${trace.size} run${trace.size === 1 ? '' : 's'}`
  const blocks = [head]
  for (const root of trace.roots) {
    const drawn = formatWaterfall(root.run, { ...options, remote })
    blocks.push(root.source === undefined ? drawn : `${drawn.split('\n')[0]}  (${root.source})\n${drawn.split('\n').slice(1).join('\n')}`.trimEnd())
  }
  for (const note of trace.notes) blocks.push(`! ${note}`)
  return blocks.join('\n')
}

/** A stitched run as JSON-friendly data: ids, chains, sources and where each remote run was called. */
export interface TraceTreeNode {
  readonly id: string
  readonly chain: string
  readonly status: string
  readonly source?: string | undefined
  readonly calledBy?: { readonly runId: string; readonly link: string; readonly branch?: string | undefined; readonly seq: number; readonly span: string } | undefined
  readonly remote: readonly TraceTreeNode[]
}

/** {@link StitchedTrace} as plain data (`inspect --json` prints it). */
export function describeTrace(trace: StitchedTrace): { traceId: string | undefined; size: number; roots: TraceTreeNode[]; notes: readonly string[] } {
  const node = (n: StitchedRun): TraceTreeNode => ({
    id: n.run.id,
    chain: n.run.chainName,
    status: n.run.status,
    ...(n.source !== undefined && { source: n.source }),
    ...(n.calledBy !== undefined && {
      calledBy: { runId: n.calledBy.runId, link: n.calledBy.link.name, ...(n.calledBy.branch !== undefined && { branch: n.calledBy.branch }), seq: n.calledBy.seq, span: n.calledBy.span },
    }),
    remote: n.remote.map(node),
  })
  return { traceId: trace.traceId, size: trace.size, roots: trace.roots.map(node), notes: trace.notes }
}
