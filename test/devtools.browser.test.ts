// The devtools viewer end to end: `shadowchain view` serves the example runs (a checkout with
// captured writes, its fork and a replay), Debian's chromium drives the page through
// playwright-core. The CLI imports the BUILT library (dist/), rebuilt first when stale.
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HOSTILE_NOTE, recordExampleRuns } from '../examples/devtools/index.js'
import { formatDuration, loadRun, type Run } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'

const CHROMIUM = '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
const haveChromium = existsSync(CHROMIUM)
// On CI a missing browser is a failure (beforeAll throws); on a workstation the suite is skipped.
const skip = !haveChromium && process.env['CI'] === undefined
if (skip) console.warn(`devtools browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`)


/** Starts `shadowchain view` and resolves with the URL it prints. */
function startView(files: string[]): Promise<{ server: ChildProcess; url: string }> {
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

let dir: string
let files: { original: string; fork: string; replay: string }
let original: Run<unknown>
let fork: Run<unknown>
let server: ChildProcess | undefined
let url: string
let browser: Browser | undefined
let page: Page
const problems: string[] = []
const dialogs: string[] = []
const requests: string[] = []

beforeAll(async () => {
  if (skip) return
  if (!haveChromium) throw new Error(`${CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)`)
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-devtools-'))
  files = await recordExampleRuns(dir)
  ;[original, fork] = await Promise.all([loadRun(files.original), loadRun(files.fork)])
  ;({ server, url } = await startView([files.original, files.fork, files.replay]))
  browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
  page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
  page.on('console', (message) => void (message.type() === 'error' && problems.push(`console: ${message.text()}`)))
  page.on('pageerror', (error) => void problems.push(`page error: ${error.message}`))
  page.on('dialog', (dialog) => void (dialogs.push(dialog.message()), dialog.dismiss()))
  page.on('request', (request) => void requests.push(request.url()))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  server?.kill('SIGTERM')
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const texts = (testid: string) => page.locator(`[data-testid="${testid}"]`).allTextContents()
const stateTitle = () => page.locator('[data-testid="state-title"]').textContent()

describe.skipIf(skip)('shadowchain view in chromium', () => {
  it('serves the page on 127.0.0.1 with a policy that forbids inline scripts and other origins', async () => {
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/)
    const response = await page.goto(url)
    expect(response?.headers()['content-security-policy']).toContain("default-src 'self'")
    expect(response?.headers()['x-content-type-options']).toBe('nosniff')
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
  })

  it('draws one waterfall row per link with its own duration apart from its middleware time', async () => {
    const links = original.timeline.links()
    expect(await texts('link-name')).toEqual(links.map((link) => link.name))
    expect(await texts('link-duration')).toEqual(links.map((link) => formatDuration(link.durationNs)))
    const middlewareNs = links.map((link) =>
      original.timeline.filter({ link: link.name }).reduce((sum, e) => sum + (e.type.startsWith('middleware') && 'durationNs' in e ? e.durationNs : 0n), 0n),
    )
    expect(await texts('middleware-duration')).toEqual(middlewareNs.map((ns) => `+${formatDuration(ns)} mw`))
    const charge = page.locator('[data-testid="waterfall-row"][data-link="charge"]')
    expect(await charge.locator('.bar.link').count()).toBe(1)
    // timing, logger, flaky-sink around every link, plus audit's before and after on charge.
    expect(await charge.locator('.bar.mw').count()).toBe(6)
    expect(await page.locator('[data-testid="waterfall-row"][data-link="discount"] .bar.mw.failed').count()).toBe(1)
  })

  it('shows the state of an event clicked in the list, its changed paths highlighted', async () => {
    const end = original.timeline.filter({ type: 'link.end', link: 'price' })[0]!
    await page.locator(`[data-testid="event"][data-seq="${end.seq}"]`).click()
    expect(await stateTitle()).toContain(`#${end.seq} link.end price`)
    const total = page.locator('[data-testid="state-ctx"] li[data-path=\'["total"]\']')
    expect(await total.textContent()).toContain(String((end.ctx as { total: number }).total))
    expect(await total.getAttribute('class')).toContain('changed')
    expect(await page.locator('[data-testid="state-ctx"] li[data-path=\'["items"]\']').getAttribute('class')).not.toContain('changed')
    expect(await page.locator('[data-testid="link-patches"]').textContent()).toContain(`add total = ${(end.ctx as { total: number }).total}`)
  })

  it('moves through events with the arrow keys; the slider, list and inspector follow', async () => {
    const start = Number(await page.locator('[data-testid="slider"]').inputValue())
    const expectAt = async (seq: number) => {
      expect(Number(await page.locator('[data-testid="slider"]').inputValue())).toBe(seq)
      expect(await page.locator('[data-testid="event"].selected').getAttribute('data-seq')).toBe(String(seq))
      expect(await stateTitle()).toMatch(new RegExp(`^#${seq} ${original.timeline.at(seq)!.type.replace('.', '\\.')}`))
    }
    const total = page.locator('[data-testid="state-ctx"] li[data-path=\'["total"]\']')
    await page.keyboard.press('ArrowRight')
    await expectAt(start + 1)
    expect(await total.count()).toBe(1)
    await page.keyboard.press('ArrowDown')
    await expectAt(start + 2)
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowUp')
    await page.keyboard.press('ArrowLeft')
    await expectAt(start - 1)
    // Before price's link.end, ctx has no total yet: the inspector went back in time.
    expect(await total.count()).toBe(0)
    // The inspector shows that moment's mwctx: the link counter as it was then.
    const links = original.timeline.stateAt(start - 1).mwctx['links'] as number
    expect(await page.locator('[data-testid="state-mwctx"] li[data-path=\'["links"]\']').textContent()).toMatch(new RegExp(`^links\\s*number\\s*${links}$`))
  })

  it('opens the fork tree and selects the fork: its own links, the inherited ones noted', async () => {
    await page.locator('[data-testid="fork-tree"] > summary').click()
    expect(await page.locator('[data-testid="fork-node"]').count()).toBe(3)
    await page.locator(`[data-testid="fork-node"][data-run-id="${fork.id}"]`).click()
    expect(await page.locator('[data-testid="run-picker"]').inputValue()).toBe(fork.id)
    const forkSeq = fork.timeline.events.findIndex((event) => event.type === 'fork')
    expect(await stateTitle()).toContain(`#${forkSeq} fork`)
    const own = fork.timeline.links().filter((link) => link.startSeq > forkSeq)
    expect(await texts('link-name')).toEqual(own.map((link) => link.name))
    expect(await page.locator('[data-testid="waterfall-note"]').textContent()).toContain(`${fork.timeline.links().length - own.length} inherited`)
    expect(await page.locator('[data-testid="state-ctx"] li[data-path=\'["coupon"]\']').getAttribute('class')).toContain('changed')
    // Compared with its parent, side by side: the edit shows at the first link after the cut.
    expect(await page.locator('[data-testid="divergence"]').textContent()).toMatch(/first divergence at link #3 'reserve'|first divergence at link #4 'charge'/)
  })

  it('lists the selected link’s ctx.write events with their call sites', async () => {
    await page.locator('[data-testid="waterfall-row"][data-link="charge"]').click()
    const sites = await texts('call-site')
    expect(sites.length).toBe(2)
    for (const site of sites) expect(site).toMatch(/examples\/devtools\/index\.ts:\d+:\d+/)
  })

  it('shows the hostile string as text and never runs it', async () => {
    await expect.poll(() => page.locator('[data-testid="state-ctx"]').textContent()).toContain(HOSTILE_NOTE)
    expect(await page.locator('img').count()).toBe(0)
    expect(dialogs).toEqual([])
  })

  it('saves a screenshot; no console error, page error or request to another origin happened', async () => {
    await page.locator(`[data-testid="fork-node"][data-run-id="${original.id}"]`).click()
    const failure = original.timeline.filter({ type: 'middleware.error' })[0]!
    await page.locator(`[data-testid="event"][data-seq="${failure.seq}"]`).click()
    expect(await page.locator('[data-testid="event-error"]').textContent()).toContain('metrics sink unavailable')
    await mkdir(join(ROOT, 'test-artifacts'), { recursive: true })
    const shot = join(ROOT, 'test-artifacts', 'devtools.png')
    await page.screenshot({ path: shot })
    // The README's picture is refreshed on request only, so a test run leaves the tree clean.
    if (process.env['UPDATE_SCREENSHOT'] === '1') await copyFile(shot, join(ROOT, 'docs', 'devtools.png'))
    expect(problems).toEqual([])
    expect(requests.filter((request) => !request.startsWith(url))).toEqual([])
    expect(requests.length).toBeGreaterThan(3)
  })
})
