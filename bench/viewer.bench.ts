// The devtools viewer at every size (issue #15): a 25,000-link run (100,002 events: the 10-key
// order ctx, the two chain-level middleware of lib/workload.ts) opened by `shadowchain view` in
// Debian's chromium (playwright-core), and `shadowchain inspect` on the same file.
//
//   npm run build            # at the root: the viewer and the CLI run the BUILT library (dist/)
//   cd bench && npm run bench:viewer
//
// Measured in the page (performance marks set by devtools/viewer/app.js): the time from the run
// file read (the server's answer, or a dropped file's text) to the page drawn and taking input;
// the time of one arrow-key step (the handler, then the style and layout it caused: forced by
// reading layout, and to the next frame); the DOM node count for runs of 1,002, 10,002 and
// 100,002 events (it must not grow); the JS heap (after a GC, through the DevTools protocol).
//
// Environment: BENCH_LINKS (default 25,000), BENCH_STEPS (arrow-key steps measured per place,
// default 40), BENCH_ROUNDS (page loads per size, default 3), BENCH_OUT (default
// results/viewer.md; "-" writes nothing), BENCH_CHROMIUM (default /usr/bin/chromium).
import { spawn, type ChildProcess } from 'node:child_process'
import { copyFileSync, existsSync, mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from 'playwright-core'
import { chain, saveRun, type Chain } from '../src/index.ts'
import { fmt, log, machineLine, publish } from './lib/report.ts'
import { counter, makeOrder, orderLinks, timing, type Order } from './lib/workload.ts'

const LINKS = Number(process.env['BENCH_LINKS'] ?? 25_000)
const STEPS = Number(process.env['BENCH_STEPS'] ?? 40)
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3)
const CHROMIUM = process.env['BENCH_CHROMIUM'] ?? '/usr/bin/chromium'
const FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage']
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const CLI = join(ROOT, 'devtools', 'cli.js')

/** The targets of issue #15. */
const INTERACTIVE_MS = 1_000
const STEP_MS = 50

const started = Date.now()

function orderChain(links: number): Chain<Order> {
  let c = chain<Order>('viewer-bench')
  for (let i = 0; i < links; i++) {
    const [name, fn] = orderLinks[i % orderLinks.length] as (typeof orderLinks)[number]
    c = c.link(`${name}-${i}`, fn as never)
  }
  return c.use(counter as never, timing as never)
}

/** Records one run of `links` links and saves it: its path, events and size. */
async function runFile(dir: string, links: number): Promise<{ file: string; events: number; bytes: number }> {
  const run = await orderChain(links).run(makeOrder())
  const file = join(dir, `order-${links}.run.json`)
  await saveRun(run, file)
  return { file, events: run.timeline.length, bytes: statSync(file).size }
}

/** Starts `shadowchain view <file>` and resolves with its URL. */
function startView(file: string): Promise<{ server: ChildProcess; url: string }> {
  const server = spawn(process.execPath, [CLI, 'view', file, '--no-open', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  return new Promise((resolve, reject) => {
    let out = ''
    const read = (chunk: Buffer): void => {
      out += chunk.toString()
      const url = /shadowchain viewer: (http:\/\/\S+)/.exec(out)?.[1]
      if (url !== undefined) resolve({ server, url })
    }
    server.stdout.on('data', read)
    server.stderr.on('data', read)
    server.once('exit', (code) => reject(new Error(`view exited with ${code}: ${out}`)))
  })
}

const median = (values: readonly number[]): number => quantile(values, 0.5)
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  if (sorted.length === 0) return NaN
  const at = (sorted.length - 1) * q
  const low = Math.floor(at)
  const high = Math.ceil(at)
  return (sorted[low] as number) + ((sorted[high] as number) - (sorted[low] as number)) * (at - low)
}
const spread = (values: readonly number[], digits = 1): string => `${fmt(median(values), digits)} (${fmt(quantile(values, 0.25), digits)}–${fmt(quantile(values, 0.75), digits)})`

// What runs in the page is written as text (evaluated over the DevTools protocol, which the page's
// policy allows): the bench is type-checked without the DOM's types.

/** ms from the mark `from` to the mark `to` (the last of each), waiting for `to`. */
async function between(page: Page, from: string, to: string): Promise<number> {
  // A function, not text: the page's policy forbids eval, which waitForFunction would use on text.
  await page.waitForFunction((name) => performance.getEntriesByName(name).length > 0, to, { timeout: 120_000 })
  return page.evaluate<number>(`performance.getEntriesByName(${JSON.stringify(to)}).at(-1).startTime - performance.getEntriesByName(${JSON.stringify(from)}).at(-1).startTime`)
}

/**
 * CPU seconds used so far by chromium's renderer processes (DevTools protocol, SystemInfo): what
 * the page cost, apart from the time it waited for a CPU on a loaded machine.
 */
async function rendererCpu(browser: Browser): Promise<number> {
  const cdp = await browser.newBrowserCDPSession()
  const { processInfo } = (await cdp.send('SystemInfo.getProcessInfo')) as { processInfo: { type: string; cpuTime: number }[] }
  await cdp.detach()
  return processInfo.filter((p) => p.type === 'renderer').reduce((sum, p) => sum + p.cpuTime, 0)
}

const domNodes = (page: Page): Promise<number> => page.evaluate<number>("document.getElementsByTagName('*').length")

/** The JS heap in use after a full GC, MiB (DevTools protocol). */
async function heapMiB(page: Page): Promise<number> {
  const cdp = await page.context().newCDPSession(page)
  await cdp.send('HeapProfiler.collectGarbage')
  const { usedSize } = await cdp.send('Runtime.getHeapUsage')
  await cdp.detach()
  return usedSize / 2 ** 20
}

/**
 * Steps `count` events with the arrow key, each timed in the page: the keydown handler (select the
 * event, rebuild its state, draw the panels), then the style and layout it caused (forced by
 * reading layout), and separately the time to the next frame.
 */
async function stepTimes(page: Page, count: number, key: 'ArrowRight' | 'ArrowLeft'): Promise<{ handler: number[]; frame: number[]; cpu: number }> {
  const cpu0 = await rendererCpu(page.context().browser() as Browser)
  const times = await page.evaluate<{ handler: number[]; frame: number[] }>(`(async () => {
    const handler = []
    const frame = []
    for (let i = 0; i < ${count}; i++) {
      const t0 = performance.now()
      document.body.dispatchEvent(new KeyboardEvent('keydown', { key: ${JSON.stringify(key)}, bubbles: true, cancelable: true }))
      void document.body.offsetHeight
      handler.push(performance.now() - t0)
      await new Promise((done) => requestAnimationFrame(() => setTimeout(done, 0)))
      frame.push(performance.now() - t0)
    }
    return { handler, frame }
  })()`)
  // Renderer CPU a step, ms (the frames between steps included).
  const cpu = (((await rendererCpu(page.context().browser() as Browser)) - cpu0) * 1_000) / count
  return { ...times, cpu }
}

/** Selects event `seq` through the slider (as dragging it does), timed like a step. */
function jumpTime(page: Page, stop: number): Promise<number> {
  return page.evaluate<number>(`(() => {
    const slider = document.getElementById('slider')
    const t0 = performance.now()
    slider.value = '${stop}'
    slider.dispatchEvent(new Event('input', { bubbles: true }))
    void document.body.offsetHeight
    return performance.now() - t0
  })()`)
}

interface Loaded {
  readonly interactive: number
  /** Renderer CPU ms from navigating to the page to interactive (its scripts, the fetch, the parse, the drawing). */
  readonly cpu: number
  readonly nodes: number
  readonly heap: number
}

/** Opens the served viewer: ms from the file read to interactive, DOM nodes, heap. */
async function openServed(browser: Browser, url: string): Promise<{ page: Page; loaded: Loaded }> {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } })
  const problems: string[] = []
  page.on('pageerror', (error) => void problems.push(error.message))
  const cpu0 = await rendererCpu(browser)
  await page.goto(url)
  const interactive = await between(page, 'shadowchain:read', 'shadowchain:interactive')
  const cpu = ((await rendererCpu(browser)) - cpu0) * 1_000
  await page.locator('[data-testid="waterfall-row"]').first().waitFor()
  if (problems.length > 0) throw new Error(`the page failed: ${problems.join('; ')}`)
  return { page, loaded: { interactive, cpu, nodes: await domNodes(page), heap: await heapMiB(page) } }
}

/** Drops `file` on a viewer already open: ms from its text read to interactive, and to the worker's check of it. */
async function openDropped(page: Page, file: string): Promise<{ interactive: number; checked: number }> {
  await page.evaluate('performance.clearMarks()')
  await page.locator('#file-input').setInputFiles(file)
  const interactive = await between(page, 'shadowchain:read', 'shadowchain:interactive')
  const checked = await between(page, 'shadowchain:read', 'shadowchain:checked')
  return { interactive, checked }
}

/** `shadowchain inspect <file> [args]`: wall ms, bytes written, peak RSS of the process (MiB). */
function inspect(file: string, args: string[]): Promise<{ ms: number; bytes: number; rssMiB: number; firstByteMs: number }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now()
    // The peak RSS: the CLI under `/usr/bin/time`-like accounting would need a tool; Node reports it on exit.
    const child = spawn(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent("process.on('exit', () => process.stderr.write(`\\nmaxrss ${process.resourceUsage().maxRSS}\\n`))")}`, CLI, 'inspect', file, ...args], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    let bytes = 0
    let firstByteMs = NaN
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => {
      if (bytes === 0) firstByteMs = performance.now() - t0
      bytes += chunk.length
    })
    child.stderr.on('data', (chunk: Buffer) => void (err += chunk.toString()))
    child.once('error', reject)
    child.once('exit', (code) => {
      if (code !== 0) return reject(new Error(`inspect exited with ${code}: ${err.slice(0, 500)}`))
      const rss = Number(/maxrss (\d+)/.exec(err)?.[1] ?? NaN) / 1024
      resolve({ ms: performance.now() - t0, bytes, rssMiB: rss, firstByteMs })
    })
  })
}

// ---- run ----------------------------------------------------------------------------------------

if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: apt-get install -y chromium (or BENCH_CHROMIUM=…)`)
if (!existsSync(join(ROOT, 'dist', 'index.js')) || !existsSync(join(ROOT, 'devtools', 'viewer', 'model.js'))) {
  throw new Error('the library is not built: run npm run build at the repository root first (the viewer and the CLI run dist/)')
}
const dir = mkdtempSync(join(tmpdir(), 'shadowchain-viewer-bench-'))
const sizes = [Math.round(LINKS / 100), Math.round(LINKS / 10), LINKS]
log(`recording runs of ${sizes.join(', ')} links…`)
const files = []
for (const links of sizes) files.push({ links, ...(await runFile(dir, links)) })
const big = files.at(-1) as (typeof files)[number]

const browser = await chromium.launch({ executablePath: CHROMIUM, args: FLAGS })
const servers: ChildProcess[] = []
try {
  // DOM nodes and heap by size; interactive time for each.
  const bySize: { events: number; bytes: number; interactive: number[]; cpu: number[]; nodes: number[]; heap: number[] }[] = []
  let bigUrl = ''
  for (const f of files) {
    const { server, url } = await startView(f.file)
    servers.push(server)
    if (f === big) bigUrl = url
    const row = { events: f.events, bytes: f.bytes, interactive: [] as number[], cpu: [] as number[], nodes: [] as number[], heap: [] as number[] }
    for (let round = 0; round < ROUNDS; round++) {
      const { page, loaded } = await openServed(browser, url)
      row.interactive.push(loaded.interactive)
      row.cpu.push(loaded.cpu)
      row.nodes.push(loaded.nodes)
      row.heap.push(loaded.heap)
      await page.close()
      log(`${f.events} events: interactive ${fmt(loaded.interactive, 0)} ms (renderer CPU ${fmt(loaded.cpu, 0)} ms), ${loaded.nodes} DOM nodes, heap ${fmt(loaded.heap, 1)} MiB`)
    }
    bySize.push(row)
  }

  // Arrow-key steps on the big run: from its start, in the middle, at its end.
  const { page } = await openServed(browser, bigUrl)
  const places: { where: string; handler: number[]; frame: number[]; cpu: number }[] = []
  const first = await stepTimes(page, STEPS, 'ArrowRight')
  places.push({ where: 'from the first event', ...first })
  const jumpMiddle = await jumpTime(page, Math.floor(big.events / 2))
  places.push({ where: 'in the middle (after a jump there)', ...(await stepTimes(page, STEPS, 'ArrowRight')) })
  const jumpEnd = await jumpTime(page, big.events - 1)
  places.push({ where: 'back from the last event', ...(await stepTimes(page, STEPS, 'ArrowLeft')) })
  for (const p of places) log(`steps ${p.where}: ${spread(p.handler, 2)} ms (handler + layout), ${spread(p.frame, 1)} ms (to the next frame), renderer CPU ${fmt(p.cpu, 1)} ms a step`)
  log(`jumps: to the middle ${fmt(jumpMiddle, 0)} ms, to the end ${fmt(jumpEnd, 0)} ms`)
  const nodesAfter = await domNodes(page)
  const heapAfter = await heapMiB(page)
  const position = await page.locator('[data-testid="position"]').textContent()
  log(`stepped to ${position}; ${nodesAfter} DOM nodes`)

  // The same file dropped on the page: read, opened and drawn; validated by the library in a worker.
  const dropped: { interactive: number[]; checked: number[] } = { interactive: [], checked: [] }
  for (let round = 0; round < ROUNDS; round++) {
    // A file of another name each time (the page loads any file chosen, the same one too).
    const copy = join(dir, `dropped-${round}.run.json`)
    copyFileSync(big.file, copy)
    const result = await openDropped(page, copy)
    dropped.interactive.push(result.interactive)
    dropped.checked.push(result.checked)
    log(`dropped: interactive ${fmt(result.interactive, 0)} ms, checked by the worker after ${fmt(result.checked, 0)} ms`)
  }
  await page.close()

  // shadowchain inspect on the big file.
  const inspects: { args: string; ms: number[]; bytes: number; rss: number[]; firstByte: number[] }[] = []
  for (const args of [[], ['--events'], ['--json']]) {
    const row = { args: args.join(' '), ms: [] as number[], bytes: 0, rss: [] as number[], firstByte: [] as number[] }
    for (let round = 0; round < ROUNDS; round++) {
      const result = await inspect(big.file, [...args, '--no-color'])
      row.ms.push(result.ms)
      row.rss.push(result.rssMiB)
      row.firstByte.push(result.firstByteMs)
      row.bytes = result.bytes
    }
    inspects.push(row)
    log(`inspect ${row.args}: ${fmt(median(row.ms), 0)} ms, ${row.bytes} bytes`)
  }

  // ---- report ----
  const bigRow = bySize.at(-1) as (typeof bySize)[number]
  const worstStep = Math.max(...places.map((p) => median(p.frame)))
  const nodesGrow = Math.max(...bySize.map((r) => median(r.nodes))) - Math.min(...bySize.map((r) => median(r.nodes)))
  const lines = [
    '### Devtools viewer benchmark',
    '',
    `A run of ${LINKS.toLocaleString('en-US')} links over the 10-key order ctx with the two chain-level middleware of lib/workload.ts (${big.events.toLocaleString('en-US')} events, ${fmt(big.bytes / 2 ** 20, 1)} MiB run file), served by \`shadowchain view\` (the built library) and opened in Debian's chromium (headless, 1440 × 900) through playwright-core; smaller runs of the same chain for the DOM size.`,
    `${machineLine()}. Medians of ${ROUNDS} page loads, and of ${STEPS} arrow-key steps per place (p25–p75 in brackets).`,
    '',
    '| run | file | read → interactive (ms) | renderer CPU, page load (ms) | DOM nodes | JS heap (MiB) |',
    '|---|--:|--:|--:|--:|--:|',
    ...bySize.map((r) => `| ${r.events.toLocaleString('en-US')} events | ${fmt(r.bytes / 2 ** 20, 1)} MiB | ${spread(r.interactive, 0)} | ${spread(r.cpu, 0)} | ${fmt(median(r.nodes), 0)} | ${fmt(median(r.heap), 1)} |`),
    '',
    `Read → interactive: from the server's answer read by the page (\`performance.mark\` after \`response.text()\`) to the first frame after the run is drawn and the page takes input (JSON.parse, \`openRun\`, the event list and the waterfall, the state of the first event). The server's own work (it validates the file with \`loadRun\` on every page load) comes before and is not counted. Renderer CPU: the CPU time chromium's renderer used from navigating to the page until interactive (its scripts, the fetch and all of the above; SystemInfo.getProcessInfo): what the page costs apart from waiting for a CPU on a loaded machine. Target: < ${INTERACTIVE_MS.toLocaleString('en-US')} ms for ${big.events.toLocaleString('en-US')} events: **${median(bigRow.interactive) < INTERACTIVE_MS ? 'PASS' : 'FAIL'}**. DOM nodes: the same whatever the run's size (virtual event list and waterfall): ${nodesGrow <= 50 ? '**PASS**' : '**FAIL**'} (spread ${nodesGrow}).`,
    '',
    `| arrow-key step, ${big.events.toLocaleString('en-US')}-event run | handler + style and layout (ms) | to the next frame (ms) | renderer CPU a step (ms) |`,
    '|---|--:|--:|--:|',
    ...places.map((p) => `| ${p.where} | ${spread(p.handler, 2)} | ${spread(p.frame, 1)} | ${fmt(p.cpu, 1)} |`),
    '',
    `A step: keydown → the next event selected, its state rebuilt from the last one (the patches of one event), the state and link panels drawn, the list and waterfall scrolled to it; then the style and layout it caused (forced by reading layout); "to the next frame" adds paint and the wait for the frame. A jump with the slider to the middle took ${fmt(jumpMiddle, 0)} ms (the states of the first half rebuilt, once), to the last event ${fmt(jumpEnd, 0)} ms. Target: < ${STEP_MS} ms a step: **${worstStep < STEP_MS ? 'PASS' : 'FAIL'}** (worst median ${fmt(worstStep, 1)} ms). After the steps: ${nodesAfter} DOM nodes, JS heap ${fmt(heapAfter, 1)} MiB.`,
    '',
    `Dropped on the page instead (\`<input type=file>\`): read → interactive ${spread(dropped.interactive, 0)} ms; the library's full validation (\`Run.fromJSON\`, in a worker: a refused file is taken off the page) ended ${spread(dropped.checked, 0)} ms after the read, without holding up the page.`,
    '',
    `| \`shadowchain inspect\` of the ${big.events.toLocaleString('en-US')}-event file | wall (ms) | first output (ms) | output | peak RSS (MiB) |`,
    '|---|--:|--:|--:|--:|',
    ...inspects.map((r) => `| \`inspect ${r.args || '(waterfall)'}\` | ${spread(r.ms, 0)} | ${fmt(median(r.firstByte), 0)} | ${fmt(r.bytes / 2 ** 20, 1)} MiB | ${fmt(median(r.rss), 0)} |`),
    '',
    'The CLI loads and validates the file with `loadRun` (most of its time), then streams what it prints: lines written as they are made, never one string of the whole output.',
    '',
    'Before (issue #15, measured by its author on the same workload): 31 s to interactive, 875,756 DOM nodes, 7.6 s for two arrow-key steps.',
    '',
  ]
  publish('viewer', lines.join('\n'), started)
} finally {
  await browser.close()
  for (const server of servers) server.kill('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
}
