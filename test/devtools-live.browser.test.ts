// The live view and the stitched trace in Chromium (DESIGN §11): a page opened on
// serveDevtools(recorder) shows a run made after it opened, without a reload; a page served the
// runs of two services that share a trace opens the remote run under the link that called it.
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, recorder, saveRun, type FlightRecorder } from '../src/index.js'
import { serveDevtools, type DevtoolsServer } from '../src/http/serve-devtools.js'
import { ensureBuilt } from './built-dist.js'
import { twoServices, useW3C } from './stitch-fixture.js'
import { haveChromium, openPage, startView } from './view-server.js'

const skip = !haveChromium && process.env['CI'] === undefined

let browser: Browser | undefined
let page: Page
let rec: FlightRecorder
let live: DevtoolsServer
let dir: string
let view: ChildProcess | undefined
let stopW3C: () => void = () => {}
const problems: string[] = []

beforeAll(async () => {
  if (skip) return
  ensureBuilt()
  stopW3C = useW3C()
  rec = recorder({ keep: { last: 100 } })
  live = await serveDevtools(rec)
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-live-view-'))
  ;({ browser, page } = await openPage(problems))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  await live?.close()
  await rec?.close()
  view?.kill('SIGTERM')
  stopW3C()
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe.skipIf(skip)('the live view in Chromium', () => {
  it('shows a run made after the page opened, without a reload', async () => {
    await page.goto(live.url)
    await page.locator('[data-testid="live"]').waitFor({ state: 'visible' })
    expect(await page.locator('[data-testid="waterfall-row"]').count()).toBe(0)
    const c = chain<{ n: number }>('pushed', { recorder: rec }).link('first', (ctx) => void (ctx.n += 1)).link('second', (ctx) => void (ctx.n *= 2))
    const run = await c.run({ n: 1 })
    const rows = page.locator(`[data-testid="waterfall-row"][data-run="${run.id}"]`)
    await rows.first().waitFor({ timeout: 10_000 })
    expect(await rows.evaluateAll((els) => els.map((el) => el.getAttribute('data-link')))).toEqual(['first', 'second'])
    // Another one: listed in the picker, the one being looked at stays selected.
    const next = await c.run({ n: 5 })
    await page.locator(`[data-testid="run-picker"] option[value="${next.id}"]`).waitFor({ state: 'attached', timeout: 10_000 })
    expect(await page.locator('[data-testid="run-picker"]').inputValue()).toBe(run.id)
    expect(await page.locator('[data-testid="live"]').textContent()).toMatch(/live · 2 runs/)
    expect(problems).toEqual([])
  })
})

describe.skipIf(skip)('a trace of two services in the viewer', () => {
  it('opens the remote run under the link that called it, on the caller\'s time axis', async () => {
    const { orders, payment } = await twoServices()
    const files = [join(dir, 'payments.run.json'), join(dir, 'orders.run.json')]
    await saveRun(payment, files[0]!)
    await saveRun(orders, files[1]!)
    let url: string
    ;({ server: view, url } = await startView(files))
    await page.goto(url)
    // The caller is shown first (not the run it called), with an expander on its charge link.
    await page.locator(`[data-testid="waterfall-row"][data-run="${orders.id}"]`).first().waitFor()
    expect(await page.locator('[data-testid="run-picker"]').inputValue()).toBe(orders.id)
    const toggle = page.locator(`[data-testid="waterfall-row"][data-link="charge"] [data-testid="nested-toggle"][data-child="${payment.id}"]`)
    expect(await toggle.textContent()).toContain('⇢ remote (payments.run.json)')
    expect(await page.locator('[data-testid="remote-run"]').count()).toBe(0)
    await toggle.click()
    const head = page.locator(`[data-testid="remote-head"][data-run="${payment.id}"]`)
    expect(await head.textContent()).toContain(`⇢ remote run ${payment.id.slice(-8)} 'payments' (payments.run.json)`)
    const order = await page.locator('[data-testid="waterfall-row"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-link')))
    expect(order).toEqual(['validate', 'charge', 'authorize', 'capture', 'notify'])
    // Its events follow the charge link's end in the list, browsable like a nested run's.
    expect(await page.locator(`[data-testid="event"][data-run="${payment.id}"]`).count()).toBe(payment.timeline.length)
    expect(problems).toEqual([])
  })
})
