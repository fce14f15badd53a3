import { describeError } from '../core/errors.js'
import type { Run } from '../lineage/run.js'
import type { TimelineEvent } from '../record/events.js'
import { ownStart } from '../lineage/run.js'
import { waterfallRows, type WaterfallRow } from './waterfall-rows.js'
import { shortRunId } from '../core/run-id.js'

export { waterfallRows } from './waterfall-rows.js'
export type { WaterfallAttempt, WaterfallBranch, WaterfallRow, WaterfallSegment } from './waterfall-rows.js'

/** How {@link formatWaterfall} draws. */
export interface WaterfallOptions {
  /** Width of the bar column in characters, from 10 to 1,000 (others are brought into that range; one that is not a finite number is 40). Default 40. */
  width?: number
  /** ANSI colours (link time green, middleware time dim, errors red). Default false. */
  color?: boolean
  /**
   * The runs of nested chains (DESIGN §9), each drawn in place under the link, failed attempt or
   * branch that made it, indented, with its own links on this run's time axis: `true` (default)
   * every level, a number that many levels, `false` (or 0) none. A run not drawn is still
   * named on one line (`▸`).
   */
  nested?: boolean | number
  /**
   * Remote runs (DESIGN §11): the runs of other services called by the link or branch whose
   * `io.inject` wrote this span id, drawn in place under it like nested runs (`⇢ remote run`), on
   * this run's time axis. `stitchRuns(runs)` gives them (`formatTrace` draws a whole trace).
   */
  remote?: ((span: string) => readonly { readonly run: Run<unknown>; readonly origin?: string | undefined }[]) | undefined
}

/** `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`: readable units for nanoseconds. */
export function formatDuration(ns: bigint): string {
  // A loaded document may hold times that go backwards: show them, signed, in the same units.
  if (ns < 0n) return `-${formatDuration(-ns)}`
  const n = Number(ns)
  if (n < 1_000) return `${n} ns`
  // Three digits: a value that rounds up to 1,000 of a unit is shown in the next one (999.7 µs
  // is `1.00 ms`, never `1.00e+3 µs`).
  if (n < 999_500) return `${(n / 1e3).toPrecision(3)} µs`
  if (n < 999_500_000) return `${(n / 1e6).toPrecision(3)} ms`
  return `${(n / 1e9).toFixed(2)} s`
}

/** A time since a start, signed: `+1.50 µs`, or `-3.00 µs` for one before it (a fork's inherited events). */
export function formatOffset(ns: bigint): string {
  return ns < 0n ? formatDuration(ns) : `+${formatDuration(ns)}`
}

/**
 * Draws a run as a terminal waterfall: one row per link, on the run's time axis, with the link's
 * own time (`█`) apart from its middleware time (`░`), followed by middleware errors. A nested
 * chain's run is drawn under the link that ran it, indented (option `nested`).
 *
 * @example
 * console.log(formatWaterfall(checkout.lastRun!, { color: process.stdout.isTTY }))
 */
export function formatWaterfall<C>(run: Run<C>, options: WaterfallOptions = {}): string {
  return [...waterfallLines(run, options)].join('\n')
}

/**
 * The lines of {@link formatWaterfall}, one at a time: for printing a run of 100,000 links
 * without building one string of it (the CLI writes each line as it comes).
 */
export function* waterfallLines<C>(run: Run<C>, options: WaterfallOptions = {}): Generator<string, void, undefined> {
  // Bounded: a width of Infinity or NaN would make the bar an array that cannot be built.
  const requested = Math.floor(options.width ?? 40)
  const width = Number.isFinite(requested) ? Math.min(Math.max(10, requested), 1_000) : 40
  const levels = nestedLevels(options.nested)
  const paint = (code: string, text: string): string => (options.color === true ? `\x1b[${code}m${text}\x1b[0m` : text)
  // A fork's first events are its parent's (from before the fork): draw only its own.
  const events = run.timeline.events
  const start = ownStart(run)
  const forkAt = start === 0 ? -1 : start
  const own = forkAt === -1 ? events : events.slice(forkAt)
  const rows = waterfallRows(own)
  const total = run.endedAt - run.startedAt
  const statusText = (status: string): string => (status === 'ok' ? paint('32', 'ok') : paint('31', status))
  // The header lines: the drawing below streams its lines.
  const lines = [
    `${run.chainName}  run ${shortRunId(run.id)}  ${statusText(run.status)}  ${formatDuration(total)}  ${rows.length} link${rows.length === 1 ? '' : 's'}`,
  ]
  const inheritedRows = forkAt === -1 ? [] : waterfallRows(events.slice(0, forkAt))
  const inherited = inheritedRows.length
  const notShown = `${inherited} link${inherited === 1 ? '' : 's'} inherited, not shown`
  // Named by the link it was cut after, as `fork({ at })` names it; the seq for the record.
  const cut = inheritedRows.at(-1)
  const after = cut === undefined ? 'before its first link' : `after link '${cut.link.name}'`
  if (run.parent !== undefined) lines.push(`forked from run ${shortRunId(run.parent.runId)} ${after} (seq ${run.parent.seq}): ${notShown}`)
  if (run.stoppedBy !== undefined) {
    lines.push(`stopped by link '${run.stoppedBy.name}' (#${run.stoppedBy.index})${run.stopReason === undefined ? '' : `: ${run.stopReason}`}`)
  }
  if (run.replayOf !== undefined) {
    // A replay of a fork re-runs only the fork's own links, after the same shared prefix.
    lines.push(`replay of run ${shortRunId(run.replayOf.runId)}${run.parent === undefined && forkAt !== -1 ? `, from its fork: ${notShown}` : ''}`)
  }
  // Nested runs' rows, computed once for measuring and for drawing.
  const rowCache = new Map<Run<unknown>, WaterfallRow[]>()
  const rowsOf = (r: Run<unknown>): WaterfallRow[] => {
    let cached = rowCache.get(r)
    if (cached === undefined) rowCache.set(r, (cached = waterfallRows(r.timeline.events)))
    return cached
  }
  // The label column: indent, index and name (a loop, not Math.max(...rows): spreading 150,000
  // arguments overflows the stack). Four spaces per level of nesting.
  let labelWidth = 9
  const remoteOf = (span: string | undefined): readonly { readonly run: Run<unknown>; readonly origin?: string | undefined }[] =>
    span === undefined || options.remote === undefined ? [] : options.remote(span)
  // The remote runs being drawn: a caller that answers with a run already on the path (a cycle) is not followed.
  const measuring = new Set<Run<unknown>>([run as Run<unknown>])
  const drawing = new Set<Run<unknown>>([run as Run<unknown>])
  const measure = (parent: Run<unknown>, measured: readonly WaterfallRow[], depth: number): void => {
    for (const row of measured) {
      labelWidth = Math.max(labelWidth, 4 * depth + 5 + row.link.name.length)
      for (const lane of row.branches) labelWidth = Math.max(labelWidth, 4 * depth + 7 + lane.name.length)
      if (depth >= levels) continue
      for (const id of nestedIds(row)) {
        const child = parent.timeline.child(id)
        if (child !== undefined) measure(child, rowsOf(child), depth + 1)
      }
      for (const span of [row.span, ...row.branches.map((lane) => lane.span)]) {
        for (const { run: called } of remoteOf(span)) {
          if (measuring.has(called)) continue
          measuring.add(called)
          measure(called, rowsOf(called), depth + 1)
          measuring.delete(called)
        }
      }
    }
  }
  measure(run as Run<unknown>, rows, 0)
  // Clamped to the bar: a time before the start or after the end (a hand-made or damaged
  // document) is drawn at the edge, and the loops below stay within the bar's width.
  const scale = (t: bigint): number =>
    total <= 0n ? 0 : Math.min(width, Math.max(0, Math.round((Number(t - run.startedAt) / Number(total)) * width)))
  const offset = (t: bigint): string => formatOffset(t - run.startedAt)
  const fillBar = (cells: string[], from: bigint, to: bigint, glyph: string): void => {
    const [a, b] = [scale(from), scale(to)]
    // At least one cell each, the last one when a time is at (or past) the end.
    for (let i = Math.min(a, width - 1); i < Math.max(b, a + 1) && i < width; i++) cells[i] = glyph
  }
  /** A nested run under the line that made it: one line naming it, then (within `levels`) its rows. */
  function* drawNested(parent: Run<unknown>, id: string | undefined, depth: number): Generator<string, void, undefined> {
    if (id === undefined) return
    const child = parent.timeline.child(id)
    const pad = ' '.repeat(4 * depth + 1)
    if (child === undefined) {
      yield paint('2', `${pad}▸ nested run ${shortRunId(id)} (not recorded)`)
      return
    }
    const open = depth <= levels
    const childRows = rowsOf(child)
    const links = `${childRows.length} link${childRows.length === 1 ? '' : 's'}`
    yield `${pad}${open ? '▾' : '▸'} nested run ${shortRunId(child.id)} '${child.chainName}'  ${statusText(child.status)}  ${offset(child.startedAt)}  ${formatDuration(child.endedAt - child.startedAt)}  ${links}`
    if (open) yield* drawRows(child, child.timeline.events, childRows, depth)
  }
  /** The runs of other services that a call (its injected span) reached: each named, then (within `levels`) its rows. */
  function* drawRemote(span: string | undefined, depth: number): Generator<string, void, undefined> {
    for (const { run: called, origin } of remoteOf(span)) {
      if (drawing.has(called)) continue
      const pad = ' '.repeat(4 * depth + 1)
      const open = depth <= levels
      const calledRows = rowsOf(called)
      const links = `${calledRows.length} link${calledRows.length === 1 ? '' : 's'}`
      const from = origin === undefined ? '' : ` (${origin})`
      yield `${pad}${open ? '▾' : '▸'} ⇢ remote run ${shortRunId(called.id)} '${called.chainName}'${from}  ${statusText(called.status)}  ${offset(called.startedAt)}  ${formatDuration(called.endedAt - called.startedAt)}  ${links}`
      if (!open) continue
      drawing.add(called)
      yield* drawRows(called, called.timeline.events, calledRows, depth)
      drawing.delete(called)
    }
  }
  function* drawRows(owner: Run<unknown>, drawn: readonly TimelineEvent<unknown>[], drawnRows: readonly WaterfallRow[], depth: number): Generator<string, void, undefined> {
    const pad = ' '.repeat(4 * depth)
    const label = (index: string, name: string): string => `${pad}${index.padStart(3)}  ${name}`.padEnd(labelWidth)
    for (const row of drawnRows) {
      if (row.status === 'skipped') {
        // Greyed, no bar: it took no time and ran no hook.
        const why = row.reason === 'stopped' ? 'skipped: stopped' : 'skipped: when'
        yield paint('2', `${label(String(row.link.index), row.link.name)}  ${offset(row.linkStart).padEnd(10)} ${'—'.padStart(9)}  |${' '.repeat(width)}|  – ${why}`)
        continue
      }
      const cells = new Array<string>(width).fill(' ')
      fillBar(cells, row.stepStart, row.stepEnd, paint('2', '░'))
      fillBar(cells, row.linkStart, row.linkEnd, paint(row.status === 'ok' ? '32' : '31', '█'))
      // Each failed attempt is its own segment of the link's bar (▓), and a line under the row.
      for (const failed of row.failedAttempts) fillBar(cells, failed.start, failed.end, paint('31', '▓'))
      const count = row.failedAttempts.length === 0 ? '' : ` (${row.failedAttempts.length + 1} attempts)`
      const mark = row.status === 'ok' ? paint('32', `✓${count}`) : paint('31', `✗${count} ${describeError(row.error)}`)
      yield `${label(String(row.link.index), row.link.name)}  ${offset(row.linkStart).padEnd(10)} ${formatDuration(row.linkNs).padStart(9)}  |${cells.join('')}|  ${mark}`
      // The run its last call nested, right under it.
      yield* drawNested(owner, row.child, depth + 1)
      yield* drawRemote(row.span, depth + 1)
      // A parallel step's branches: one lane each under its row, on the same time axis.
      for (let i = 0; i < row.branches.length; i++) {
        const lane = row.branches[i] as WaterfallRow['branches'][number]
        const bar = new Array<string>(width).fill(' ')
        fillBar(bar, lane.start, lane.end, paint(lane.status === 'error' ? '31' : '36', '▒'))
        const tree = i === row.branches.length - 1 ? '└' : '├'
        const laneMark = lane.status === 'ok' ? paint('32', '✓') : lane.status === 'error' ? paint('31', `✗ ${describeError(lane.error)}`) : paint('33', '… never settled')
        yield `${label('', `${tree} ${lane.name}`)}  ${offset(lane.start).padEnd(10)} ${formatDuration(lane.end - lane.start).padStart(9)}  |${bar.join('')}|  ${laneMark}`
        yield* drawNested(owner, lane.child, depth + 1)
        yield* drawRemote(lane.span, depth + 1)
      }
      for (const failed of row.failedAttempts) {
        yield paint('31', `${pad}       ↻ attempt ${failed.attempt} failed after ${formatDuration(failed.end - failed.start)}: ${describeError(failed.error)}`)
        yield* drawNested(owner, failed.child, depth + 1)
      }
    }
    for (const event of drawn) {
      if (event.type !== 'middleware.error') continue
      const where = event.link === undefined ? event.middleware.position : `${event.middleware.position} '${event.link.name}'`
      yield paint('33', `${pad}  ! middleware '${event.middleware.name}' (${where}): ${describeError(event.error)}`)
    }
    if (owner.error !== undefined) yield paint('31', `${pad}  ${owner.error.code}: ${owner.error.message}`)
  }
  yield* lines
  yield* drawRows(run as Run<unknown>, own, rows, 0)
}

/** How many levels of nested runs to draw: `true` / absent every level, `false` none. */
function nestedLevels(nested: boolean | number | undefined): number {
  if (nested === undefined || nested === true) return Infinity
  if (nested === false || !(nested > 0)) return 0
  return Math.floor(nested)
}

/** The ids of the nested runs a row's calls made: its last call's, its branches', its failed attempts'. */
export function nestedIds(row: WaterfallRow): string[] {
  const ids: string[] = []
  if (row.child !== undefined) ids.push(row.child)
  for (const lane of row.branches) if (lane.child !== undefined) ids.push(lane.child)
  for (const failed of row.failedAttempts) if (failed.child !== undefined) ids.push(failed.child)
  return ids
}
