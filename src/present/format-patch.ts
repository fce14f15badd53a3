import type { Patch } from 'immer'
import type { Divergence, DivergenceReason } from '../lineage/compare.js'
import { describeError } from '../core/errors.js'
import { valueText } from './value-text.js'

function show(value: unknown): string {
  let text: string
  try {
    text =
      JSON.stringify(value, (_key, v: unknown) =>
        typeof v === 'bigint' ? `${v}n` : v instanceof Map ? { Map: [...v] } : v instanceof Set ? { Set: [...v] } : v,
      ) ?? String(value)
  } catch {
    text = String(value)
  }
  return text.length > 120 ? `${text.slice(0, 117)}...` : text
}

/**
 * One patch, one line: `replace total = 12`, `remove items.3`, `add tags.2 = "x"`,
 * `add big = 12n`. Values read as {@link valueText} writes them; a removal that names its value
 * (a Set member) shows it. The command line and the devtools viewer print patches with this.
 */
export function formatPatch(patch: Patch): string {
  const path =
    patch.path.length === 0
      ? '(root)'
      : patch.path.map((key) => (typeof key === 'object' || typeof key === 'bigint' ? valueText(key, 40) : String(key))).join('.')
  return patch.op === 'remove' && patch.value === undefined ? `remove ${path}` : `${patch.op} ${path} = ${valueText(patch.value, 120)}`
}

function patchLines(patches: readonly Patch[]): string[] {
  return patches.length === 0 ? ['(no changes)'] : patches.map(formatPatch)
}

/**
 * What one side of a divergence did, as readable lines (its patches, its error, its input, its
 * fork edit, …).
 *
 * @param reason - the divergence's `reason`
 * @param value - its `expected` or its `actual`
 */
export function divergenceLines(reason: DivergenceReason, value: unknown): string[] {
  switch (reason) {
    case 'patches':
      return patchLines(value as readonly Patch[])
    case 'error':
      return [value === undefined ? '(no error)' : `error: ${describeError(value)}`]
    case 'link':
      return [value === undefined ? '(no link here)' : `link '${String(value)}'`]
    case 'io':
      return [`io ${show(value ?? {})}`]
    case 'status':
      return [`status '${String(value)}'`]
    case 'skip':
      return [value === undefined ? 'ran' : `skipped (${String(value)})`]
    case 'stop':
      return [value === undefined ? '(not stopped)' : `stopped by link '${String(value)}'`]
    case 'input':
      return [`input ${show(value)}`]
    case 'child':
      return [`nested run ${String(value)}`]
    case 'fork': {
      if (value === undefined) return ['(not forked here)']
      const edit = value as readonly Patch[]
      return edit.length === 0 ? ['forked here, not edited'] : edit.map((patch) => `fork edit: ${formatPatch(patch)}`)
    }
  }
}

/**
 * Where a divergence is, in words: `at link #1 'price'`, `at the input`, `at the fork after link
 * #0 'validate'`, `at the end of the run`, …
 */
export function divergencePlace(divergence: Divergence): string {
  const link = divergence.link
  const named = link === undefined ? undefined : `link #${link.index} '${link.name}'`
  switch (divergence.reason) {
    case 'input':
      return 'at the input'
    case 'fork':
      return named === undefined ? 'at a fork before the first link' : `at the fork after ${named}`
    case 'error':
      // An error without a link is the chain's input schema rejecting the input.
      return named === undefined ? 'at the input check' : `at ${named}`
    default:
      return named === undefined ? 'at the end of the run' : `at ${named}`
  }
}

/**
 * The lines that say what turns one side into the other, for the reasons that carry `patches`
 * (`'input'`, and `'fork'` when both runs were edited: each side shows its own edit otherwise).
 */
export function divergenceChanges(divergence: Divergence): string[] {
  if (divergence.reason === 'input') return patchLines(divergence.patches)
  if (divergence.reason === 'fork' && divergence.expected !== undefined && divergence.actual !== undefined) return patchLines(divergence.patches)
  return []
}

/**
 * A divergence as readable lines: where, why, and what each side did; for different inputs (or
 * two different fork edits) also what turns the first side's state into the second's.
 *
 * @param labels - names of the two sides, default `['recorded', 'replayed']`
 *
 * @example
 * console.log(`replay ${formatDivergence(divergence)}`)
 * // replay diverged at link #1 'price' (patches)
 * //   recorded: replace total = 40
 * //   replayed: replace total = 36
 */
export function formatDivergence(divergence: Divergence, labels: readonly [string, string] = ['recorded', 'replayed']): string {
  const changes = divergenceChanges(divergence)
  const changesLabel = 'changes'
  const width = Math.max(labels[0].length, labels[1].length, changes.length > 0 ? changesLabel.length : 0) + 1
  const block = (label: string, lines: readonly string[]) => lines.map((line, i) => `  ${(i === 0 ? `${label}:` : '').padEnd(width)} ${line}`)
  return [
    `diverged ${divergencePlace(divergence)} (${divergence.reason})`,
    ...block(labels[0], divergenceLines(divergence.reason, divergence.expected)),
    ...block(labels[1], divergenceLines(divergence.reason, divergence.actual)),
    ...block(changesLabel, changes),
    // A nested chain's own divergence, indented under the link that ran it.
    ...('child' in divergence && divergence.child !== undefined ? formatDivergence(divergence.child, labels).split('\n').map((line, i) => `  ${i === 0 ? 'inside the nested run: ' : ''}${line}`) : []),
  ].join('\n')
}
