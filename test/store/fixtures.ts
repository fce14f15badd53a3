// Runs to store: real runs of real chains (every value the run format holds, failures, forks,
// middleware and metrics), a durable run split into head and steps, and cheap copies for bulk.
import { chain, type FlightRecorder, type Middleware, type Run, type RunDocument } from '../../src/index.js'
import type { DocumentEvent, DocumentLink, DocumentMiddleware } from '../../src/files/run-document.js'
import { durableSummary, storedRun, type DurableHead, type StepBatch, type StoredRun } from '../../src/store/index.js'
import { steppingClock } from '../helpers.js'

/** A ctx holding every kind of value the run format keeps exactly. */
export interface Exotic {
  n: number
  map?: Map<string | number, unknown>
  set?: Set<unknown>
  when?: Date
  big?: bigint
  nothing?: undefined
  negZero?: number
  nan?: number
  inf?: number
  failure?: Error
  sparse?: unknown[]
  text?: string
}

const counting: Middleware = {
  name: 'count',
  before(e) {
    e.mwctx.calls = ((e.mwctx.calls as number) ?? 0) + 1
    e.metrics.seen = new Set([e.link.name])
  },
  after(e) {
    e.metrics.ns = e.durationNs
  },
}

/** A chain whose links write Map, Set, Date, bigint, undefined, -0, NaN, errors with cause, holes. */
export const exoticChain = chain<Exotic>('exotic', { clock: steppingClock() })
  .link('collections', (ctx) => {
    ctx.map = new Map<string | number, unknown>([['a', 1], [2, { deep: [1, 2, new Map([['x', new Set([1n])]])] }]])
    ctx.set = new Set<unknown>(['s', 3, null])
  })
  .link('scalars', (ctx) => {
    ctx.when = new Date('2026-12-01T10:11:12.345Z')
    ctx.big = 12345678901234567890123n
    ctx.nothing = undefined
    ctx.negZero = -0
    ctx.nan = NaN
    ctx.inf = -Infinity
    // NUL and a lone surrogate: what a jsonb column would refuse.
    ctx.text = 'nul:\u0000 lone:\ud800 emoji:😀 quote:" back:\\'
  })
  .link('errors', (ctx) => {
    ctx.failure = new Error('outer', { cause: new TypeError('inner', { cause: 42n }) })
    const sparse: unknown[] = new Array(5)
    sparse[3] = 'x'
    ctx.sparse = sparse
  })
  .link('more', (ctx) => {
    ctx.map?.set('a', new Date(0))
    ctx.set?.delete(3)
    ctx.n = -0
  })
  .use(counting)

/** A successful run of {@link exoticChain}. */
export async function exoticRun(): Promise<Run<Exotic>> {
  return exoticChain.run({ n: 1 })
}

/** A failed run: the link 'charge' throws an error with a cause. */
export async function failedRun(name = 'shop'): Promise<Run<{ total?: number }>> {
  const failing = chain<{ total?: number }>(name, { clock: steppingClock() })
    .link('price', (ctx) => {
      ctx.total = 5
    })
    .link('charge', () => {
      throw new Error('card declined', { cause: { code: 'E42', at: new Date(1), amount: 5n } })
    })
    .use(counting)
  try {
    await failing.run({})
  } catch {
    // recorded all the same
  }
  return failing.lastRun as Run<{ total?: number }>
}

/** An ok run of `name` (a different clock start each call, so runs sort by time). */
export async function okRun(name = 'shop', start = 1_700_000_000_000_000_000n): Promise<Run<{ total?: number }>> {
  const ok = chain<{ total?: number }>(name, { clock: steppingClock(start) })
    .link('price', (ctx) => {
      ctx.total = 5
    })
    .use(counting)
  return ok.run({})
}

/**
 * A copy of a document as another run: another id, chain and start time (cheap: shares the
 * unchanged parts, which `write` encodes anyway).
 */
export function copyAs(doc: RunDocument, id: string, chainName: string, startedAt: bigint, parentId?: string): StoredRun {
  const duration = BigInt(doc.run.endedAt) - BigInt(doc.run.startedAt)
  const run = { ...doc.run, id, chainName, startedAt: String(startedAt), endedAt: String(startedAt + duration) }
  if (parentId !== undefined) run.parent = { runId: parentId, seq: 1 }
  return storedRun({ ...doc, run })
}

/**
 * A finished document cut as a durable run would have been written: the head (everything but
 * the events, tables empty, plus `run.start`) and one batch per link step (the events up to and
 * including each link's after-middleware), each carrying the table entries first named in it.
 * `upTo` steps are kept (the rest never reached the store: the process died).
 */
export function splitDurable(doc: RunDocument, upTo = Infinity): { head: DurableHead; batches: StepBatch[]; kept: number } {
  const [start, ...rest] = doc.events as [DocumentEvent, ...DocumentEvent[]]
  const body = rest.filter((e) => e.type !== 'run.end')
  const { error: _error, stoppedBy: _stoppedBy, stopReason: _stopReason, ...run } = doc.run
  const { events: _events, ...header } = doc
  // What is known at the start: the run's identity and input; its end is a placeholder.
  const head: DurableHead = { ...header, version: 1, run: { ...run, status: 'ok', endedAt: run.startedAt, children: [] }, links: [], middleware: [], events: [start] }
  const batches: StepBatch[] = []
  let current: DocumentEvent[] = []
  const seenLinks = new Set<number>()
  const seenCalls = new Set<number>()
  let links: DocumentLink[] = []
  let middleware: DocumentMiddleware[] = []
  const flush = (): void => {
    batches.push({ events: current, links, middleware, version: doc.version })
    current = []
    links = []
    middleware = []
  }
  body.forEach((event, i) => {
    const refs = event as { link?: number; middleware?: number }
    if (refs.link !== undefined && !seenLinks.has(refs.link)) {
      seenLinks.add(refs.link)
      links.push(doc.links[refs.link] as DocumentLink)
    }
    if (refs.middleware !== undefined && !seenCalls.has(refs.middleware)) {
      seenCalls.add(refs.middleware)
      middleware.push(doc.middleware[refs.middleware] as DocumentMiddleware)
    }
    current.push(event)
    // A step ends after its link's end and the after-middleware that follow it.
    const next = body[i + 1]
    const ended = current.some((e) => e.type === 'link.end' || e.type === 'link.error')
    if (ended && (next === undefined || next.type === 'link.start' || (next.type === 'middleware.before' && (doc.middleware[(next as { middleware: number }).middleware]?.position ?? '').includes('before')))) flush()
  })
  if (current.length > 0) flush()
  const kept = batches.slice(0, upTo)
  return { head, batches: kept, kept: kept.reduce((n, b) => n + b.events.length, 1) }
}

/** The summary `begin` takes for a head. */
export { durableSummary }

/**
 * A loop of runs that never yields to the event loop, recording into `rec`, whose store is made
 * ready by a first run (its tables made, its writer thread started): `runs` runs, then on (up to
 * `most`) until the store was heard, so that a store slowed by other test files still is. Returns
 * how many runs the store had written when the loop ended (without a turn of the event loop no
 * answer of a store that writes off the event loop is heard, and that stays at 1) and how many the
 * loop ran, the first one included. Ends with `rec.flush()`.
 */
export async function neverYieldingLoop(rec: FlightRecorder, runs: number, most = 10 * runs): Promise<{ written: number; ran: number }> {
  const c = chain<{ n: number }>('loop', { recorder: rec }).link('add', (ctx) => void (ctx.n += 1))
  await c.run({ n: -1 })
  await rec.flush()
  let n = 0
  while (n < runs || (rec.health.written <= 1 && n < most)) await c.run({ n: n++ })
  const written = rec.health.written
  await rec.flush()
  return { written, ran: n + 1 }
}
