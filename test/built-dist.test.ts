import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { ensureBuilt } from './built-dist.js'

describe('ensureBuilt', () => {
  const dirs: string[] = []
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
  })

  /** A package whose dist/ is older than its src/ and whose build script is `script`. */
  function stalePackage(script: string): string {
    const root = mkdtempSync(join(tmpdir(), 'shadowchain-built-'))
    dirs.push(root)
    mkdirSync(join(root, 'dist'))
    mkdirSync(join(root, 'src'))
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'stale', private: true, scripts: { build: script } }))
    writeFileSync(join(root, 'dist', 'index.js'), '// stale\n')
    const old = new Date(Date.now() - 60_000)
    utimesSync(join(root, 'dist', 'index.js'), old, old)
    writeFileSync(join(root, 'src', 'index.ts'), 'export {}\n')
    return root
  }

  it('fails when the build fails, instead of testing a stale dist/', () => {
    const root = stalePackage('echo "src/index.ts(1,1): error TS1005" && exit 1')
    expect(() => ensureBuilt(root)).toThrow(/npm run build failed[\s\S]*TS1005/)
  })

  it('rebuilds a stale dist/ when the build succeeds', () => {
    const root = stalePackage('node -e "require(\'fs\').writeFileSync(\'dist/index.js\', \'// fresh\')"')
    expect(() => ensureBuilt(root)).not.toThrow()
  })
})
