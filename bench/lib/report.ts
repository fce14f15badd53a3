// What every suite's report shares: the source revision, number formatting, and writing the
// markdown table to results/<name>.md (BENCH_OUT overrides the path; "-" writes nothing).
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Ratio } from './harness.ts'

export const log = (text: string): void => void process.stderr.write(`${text}\n`)

/** Which source was measured: BENCH_SRC_REV, else the git commit (marked when src/ has changes). */
export function sourceRevision(): string {
  const given = process.env['BENCH_SRC_REV']
  if (given !== undefined) return given
  try {
    const git = (...args: string[]): string =>
      execFileSync('git', ['-C', fileURLToPath(new URL('../..', import.meta.url)), ...args], { encoding: 'utf8', stdio: 'pipe' }).trim()
    return `${git('rev-parse', '--short', 'HEAD')}${git('status', '--porcelain', '--', 'src') === '' ? '' : ' + uncommitted changes'}`
  } catch {
    return 'unknown'
  }
}

/** "src at …, Node …, 2 × CPU, date, load average …" for a table's preamble. */
export function machineLine(loadAverage: string = currentLoad()): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return `src at ${sourceRevision()}, Node ${process.version}, ${cpus().length} × ${cpu}, ${new Date().toISOString().slice(0, 10)}, load average ${loadAverage}`
}

export const currentLoad = (): string => loadavg().map((l) => l.toFixed(1)).join(' ')

export const fmt = (value: number, digits: number): string =>
  value.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })

/** ns as µs, with fewer decimals as the value grows. */
export const us = (ns: number): string => fmt(ns / 1e3, ns < 1e4 ? 2 : ns < 1e5 ? 1 : 0)

/** ns as ms. */
export const ms = (ns: number): string => fmt(ns / 1e6, ns < 1e7 ? 2 : ns < 1e8 ? 1 : 0)

/** A paired ratio as "1.23×", optionally with its (p25–p75) spread. */
export const times = (r: Ratio | undefined, spread = false): string =>
  r === undefined ? '' : `${fmt(r.median, r.median < 10 ? 2 : 1)}×${spread ? ` (${fmt(r.p25, 2)}–${fmt(r.p75, 2)})` : ''}`

/** "≤ 1.2× PASS", "(borderline)" when the p25–p75 spread of the ratios straddles the limit. */
export function verdict(r: Ratio, limit: number, unit = '×'): string {
  const close = r.p25 <= limit && limit <= r.p75
  return `≤ ${limit}${unit} ${r.median <= limit ? 'PASS' : 'FAIL'}${close ? ' (borderline)' : ''}`
}

/**
 * "≥ 130× PASS" for a target that is a floor (the other side must be at least this much slower):
 * PASS when the median ratio is at least `limit`; "(borderline)" as in {@link verdict}.
 */
export function atLeast(r: Ratio, limit: number, unit = '×'): string {
  const close = r.p25 <= limit && limit <= r.p75
  return `≥ ${limit}${unit} ${r.median >= limit ? 'PASS' : 'FAIL'}${close ? ' (borderline)' : ''}`
}

/** Where a suite writes its table: BENCH_OUT, else results/<name>.md; undefined for "-". */
export function outputPath(name: string): string | undefined {
  const out = process.env['BENCH_OUT'] ?? fileURLToPath(new URL(`../results/${name}.md`, import.meta.url))
  return out === '-' ? undefined : out
}

/** Prints the table and writes it to the suite's output file. */
export function publish(name: string, table: string, started: number): void {
  process.stdout.write(`\n${table}\n`)
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s`)
  const out = outputPath(name)
  if (out !== undefined) {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, table)
    log(`wrote ${out}`)
  }
}
