// Nested chains (DESIGN §9) in the presentation layer: the terminal waterfall, its rows and
// describeRun show a nested link's child run in place under the link (or the branch, or the
// failed attempt) that made it, indented, on the outermost run's time axis; and the viewer's
// model makes a child ready for the page only when asked, timed from the outermost run's start.
import { execFile } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, describeRun, formatWaterfall, saveRun, type Run } from '../src/index.js'
import { ensureBuilt, ROOT } from './built-dist.js'
import { waterfallRows } from '../src/present/waterfall.js'
import { prepareRun } from '../src/present/viewer/run-view.js'
import { nestedOfRow, nestedView, nestingDepth, visibleEvents } from '../src/present/viewer/nested-view.js'
import { stateAt } from '../src/present/viewer/writes.js'
import { firstDivergence } from '../src/present/viewer/compare-view.js'
import { steppingClock } from './helpers.js'

interface Order {
  n: number
  log: string[]
  points?: number
}
interface Loyalty {
  total: number
  points: number
}

/** Each reading 1 µs after the last, from 0: offsets and durations are exact. */
const clock = () => steppingClock(0n, 1_000n)

const inner = chain<Order>('inner').link('i1', (ctx) => void (ctx.n += 10))
const child = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 1)).link('deep', inner)
const loyalty = chain<Loyalty>('loyalty').link('score', (ctx) => void (ctx.points = ctx.total * 2))
const bad = chain<Order>('bad').link('b1', () => {
  throw new Error('child boom')
})

/** A same-type child nesting a child, a mapped child, a child as a parallel branch, a failing child. */
async function nestedRun(): Promise<Run<Order>> {
  const parent = chain<Order>('parent', { clock: clock() })
    .link('a', (ctx) => void ctx.log.push('a'))
    .link('sub', child)
    .link('points', loyalty, { input: (o) => ({ total: o.n, points: 0 }), output: (o, l) => void (o.points = l.points) })
    .parallel('par', { x: child, y: (ctx) => void ctx.log.push('y') }, { merge: 'ordered' })
    .link('fails', bad)
  return parent.run({ n: 0, log: [] }).catch((e: { run: Run<Order> }) => e.run)
}

const lineOf = (lines: readonly string[], pattern: RegExp): number => lines.findIndex((line) => pattern.test(line))

describe('the waterfall with nested runs', () => {
  it('draws each child run under the link that ran it, indented, with its own links on the parent run\'s time axis', async () => {
    const run = await nestedRun()
    const lines = formatWaterfall(run, { width: 40 }).split('\n')
    expect(lines[0]).toMatch(/^parent {2}run [0-9a-f]{8} {2}error {2}.* {2}5 links$/)
    // 'sub': its child run, then the child's links indented one level, its grandchild two.
    const sub = lineOf(lines, /^ {2}1 {2}sub /)
    expect(lines[sub + 1]).toMatch(/^ {5}▾ nested run [0-9a-f]{8} 'child' {2}ok {2}\+4\.00 µs {2}9\.00 µs {2}2 links$/)
    expect(lines[sub + 2]).toMatch(/^ {6}0 {2}c1 +\+5\.00 µs +1\.00 µs {2}\|.{40}\| {2}✓$/)
    expect(lines[sub + 3]).toMatch(/^ {6}1 {2}deep +\+7\.00 µs +5\.00 µs {2}\|/)
    expect(lines[sub + 4]).toMatch(/^ {9}▾ nested run [0-9a-f]{8} 'inner' {2}ok {2}\+8\.00 µs/)
    expect(lines[sub + 5]).toMatch(/^ {10}0 {2}i1 +\+9\.00 µs +1\.00 µs {2}\|/)
    // Times are the parent's: the child's first link starts inside the link's bar.
    const bar = (line: string | undefined) => /\|(.*)\|/.exec(line ?? '')?.[1] ?? ''
    const cell = (line: string | undefined) => bar(line).indexOf('█')
    expect(cell(lines[sub + 2])).toBeGreaterThanOrEqual(cell(lines[sub]))
    expect(cell(lines[sub + 2])).toBeLessThan(cell(lines[sub]) + bar(lines[sub]).split('█').length - 1)
    // Every row's bar column is at the same place, however deep.
    const columns = new Set(lines.filter((line) => line.includes('|')).map((line) => line.indexOf('|')))
    expect(columns.size).toBe(1)
    // A mapped child (another ctx type) is drawn the same way.
    const points = lineOf(lines, /^ {2}2 {2}points /)
    expect(lines[points + 1]).toMatch(/▾ nested run [0-9a-f]{8} 'loyalty' {2}ok /)
    expect(lines[points + 2]).toMatch(/^ {6}0 {2}score /)
  })

  it('draws a branch\'s child under its lane, and a failing child with its ✗ and message under the failing link', async () => {
    const lines = formatWaterfall(await nestedRun(), { width: 30 }).split('\n')
    const lane = lineOf(lines, /^ {5}├ x /)
    expect(lines[lane + 1]).toMatch(/^ {5}▾ nested run [0-9a-f]{8} 'child' {2}ok /)
    expect(lines[lane + 2]).toMatch(/^ {6}0 {2}c1 /)
    expect(lines[lineOf(lines, /^ {5}└ y /) - 1]).toMatch(/^ {10}0 {2}i1 /)
    const fails = lineOf(lines, /^ {2}4 {2}fails /)
    expect(lines[fails]).toMatch(/✗ link 'b1' \(#0\) of chain 'bad' failed: child boom$/)
    expect(lines[fails + 1]).toMatch(/^ {5}▾ nested run [0-9a-f]{8} 'bad' {2}error /)
    expect(lines[fails + 2]).toMatch(/^ {6}0 {2}b1 .*\| {2}✗ child boom$/)
    expect(lines[fails + 3]).toBe("      LINK_FAILED: link 'b1' (#0) of chain 'bad' failed: child boom")
    expect(lines.at(-1)).toMatch(/^ {2}LINK_FAILED: link 'fails' \(#4\) of chain 'parent' failed/)
  })

  it('collapses nested runs to one line each with nested: false, or below a depth', async () => {
    const run = await nestedRun()
    const flat = formatWaterfall(run, { nested: false }).split('\n')
    expect(flat.filter((line) => line.includes('nested run'))).toHaveLength(4)
    expect(flat.filter((line) => line.includes('▸ nested run'))).toHaveLength(4)
    expect(lineOf(flat, / c1 /)).toBe(-1)
    const one = formatWaterfall(run, { nested: 1 }).split('\n')
    expect(one.filter((line) => line.includes('▾ nested run'))).toHaveLength(4)
    // The grandchildren ('inner', under 'sub' and under branch 'x') are named, not drawn.
    expect(one.filter((line) => /▸ nested run [0-9a-f]{8} 'inner'/.test(line))).toHaveLength(2)
    expect(lineOf(one, / i1 /)).toBe(-1)
    expect(formatWaterfall(run, { nested: true })).toBe(formatWaterfall(run))
    expect(formatWaterfall(run, { nested: 0 })).toBe(formatWaterfall(run, { nested: false }))
  })

  it('draws the children of a retried nested link\'s failed attempts under each attempt', async () => {
    let calls = 0
    const flaky = chain<Order>('flaky').link('try', () => {
      if (++calls < 2) throw new Error(`busy ${calls}`)
    })
    const run = await chain<Order>('retrying', { clock: clock() }).link('pay', flaky, { retry: { attempts: 2 } }).run({ n: 0, log: [] })
    const lines = formatWaterfall(run, { width: 20 }).split('\n')
    expect(lines[1]).toMatch(/^ {2}0 {2}pay .* ✓ \(2 attempts\)$/)
    expect(lines[2]).toMatch(/▾ nested run [0-9a-f]{8} 'flaky' {2}ok /)
    const attempt = lineOf(lines, /↻ attempt 1 failed/)
    expect(lines[attempt + 1]).toMatch(/▾ nested run [0-9a-f]{8} 'flaky' {2}error /)
    expect(lines[attempt + 2]).toMatch(/ 0 {2}try .*✗ busy 1$/)
    const [row] = waterfallRows(run.timeline.events)
    expect(row?.failedAttempts[0]?.child).toBeDefined()
    expect(row?.child).toBe(run.timeline.links()[0]?.child?.id)
  })

  it('gives rows the ids of their nested runs (the link\'s last call, each branch)', async () => {
    const run = await nestedRun()
    const rows = waterfallRows(run.timeline.events, run.startedAt)
    const links = run.timeline.links()
    expect(rows.map((row) => row.child)).toEqual(links.map((link) => link.child?.id))
    const par = rows.find((row) => row.name === 'par')
    expect(par?.branches.map((lane) => lane.child === undefined)).toEqual([false, true])
    expect(run.timeline.child(par?.branches[0]?.child ?? '')?.chainName).toBe('child')
  })
})

describe('describeRun with nested runs', () => {
  it('describes each child run under its link and branch, recursively, timed from the outermost run\'s start', async () => {
    const run = await nestedRun()
    const summary = describeRun(run)
    const sub = summary.links.find((link) => link.name === 'sub')
    expect(sub?.child?.chainName).toBe('child')
    expect(sub?.child?.offsetNs).toBe(4_000n)
    expect(sub?.child?.links.map((link) => [link.name, link.offsetNs])).toEqual([['c1', 5_000n], ['deep', 7_000n]])
    expect(sub?.child?.links[1]?.child?.links.map((link) => link.name)).toEqual(['i1'])
    expect(summary.links.find((link) => link.name === 'points')?.child?.links.map((link) => link.name)).toEqual(['score'])
    const par = summary.links.find((link) => link.name === 'par')
    // (Branches in the order they ended.)
    expect(par?.branches?.map((b) => [b.name, b.child?.chainName])).toEqual([['y', undefined], ['x', 'child']])
    const fails = summary.links.find((link) => link.name === 'fails')
    expect(fails?.child?.status).toBe('error')
    expect(fails?.child?.error?.code).toBe('LINK_FAILED')
    expect(fails?.child?.links[0]).toMatchObject({ name: 'b1', status: 'error', error: 'child boom' })
    // A plain run's summary has no nested fields.
    expect(summary.links[0]).not.toHaveProperty('child')
    expect(summary).not.toHaveProperty('offsetNs')
  })

  it('leaves nested runs out with nested: false, and below a depth', async () => {
    const run = await nestedRun()
    expect(describeRun(run, { nested: false }).links.some((link) => link.child !== undefined)).toBe(false)
    const one = describeRun(run, { nested: 1 }).links.find((link) => link.name === 'sub')
    expect(one?.child?.links[1]?.name).toBe('deep')
    expect(one?.child?.links[1]?.child).toBeUndefined()
  })
})

describe('the viewer model of nested runs', () => {
  it('makes a child ready only when asked, timed from the outermost run\'s start; its states browsable', async () => {
    const view = prepareRun((await nestedRun()).toJSON())
    const sub = view.rows.find((row) => row.name === 'sub')
    if (sub === undefined) throw new Error('no sub row')
    const entries = nestedOfRow(view, sub)
    expect(entries).toEqual([{ id: sub.child, place: 'link', label: '', seq: sub.endSeq }])
    // Collapsed: the keyboard steps through the parent's events only.
    expect(visibleEvents(view, new Set()).length).toBe(view.events.length)
    const childView = nestedView(view, entries[0]?.id ?? '')
    if (childView === undefined) throw new Error('no child view')
    expect(nestedView(view, entries[0]?.id ?? '')).toBe(childView)
    expect(childView.host).toEqual({ run: view, seq: sub.endSeq })
    expect(nestingDepth(childView)).toBe(1)
    expect(childView.chainName).toBe('child')
    expect(childView.rows.map((row) => [row.name, row.linkStart])).toEqual([['c1', 5_000n], ['deep', 7_000n]])
    expect(childView.totalNs).toBe(view.totalNs)
    // Expanded: the child's events follow the event that names it.
    const stops = visibleEvents(view, new Set([childView.id]))
    expect(stops.length).toBe(view.events.length + childView.events.length)
    const at = stops.findIndex((stop) => stop.run === view && stop.seq === sub.endSeq)
    expect(stops[at + 1]).toEqual({ run: childView, seq: 0 })
    // The child's ctx at its own events.
    const end = childView.events.findIndex((e) => e.type === 'link.end' && e.link?.name === 'c1')
    expect((stateAt(childView, end).ctx as Order).n).toBe(1)
  }, 10_000)
})

describe('the viewer\'s comparison of runs that diverge inside a nested run', () => {
  it('places the divergence at the nested link and says where the nested runs differ', async () => {
    const twice = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 2)).link('c2', (ctx) => void (ctx.n -= 1))
    const once = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 1)).link('c2', () => {})
    const parent = (c: typeof twice) => chain<Order>('parent', { clock: clock() }).link('a', (ctx) => void ctx.log.push('a')).link('sub', c)
    const a = prepareRun((await parent(twice).run({ n: 0, log: [] })).toJSON())
    const b = prepareRun((await parent(once).run({ n: 0, log: [] })).toJSON())
    const divergence = firstDivergence(a, b)
    expect(divergence).toMatchObject({ reason: 'child', index: 1, link: 'sub' })
    expect(divergence?.nested).toEqual([
      "diverged at link #0 'c1' (patches)",
      '  this run:  replace n = 2',
      '  the other: replace n = 1',
    ])
    expect(firstDivergence(a, a)).toBeUndefined()
  })
})

// ---- the command line, on saved run files (version 8: the nested runs' documents embedded) -----

let dir = ''
beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-nested-cli-'))
}, 180_000)
afterAll(async () => {
  if (dir !== '') await rm(dir, { recursive: true, force: true })
})

/** `node devtools/cli.js ...args`: exit code and stdout (not a TTY: no colours). */
function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env['FORCE_COLOR']
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'devtools', 'cli.js'), ...args], { cwd: ROOT, env, timeout: 15_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

async function saved(run: Run<unknown>, name: string): Promise<string> {
  const file = join(dir, name)
  await saveRun(run, file)
  return file
}

describe('shadowchain inspect and diff with nested runs', () => {
  it('inspect draws each nested run in place under its link; --no-nested names it on one line', async () => {
    const run = await nestedRun()
    const file = await saved(run as Run<unknown>, 'nested.run.json')
    const out = await cli('inspect', file, '--no-color')
    expect(out.code).toBe(0)
    // The same text as the library draws from the run it saved.
    expect(out.stdout.trimEnd()).toBe(formatWaterfall(run))
    const lines = out.stdout.split('\n')
    expect(lines[lineOf(lines, /^ {2}1 {2}sub /) + 1]).toMatch(/^ {5}▾ nested run [0-9a-f]{8} 'child' {2}ok /)
    expect(lines[lineOf(lines, /^ {2}4 {2}fails /) + 2]).toMatch(/^ {6}0 {2}b1 .*✗ child boom$/)
    const flat = await cli('inspect', file, '--no-color', '--no-nested')
    expect(flat.stdout.trimEnd()).toBe(formatWaterfall(run, { nested: false }))
    const json = JSON.parse((await cli('inspect', file, '--json')).stdout) as { links: { name: string; child?: { chainName: string; links: { name: string; child?: { chainName: string } }[] } }[] }
    const sub = json.links.find((link) => link.name === 'sub')
    expect(sub?.child?.links.map((link) => [link.name, link.child?.chainName])).toEqual([['c1', undefined], ['deep', 'inner']])
    const none = JSON.parse((await cli('inspect', file, '--json', '--no-nested')).stdout) as { links: { child?: unknown }[] }
    expect(none.links.every((link) => link.child === undefined)).toBe(true)
  }, 30_000)

  it('inspect --events lists a nested run\'s events in place, indented, under the event that names it', async () => {
    const run = await nestedRun()
    const file = await saved(run as Run<unknown>, 'events.run.json')
    const out = await cli('inspect', file, '--events', '--no-color')
    expect(out.code).toBe(0)
    const events = (out.stdout.trimEnd().split('\n\n')[1] ?? '').split('\n')
    const subEnd = events.findIndex((line) => /link\.end +link 'sub'/.test(line))
    const childId = run.timeline.links()[1]?.child?.id ?? ''
    expect(events[subEnd]).toMatch(new RegExp(`  ↳ nested run ${childId.slice(-8)}$`))
    expect(events[subEnd + 1]).toBe(`     ▾ nested run ${childId.slice(-8)} 'child' (ok):`)
    expect(events[subEnd + 2]).toMatch(/^ {4} {4}0 {2}\+4\.00 µs +run\.start/)
    expect(events[subEnd + 3]).toMatch(/^ {4} {4}1 {2}\+5\.00 µs +link\.start +link 'c1'$/)
    // The grandchild two levels in; then the parent's next event, not indented.
    expect(events.some((line) => /^ {8} {4}1 +\+9\.00 µs +link\.start +link 'i1'$/.test(line))).toBe(true)
    // Every event of every run, each once: the parent's, then each nested run's (recursively).
    const count = (r: Run<unknown>): number => r.timeline.length + [...r.timeline.nested.values()].reduce((n, c) => n + count(c), 0)
    expect(events.filter((line) => /^ *\d+ {2}/.test(line))).toHaveLength(count(run as Run<unknown>))
    expect(events.filter((line) => /^\s+▾ nested run/.test(line))).toHaveLength(6)
  }, 30_000)

  it('diff shows where the runs diverge inside a nested run', async () => {
    const twice = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 2)).link('c2', (ctx) => void (ctx.n -= 1))
    const once = chain<Order>('child').link('c1', (ctx) => void (ctx.n += 1)).link('c2', () => {})
    const parent = (c: typeof twice) => chain<Order>('parent', { clock: clock() }).link('a', (ctx) => void ctx.log.push('a')).link('sub', c)
    const a = await saved((await parent(twice).run({ n: 0, log: [] })) as Run<unknown>, 'a.run.json')
    const b = await saved((await parent(once).run({ n: 0, log: [] })) as Run<unknown>, 'b.run.json')
    const out = await cli('diff', a, b)
    expect(out.code).toBe(1)
    const lines = out.stdout.trimEnd().split('\n')
    expect(lines[0]).toMatch(/^runs diverge at link #1 'sub' \(child\), chain 'parent'$/)
    expect(lines).toContain("  inside the nested run: runs diverge at link #0 'c1' (patches)")
    expect(lines.slice(lines.indexOf("  inside the nested run: runs diverge at link #0 'c1' (patches)") + 1)).toEqual([
      `    a ${a}:`,
      '      replace n = 2',
      `    b ${b}:`,
      '      replace n = 1',
    ])
    const json = JSON.parse((await cli('diff', a, b, '--json')).stdout) as { reason: string; link: string; child: { reason: string; link: string } }
    expect([json.reason, json.link, json.child.reason, json.child.link]).toEqual(['child', 'sub', 'patches', 'c1'])
  }, 30_000)
})
