// Runs the store tests' child processes (tsx), and waits for them.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const WRITER = fileURLToPath(new URL('./writer-process.ts', import.meta.url))
const OPENER = fileURLToPath(new URL('./opener-process.ts', import.meta.url))

/** Runs a script with these arguments; resolves with its stdout, rejects with its stderr. */
function child(script: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    const process_ = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    process_.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    process_.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    process_.on('error', reject)
    process_.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${script} ${args.join(' ')} exited ${code}:\n${err}`))))
  })
}

/** Runs test/store/writer-process.ts with these arguments (see there). */
export function writer(args: readonly string[]): Promise<string> {
  return child(WRITER, args)
}

/** Runs test/store/opener-process.ts with these arguments (see there). */
export function opener(args: readonly string[]): Promise<string> {
  return child(OPENER, args)
}
