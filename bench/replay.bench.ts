// Benchmark of replay, fork and write capture (issue "Replay, fork"):
//   (a) run.replay() of a 10-link run against a fresh chain.run() of the same chain;
//   (b) a fork re-running the last link of a run with a 10-link and a 1,000-link prefix;
//   (c) the cost of one captured write (capture 'writes' against 'timeline'), with and
//       without stacks.
//
//   cd bench && npm install && npm run bench:replay
//
// Environment: BENCH_ROUNDS (default 100), BENCH_BATCH_MS (default 40), BENCH_WRITES (writes per
// link in (c), default 100), BENCH_OUT (default results/replay.md; "-" writes nothing).
import { chain, compareRuns, type Chain, type LinkFn, type Run } from '../src/index.ts'
import { measure, median, pairedDifference, pairedRatio, type Case, type Ratio, type Samples } from './lib/harness.ts'
import { currentLoad, fmt, log, machineLine, publish, times, us, verdict } from './lib/report.ts'
import { counter, makeFlat, makeOrder, orderLinks, timing, type Flat, type Order, type Step } from './lib/workload.ts'

const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 100)
const BATCH_MS = Number(process.env['BENCH_BATCH_MS'] ?? 40)
const WRITES = Number(process.env['BENCH_WRITES'] ?? 100)
const PREFIXES = [10, 1_000] as const
const TARGETS = { replay: 1.2, fork: 1.2, writeNs: 300 } as const

const options = { rounds: ROUNDS, batchMs: BATCH_MS, warmupRounds: 3 }

// ---- (a) replay ------------------------------------------------------------------------------

/**
 * The runner bench's 10 order links, each drawing `io.now()` once (as a link stamping its work
 * would); the `stamp` link stores it in ctx, so a replay matches only if it returns the recorded
 * value.
 */
function replayChain(): Chain<Order> {
  let c = chain<Order>('order')
  for (const [name, step] of orderLinks) {
    const fn: LinkFn<Order> = (ctx, io) => {
      const now = io.now()
      step(ctx as Order)
      if (name === 'stamp') ctx.updatedAt = now
    }
    c = c.link(name, fn)
  }
  return c.use(counter as never, timing as never)
}

async function replayCases(): Promise<Case[]> {
  const c = replayChain()
  const input = makeOrder()
  const recorded = await c.run(input)
  await new Promise((resolve) => setTimeout(resolve, 5)) // Date.now() moves on: io must be replayed
  const other = await c.run(input)
  const check = await recorded.replay()
  if (!check.identical) throw new Error(`replay: not identical: ${JSON.stringify(check.divergence?.reason)}`)
  if (check.run.ctx.updatedAt !== recorded.ctx.updatedAt) throw new Error('replay: io.now() was not played back')
  if (recorded.timeline.links().some((r) => r.io?.now?.length !== 1)) throw new Error('replay: every link should record one io.now()')
  if (recorded.timeline.length !== 2 + 4 * orderLinks.length) throw new Error(`replay: ${recorded.timeline.length} events recorded`)
  return [
    { id: 'run', run: () => c.run(input) },
    { id: 'replay', run: () => recorded.replay() },
    // What replay does on top of a run, measured alone: compare the links of two recordings.
    { id: 'compare', run: async () => compareRuns(recorded, other) },
  ]
}

// ---- (b) fork --------------------------------------------------------------------------------

/** The link every fork re-runs. */
const last: Step<Order> = (ctx) => {
  ctx.status = 'shipped'
}

/** `prefix` order links (the 10 of the workload, repeated and renamed), then `last`. */
function forkChain(prefix: number): Chain<Order> {
  let c = chain<Order>(`prefix-${prefix}`)
  for (let i = 0; i < prefix; i++) {
    const [name, step] = orderLinks[i % orderLinks.length] as readonly [string, Step<Order>]
    c = c.link(`${name}-${Math.floor(i / orderLinks.length)}`, step as never)
  }
  return c.link('last', last as never).use(counter as never, timing as never)
}

async function forkCases(): Promise<Case[]> {
  const input = makeOrder()
  const cases: Case[] = []
  for (const prefix of PREFIXES) {
    const c = forkChain(prefix)
    const parent = await c.run(input)
    const at = c.links[prefix - 1]?.name as string // the second-to-last link: the cut is after it
    const child = await parent.fork({ at })
    const steps = child.timeline.links()
    if (steps.length !== prefix + 1 || steps.at(-1)?.name !== 'last' || steps.at(-2)?.name !== at) {
      throw new Error(`fork ${prefix}: unexpected links in the fork (${steps.length})`)
    }
    if (JSON.stringify(child.ctx) !== JSON.stringify(parent.ctx)) throw new Error(`fork ${prefix}: the fork computed a different ctx`)
    if (child.timeline.events.filter((e) => e.type === 'link.start').length !== prefix + 1) throw new Error(`fork ${prefix}: prefix not shared`)
    const children = parent.children as Run<unknown>[]
    children.length = 0
    if (prefix === 1_000) {
      // Two O(prefix) steps of every fork, measured alone on the 1,000-link parent: copying the
      // shared events (the timeline's events array is frozen) and listing the parent's links
      // (to find the cut by name).
      const cut = (child.parent as { seq: number }).seq
      cases.push({ id: 'slice', run: async () => parent.timeline.events.slice(0, cut + 1) })
      cases.push({ id: 'links', run: async () => parent.timeline.links() })
    }
    cases.push({
      id: `fork-${prefix}`,
      run: async () => {
        const forked = await parent.fork({ at })
        // Every fork is listed in parent.children: drop it, or the parent keeps every fork (and
        // its copy of the prefix) alive for the whole benchmark.
        children.length = 0
        return forked
      },
    })
  }
  // The same remaining link as a fresh run of a 1-link chain (same middleware): the floor.
  const one = chain<Order>('one').link('last', last as never).use(counter as never, timing as never)
  cases.push({ id: 'one', run: () => one.run(input) })
  return cases
}

// ---- (c) write capture -----------------------------------------------------------------------

const keys = Array.from({ length: WRITES }, (_, i) => `k${i}`)

/** One link writing each key of a flat WRITES-key ctx once (keys precomputed: no string work). */
const writer = chain<Flat>('writes').link('write-all', (ctx) => {
  for (let i = 0; i < WRITES; i++) ctx[keys[i] as string] = -1 - i
})
const writesInput = makeFlat(WRITES)

async function writeCases(stacks: boolean): Promise<Case[]> {
  const plain = await writer.run(writesInput)
  const captured = await writer.run(writesInput, { capture: 'writes', stacks })
  const writes = captured.timeline.events.filter((e) => e.type === 'ctx.write')
  if (writes.length !== WRITES) throw new Error(`writes: recorded ${writes.length} writes, expected ${WRITES}`)
  if (JSON.stringify(plain.ctx) !== JSON.stringify(captured.ctx)) throw new Error('writes: capture changed the result')
  if (stacks && !writes.every((e) => e.type === 'ctx.write' && e.stack?.includes('replay.bench.ts') === true)) {
    throw new Error(`writes: stacks do not point at the link (${writes[0]?.type === 'ctx.write' ? writes[0].stack : ''})`)
  }
  const cases: Case[] = [{ id: 'timeline', run: () => writer.run(writesInput) }]
  if (stacks) {
    cases.push({ id: 'stacks', run: () => writer.run(writesInput, { capture: 'writes', stacks: true }) })
    // The raw price of one stack capture in this process (tsx enables source maps, which makes
    // `.stack` dearer than in a plain node process running dist/).
    cases.push({
      id: 'error-stack',
      run: async () => {
        let n = 0
        for (let i = 0; i < WRITES; i++) n += (new Error().stack as string).length
        return n
      },
    })
  } else {
    cases.push({ id: 'writes', run: () => writer.run(writesInput, { capture: 'writes' }) })
  }
  return cases
}

// ---- report ----------------------------------------------------------------------------------

function report(samples: Map<string, Samples>, loadAverage: string): string {
  const s = (id: string): Samples => samples.get(id) as Samples
  const cpu = (id: string): number => median(s(id).ns)
  const ratio = (a: string, b: string): Ratio => pairedRatio(s(a), s(b))
  const perWrite = (id: string): Ratio => {
    const d = pairedDifference(s(id), s(id === 'writes' ? 'timeline' : 'timeline-2'))
    return { median: d.median / WRITES, p25: d.p25 / WRITES, p75: d.p75 / WRITES }
  }
  const nsCell = (r: Ratio): string => `${fmt(r.median, 0)} (${fmt(r.p25, 0)}–${fmt(r.p75, 0)})`
  const replay = ratio('replay', 'run')
  const fork = ratio('fork-1000', 'fork-10')
  const write = perWrite('writes')
  const stack = perWrite('stacks')
  return [
    '### Replay, fork and write capture benchmark',
    '',
    `${machineLine(loadAverage)}. Process CPU time, medians of ${ROUNDS} interleaved rounds per group`,
    `(stacks: ${Math.ceil(ROUNDS / 2)}); ratios and differences are medians of per-round values, (p25–p75) in brackets.`,
    '',
    '| (a) replay: 10 links, 10-key ctx, 2 sync chain middleware, each link draws `io.now()` | µs | × fresh run | target |',
    '|---|--:|--:|---|',
    `| \`chain.run(input)\`: a fresh recorded run | ${us(cpu('run'))} | 1.00× | |`,
    `| \`run.replay()\`: the same input, recorded io played back, compared | ${us(cpu('replay'))} | ${times(replay, true)} | ${verdict(replay, TARGETS.replay)} |`,
    `| of which, measured alone: \`compareRuns(recorded, other)\` | ${us(cpu('compare'))} | ${times(ratio('compare', 'run'), true)} | |`,
    '',
    '| (b) fork at the second-to-last link, re-running 1 link (10-key ctx, same middleware) | µs | × 10-link prefix | × fresh 1-link run | target |',
    '|---|--:|--:|--:|---|',
    `| fresh \`chain.run()\` of a chain holding only that link (the floor) | ${us(cpu('one'))} | | 1.00× | |`,
    `| \`run.fork({ at })\`, prefix of 10 links (${fmt(1 + 4 * 10, 0)} shared events) | ${us(cpu('fork-10'))} | 1.00× | ${times(ratio('fork-10', 'one'), true)} | |`,
    `| \`run.fork({ at })\`, prefix of 1,000 links (${fmt(1 + 4 * 1000, 0)} shared events) | ${us(cpu('fork-1000'))} | ${times(fork, true)} | ${times(ratio('fork-1000', 'one'), true)} | about equal: ${verdict(fork, TARGETS.fork)} |`,
    `| of which, measured alone: \`timeline.events.slice(0, cut + 1)\` of the 1,000-link parent | ${us(cpu('slice'))} | | | |`,
    `| of which, measured alone: \`timeline.links()\` of the 1,000-link parent | ${us(cpu('links'))} | | | |`,
    '',
    `| (c) write capture: one link writing ${WRITES} keys of a flat ${WRITES}-key ctx | µs / run | ns / write over \`'timeline'\` | target |`,
    '|---|--:|--:|---|',
    `| \`capture: 'timeline'\` (default) | ${us(cpu('timeline'))} | | |`,
    `| \`capture: 'writes'\` | ${us(cpu('writes'))} | ${nsCell(write)} | ${verdict(write, TARGETS.writeNs, ' ns')} |`,
    `| \`capture: 'writes', stacks: true\` (information) | ${us(cpu('stacks'))} | ${nsCell(stack)} | |`,
    `| \`new Error().stack\` alone, in this process (information) | | ${fmt(cpu('error-stack') / WRITES, 0)} | |`,
    '',
  ].join('\n')
}

// ---- main ------------------------------------------------------------------------------------

const started = Date.now()
const loadAverage = currentLoad()
const groups: [string, Case[], number][] = [
  ['replay', await replayCases(), ROUNDS],
  ['fork', await forkCases(), ROUNDS],
  ['writes', await writeCases(false), ROUNDS],
  ['stacks', await writeCases(true), Math.ceil(ROUNDS / 2)],
]
log(`checks passed (identical replay, fork results, captured writes); ${ROUNDS} rounds × ${BATCH_MS} ms batches`)
const samples = new Map<string, Samples>()
// One group at a time: each group's cases are interleaved with each other only (the 1,000-link
// fork and the stack captures would otherwise slow the small cases' shared code and caches).
for (const [name, cases, rounds] of groups) {
  const measured = await measure(cases, { ...options, rounds, progress: (t) => log(`${name}: ${t}`) })
  for (const [id, sampled] of measured) samples.set(name === 'stacks' && id === 'timeline' ? 'timeline-2' : id, sampled)
}
publish('replay', report(samples, loadAverage), started)
