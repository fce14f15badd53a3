// `shadowchain view --live <store>` (DESIGN §11): the live viewer fed by polling a run store.
// Each poll lists the runs started since the newest one seen, and the unfinished durable runs it
// watches (listed by status, however long ago they began), and pushes every run that is new or
// changed: a finished run once, a durable run each time its stored document grew (its steps),
// then once finished.
import { startLiveServer } from '../dist/http/serve-devtools.js'

/** Summaries one list call reads. */
const PAGE = 1_000
/**
 * List calls one query of a poll makes at most: a burst of up to PAGE × PAGES runs between two
 * polls is shown whole (beyond, the newest of them).
 */
const PAGES = 10

/**
 * Serves the live viewer for `store` and polls it every `intervalMs`.
 *
 * @param options.store - an open RunStore (the caller closes it after `close()`)
 * @param options.fromDocument - how the CLI rebuilds (and redacts) a stored document: its `toJSON()` is pushed
 * @param options.page - summaries one list call reads (the CLI's is PAGE; tests lower it)
 * @returns `{ url, stats(), close() }`
 */
export async function startLiveViewer({ store, port = 0, intervalMs = 250, recent = 50, fromDocument, page = PAGE }) {
  const live = await startLiveServer({ port, recent })
  // id → what was last pushed of it (`status:links`), for the runs listed lately.
  const seen = new Map()
  // Unfinished durable runs (id → start): watched until they finish or are deleted. They are
  // listed by status, apart from the new runs: one that crashed and is never resumed neither
  // holds the window of new runs back to its start nor is lost once many runs came after it.
  const open = new Map()
  // The newest start seen: the next poll lists the runs started from it on.
  let newest
  let stopped = false
  let timer
  let polling = Promise.resolve()

  const push = async (summary) => {
    const doc = await store.read(summary.id)
    if (doc === undefined) return
    // Validated and redacted as `view <store>` shows a run: what is pushed is what the library accepted.
    const shown = fromDocument(doc).toJSON()
    live.publish(summary.status === 'interrupted' ? 'step' : 'run', summary.id, () => shown)
  }

  // The runs `query` selects, newest first, page after page.
  const pages = async (query) => {
    const all = []
    let before
    for (let n = 0; n < PAGES; n++) {
      const listed = await store.list({ ...query, limit: page, ...(before !== undefined && { before }) })
      all.push(...listed)
      if (listed.length < page) break
      before = listed.at(-1).id
    }
    return all
  }

  // The summaries of the watched runs that are no longer listed as unfinished: each found by its
  // start (a run that finished), among every run begun in that nanosecond (page after page: more
  // than a page of them is unlikely, not impossible); one not found was deleted and is watched
  // no more.
  const settled = async (ids) => {
    const found = []
    for (const id of ids) {
      const start = open.get(id)
      const summary = (await pages({ since: start, until: start + 1n })).find((s) => s.id === id)
      if (summary === undefined) open.delete(id)
      else found.push(summary)
    }
    return found
  }

  const poll = async () => {
    // The first poll: the recent runs. Then the runs started since the newest seen (at its very
    // nanosecond too: the newest is listed again, and `seen` skips it).
    const fresh = newest === undefined ? await store.list({ limit: recent }) : await pages({ since: newest })
    let oldestOpen
    for (const start of open.values()) if (oldestOpen === undefined || start < oldestOpen) oldestOpen = start
    const unfinished = oldestOpen === undefined ? [] : await pages({ since: oldestOpen, status: 'interrupted' })
    const listed = new Set([...fresh, ...unfinished].map((s) => s.id))
    const finished = await settled([...open.keys()].filter((id) => !listed.has(id)))
    const byId = new Map()
    for (const s of [...finished, ...unfinished, ...fresh]) byId.set(s.id, s)
    // Oldest first (the reverse of a store's order), so pages receive runs in the order they started.
    const summaries = [...byId.values()].sort(oldestFirst)
    for (const summary of summaries) {
      if (newest === undefined || summary.startedAt > newest) newest = summary.startedAt
      if (summary.status === 'interrupted') open.set(summary.id, summary.startedAt)
      else open.delete(summary.id)
      const mark = `${summary.status}:${summary.links}`
      if (seen.get(summary.id) === mark) continue
      seen.set(summary.id, mark)
      try {
        await push(summary)
      } catch {
        // A run deleted or damaged between list and read: the next change of it tries again.
        seen.delete(summary.id)
      }
    }
    // Forget what will not be listed again (neither new nor watched).
    if (seen.size > 4 * page) {
      for (const id of seen.keys()) if (!byId.has(id) && !open.has(id)) seen.delete(id)
    }
  }

  const loop = () => {
    if (stopped) return
    polling = poll()
      .catch(() => undefined) // a store that failed once is asked again at the next tick
      .finally(() => {
        if (!stopped) timer = setTimeout(loop, intervalMs)
      })
  }
  await poll()
  timer = setTimeout(loop, intervalMs)
  return {
    url: live.url,
    stats: live.stats,
    close: async () => {
      stopped = true
      clearTimeout(timer)
      await polling
      await live.close()
    },
  }
}

/** A store lists runs newest first (`started_at`, then id, descending): this is the reverse. */
function oldestFirst(a, b) {
  if (a.startedAt !== b.startedAt) return a.startedAt < b.startedAt ? -1 : 1
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0
}
