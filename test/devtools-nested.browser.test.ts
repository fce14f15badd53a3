// The viewer shows nested chains' runs (DESIGN §9, issue #12) in place: a link that ran a child
// chain has an expander; expanding it draws the child's rows under the link (built only then)
// and its events in the list, whose states are browsable like the parent's; the arrow keys step
// through them in place; collapsing hides them. A run file saved by the library (version 8,
// with its nested documents), served by `shadowchain view` (the BUILT library), driven by
// Debian's chromium.
import type { ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Browser, Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, saveRun, type Run } from '../src/index.js'
import { ensureBuilt } from './built-dist.js'
import { haveChromium, openPage, startView } from './view-server.js'

const skip = !haveChromium && process.env['CI'] === undefined

interface Order {
  n: number
  log: string[]
}

let dir: string
let server: ChildProcess | undefined
let browser: Browser | undefined
let page: Page
let url: string
let run: Run<Order>
const problems: string[] = []

const inner = chain<Order>('inner').link('i1', (ctx) => void (ctx.n += 10))
const child = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 1)).link('deep', inner)
const bad = chain<Order>('bad').link('b1', () => {
  throw new Error('child boom')
})

beforeAll(async () => {
  if (skip) return
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-nested-view-'))
  run = await chain<Order>('parent')
    .link('a', (ctx) => void ctx.log.push('a'))
    .link('sub', child)
    .link('fails', bad)
    .run({ n: 0, log: [] })
    .catch((e: { run: Run<Order> }) => e.run)
  const file = join(dir, 'nested.run.json')
  await saveRun(run, file)
  ;({ server, url } = await startView([file]))
  ;({ browser, page } = await openPage(problems))
}, 60_000)

afterAll(async () => {
  await browser?.close()
  server?.kill('SIGTERM')
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const subId = (): string => run.timeline.links().find((link) => link.name === 'sub')?.child?.id ?? ''
const rowsOf = (id: string) => page.locator(`[data-testid="waterfall-row"][data-run="${id}"]`)
const order = () => page.locator('[data-testid="waterfall-row"]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-link')))

describe.skipIf(skip)('the viewer expands a nested run in place', () => {
  it('shows an expander on a link with a child run, and builds nothing of the child until it is expanded', async () => {
    await page.goto(url)
    await page.locator('[data-testid="waterfall-row"]').first().waitFor()
    expect(await order()).toEqual(['a', 'sub', 'fails'])
    const sub = page.locator(`[data-testid="waterfall-row"][data-link="sub"]`)
    expect(await sub.locator('[data-testid="nested-toggle"]').getAttribute('data-child')).toBe(subId())
    expect(await page.locator('[data-testid="waterfall-row"][data-link="a"] [data-testid="nested-toggle"]').count()).toBe(0)
    // Collapsed: no DOM for any child run (rows or events).
    expect(await page.locator('[data-testid="nested-run"]').count()).toBe(0)
    expect(await page.locator(`[data-testid="event"][data-run="${subId()}"]`).count()).toBe(0)
    expect(problems).toEqual([])
  })

  it('expands the child under its link: its links in place, its events in the list, its state shown', async () => {
    await page.locator('[data-testid="waterfall-row"][data-link="sub"] [data-testid="nested-toggle"]').click()
    expect(await page.locator('[data-testid="nested-run"]').count()).toBe(1)
    // Its rows right after the link's row, before the next link's; the grandchild still collapsed.
    expect(await order()).toEqual(['a', 'sub', 'c1', 'deep', 'fails'])
    expect(await rowsOf(subId()).count()).toBe(2)
    const grandchild = run.timeline.links()[1]?.child?.timeline.links()[1]?.child?.id ?? ''
    expect(await page.locator(`[data-testid="nested-toggle"][data-child="${grandchild}"]`).count()).toBeGreaterThan(0)
    expect(await rowsOf(grandchild).count()).toBe(0)
    // The child's events follow the parent's event that names it.
    const childRun = run.timeline.links()[1]?.child
    expect(await page.locator(`[data-testid="event"][data-run="${subId()}"]`).count()).toBe(childRun?.timeline.length)
    // Clicking the child's link shows the child's state at its link.start; the next event (→) its link.end.
    await rowsOf(subId()).and(page.locator('[data-link="c1"]')).click()
    const title = page.locator('[data-testid="state-title"]')
    expect(await title.textContent()).toMatch(/^in nested run [0-9a-f]{8} 'child' · #1 link\.start c1/)
    const n = page.locator('[data-testid="state-ctx"] li[data-path=\'["n"]\']')
    expect(await n.textContent()).toMatch(/0$/)
    await page.keyboard.press('ArrowRight')
    expect(await title.textContent()).toMatch(/^in nested run [0-9a-f]{8} 'child' · #2 link\.end c1/)
    expect(await n.textContent()).toMatch(/1$/)
    expect(await n.getAttribute('class')).toContain('changed')
    expect(await page.locator(`[data-testid="event"][data-run="${subId()}"].selected`).getAttribute('data-seq')).toBe('2')
    expect(await page.locator('[data-testid="position"]').textContent()).toMatch(/ · nested run [0-9a-f]{8} 'child'$/)
    expect(problems).toEqual([])
  })

  it('steps with the arrow keys out of the child into the parent\'s next event, and back', async () => {
    const childLength = run.timeline.links()[1]?.child?.timeline.length ?? 0
    for (let i = 2; i < childLength; i++) await page.keyboard.press('ArrowRight')
    const title = page.locator('[data-testid="state-title"]')
    const subEnd = run.timeline.filter({ type: 'link.end', link: 'sub' })[0]?.seq ?? -1
    expect(await title.textContent()).toMatch(new RegExp(`^#${subEnd + 1} `))
    await page.keyboard.press('ArrowLeft')
    expect(await title.textContent()).toMatch(new RegExp(`^in nested run .* · #${childLength - 1} run\\.end`))
    expect(problems).toEqual([])
  })

  it('shows a failing child with its error, and collapses a child (the selection moves to its link)', async () => {
    const failsId = run.timeline.links()[2]?.child?.id ?? ''
    await page.locator(`[data-testid="nested-toggle"][data-child="${failsId}"]`).first().click()
    const block = page.locator(`[data-testid="nested-run"][data-run="${failsId}"]`)
    expect(await block.locator('[data-testid="nested-error"]').textContent()).toMatch(/LINK_FAILED: .*child boom/)
    expect(await rowsOf(failsId).getAttribute('class')).toContain('error')
    // Collapse 'sub' while its run.end is selected: its rows and events go, the link's event is selected.
    await page.locator(`[data-testid="waterfall-row"][data-link="sub"] [data-testid="nested-toggle"]`).click()
    expect(await rowsOf(subId()).count()).toBe(0)
    expect(await page.locator(`[data-testid="event"][data-run="${subId()}"]`).count()).toBe(0)
    const subEnd = run.timeline.filter({ type: 'link.end', link: 'sub' })[0]?.seq ?? -1
    expect(await page.locator('[data-testid="state-title"]').textContent()).toMatch(new RegExp(`^#${subEnd} link\\.end sub`))
    expect(await order()).toEqual(['a', 'sub', 'fails', 'b1'])
    expect(problems).toEqual([])
  })
})
