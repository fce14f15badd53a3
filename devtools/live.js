// `shadowchain view --live <store>` (DESIGN §11): the live viewer fed by polling a run store.
// Each poll lists the runs started since the oldest one still worth watching (the newest seen,
// or an unfinished durable run) and pushes every run that is new or changed: a finished run
// once, a durable run each time its stored document grew (its steps), then once finished.
import { startLiveServer } from '../dist/http/serve-devtools.js'

/** Summaries one list call reads. */
const PAGE = 1_000
/**
 * List calls one poll makes at most: a burst of up to PAGE × PAGES runs between two polls is
 * shown whole (beyond, the newest of them).
 */
const PAGES = 10

/**
 * Serves the live viewer for `store` and polls it every `intervalMs`.
 *
 * @param options.store - an open RunStore (the caller closes it after `close()`)
 * @param options.fromDocument - how the CLI rebuilds (and redacts) a stored document: its `toJSON()` is pushed
 * @returns `{ url, stats(), close() }`
 */
export async function startLiveViewer({ store, port = 0, intervalMs = 250, recent = 50, fromDocument }) {
  const live = await startLiveServer({ port, recent })
  // id → what was last pushed of it (`status:links`), for runs at or after `since`.
  const seen = new Map()
  let since
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

  // The runs started since `since`, newest first, page after page (the first poll: the recent ones).
  const list = async () => {
    if (since === undefined) return store.list({ limit: recent })
    const all = []
    let before
    for (let n = 0; n < PAGES; n++) {
      const page = await store.list({ limit: PAGE, since, ...(before !== undefined && { before }) })
      all.push(...page)
      if (page.length < PAGE) break
      before = page.at(-1).id
    }
    return all
  }

  const poll = async () => {
    const summaries = await list()
    // Oldest first, so pages receive runs in the order they started.
    for (const summary of summaries.reverse()) {
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
    // Watch from the oldest unfinished run, else from the newest start seen.
    let newest = since
    let oldestOpen
    for (const s of summaries) {
      if (newest === undefined || s.startedAt > newest) newest = s.startedAt
      if (s.status === 'interrupted' && (oldestOpen === undefined || s.startedAt < oldestOpen)) oldestOpen = s.startedAt
    }
    since = oldestOpen ?? newest
    // Forget what can no longer be listed.
    if (since !== undefined && seen.size > 4 * PAGE) {
      const listed = new Set(summaries.map((s) => s.id))
      for (const id of seen.keys()) if (!listed.has(id)) seen.delete(id)
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
