// The architecture of DESIGN §8, checked: layers point one way with no import cycles (the rules
// are in .dependency-cruiser.cjs), and no source file grows past what one reads in a sitting.
import { execFileSync } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT } from './built-dist.js'

/** Every file under a directory, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  )
}

describe('the architecture', () => {
  it('has layers that import only from the layers above them, and no import cycles', () => {
    const depcruise = join(ROOT, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs')
    let output = ''
    try {
      output = execFileSync(process.execPath, [depcruise, 'src', '--config', '.dependency-cruiser.cjs', '--output-type', 'err'], {
        cwd: ROOT,
        encoding: 'utf8',
      })
    } catch (error) {
      // depcruise exits non-zero on a violation; its report says which rule and which import.
      output = String((error as { stdout?: string }).stdout ?? error)
      expect.fail(`dependency rules broken:\n${output}`)
    }
    expect(output).toMatch(/no dependency violations found/)
  })

  it('keeps every source file under 400 lines', () => {
    const long = filesUnder(join(ROOT, 'src'))
      .filter((file) => file.endsWith('.ts'))
      .map((file) => ({ file: relative(ROOT, file), lines: readFileSync(file, 'utf8').split('\n').length }))
      .filter(({ lines }) => lines > 400)
    expect(long).toEqual([])
  })
})
