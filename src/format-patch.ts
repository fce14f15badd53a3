import type { Patch } from 'immer'
import type { Divergence } from './compare.js'
import { describeError } from './errors.js'

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

/** One patch, one line: `replace total = 12`, `remove items.3`, `add tags = ["x"]`. */
export function formatPatch(patch: Patch): string {
  const path = patch.path.length === 0 ? '(root)' : patch.path.map(String).join('.')
  return patch.op === 'remove' ? `remove ${path}` : `${patch.op} ${path} = ${show(patch.value)}`
}

/** What one side of a divergence did, as readable lines (its patches, its error, …). */
export function divergenceLines(reason: Divergence['reason'], value: unknown): string[] {
  switch (reason) {
    case 'patches': {
      const patches = value as readonly Patch[]
      return patches.length === 0 ? ['(no changes)'] : patches.map(formatPatch)
    }
    case 'error':
      return [value === undefined ? '(no error)' : `error: ${describeError(value)}`]
    case 'link':
      return [value === undefined ? '(no link here)' : `link '${String(value)}'`]
    case 'io':
      return [`io ${show(value ?? {})}`]
    case 'status':
      return [`status '${String(value)}'`]
  }
}

/**
 * A divergence as readable lines: where, why, and what each side did.
 *
 * @param labels - names of the two sides, default `['recorded', 'replayed']`
 */
export function formatDivergence(divergence: Divergence, labels: readonly [string, string] = ['recorded', 'replayed']): string {
  const where = divergence.link === undefined ? 'at the end of the run' : `at link #${divergence.link.index} '${divergence.link.name}'`
  const width = Math.max(labels[0].length, labels[1].length) + 1
  const block = (label: string, value: unknown) => divergenceLines(divergence.reason, value).map((line, i) => `  ${(i === 0 ? `${label}:` : '').padEnd(width)} ${line}`)
  return [`diverged ${where} (${divergence.reason})`, ...block(labels[0], divergence.expected), ...block(labels[1], divergence.actual)].join('\n')
}
