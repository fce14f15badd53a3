// Run statistics (DESIGN §10) as a terminal table: what `shadowchain stats <store>` prints, and
// `formatStats(rec.stats())` in a program. The types are core's, shared with the store layer.
import type { ChainStats, DurationStats } from '../core/stats-types.js'
import { formatDuration } from './waterfall.js'

const HEAD = ['count', 'errors', 'p50', 'p95', 'p99', 'max'] as const

/** The cells of one series, after its name: count, errors (with the share), percentiles. */
function cells(s: DurationStats): string[] {
  const share = s.count === 0 || s.errors === 0 ? '' : ` (${((s.errors / s.count) * 100).toPrecision(2).replace(/\.0+$/, '')}%)`
  const time = (ns: bigint) => (s.count === 0 ? '–' : formatDuration(ns))
  return [String(s.count), `${s.errors}${share}`, time(s.p50), time(s.p95), time(s.p99), time(s.max)]
}

/**
 * Formats run statistics as a plain-text table: per chain, a line for its runs, then one per
 * link (`link <name>`) and one per middleware call (`middleware <name> <position>`), in the
 * order `links` and `middleware` list them, each with its count, errors (and their share), and p50 /
 * p95 / p99 / max durations in readable units (ns, µs, ms, s). Percentiles come from HDR
 * histograms, so they are exact to 3 significant digits. No colour, no trailing spaces.
 *
 * @param stats - per chain, as `rec.stats()` gives them (`ChainStats[]`), or the statistics
 *   `shadowchain stats <store>` computes from stored runs
 * @returns the table, lines joined by `\n` (without a final newline); `'no runs'` for none
 *
 * @example
 * const rec = recorder()
 * // … runs with { recorder: rec } …
 * console.log(formatStats(rec.stats()))
 * // checkout                        count    errors  p50      p95      p99      max
 * //   runs                             265  80 (30%)  819 µs   64.7 ms  64.9 ms  65.0 ms
 * //   link validate                    265         0  151 ns   371 ns   3.15 µs  68.1 µs
 * //   link charge                      265  80 (30%)  792 µs   64.7 ms  64.9 ms  65.0 ms
 * //   middleware timing chain-before  1165         0  50 ns    70 ns    320 ns   33.4 µs
 */
export function formatStats(stats: readonly ChainStats[]): string {
  if (stats.length === 0) return 'no runs'
  const rows: (string[] | undefined)[] = []
  for (const chain of stats) {
    if (rows.length > 0) rows.push(undefined) // a blank line between chains
    rows.push([chain.chain, ...HEAD])
    rows.push(['  runs', ...cells(chain)])
    for (const [name, s] of Object.entries(chain.links)) rows.push([`  link ${name}`, ...cells(s)])
    for (const [key, s] of Object.entries(chain.middleware)) rows.push([`  middleware ${key}`, ...cells(s)])
  }
  const widths = HEAD.map((_, i) => Math.max(...rows.map((row) => (row === undefined ? 0 : [...row[i + 1]!].length))))
  const nameWidth = Math.max(...rows.map((row) => (row === undefined ? 0 : [...row[0]!].length)))
  const pad = (text: string, width: number, right: boolean): string => {
    const fill = ' '.repeat(Math.max(0, width - [...text].length))
    return right ? fill + text : text + fill
  }
  return rows
    .map((row) => {
      if (row === undefined) return ''
      // The name column left-aligned; count and errors right-aligned; durations left-aligned.
      const line = [pad(row[0]!, nameWidth, false), ...row.slice(1).map((cell, i) => pad(cell, widths[i]!, i < 2))].join('  ')
      return line.trimEnd()
    })
    .join('\n')
}
