// `view --live` polling a store (devtools/live.js) when a durable run crashed and was never
// resumed: the window of new runs moves on past it, and it is still watched however many runs come
// after it. A real SQLite file, the built viewer server, the page's stream over real loopback.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, Run, type RunDocument } from '../src/index.js'
import type { RunStore, StoredRunSummary } from '../src/store/index.js'
import { sqliteStore, storedRun } from '../src/store/sqlite/index.js'
import { copyAs, durableSummary, splitDurable } from './store/fixtures.js'
import { ensureBuilt } from './built-dist.js'
import { openSse, runIds, type SseEvent } from './live-helpers.js'

interface LiveViewer {
  readonly url: string
  close(): Promise<void>
}
type StartLiveViewer = (options: { store: RunStore; intervalMs: number; fromDocument: (doc: RunDocument) => Run<unknown>; page?: number }) => Promise<LiveViewer>

let dir: string
let startLiveViewer: StartLiveViewer
beforeAll(async () => {
  ensureBuilt()
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-live-poll-'))
  // @ts-expect-error: the CLI's plain-JS module has no declarations
  ;({ startLiveViewer } = (await import('../devtools/live.js')) as { startLiveViewer: StartLiveViewer })
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

const c = chain<{ n: number }>('polled').link('a', (ctx) => void (ctx.n += 1)).link('b', (ctx) => void (ctx.n += 1))
const fromDocument = (doc: RunDocument): Run<unknown> => Run.fromJSON(doc)

/** A durable run stored as begun with its first step, and no more: its process crashed. */
async function crashed(store: RunStore): Promise<{ id: string; doc: RunDocument; batches: ReturnType<typeof splitDurable>['batches'] }> {
  const doc = (await c.run({ n: 100 })).toJSON()
  const { head, batches } = splitDurable(doc)
  await store.begin(durableSummary(head), head)
  await store.appendSteps(doc.run.id, batches[0]!)
  return { id: doc.run.id, doc, batches }
}

/** `count` finished runs, each started after the one before, written in one batch. */
async function finishedRuns(store: RunStore, count: number): Promise<string[]> {
  const docs: RunDocument[] = []
  for (let i = 0; i < count; i++) docs.push((await c.run({ n: i })).toJSON())
  await store.write(docs.map((doc) => storedRun(doc)))
  return docs.map((doc) => doc.run.id)
}

const stepsOf = (events: readonly SseEvent[], id: string): number => events.filter((e) => e.event === 'step' && (JSON.parse(e.data) as { runId: string }).runId === id).length

describe('view --live <store>: a durable run that crashed', () => {
  it('does not hold the window of new runs back to its start: an idle poll lists what is new and the unfinished run, not every run since it', async () => {
    const real = sqliteStore(join(dir, 'idle.db'))
    let calls = 0
    let summaries = 0
    const counted: RunStore = {
      ...real,
      list: async (query) => {
        const listed: StoredRunSummary[] = await real.list(query)
        calls++
        summaries += listed.length
        return listed
      },
    }
    try {
      await crashed(real)
      await finishedRuns(real, 40)
      const viewer = await startLiveViewer({ store: counted, intervalMs: 20, fromDocument })
      try {
        // Past the first polls (which list the recent runs and learn of the crashed one).
        await new Promise((resolve) => setTimeout(resolve, 200))
        const [calls0, summaries0] = [calls, summaries]
        await new Promise((resolve) => setTimeout(resolve, 400))
        const polls = (calls - calls0) / 2 // two list calls a poll: the new runs, the unfinished ones
        expect(polls).toBeGreaterThan(3)
        // The newest run (listed again at its own start) and the crashed run: 2 a poll. Before,
        // every poll listed the 41 runs started since the crashed one.
        expect((summaries - summaries0) / polls).toBeLessThanOrEqual(2)
      } finally {
        await viewer.close()
      }
    } finally {
      await real.close()
    }
  })

  it('is still watched after more runs than a poll lists came after it: its resumed step and its end are pushed', async () => {
    const store = sqliteStore(join(dir, 'resumed.db'))
    try {
      const durable = await crashed(store)
      // A poll lists at most 10 pages: with pages of 5, 60 runs after it are beyond one poll.
      const viewer = await startLiveViewer({ store, intervalMs: 20, fromDocument, page: 5 })
      const page = await openSse(new URL('/api/live', viewer.url).href)
      try {
        await page.waitFor((events) => stepsOf(events, durable.id) === 1)
        const later = await finishedRuns(store, 60)
        await page.waitFor((events) => runIds(events).includes(later.at(-1)!))
        // Another process resumes it: its next step, then its end.
        await store.appendSteps(durable.id, durable.batches[1]!)
        await page.waitFor((events) => stepsOf(events, durable.id) === 2)
        await store.write([storedRun(durable.doc)])
        await page.waitFor((events) => runIds(events).includes(durable.id))
        const shown = page.events.filter((e) => e.event === 'run' && (JSON.parse(e.data) as { run: { id: string } }).run.id === durable.id)
        expect(shown).toHaveLength(1)
        expect((JSON.parse(shown[0]!.data) as RunDocument).events.length).toBe(durable.doc.events.length)
      } finally {
        page.close()
        await viewer.close()
      }
    } finally {
      await store.close()
    }
  })
  it('finds it when it finished among more runs begun in its nanosecond than one list call reads', async () => {
    const store = sqliteStore(join(dir, 'same-ns.db'))
    try {
      const durable = await crashed(store)
      const start = BigInt(durable.doc.run.startedAt)
      const viewer = await startLiveViewer({ store, intervalMs: 20, fromDocument, page: 5 })
      const page = await openSse(new URL('/api/live', viewer.url).href)
      try {
        await page.waitFor((events) => stepsOf(events, durable.id) === 1)
        // 7 finished runs begun in the same nanosecond, listed before it (a store lists runs of one
        // start by id, descending), then a later one: the window of new runs moves past them.
        const twins = Array.from({ length: 7 }, (_, i) => copyAs(durable.doc, `ffffffff-0000-7000-8000-00000000000${i}`, 'polled', start))
        await store.write([...twins, copyAs(durable.doc, 'ffffffff-0000-7000-8000-000000000010', 'polled', start + 1_000n)])
        await page.waitFor((events) => runIds(events).includes('ffffffff-0000-7000-8000-000000000010'))
        // It finishes: not new, no longer unfinished, found by its start (8 runs there, pages of
        // 5). Before, only the first page was read, it was taken for deleted and never shown.
        await store.write([storedRun(durable.doc)])
        await page.waitFor((events) => runIds(events).includes(durable.id))
        const shown = page.events.filter((e) => e.event === 'run' && (JSON.parse(e.data) as { run: { id: string } }).run.id === durable.id)
        expect(shown).toHaveLength(1)
      } finally {
        page.close()
        await viewer.close()
      }
    } finally {
      await store.close()
    }
  })
})
