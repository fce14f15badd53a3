import { describeError } from '../core/errors.js'
import type { TimelineEvent } from '../record/events.js'
import type { Run } from '../lineage/run.js'
import type { LinkInfo, SkipReason } from '../core/types.js'
import { ownStart } from '../lineage/run.js'

/** How {@link formatWaterfall} draws. */
export interface WaterfallOptions {
  /** Width of the bar column in characters, from 10 to 1,000 (others are brought into that range; one that is not a finite number is 40). Default 40. */
  width?: number
  /** ANSI colours (link time green, middleware time dim, errors red). Default false. */
  color?: boolean
}

/** `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s`: readable units for nanoseconds. */
export function formatDuration(ns: bigint): string {
  // A loaded document may hold times that go backwards: show them, signed, in the same units.
  if (ns < 0n) return `-${formatDuration(-ns)}`
  const n = Number(ns)
  if (n < 1_000) return `${n} ns`
  if (n < 1_000_000) return `${(n / 1e3).toPrecision(3)} µs`
  if (n < 1_000_000_000) return `${(n / 1e6).toPrecision(3)} ms`
  return `${(n / 1e9).toFixed(2)} s`
}

/** A time since a start, signed: `+1.50 µs`, or `-3.00 µs` for one before it (a fork's inherited events). */
export function formatOffset(ns: bigint): string {
  return ns < 0n ? formatDuration(ns) : `+${formatDuration(ns)}`
}

/** One middleware call around a link, as drawn in a waterfall row. */
export interface WaterfallSegment {
  /** The middleware's name. */
  readonly name: string
  /** Where it ran: `'chain-before'`, `'link-after'`, … */
  readonly position: string
  /** When the call began and ended, on the rows' time axis. */
  readonly start: bigint
  readonly end: bigint
  /** The seq of its event. */
  readonly seq: number
  /** It threw or rejected (`middleware.error`). */
  readonly failed: boolean
}

/** A failed attempt of a retried link (a `link.attempt` event), on the rows' time axis. */
export interface WaterfallAttempt {
  /** Its number, from 1. */
  readonly attempt: number
  readonly start: bigint
  readonly end: bigint
  /** The seq of its event. */
  readonly seq: number
  readonly error: unknown
}

/** A branch of a parallel step (its `branch.*` events): a lane under the step's row. */
export interface WaterfallBranch {
  readonly name: string
  /** When it was called and when it settled, on the rows' time axis. */
  readonly start: bigint
  end: bigint
  /** The seqs of its `branch.start` and of its `branch.end` / `branch.error`. */
  readonly startSeq: number
  endSeq: number
  status: 'ok' | 'error' | 'running'
  error: unknown
}

/**
 * One link execution as a waterfall draws it, on a time axis that starts at the `origin` given to
 * {@link waterfallRows}: its step (first to last event, middleware included), the link's own
 * call, and each middleware call around it.
 */
export interface WaterfallRow {
  /** The link (the same object as in its events). */
  readonly link: LinkInfo
  readonly name: string
  readonly index: number
  stepStart: bigint
  stepEnd: bigint
  linkStart: bigint
  linkEnd: bigint
  /** The link alone. */
  linkNs: bigint
  /** Every middleware call around it, added up. */
  middlewareNs: bigint
  /** `'skipped'`: the link did not run (a `link.skip` event); its row has no bar. */
  status: 'ok' | 'error' | 'skipped'
  error: unknown
  /** Why a skipped link did not run; `undefined` for a link that ran. */
  reason: SkipReason | undefined
  /** The seqs of its first and last events, of its `link.start` and of its `link.end` / `link.error`. */
  readonly firstSeq: number
  lastSeq: number
  startSeq: number
  endSeq: number
  readonly segments: WaterfallSegment[]
  /** Its failed attempts that were retried (link option `retry`), in order; empty for most links. */
  readonly failedAttempts: WaterfallAttempt[]
  /** A parallel step's branches, in the order they started; empty for a plain link. */
  readonly branches: WaterfallBranch[]
}

/**
 * Draws a run as a terminal waterfall: one row per link, on the run's time axis, with the link's
 * own time (`█`) apart from its middleware time (`░`), followed by middleware errors.
 *
 * @example
 * console.log(formatWaterfall(checkout.lastRun!, { color: process.stdout.isTTY }))
 */
export function formatWaterfall<C>(run: Run<C>, options: WaterfallOptions = {}): string {
  // Bounded: a width of Infinity or NaN would make the bar an array that cannot be built.
  const requested = Math.floor(options.width ?? 40)
  const width = Number.isFinite(requested) ? Math.min(Math.max(10, requested), 1_000) : 40
  const paint = (code: string, text: string): string => (options.color === true ? `\x1b[${code}m${text}\x1b[0m` : text)
  // A fork's first events are its parent's (from before the fork): draw only its own.
  const events = run.timeline.events
  const start = ownStart(run)
  const forkAt = start === 0 ? -1 : start
  const own = forkAt === -1 ? events : events.slice(forkAt)
  const rows = waterfallRows(own)
  const total = run.endedAt - run.startedAt
  const statusText = run.status === 'ok' ? paint('32', 'ok') : paint('31', run.status)
  const lines = [
    `${run.chainName}  run ${run.id.slice(0, 8)}  ${statusText}  ${formatDuration(total)}  ${rows.length} link${rows.length === 1 ? '' : 's'}`,
  ]
  const inheritedRows = forkAt === -1 ? [] : waterfallRows(events.slice(0, forkAt))
  const inherited = inheritedRows.length
  const notShown = `${inherited} link${inherited === 1 ? '' : 's'} inherited, not shown`
  // Named by the link it was cut after, as `fork({ at })` names it; the seq for the record.
  const cut = inheritedRows.at(-1)
  const after = cut === undefined ? 'before its first link' : `after link '${cut.link.name}'`
  if (run.parent !== undefined) lines.push(`forked from run ${run.parent.runId.slice(0, 8)} ${after} (seq ${run.parent.seq}): ${notShown}`)
  if (run.stoppedBy !== undefined) {
    lines.push(`stopped by link '${run.stoppedBy.name}' (#${run.stoppedBy.index})${run.stopReason === undefined ? '' : `: ${run.stopReason}`}`)
  }
  if (run.replayOf !== undefined) {
    // A replay of a fork re-runs only the fork's own links, after the same shared prefix.
    lines.push(`replay of run ${run.replayOf.runId.slice(0, 8)}${run.parent === undefined && forkAt !== -1 ? `, from its fork: ${notShown}` : ''}`)
  }
  // A loop, not Math.max(...rows): spreading 150,000 arguments overflows the stack.
  let nameWidth = 4
  for (const row of rows) {
    nameWidth = Math.max(nameWidth, row.link.name.length)
    for (const lane of row.branches) nameWidth = Math.max(nameWidth, lane.name.length + 2)
  }
  // Clamped to the bar: a time before the start or after the end (a hand-made or damaged
  // document) is drawn at the edge, and the loops below stay within the bar's width.
  const scale = (t: bigint): number =>
    total <= 0n ? 0 : Math.min(width, Math.max(0, Math.round((Number(t - run.startedAt) / Number(total)) * width)))
  const offset = (t: bigint): string => formatOffset(t - run.startedAt)
  for (const row of rows) {
    if (row.status === 'skipped') {
      // Greyed, no bar: it took no time and ran no hook.
      const why = row.reason === 'stopped' ? 'skipped: stopped' : 'skipped: when'
      lines.push(paint('2', `${String(row.link.index).padStart(3)}  ${row.link.name.padEnd(nameWidth)}  ${offset(row.linkStart).padEnd(10)} ${'—'.padStart(9)}  |${' '.repeat(width)}|  – ${why}`))
      continue
    }
    const cells = new Array<string>(width).fill(' ')
    const [s0, s1, l0, l1] = [scale(row.stepStart), scale(row.stepEnd), scale(row.linkStart), scale(row.linkEnd)]
    // At least one cell each, the last one when a time is at (or past) the end.
    for (let i = Math.min(s0, width - 1); i < Math.max(s1, s0 + 1) && i < width; i++) cells[i] = paint('2', '░')
    for (let i = Math.min(l0, width - 1); i < Math.max(l1, l0 + 1) && i < width; i++) cells[i] = paint(row.status === 'ok' ? '32' : '31', '█')
    // Each failed attempt is its own segment of the link's bar (▓), and a line under the row.
    for (const failed of row.failedAttempts) {
      const [a0, a1] = [scale(failed.start), scale(failed.end)]
      for (let i = Math.min(a0, width - 1); i < Math.max(a1, a0 + 1) && i < width; i++) cells[i] = paint('31', '▓')
    }
    const count = row.failedAttempts.length === 0 ? '' : ` (${row.failedAttempts.length + 1} attempts)`
    const mark = row.status === 'ok' ? paint('32', `✓${count}`) : paint('31', `✗${count} ${describeError(row.error)}`)
    lines.push(
      `${String(row.link.index).padStart(3)}  ${row.link.name.padEnd(nameWidth)}  ${offset(row.linkStart).padEnd(10)} ${formatDuration(row.linkNs).padStart(9)}  |${cells.join('')}|  ${mark}`,
    )
    // A parallel step's branches: one lane each under its row, on the same time axis.
    row.branches.forEach((lane, i) => {
      const bar = new Array<string>(width).fill(' ')
      const [b0, b1] = [scale(lane.start), scale(lane.end)]
      for (let k = Math.min(b0, width - 1); k < Math.max(b1, b0 + 1) && k < width; k++) bar[k] = paint(lane.status === 'error' ? '31' : '36', '▒')
      const tree = i === row.branches.length - 1 ? '└' : '├'
      const laneMark = lane.status === 'ok' ? paint('32', '✓') : lane.status === 'error' ? paint('31', `✗ ${describeError(lane.error)}`) : paint('33', '… never settled')
      const label = `${tree} ${lane.name}`
      lines.push(`     ${label.padEnd(nameWidth)}  ${offset(lane.start).padEnd(10)} ${formatDuration(lane.end - lane.start).padStart(9)}  |${bar.join('')}|  ${laneMark}`)
    })
    for (const failed of row.failedAttempts) {
      lines.push(paint('31', `       ↻ attempt ${failed.attempt} failed after ${formatDuration(failed.end - failed.start)}: ${describeError(failed.error)}`))
    }
  }
  for (const event of own) {
    if (event.type !== 'middleware.error') continue
    const where = event.link === undefined ? event.middleware.position : `${event.middleware.position} '${event.link.name}'`
    lines.push(paint('33', `  ! middleware '${event.middleware.name}' (${where}): ${describeError(event.error)}`))
  }
  if (run.error !== undefined) lines.push(paint('31', `  ${run.error.code}: ${run.error.message}`))
  return lines.join('\n')
}

/**
 * The rows of a waterfall: one per link execution in `events`, in the order links first appear,
 * with times taken from `origin` (a run's `startedAt` for times from its start).
 *
 * @param events - a run's events, or a part of them (a fork's own events)
 * @param origin - the time that becomes 0 (epoch ns); default 0n keeps epoch times
 */
export function waterfallRows(events: readonly TimelineEvent<unknown>[], origin = 0n): WaterfallRow[] {
  const rows = new Map<LinkInfo, WaterfallRow>()
  for (const event of events) {
    if (!('link' in event) || event.link === undefined) continue
    const t = event.t - origin
    const call = event.type === 'middleware.before' || event.type === 'middleware.after' || event.type === 'middleware.error' ? event : undefined
    const end = t + (call === undefined ? 0n : call.durationNs)
    let row = rows.get(event.link)
    if (row === undefined) {
      row = {
        link: event.link,
        name: event.link.name,
        index: event.link.index,
        stepStart: t,
        stepEnd: end,
        linkStart: t,
        linkEnd: t,
        linkNs: 0n,
        middlewareNs: 0n,
        status: 'ok',
        error: undefined,
        reason: undefined,
        firstSeq: event.seq,
        lastSeq: event.seq,
        startSeq: event.seq,
        endSeq: event.seq,
        segments: [],
        failedAttempts: [],
        branches: [],
      }
      rows.set(event.link, row)
    }
    if (t < row.stepStart) row.stepStart = t
    if (end > row.stepEnd) row.stepEnd = end
    row.lastSeq = event.seq
    if (call !== undefined) {
      const { name, position } = call.middleware
      row.segments.push({ name, position, start: t, end, seq: event.seq, failed: call.type === 'middleware.error' })
      row.middlewareNs += call.durationNs
    }
    if (event.type === 'link.skip') {
      row.status = 'skipped'
      row.reason = event.reason
      row.endSeq = event.seq
    }
    if (event.type === 'link.attempt') {
      row.failedAttempts.push({ attempt: event.attempt, start: t - event.durationNs, end: t, seq: event.seq, error: event.error })
    }
    if (event.type === 'branch.start') {
      row.branches.push({ name: event.branch, start: t, end: t, startSeq: event.seq, endSeq: event.seq, status: 'running', error: undefined })
    }
    if (event.type === 'branch.end' || event.type === 'branch.error') {
      const lane = row.branches.find((b) => b.name === event.branch && b.status === 'running')
      if (lane !== undefined) {
        lane.end = t
        lane.endSeq = event.seq
        lane.status = event.type === 'branch.end' ? 'ok' : 'error'
        if (event.type === 'branch.error') lane.error = event.error
      }
    }
    if (event.type === 'link.start') {
      row.linkStart = row.linkEnd = t
      row.startSeq = event.seq
    }
    if (event.type === 'link.end' || event.type === 'link.error') {
      row.linkEnd = t
      row.linkNs = event.durationNs
      row.endSeq = event.seq
      if (event.type === 'link.error') {
        row.status = 'error'
        row.error = event.error
      }
    }
  }
  return [...rows.values()]
}
