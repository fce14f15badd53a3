// The viewer shows composition (DESIGN §9): skipped links greyed with their reason, the link
// that stopped the run, the failed attempts of a retried link, around calls, and the branches
// of a parallel step as lanes. Runs from examples/composition, served by `shadowchain view` (the BUILT
// library), driven by Debian's chromium.
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { recordCompositionRuns } from '../examples/composition/index.js'
import { ensureBuilt } from './built-dist.js'
import { haveChromium, openPage, startView } from './view-server.js'

const skip = !haveChromium && process.env['CI'] === undefined

let dir: string
let server: ChildProcess | undefined
let browser: Browser | undefined
let page: Page
let url: string
let bigServer: ChildProcess | undefined
let bigUrl: string
const problems: string[] = []

beforeAll(async () => {
  if (skip) return
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-composition-view-'))
  const { files } = await recordCompositionRuns(dir)
  // The stopped run only: the page opens on the first run it is given.
  ;({ server, url } = await startView([files[1] as string]))
  // The big order (its charge was retried), on a server of its own.
  ;({ server: bigServer, url: bigUrl } = await startView([files[0] as string]))
  ;({ browser, page } = await openPage(problems))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  server?.kill('SIGTERM')
  bigServer?.kill('SIGTERM')
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(skip)('the viewer shows skipped links and the stop', () => {
  it('greys skipped links, with their reason and no bars; the summary names the link that stopped the run', async () => {
    await page.goto(url)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    expect(await page.locator('[data-testid="link-name"]').allTextContents()).toEqual(['validate', 'sum', 'review', 'cache', 'price', 'charge', 'loyalty', 'notify'])
    const skipped = page.locator('[data-testid="waterfall-row"].skipped')
    expect(await skipped.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-link')))).toEqual(['review', 'price', 'charge', 'loyalty', 'notify'])
    expect(await page.locator('[data-testid="skip-reason"]').allTextContents()).toEqual(['skipped: when', 'skipped: stopped', 'skipped: stopped', 'skipped: stopped', 'skipped: stopped'])
    expect(await skipped.locator('.bar').count()).toBe(0)
    // Greyed: drawn at half opacity, where a link that ran is opaque.
    // (No DOM types in this project's lib: the page's getComputedStyle is reached through globalThis.)
    const opacity = (row: unknown): string => (globalThis as unknown as { getComputedStyle(el: unknown): { opacity: string } }).getComputedStyle(row).opacity
    expect(await skipped.first().evaluate(opacity)).toBe('0.5')
    expect(await page.locator('[data-testid="waterfall-row"][data-link="cache"]').evaluate(opacity)).toBe('1')
    expect(await page.locator('[data-testid="stopped-by"]').textContent()).toBe(" · stopped by #3 'cache': cached quote is fresh")
    expect(problems).toEqual([])
  })

  it('selecting a skipped link says why it did not run and shows no change', async () => {
    await page.locator('[data-testid="waterfall-row"][data-link="review"]').click()
    expect(await page.locator('#link-title').textContent()).toMatch(/^#2 review · .* · skipped \(when\): it did not run$/)
    expect(await page.locator('[data-testid="link-patches"]').textContent()).toBe('no changes')
    expect(problems).toEqual([])
  })
})

describe.skipIf(skip)('the viewer shows the attempts of a retried link', () => {
  it('draws each failed attempt as a segment of the link\'s row, labels the attempt count, and selects the attempt\'s event', async () => {
    await page.goto(bigUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    const charge = page.locator('[data-testid="waterfall-row"][data-link="charge"]')
    expect(await charge.locator('[data-testid="attempts"]').textContent()).toBe(' ↻ 2 attempts')
    expect(await page.locator('[data-testid="attempts"]').count()).toBe(1)
    const segments = charge.locator('.bar.attempt.failed')
    expect(await segments.count()).toBe(1)
    expect(await segments.first().getAttribute('title')).toMatch(/^attempt 1 ✗ .*gateway busy \(503\)/)
    await segments.first().click()
    expect(await page.locator('#link-title').textContent()).toMatch(/^#5 charge · .* · ok · 2 attempts$/)
    expect(problems).toEqual([])
  })

  it('lists the around calls of a link (both halves) and draws them as middleware segments of its row', async () => {
    await page.goto(bigUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    const listed = await page.locator('[data-testid="event"]').allTextContents()
    // The first half before link.start, the second after link.end (the list names middleware and link).
    const around = listed.filter((text) => /middleware\.(before|after)idempotency · charge/.test(text)).map((text) => /middleware\.(before|after)/.exec(text)?.[1])
    expect(around).toEqual(['before', 'after'])
    const at = (what: string) => listed.findIndex((text) => text.includes(what))
    expect(at('middleware.beforeidempotency')).toBeLessThan(at('link.startcharge'))
    expect(at('middleware.afteridempotency')).toBeGreaterThan(at('link.endcharge'))
    const charge = page.locator('[data-testid="waterfall-row"][data-link="charge"]')
    const titles = await charge.locator('.bar.mw').evaluateAll((bars) => bars.map((bar) => bar.getAttribute('title') ?? ''))
    expect(titles.filter((title) => title.startsWith('idempotency (link-around)'))).toHaveLength(2)
    expect(problems).toEqual([])
  })
})

describe.skipIf(skip)('the viewer shows the branches of a parallel step as lanes', () => {
  it('draws one lane per branch under the step, inside the step on the time axis; a lane selects its branch event', async () => {
    await page.goto(bigUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    const lanes = page.locator('[data-testid="branch-lane"][data-link="price"]')
    expect(await lanes.evaluateAll((rows) => rows.map((row) => row.getAttribute('data-branch')))).toEqual(['tax', 'shipping', 'fraud'])
    expect(await page.locator('[data-testid="branch-lane"]').count()).toBe(3)
    // The lanes follow the step's row, before the next link's.
    const order = await page.locator('[data-testid="waterfall-row"], [data-testid="branch-lane"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-branch') ?? row.getAttribute('data-link')))
    expect(order.slice(order.indexOf('price'), order.indexOf('price') + 5)).toEqual(['price', 'tax', 'shipping', 'fraud', 'charge'])
    // Every branch bar lies within the step's link bar.
    const box = async (locator: ReturnType<Page['locator']>) => (await locator.boundingBox()) ?? { x: 0, width: 0 }
    const step = await box(page.locator('[data-testid="waterfall-row"][data-link="price"] .bar.link'))
    for (const name of ['tax', 'shipping', 'fraud']) {
      const lane = await box(lanes.and(page.locator(`[data-branch="${name}"]`)).locator('.bar.branch'))
      expect(lane.width).toBeGreaterThan(0)
      expect(lane.x).toBeGreaterThanOrEqual(step.x - 1)
      expect(lane.x + lane.width).toBeLessThanOrEqual(step.x + step.width + 1)
    }
    await lanes.and(page.locator('[data-branch="shipping"]')).click()
    const selected = await page.locator('[data-testid="event"].selected').textContent()
    expect(selected).toMatch(/branch\.end.*price · branch shipping/)
    expect(problems).toEqual([])
  })
})
