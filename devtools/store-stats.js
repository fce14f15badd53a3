// `shadowchain stats <store>`: the statistics a flight recorder keeps live (DESIGN §10), computed
// from stored run documents with the same Statistics class and the same keys: a run's duration
// (endedAt - startedAt, failed unless 'ok'), each link execution (link.end / link.error durationNs),
// each middleware call (middleware.before / .after / .error durationNs, keyed '<name> <position>').
import { Statistics } from '../dist/store/statistics.js'

/** Adds one run document to `stats`. `interrupted`: an unfinished durable run (no run duration). */
export function addDocument(stats, doc, interrupted = false) {
  const series = stats.chain(doc.run.chainName)
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
        stats.middleware(series, `${call.name} ${call.position}`, BigInt(event.durationNs), event.type === 'middleware.error')
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
  try {
    let read = 0
    for (let i = 0; i < summaries.length; i += 8) {
      const batch = summaries.slice(i, i + 8)
      const docs = await Promise.all(batch.map((s) => store.read(s.id)))
      docs.forEach((doc, j) => {
        if (doc === undefined) return // deleted by retention since it was listed
        addDocument(stats, doc, batch[j].status === 'interrupted')
        read++
      })
    }
    return { stats: stats.summary(chain === undefined ? {} : { chain }), runs: read }
  } finally {
    stats.destroy()
  }
}
