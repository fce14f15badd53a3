// The devtools viewer end to end: `shadowchain view` serves the example runs (a checkout with
// captured writes, its fork and a replay), Debian's chromium drives the page through
// playwright-core. The CLI imports the BUILT library (dist/), rebuilt first when stale.
import type { ChildProcess } from 'node:child_process'
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkoutChain, HOSTILE_NOTE, input, recordExampleRuns } from '../examples/devtools/index.js'
import { formatDuration, loadRun, saveRun, type Run } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'
import { CHROMIUM, haveChromium, openPage, startView } from './view-server.js'

// On CI a missing browser is a failure (beforeAll throws); on a workstation the suite is skipped.
const skip = !haveChromium && process.env['CI'] === undefined
if (skip) console.warn(`devtools browser test skipped: ${CHROMIUM} is missing (apt-get install -y chromium)`)

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
  ;({ browser, page } = await openPage(problems, 1440, 900))
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
    // price's write of the total, then its link.start: before it, ctx has no total yet, the
    // inspector went back in time.
    expect(original.timeline.at(start - 1)!.type).toBe('ctx.write')
    expect(await total.count()).toBe(1)
    await page.keyboard.press('ArrowLeft')
    await expectAt(start - 2)
    expect(await total.count()).toBe(0)
    // The inspector shows that moment's mwctx: the link counter as it was then.
    const links = original.timeline.stateAt(start - 2).mwctx['links'] as number
    expect(await page.locator('[data-testid="state-mwctx"] li[data-path=\'["links"]\']').textContent()).toMatch(new RegExp(`^links\\s*number\\s*${links}$`))
  })

  it('shows the state as of each ctx.write when stepping through a link’s writes', async () => {
    // discount writes ctx.discount, then ctx.total: its link.start state has neither change.
    const writes = original.timeline.filter({ type: 'ctx.write', link: 'discount' })
    expect(writes.map((w) => ('path' in w ? w.path.join('.') : ''))).toEqual(['discount', 'total'])
    const end = original.timeline.filter({ type: 'link.end', link: 'discount' })[0]!
    const { discount, total } = end.ctx as { discount: number; total: number }
    const before = (original.timeline.at(writes[0]!.seq)!.ctx as { total: number }).total
    const leaf = (key: string) => page.locator(`[data-testid="state-ctx"] li[data-path='["${key}"]']`)
    await page.locator(`[data-testid="event"][data-seq="${writes[0]!.seq}"]`).click()
    expect(await leaf('discount').textContent()).toMatch(new RegExp(`number\\s*${discount}$`))
    expect(await leaf('discount').getAttribute('class')).toContain('changed')
    expect(await leaf('total').textContent()).toMatch(new RegExp(`number\\s*${before}$`))
    await page.keyboard.press('ArrowRight')
    expect(await stateTitle()).toMatch(new RegExp(`^#${writes[1]!.seq} ctx\\.write`))
    expect(await leaf('total').textContent()).toMatch(new RegExp(`number\\s*${total}$`))
    expect(await leaf('total').getAttribute('class')).toContain('changed')
  })

  it('zooms around the time cursor with the buttons and around the mouse with ctrl+wheel', async () => {
    const start = original.timeline.filter({ type: 'link.start', link: 'reserve' })[0]!
    await page.locator(`[data-testid="event"][data-seq="${start.seq}"]`).click()
    const cursorX = async () => (await page.locator('#cursor').boundingBox())!.x
    const canvasWidth = () => page.locator('#waterfall .canvas').evaluate((el) => el.clientWidth)
    const [x0, w0] = [await cursorX(), await canvasWidth()]
    for (let i = 0; i < 3; i++) await page.locator('[data-testid="zoom-in"]').click()
    const w1 = await canvasWidth()
    expect(w1).toBeGreaterThan(w0 * 4)
    expect(Math.abs((await cursorX()) - x0)).toBeLessThan(2)
    // The fraction of the run under a point of the waterfall, px from its left edge.
    const label = await page.locator('#waterfall .row .label').first().evaluate((el) => el.clientWidth)
    const timeAt = async (x: number) => {
      const scrollLeft = await page.locator('#waterfall').evaluate((el) => el.scrollLeft)
      return (scrollLeft + x - label) / ((await canvasWidth()) - label)
    }
    const box = (await page.locator('#waterfall').boundingBox())!
    const mouseX = Math.round(box.width * 0.8)
    const before = await timeAt(mouseX)
    await page.mouse.move(box.x + mouseX, box.y + 60)
    await page.keyboard.down('Control')
    await page.mouse.wheel(0, -100)
    await page.keyboard.up('Control')
    await expect.poll(canvasWidth).toBeGreaterThan(w1)
    expect(Math.abs((await timeAt(mouseX)) - before)).toBeLessThan(0.002)
    await page.locator('[data-testid="zoom-reset"]').click()
    expect(await canvasWidth()).toBe(w0)
  })

  it('opens the fork tree and selects the fork: named by its cut, its edit shown, its own links, the inherited ones noted', async () => {
    await page.locator('[data-testid="fork-tree"] > summary').click()
    expect(await page.locator('[data-testid="fork-node"]').count()).toBe(3)
    const node = page.locator(`[data-testid="fork-node"][data-run-id="${fork.id}"]`)
    expect(await node.textContent()).toContain("fork after 'discount'")
    await node.click()
    expect(await page.locator('[data-testid="run-picker"]').inputValue()).toBe(fork.id)
    expect(await page.locator('[data-testid="run-picker"] option:checked').textContent()).toContain(`fork of ${original.id.slice(-8)} after 'discount'`)
    const forkSeq = fork.timeline.events.findIndex((event) => event.type === 'fork')
    expect(await stateTitle()).toContain(`#${forkSeq} fork from ${original.id.slice(-8)} after 'discount'`)
    expect(await page.locator('[data-testid="fork-tree"]').textContent()).not.toMatch(/@\d/)
    const own = fork.timeline.links().filter((link) => link.startSeq > forkSeq)
    expect(await texts('link-name')).toEqual(own.map((link) => link.name))
    expect(await page.locator('[data-testid="waterfall-note"]').textContent()).toContain(`${fork.timeline.links().length - own.length} inherited`)
    expect(await page.locator('[data-testid="state-ctx"] li[data-path=\'["coupon"]\']').getAttribute('class')).toContain('changed')
    // At the fork event, the Link panel shows the edit: the coupon and the total it set.
    const total = (fork.timeline.at(forkSeq)!.ctx as { total: number }).total
    expect(await page.locator('[data-testid="link-title"]').textContent()).toBe("fork edit after 'discount'")
    expect(await page.locator('[data-testid="link-patches"] li').allTextContents()).toEqual(['add coupon = "VIP20"', `replace total = ${total}`])
    // Compared with its parent, side by side: the edit is the first difference, not a later link.
    expect(await page.locator('[data-testid="divergence"]').textContent()).toBe("first divergence at the fork edit after 'discount' (fork)")
    // The fork (selected) on the left, its parent on the right.
    const edit = page.locator('[data-testid="compare-a"] li.diverged')
    expect(await edit.getAttribute('data-kind')).toBe('edit')
    expect(await edit.textContent()).toContain('add coupon = "VIP20"')
    expect(await page.locator('[data-testid="compare-b"] li.diverged').getAttribute('data-kind')).toBe('no-edit')
    expect(await page.locator('[data-testid="compare"] li.link.diverged').count()).toBe(0)
  })

  it('times a fork’s inherited events from its parent’s start: no negative time anywhere', async () => {
    const times = await texts('event-time')
    expect(times).toHaveLength(fork.timeline.length)
    expect(times.filter((time) => !time.startsWith('+'))).toEqual([])
    const forkSeq = fork.timeline.events.findIndex((event) => event.type === 'fork')
    expect(await page.locator('[data-testid="event"].inherited').count()).toBe(forkSeq)
    await page.locator('[data-testid="event"][data-seq="2"]').click()
    expect(await stateTitle()).toMatch(/· inherited, \+\d/)
    await page.locator(`[data-testid="event"][data-seq="${forkSeq}"]`).click()
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

  it('compares runs of different inputs: the input is the first difference', async () => {
    const other = await checkoutChain(0.1).run({ ...input(), items: [{ sku: 'book', price: 40, qty: 3 }] })
    const file = join(dir, 'other-input.run.json')
    await saveRun(other, file)
    await page.locator('#file-input').setInputFiles(file)
    await page.locator(`[data-testid="run-picker"] option[value="${other.id}"]`).waitFor({ state: 'attached' })
    await page.locator(`[data-testid="fork-node"][data-run-id="${original.id}"]`).click()
    await page.locator('[data-testid="compare-picker"]').selectOption(other.id)
    expect(await page.locator('[data-testid="divergence"]').textContent()).toBe('first divergence at the input: the runs started from different inputs')
    expect(await page.locator('[data-testid="divergence-lines"] li').allTextContents()).toEqual(['replace items.0.qty = 3', 'remove items.1'])
    expect(await page.locator('[data-testid="compare-a"] li.diverged').getAttribute('data-kind')).toBe('input')
    expect(await page.locator('[data-testid="compare"] li.link.diverged').count()).toBe(0)
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
