// `shadowchain stats <store>`: the statistics a flight recorder keeps live (DESIGN §10), computed
// from stored run documents with the same Statistics class and the same keys: a run's duration
// (endedAt - startedAt, failed unless 'ok'), each link execution (link.end / link.error durationNs),
// each middleware call (middleware.before / .after / .error durationNs, keyed '<name> <position>').
import { middlewareKey, Statistics } from '../dist/store/statistics.js'

// Middleware keys are listed in the order their hooks run around a link.
const POSITIONS = ['run-start', 'chain-before', 'link-before', 'chain-around', 'link-around', 'link-after', 'chain-after', 'run-end']

/**
 * Adds one run document to `stats`. `interrupted`: an unfinished durable run (its links and
 * middleware calls count, it has no run duration). `order` collects each link's place in its chain.
 */
export function addDocument(stats, doc, interrupted = false, order = new Map()) {
  const series = stats.chain(doc.run.chainName)
  let places = order.get(doc.run.chainName)
  if (places === undefined) order.set(doc.run.chainName, (places = new Map()))
  for (const link of doc.links) if (!places.has(link.name)) places.set(link.name, link.index)
  // A fork's inherited events are its parent's: count the run's own, after its `fork` event.
  const fork = doc.events.findIndex((e) => e.type === 'fork')
  const events = fork === -1 ? doc.events : doc.events.slice(fork + 1)
  for (const event of events) {
    switch (event.type) {
      case 'link.end':
      case 'link.error':
        stats.link(series, doc.links[event.link].name, BigInt(event.durationNs), event.type === 'link.error')
        break
      case 'middleware.before':
      case 'middleware.after':
      case 'middleware.error': {
        const call = doc.middleware[event.middleware]
        stats.middleware(series, middlewareKey(call), BigInt(event.durationNs), event.type === 'middleware.error')
        break
      }
    }
  }
  if (!interrupted) series.runs.record(BigInt(doc.run.endedAt) - BigInt(doc.run.startedAt), doc.run.status !== 'ok')
}

/**
 * Statistics of the newest `limit` runs of the store (of one chain with `chain`), read a few
 * documents at a time. Returns the summary (ChainStats[]) and how many runs were read.
 */
export async function storeStatistics(store, { chain, limit }) {
  const summaries = []
  let before
  while (summaries.length < limit) {
    const page = await store.list({ ...(chain !== undefined && { chain }), limit: Math.min(10_000, limit - summaries.length), ...(before !== undefined && { before }) })
    summaries.push(...page)
    if (page.length === 0 || page.length < Math.min(10_000, limit - summaries.length + page.length)) break
    before = page[page.length - 1].id
  }
  const stats = new Statistics()
  const order = new Map()
  try {
    let read = 0
    let interrupted = 0
    for (let i = 0; i < summaries.length; i += 8) {
      const batch = summaries.slice(i, i + 8)
      const docs = await Promise.all(batch.map((s) => store.read(s.id)))
      docs.forEach((doc, j) => {
        if (doc === undefined) return // deleted by retention since it was listed
        addDocument(stats, doc, batch[j].status === 'interrupted', order)
        if (batch[j].status === 'interrupted') interrupted++
        read++
      })
    }
    // Links in their chain's order, middleware calls in the order they run (not the order first
    // seen: the newest run may be a fork or a resumed run that ran only the last links).
    const sorted = stats.summary(chain === undefined ? {} : { chain }).map((c) => {
      const places = order.get(c.chain) ?? new Map()
      const links = Object.entries(c.links).sort(([a], [b]) => (places.get(a) ?? 0) - (places.get(b) ?? 0))
      const place = (key) => POSITIONS.indexOf(key.slice(key.lastIndexOf(' ') + 1))
      const middleware = Object.entries(c.middleware).sort(([a], [b]) => place(a) - place(b) || (a < b ? -1 : a > b ? 1 : 0))
      return { ...c, links: Object.fromEntries(links), middleware: Object.fromEntries(middleware) }
    })
    return { stats: sorted, runs: read, interrupted }
  } finally {
    stats.destroy()
  }
}
