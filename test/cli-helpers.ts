// Running the built command line (devtools/cli.js) in child processes, for the CLI tests.
import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import { ROOT } from './built-dist.js'

export const CLI = join(ROOT, 'devtools', 'cli.js')

/** What a command did. */
export interface CliResult {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/** The child's environment: no NO_COLOR or FORCE_COLOR, so colour is decided by stdout not being a TTY. */
export const childEnv: NodeJS.ProcessEnv = (() => {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env['NO_COLOR']
  delete env['FORCE_COLOR']
  return env
})()

/** Runs `shadowchain <args>` to its end (a guard of 20 s) and says what it did. */
export function cli(...args: string[]): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, env: childEnv, timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
      resolve({ code, stdout, stderr })
    })
  })
}

/** A running `shadowchain view`: its URL, the child, and its exit code once it ends. */
export interface CliViewer {
  readonly url: string
  readonly child: ChildProcess
  readonly exited: Promise<number | null>
  /** What it wrote to stderr so far. */
  stderr(): string
}

/**
 * Starts `shadowchain view <args> --no-open` (files, stores, `--live <store>`, …) and resolves once
 * it prints its URL; rejects with its stderr when it exits before. Stop it with `child.kill('SIGTERM')`.
 */
export async function startCliView(args: readonly string[]): Promise<CliViewer> {
  const child = spawn(process.execPath, [CLI, 'view', ...args, '--no-open'], { cwd: ROOT, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  const url = await new Promise<string>((resolve, reject) => {
    let stdout = ''
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString()
      const m = /shadowchain (?:live )?viewer: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(stdout)
      if (m !== null) resolve(m[1] as string)
    })
    void exited.then((code) => reject(new Error(`view exited (${code}) before serving: ${stderr}`)))
  })
  return { url, child, exited, stderr: () => stderr }
}
