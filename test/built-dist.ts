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

/**
 * Rebuilds dist/ when it is missing or older than src/ (`npm test` has normally just built it).
 * A build that fails is the test's failure: testing a stale dist/ would pass on code that no
 * longer compiles. `root` is the package to build (this repository unless a test says otherwise).
 */
export function ensureBuilt(root: string = ROOT): void {
  const distIndex = join(root, 'dist', 'index.js')
  if (existsSync(distIndex) && statSync(distIndex).mtimeMs >= newestMtime(join(root, 'src'))) return
  try {
    execFileSync('npm', ['run', 'build'], { cwd: root, stdio: 'pipe', timeout: 120_000 })
  } catch (error) {
    const output = (error as { stdout?: Buffer; stderr?: Buffer }).stdout?.toString() ?? ''
    throw new Error(`npm run build failed, so dist/ would be stale:\n${output}`, { cause: error })
  }
}
