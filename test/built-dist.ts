// Tests that run the command line use the built library (dist/), as a user's `node <bin>` does.
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** The newest modification time of any file under a directory. */
function newestMtime(dir: string): number {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    newest = Math.max(newest, entry.isDirectory() ? newestMtime(path) : statSync(path).mtimeMs)
  }
  return newest
}

/** Rebuilds dist/ when it is missing or older than src/ (`npm test` has normally just built it). */
export function ensureBuilt(): void {
  const distIndex = join(ROOT, 'dist', 'index.js')
  if (existsSync(distIndex) && statSync(distIndex).mtimeMs >= newestMtime(join(ROOT, 'src'))) return
  try {
    execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: 'pipe', timeout: 120_000 })
  } catch (error) {
    // src/ may be mid-edit in a working tree; a dist that exists is still worth testing.
    if (!existsSync(distIndex)) throw error
  }
}
