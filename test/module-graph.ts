// The module graph dependency-cruiser reads from an entry (the rules in .dependency-cruiser.cjs):
// what importing a module loads, for the tests of what the library loads and when.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './built-dist.js'

/**
 * Every module (source path) importing `entry` reaches, `entry` included.
 * @param types - follow type-only imports too (modules a program never loads, but whose
 *   declarations it needs)
 */
export function reachable(entry: string, types = true): string[] {
  const depcruise = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs')
  const out = execFileSync(process.execPath, [depcruise, entry, '--config', '.dependency-cruiser.cjs', '--output-type', 'json', '--no-progress'], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  const { modules } = JSON.parse(out) as { modules: { source: string; dependencies: { resolved: string; dependencyTypes: string[] }[] }[] }
  const imports = new Map(modules.map((m) => [m.source, m.dependencies.filter((d) => types || !d.dependencyTypes.includes('type-only')).map((d) => d.resolved)]))
  const reached = new Set([entry])
  for (const source of reached) for (const next of imports.get(source) ?? []) reached.add(next)
  return [...reached]
}
