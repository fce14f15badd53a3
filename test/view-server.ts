// Serving the viewer for browser tests: `shadowchain view` started on a free port, and the
// Debian chromium that drives it.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { ROOT } from './built-dist.js'

export const CHROMIUM = '/usr/bin/chromium'
export const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
export const haveChromium = existsSync(CHROMIUM)

/** Starts `shadowchain view` and resolves with the URL it prints. */
export function startView(files: string[]): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, [join(ROOT, 'devtools', 'cli.js'), 'view', ...files, '--no-open', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`view printed no URL in 15 s: ${out}`)), 15_000)
    const read = (chunk: Buffer) => {
      out += chunk.toString()
      const url = /shadowchain viewer: (http:\/\/\S+)/.exec(out)?.[1]
      if (url !== undefined) {
        clearTimeout(timer)
        resolve({ server, url })
      }
    }
    server.stdout.on('data', read)
    server.stderr.on('data', read)
    server.once('exit', (code) => reject(new Error(`view exited with ${code}: ${out}`)))
  })
}

/**
 * Debian's chromium with one page of `width` × `height`, whose console errors and page errors are
 * added to `problems` (a test checks it stays empty).
 */
export async function openPage(problems: string[], width = 1280, height = 800): Promise<{ browser: Browser; page: Page }> {
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  const page = await browser.newPage({ viewport: { width, height } })
  page.on('console', (message) => void (message.type() === 'error' && problems.push(`console: ${message.text()}`)))
  page.on('pageerror', (error) => void problems.push(`page error: ${error.message}`))
  return { browser, page }
}
