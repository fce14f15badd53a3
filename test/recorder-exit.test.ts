// The recorder flushes on beforeExit and SIGTERM (DESIGN §10): a short-lived process loses no run.
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { sqliteStore } from '../src/store/sqlite/index.js'

const dir = mkdtempSync(join(tmpdir(), 'shadowchain-exit-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))
const script = fileURLToPath(new URL('./recorder-exit-process.ts', import.meta.url))

/**
 * Runs the process; for `term`, sends SIGTERM once it is ready. Resolves with how it ended (and
 * what it wrote to stderr); a process still alive after 30 s is killed (it ends by SIGKILL).
 */
function run(mode: 'exit' | 'term', path: string, count: number, store: 'inline' | 'thread' | 'failing'): Promise<{ code: number | null; signal: NodeJS.Signals | null; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', script, mode, path, String(count), store], { stdio: ['ignore', 'pipe', 'pipe'] })
    const stuck = setTimeout(() => child.kill('SIGKILL'), 30_000)
    let err = ''
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('READY')) child.kill('SIGTERM')
    })
    child.on('error', reject)
    child.on('close', (code, signal) => {
      clearTimeout(stuck)
      if (err.length > 0 && code !== 0 && signal !== 'SIGKILL') reject(new Error(err))
      else resolve({ code, signal, err })
    })
  })
}

describe('a short-lived process', () => {
  it.each([
    ['exit', false],
    ['term', false],
    ['exit', true],
    ['term', true],
  ] as const)('keeps every run when it ends (%s; writer thread: %s)', async (mode, thread) => {
    // With a writer thread: the idle thread does not keep the process alive, the flush waits for it.
    const path = join(dir, `${mode}-${thread}.db`)
    const ended = await run(mode, path, 250, thread ? 'thread' : 'inline')
    // On SIGTERM the process still ends as SIGTERM would end it, after the flush.
    if (mode === 'term') expect(ended.signal).toBe('SIGTERM')
    else expect(ended.code).toBe(0)
    const store = sqliteStore(path)
    try {
      expect(await store.list({ limit: 1_000 })).toHaveLength(250)
    } finally {
      await store.close()
    }
  }, 60_000)

  it('ends by itself when its store fails at exit: a failed flush is not tried again for ever', async () => {
    const ended = await run('exit', join(dir, 'unused.db'), 20, 'failing')
    expect(ended.signal).toBeNull()
    expect(ended.code).toBe(0)
    expect(ended.err).toMatch(/writing runs to memory failed.*disk full/)
  }, 60_000)
})
