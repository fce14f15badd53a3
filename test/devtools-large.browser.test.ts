// The viewer at every size (issue #15): a 20,002-event run (5,000 links over a 10-key ctx, two
// chain-level middleware) served by `shadowchain view` (the BUILT library) and driven by Debian's
// chromium. The DOM stays under one bound whatever the run's size (a virtual event list and
// waterfall), and stepping, jumping and clicking far into the run show that moment's state, the
// library's. A dropped file is shown at once and validated by the library in a worker: refused,
// it leaves the page. No timing is asserted here (bench/viewer.bench.ts measures).
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, saveRun, type Run } from '../src/index.js'
import { ensureBuilt } from './built-dist.js'
import { haveChromium, openPage, startView } from './view-server.js'

const skip = !haveChromium && process.env['CI'] === undefined

interface Order {
  id: string
  status: string
  count: number
  total: number
  currency: string
  customer: { name: string; tier: string }
  items: { sku: string; qty: number }[]
  flags: { vip: boolean }
  tags: string[]
  updatedAt: number
}

/** Whatever the run's size, the page holds fewer elements than this. */
const DOM_BOUND = 2_500

let dir: string
let big: Run<Order>
let small: Run<Order>
let bigFile: string
const servers: ChildProcess[] = []
let browser: Browser | undefined
let page: Page
let bigUrl: string
let smallUrl: string
const problems: string[] = []

function orders(links: number) {
  let c = chain<Order>('orders')
  for (let i = 0; i < links; i++) c = c.link(`step-${i}`, (ctx) => void ((ctx.count = i + 1), (ctx.total += i % 7)))
  return c.use({ name: 'counter', before: (e) => void (e.mwctx['links'] = ((e.mwctx['links'] as number | undefined) ?? 0) + 1) }, { name: 'timing', after: (e) => void (e.metrics['seen'] = e.link.name) })
}

const input = (): Order => ({ id: 'o-1', status: 'new', count: 0, total: 0, currency: 'EUR', customer: { name: 'Ada', tier: 'gold' }, items: [{ sku: 'a', qty: 1 }], flags: { vip: false }, tags: ['web'], updatedAt: 0 })

beforeAll(async () => {
  if (skip) return
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-large-view-'))
  big = await orders(5_000).run(input())
  small = await orders(12).run(input())
  bigFile = join(dir, 'big.run.json')
  const smallFile = join(dir, 'small.run.json')
  await saveRun(big, bigFile)
  await saveRun(small, smallFile)
  const a = await startView([bigFile])
  const b = await startView([smallFile])
  servers.push(a.server, b.server)
  ;[bigUrl, smallUrl] = [a.url, b.url]
  ;({ browser, page } = await openPage(problems, 1280, 800))
}, 120_000)

afterAll(async () => {
  await browser?.close()
  for (const server of servers) server.kill('SIGTERM')
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

// (No DOM types in this project's lib: the page is reached through strings.)
const nodes = () => page.evaluate<number>("document.getElementsByTagName('*').length")
const title = () => page.locator('[data-testid="state-title"]').textContent()
const countShown = () => page.locator('[data-testid="state-ctx"] li[data-path=\'["count"]\']').textContent()
const expectState = async (seq: number) => {
  const event = big.timeline.at(seq)!
  expect(await title()).toMatch(new RegExp(`^#${seq} ${event.type.replace('.', '\\.')}`))
  expect(await countShown()).toMatch(new RegExp(`number\\s*${(event.ctx as Order).count}$`))
  expect(Number(await page.locator('[data-testid="slider"]').inputValue())).toBe(seq)
}

describe.skipIf(skip)('the viewer with a 20,002-event run', () => {
  it('keeps the DOM under one bound whatever the run’s size: only the rows in view are drawn', async () => {
    await page.goto(smallUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    const few = await nodes()
    await page.goto(bigUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    expect(big.timeline.length).toBe(20_002)
    const many = await nodes()
    expect(many).toBeLessThan(DOM_BOUND)
    expect(few).toBeLessThan(DOM_BOUND)
    expect(await page.locator('[data-testid="event"]').count()).toBeLessThan(200)
    expect(await page.locator('[data-testid="waterfall-row"]').count()).toBeLessThan(100)
    // The whole run is there to scroll to: the list's and the waterfall's heights are the run's.
    const heights = await page.evaluate<number[]>("[document.getElementById('event-list').scrollHeight, document.getElementById('waterfall').scrollHeight]")
    expect(heights[0]).toBeGreaterThan(20_002 * 19)
    expect(heights[1]).toBeGreaterThan(5_000 * 23)
    expect(await page.locator('[data-testid="run-summary"]').textContent()).toContain('5000 links · 20002 events')
    expect(problems).toEqual([])
  })

  it('steps with the arrow keys, showing each moment’s state, the DOM still bounded', async () => {
    await expectState(0)
    for (let i = 1; i <= 9; i++) {
      await page.keyboard.press('ArrowRight')
      await expectState(i)
    }
    expect(await page.locator('[data-testid="event"].selected').getAttribute('data-seq')).toBe('9')
    // The link panel shows the link of that event.
    const { link } = big.timeline.at(9) as { link: { name: string; index: number } }
    expect(await page.locator('[data-testid="link-title"]').textContent()).toMatch(new RegExp(`^#${link.index} ${link.name} · `))
    expect(await nodes()).toBeLessThan(DOM_BOUND)
    expect(problems).toEqual([])
  })

  it('jumps far into the run with the slider, then steps back: the list and the waterfall follow', async () => {
    const seq = 15_001
    await page.locator('[data-testid="slider"]').evaluate((slider, value) => {
      ;(slider as unknown as { value: string }).value = String(value)
      slider.dispatchEvent(new Event('input', { bubbles: true }))
    }, seq)
    await expectState(seq)
    expect(await page.locator(`[data-testid="event"][data-seq="${seq}"]`).getAttribute('class')).toContain('selected')
    const { link } = big.timeline.at(seq) as { link: { name: string } }
    expect(await page.locator(`[data-testid="waterfall-row"][data-link="${link.name}"]`).getAttribute('class')).toContain('selected')
    await page.keyboard.press('ArrowLeft')
    await page.keyboard.press('ArrowLeft')
    await expectState(seq - 2)
    // The mwctx of that moment: the links counted so far.
    const links = big.timeline.stateAt(seq - 2).mwctx['links'] as number
    expect(await page.locator('[data-testid="state-mwctx"] li[data-path=\'["links"]\']').textContent()).toMatch(new RegExp(`number\\s*${links}$`))
    expect(await nodes()).toBeLessThan(DOM_BOUND)
    expect(problems).toEqual([])
  })

  it('draws what is scrolled into view: the last event and the last link can be clicked', async () => {
    await page.locator('#event-list').evaluate((list) => void (list.scrollTop = list.scrollHeight))
    const last = page.locator('[data-testid="event"][data-seq="20001"]')
    await last.waitFor()
    await last.click()
    await expectState(20_001)
    await page.locator('#waterfall').evaluate((box) => void (box.scrollTop = box.scrollHeight))
    const row = page.locator('[data-testid="waterfall-row"][data-link="step-4999"]')
    await row.waitFor()
    await row.click()
    const start = big.timeline.links().at(-1)!.startSeq
    await expectState(start)
    expect(await nodes()).toBeLessThan(DOM_BOUND)
    expect(problems).toEqual([])
  })

  it('filters the list by a link typed in the box', async () => {
    await page.locator('[data-testid="filter-link"]').fill('step-2500')
    await page.locator('[data-testid="filter-link"]').press('Enter')
    const listed = await page.locator('[data-testid="event"]').evaluateAll((items) => items.map((item) => item.getAttribute('data-type')))
    expect(listed).toEqual(big.timeline.filter({ link: 'step-2500' }).map((event) => event.type))
    await page.locator('[data-testid="filter-link"]').fill('')
    await page.locator('[data-testid="filter-link"]').press('Enter')
    expect(await page.locator('[data-testid="event"]').count()).toBeGreaterThan(20)
    expect(problems).toEqual([])
  })

  it('shows a dropped file at once, and takes it off when the library refuses it', async () => {
    await page.goto(smallUrl)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    await page.locator('#file-input').setInputFiles(bigFile)
    await page.locator(`[data-testid="run-picker"] option[value="${big.id}"]`).waitFor({ state: 'attached' })
    expect(await page.locator('[data-testid="run-picker"]').inputValue()).toBe(big.id)
    // Damaged deep inside: a patch that does not apply, at event 18,001. Readable at once, refused by the check.
    const doc = JSON.parse(await readFile(bigFile, 'utf8')) as { run: { id: string }; events: { ctx?: unknown[] }[] }
    doc.run.id = '00000000-0000-4000-8000-000000000bad'
    const at = doc.events.findIndex((event, i) => i > 18_000 && event.ctx !== undefined)
    doc.events[at]!.ctx = [{ op: 'replace', path: ['nowhere', 'deep'], value: 1 }]
    const damaged = join(dir, 'damaged.run.json')
    await writeFile(damaged, JSON.stringify(doc))
    await page.locator('#file-input').setInputFiles(damaged)
    await expect.poll(() => page.locator('[data-testid="errors"]').textContent(), { timeout: 30_000 }).toContain(`damaged.run.json: $.events[${at}].ctx[0]`)
    expect(await page.locator(`[data-testid="run-picker"] option[value="${doc.run.id}"]`).count()).toBe(0)
    expect(await page.locator(`[data-testid="run-picker"] option[value="${big.id}"]`).count()).toBe(1)
    expect(await nodes()).toBeLessThan(DOM_BOUND)
    expect(problems).toEqual([])
  })
})
