// The contract every run store passes (DESIGN §10): one suite, run by memory.test.ts,
// sqlite.test.ts and postgres.test.ts against their own store.
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { chain, compareRuns, Run, type RunDocument } from '../../src/index.js'
import { INTERRUPTED_CODE, StoreError, storedRun, type RunStore, type StoredRun, type StoredRunSummary } from '../../src/store/index.js'
import { steppingClock } from '../helpers.js'
import { copyAs, durableSummary, exoticRun, failedRun, okRun, splitDurable } from './fixtures.js'

/**
 * Makes a fresh, empty store for one test, and disposes of it after; `bytes` (where a store can
 * say) is what the store occupies: file pages, or table and index sizes.
 */
export type StoreFactory = () => Promise<{ store: RunStore; dispose?: () => Promise<void>; bytes?: () => Promise<number> }>

const T0 = 1_800_000_000_000_000_000n
const SECOND = 1_000_000_000n

/** The error a promise rejects with (fails the test when it resolves). */
export async function rejection(promise: Promise<unknown>): Promise<StoreError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(StoreError)
    return error as StoreError
  }
  throw new Error('expected a StoreError')
}

// The format gives an error back as an Error carrying its recorded name, message, code and cause
// (an own, enumerable `cause`), not as its original class: errors are equal when those agree.
expect.addEqualityTesters([
  function recordedErrors(a, b, testers) {
    if (!(a instanceof Error) || !(b instanceof Error)) return undefined
    const code = (e: Error): unknown => (e as { code?: unknown }).code
    return a.name === b.name && a.message === b.message && this.equals(code(a), code(b), testers) && this.equals(a.cause, b.cause, testers)
  },
])

/**
 * Every state of two runs agrees, event by event (toEqual: numbers by Object.is, so -0 and NaN
 * count; not toStrictEqual, because the format gives errors back as Error with the recorded
 * `name`, not as their original class).
 */
function expectSameStates(actual: Run<unknown>, expected: Run<unknown>, length = expected.timeline.length): void {
  for (let seq = 0; seq < length; seq++) {
    const a = actual.timeline.stateAt(seq)
    const e = expected.timeline.stateAt(seq)
    expect(a.ctx, `ctx at seq ${seq}`).toEqual(e.ctx)
    expect(a.mwctx, `mwctx at seq ${seq}`).toEqual(e.mwctx)
    expect(a.metrics, `metrics at seq ${seq}`).toEqual(e.metrics)
    expect(actual.timeline.at(seq)?.type).toBe(expected.timeline.at(seq)?.type)
  }
}

/** Runs the contract suite against the stores `make` makes. */
export function storeContract(name: string, make: StoreFactory): void {
  describe(`${name} store: the RunStore contract`, () => {
    let store: RunStore
    let dispose: (() => Promise<void>) | undefined
    let bytes: (() => Promise<number>) | undefined
    const open = async (): Promise<RunStore> => {
      ;({ store, dispose, bytes } = await make())
      return store
    }
    afterEach(async () => {
      await store?.close()
      await dispose?.()
    })

    let exotic: Run<unknown>
    let failed: Run<unknown>
    beforeAll(async () => {
      exotic = (await exoticRun()) as Run<unknown>
      failed = (await failedRun()) as Run<unknown>
    })

    it('keeps every value of the run format exactly: write, read, importRun give the same states', async () => {
      await open()
      const docs = [exotic.toJSON(), failed.toJSON()]
      await store.write(docs.map(storedRun))
      for (const [i, original] of [exotic, failed].entries()) {
        const doc = (await store.read(original.id)) as RunDocument
        // The same document, to the byte: bigint as strings, tags, key order.
        expect(JSON.stringify(doc)).toBe(JSON.stringify(docs[i]))
        const loaded = Run.fromJSON(doc)
        // compareRuns is skipped for the exotic run: it reports a 'patches' divergence for an
        // Error written into ctx even between a run and its own toJSON() round trip, without a
        // store (a compare issue, reported). Its states are compared one by one below instead.
        if (original === failed) expect(compareRuns(original, loaded)).toBeUndefined()
        expectSameStates(loaded, original)
        expect(loaded.status).toBe(original.status)
        expect(loaded.endedAt).toBe(original.endedAt)
      }
      const ctx = Run.fromJSON((await store.read(exotic.id)) as RunDocument).ctx as Record<string, unknown>
      expect(Object.is(ctx['n'], -0)).toBe(true)
      expect(ctx['nan']).toBeNaN()
      expect(ctx['big']).toBe(12345678901234567890123n)
      expect('nothing' in ctx && ctx['nothing'] === undefined).toBe(true)
      expect(ctx['text']).toBe('nul:\u0000 lone:\ud800 emoji:😀 quote:" back:\\')
      const failure = ctx['failure'] as Error
      expect(failure).toBeInstanceOf(Error)
      expect(failure.message).toBe('outer')
      expect((failure.cause as Error).name).toBe('TypeError')
      expect((failure.cause as Error).message).toBe('inner')
      expect((failure.cause as Error).cause).toBe(42n)
      expect(3 in (ctx['sparse'] as unknown[]) && !(0 in (ctx['sparse'] as unknown[]))).toBe(true)
      expect(await store.read('no-such-run')).toBeUndefined()
    })

    it('lists summaries newest first, filtered by chain, status, failed link and time, in pages', async () => {
      await open()
      const ok = (await okRun('shop')).toJSON()
      const bad = failed.toJSON()
      const runs: StoredRun[] = []
      for (let i = 0; i < 30; i++) {
        const template = i % 3 === 0 ? bad : ok
        runs.push(copyAs(template, `r${String(i).padStart(2, '0')}`, i % 2 === 0 ? 'shop' : 'ship', T0 + BigInt(i) * SECOND))
      }
      // Two runs at the same instant: ordered by id.
      runs.push(copyAs(ok, 'same-a', 'shop', T0 + 100n * SECOND), copyAs(ok, 'same-b', 'shop', T0 + 100n * SECOND))
      await store.write(runs)
      const all = await store.list({ limit: 100 })
      expect(all.map((s) => s.id)).toEqual(['same-b', 'same-a', ...runs.slice(0, 30).map((r) => r.summary.id).reverse()])
      // Metadata, exactly as summarised from the documents.
      const r03 = all.find((s) => s.id === 'r03') as StoredRunSummary
      expect(r03).toEqual(runs[3]?.summary)
      expect(r03).toMatchObject({ chain: 'ship', status: 'error', failedLink: 'charge', code: 'LINK_FAILED', links: 2, startedAt: T0 + 3n * SECOND })
      expect(typeof r03.durationNs).toBe('bigint')
      expect(all[0]).not.toHaveProperty('document')

      expect((await store.list()).length).toBe(32)
      expect((await store.list({ limit: 5 })).map((s) => s.id)).toEqual(['same-b', 'same-a', 'r29', 'r28', 'r27'])
      expect((await store.list({ chain: 'ship', limit: 3 })).map((s) => s.id)).toEqual(['r29', 'r27', 'r25'])
      expect((await store.list({ status: 'error' })).map((s) => s.id)).toEqual(['r27', 'r24', 'r21', 'r18', 'r15', 'r12', 'r09', 'r06', 'r03', 'r00'])
      expect((await store.list({ status: ['error', 'aborted'], chain: 'shop' })).map((s) => s.id)).toEqual(['r24', 'r18', 'r12', 'r06', 'r00'])
      expect((await store.list({ status: ['interrupted'] })).length).toBe(0)
      expect((await store.list({ link: 'charge', chain: 'ship' })).map((s) => s.id)).toEqual(['r27', 'r21', 'r15', 'r09', 'r03'])
      expect((await store.list({ link: 'price' })).length).toBe(0)
      expect((await store.list({ since: T0 + 10n * SECOND, until: T0 + 13n * SECOND })).map((s) => s.id)).toEqual(['r12', 'r11', 'r10'])
      const asDate = new Date(Number((T0 + 28n * SECOND) / 1_000_000n))
      expect((await store.list({ since: asDate, until: T0 + 99n * SECOND })).map((s) => s.id)).toEqual(['r29', 'r28'])

      // Paging: each page starts after the previous page's last id, ties included.
      const seen: string[] = []
      let before: string | undefined
      for (;;) {
        const page = await store.list({ limit: 7, ...(before !== undefined && { before }) })
        if (page.length === 0) break
        seen.push(...page.map((s) => s.id))
        before = page[page.length - 1]?.id
      }
      expect(seen).toEqual(all.map((s) => s.id))
      expect((await store.list({ chain: 'shop', status: 'ok', before: 'r10', limit: 2 })).map((s) => s.id)).toEqual(['r08', 'r04'])
    })

    it('keeps each run’s trace id as a column and lists the runs of one trace (query.trace)', async () => {
      await open()
      const ok = (await okRun('shop')).toJSON()
      const traced = (id: string, traceId: string | undefined, at: bigint): StoredRun => {
        const stored = copyAs(ok, id, 'shop', at)
        const run = { ...stored.document.run, ...(traceId !== undefined && { trace: { traceId, spanId: '00f067aa0ba902b7' } }) }
        return storedRun({ ...stored.document, version: traceId !== undefined ? Math.max(9, stored.document.version) : stored.document.version, run } as RunDocument)
      }
      const A = '4bf92f3577b34da6a3ce929d0e0e4736'
      const B = '0af7651916cd43dd8448eb211c80319c'
      await store.write([traced('t1', A, T0), traced('t2', B, T0 + SECOND), traced('t3', A, T0 + 2n * SECOND), traced('t4', undefined, T0 + 3n * SECOND)])
      const all = await store.list()
      expect(all.find((s) => s.id === 't1')?.traceId).toBe(A)
      expect(all.find((s) => s.id === 't4')).not.toHaveProperty('traceId')
      expect((await store.list({ trace: A })).map((s) => s.id)).toEqual(['t3', 't1'])
      expect((await store.list({ trace: B, chain: 'shop' })).map((s) => s.id)).toEqual(['t2'])
      expect(await store.list({ trace: 'ffffffffffffffffffffffffffffffff' })).toEqual([])
      // A durable run's trace id is listed while it is unfinished.
      const head = traced('d1', B, T0 + 4n * SECOND).document
      await store.begin(durableSummary({ ...head, events: [] }), { ...head, events: head.events.slice(0, 1) })
      expect((await store.list({ trace: B })).map((s) => s.id)).toEqual(['d1', 't2'])
    })

    it('refuses bad queries and unknown cursors with STORE_QUERY', async () => {
      await open()
      expect((await rejection(store.list({ limit: 0 }))).code).toBe('STORE_QUERY')
      expect((await rejection(store.list({ limit: 1.5 }))).code).toBe('STORE_QUERY')
      expect((await rejection(store.list({ status: 'done' as 'ok' }))).code).toBe('STORE_QUERY')
      expect((await rejection(store.list({ since: new Date(NaN) }))).code).toBe('STORE_QUERY')
      const cursor = await rejection(store.list({ before: 'gone' }))
      expect(cursor.code).toBe('STORE_QUERY')
      expect(cursor.message).toContain("'gone'")
      expect((await rejection(store.retain('shop', {}))).code).toBe('STORE_QUERY')
      const mixed = storedRun(exotic.toJSON())
      expect((await rejection(store.write([{ ...mixed, summary: { ...mixed.summary, id: 'other' } }]))).code).toBe('STORE_INPUT')
    })

    it('writes idempotently by id: the last write of a run wins', async () => {
      await open()
      const doc = failed.toJSON()
      await store.write([copyAs(doc, 'x', 'shop', T0), copyAs(doc, 'x', 'shop', T0 + SECOND)])
      await store.write([copyAs(doc, 'x', 'shop', T0 + 2n * SECOND)])
      const list = await store.list()
      expect(list.map((s) => [s.id, s.startedAt])).toEqual([['x', T0 + 2n * SECOND]])
      expect((await store.read('x'))?.run.startedAt).toBe(String(T0 + 2n * SECOND))
      await store.write([])
    })

    it('pages through 20,000 runs written in one batch, reading metadata only', async () => {
      await open()
      const ok = (await okRun('bulk')).toJSON()
      const bad = failed.toJSON()
      const n = 20_000
      const runs = Array.from({ length: n }, (_, i) => copyAs(i % 10 === 0 ? bad : ok, `b${String(i).padStart(6, '0')}`, i % 2 === 0 ? 'bulk' : 'other', T0 + BigInt(i) * 1_000n))
      await store.write(runs)
      const page = await store.list({ limit: 50 })
      expect(page.map((s) => s.id)).toEqual(runs.slice(-50).reverse().map((r) => r.summary.id))
      const next = await store.list({ limit: 50, before: page[49]?.id })
      expect(next.map((s) => s.id)).toEqual(runs.slice(-100, -50).reverse().map((r) => r.summary.id))
      const failedPage = await store.list({ chain: 'bulk', status: 'error', limit: 50 })
      expect(failedPage.length).toBe(50)
      expect(failedPage[0]?.id).toBe('b019990')
      expect(failedPage.every((s) => s.chain === 'bulk' && s.status === 'error')).toBe(true)
    }, 120_000)

    it('retains the last N and last M failed runs per chain, in batches, never an interrupted run or a kept run’s ancestor', async () => {
      await open()
      const ok = (await okRun('keep')).toJSON()
      const bad = failed.toJSON()
      const runs: StoredRun[] = []
      // 1,200 runs of 'keep' (every 4th failed), oldest first; 10 of 'other'.
      for (let i = 0; i < 1_200; i++) runs.push(copyAs(i % 4 === 0 ? bad : ok, `k${String(i).padStart(4, '0')}`, 'keep', T0 + BigInt(i) * SECOND))
      for (let i = 0; i < 10; i++) runs.push(copyAs(ok, `o${i}`, 'other', T0 + BigInt(i) * SECOND))
      // An old grandparent -> parent -> child line: the child is new, so kept; its ancestors must stay.
      runs.push(copyAs(ok, 'grand', 'keep', T0 - 10n * SECOND))
      runs.push(copyAs(ok, 'parent', 'keep', T0 - 9n * SECOND, 'grand'))
      runs.push(copyAs(ok, 'child', 'keep', T0 + 5_000n * SECOND, 'parent'))
      // A run of another chain names an old 'keep' run as its parent: that one stays too.
      runs.push(copyAs(ok, 'cross', 'other', T0, 'k0001'))
      // An old run whose only child is deleted too: both go.
      runs.push(copyAs(ok, 'old-parent', 'keep', T0 - 20n * SECOND))
      runs.push(copyAs(ok, 'old-child', 'keep', T0 - 19n * SECOND, 'old-parent'))
      await store.write(runs)
      // An old interrupted run: never deleted.
      const { head } = splitDurable(exotic.toJSON())
      const old = { ...head, run: { ...head.run, id: 'dying', chainName: 'keep', startedAt: String(T0 - 100n * SECOND) } }
      await store.begin(durableSummary(old), old)

      const deleted = await store.retain('keep', { last: 5, failed: 3 })
      const left = await store.list({ chain: 'keep', limit: 10_000 })
      const ids = left.map((s) => s.id)
      // last 5: child, k1199..k1196; failed 3: k1196, k1192, k1188; ancestors: parent, grand; k0001 (named by 'cross'); 'dying'.
      expect(new Set(ids)).toEqual(new Set(['child', 'k1199', 'k1198', 'k1197', 'k1196', 'k1192', 'k1188', 'parent', 'grand', 'k0001', 'dying']))
      expect(deleted).toBe(1_200 + 5 - (ids.length - 1))
      expect((await store.list({ chain: 'other' })).length).toBe(11)
      expect(await store.read('k0500')).toBeUndefined()
      expect((await store.read('grand'))?.run.id).toBe('grand')
      // Again: nothing more to delete.
      expect(await store.retain('keep', { last: 5, failed: 3 })).toBe(0)
      // Failed only: the newest failed run stays; 'child' goes, and with it the need for its ancestors.
      expect(await store.retain('keep', { failed: 1 })).toBe(8)
      expect(new Set((await store.list({ chain: 'keep' })).map((s) => s.id))).toEqual(new Set(['k1196', 'k0001', 'dying']))
    }, 60_000)

    it('lets go of interrupted runs begun longer ago than keep.interruptedMs, with their steps, never one a kept run descends from', async () => {
      await open()
      const HOUR = 3_600_000_000_000n
      const now = BigInt(Date.now()) * 1_000_000n
      const { head, batches } = splitDurable(exotic.toJSON())
      const begin = async (id: string, startedAt: bigint, steps: boolean): Promise<void> => {
        const begun = { ...head, run: { ...head.run, id, chainName: 'crashy', startedAt: String(startedAt) } }
        await store.begin(durableSummary(begun), begun)
        if (steps) await store.appendSteps(id, batches[0]!)
      }
      await begin('stale', now - 48n * HOUR, true)
      await begin('resumed', now - 48n * HOUR, true)
      await begin('fresh', now - HOUR, true)
      // 'resumed' was resumed: its continuation is a finished fork naming it.
      await store.write([copyAs((await okRun('crashy')).toJSON(), 'continued', 'crashy', now, 'resumed')])
      const ids = async (): Promise<Set<string>> => new Set((await store.list({ chain: 'crashy' })).map((s) => s.id))

      // Without interruptedMs, every interrupted run stays, however old.
      expect(await store.retain('crashy', { last: 10 })).toBe(0)
      const DAY_MS = 24 * 3_600_000
      expect(await store.retain('crashy', { last: 10, interruptedMs: DAY_MS })).toBe(1)
      expect(await ids()).toEqual(new Set(['resumed', 'fresh', 'continued']))
      expect(await store.read('stale')).toBeUndefined()
      // Its steps went with it: the same id begun again holds the head alone.
      await begin('stale', now - 48n * HOUR, false)
      await begin('probe', now, false)
      expect((await store.read('stale'))!.events.length).toBe((await store.read('probe'))!.events.length)
      expect((await store.read('resumed'))!.events.length).toBeGreaterThan((await store.read('probe'))!.events.length)
      // The continuation let go (last: 0), what it descends from goes too; 'fresh' and 'probe' stay.
      expect(await store.retain('crashy', { last: 0, interruptedMs: DAY_MS })).toBe(3)
      expect(await ids()).toEqual(new Set(['fresh', 'probe']))
      expect(await store.retain('crashy', { last: 0, interruptedMs: 0 })).toBe(2)
      for (const bad of [-1, Number.NaN, Infinity, '1h' as unknown as number]) {
        const error = await rejection(store.retain('crashy', { last: 1, interruptedMs: bad }))
        expect(error.code).toBe('STORE_QUERY')
        expect(error.message).toContain('keep.interruptedMs')
      }
    })

    it('keeps a durable run as interrupted, with every appended step, until it is written whole', async () => {
      await open()
      const doc = exotic.toJSON()
      const { head, batches } = splitDurable(doc, 2)
      expect(batches.length).toBe(2)
      await store.begin(durableSummary(head), head)
      for (const batch of batches) await store.appendSteps(exotic.id, batch)
      // A retried append is ignored.
      await store.appendSteps(exotic.id, batches[1] as (typeof batches)[number])
      const [summary] = await store.list({ status: 'interrupted' })
      expect(summary).toMatchObject({ id: exotic.id, chain: 'exotic', status: 'interrupted', links: 2 })
      expect(summary?.endedAt).toBeUndefined()

      const partial = (await store.read(exotic.id)) as RunDocument
      const appended = batches.reduce((n, b) => n + b.events.length, 0)
      expect(partial.events.length).toBe(1 + appended + 1)
      expect(partial.events.at(-1)).toMatchObject({ type: 'run.end', status: 'aborted' })
      expect(partial.run).toMatchObject({ status: 'aborted', error: { code: INTERRUPTED_CODE } })
      const loaded = Run.fromJSON(partial)
      expect(loaded.status).toBe('aborted')
      // Every appended step is there, with the very states of the original run.
      expectSameStates(loaded, exotic, 1 + appended)
      expect(loaded.timeline.links().map((l) => l.link.name)).toEqual(['collections', 'scalars'])

      // Finishing: the whole run replaces the durable one.
      await store.write([storedRun(doc)])
      expect(JSON.stringify(await store.read(exotic.id))).toBe(JSON.stringify(doc))
      expect((await store.list()).map((s) => s.status)).toEqual(['ok'])
      // A straggling append after the end changes nothing.
      await store.appendSteps(exotic.id, batches[0] as (typeof batches)[number])
      expect(JSON.stringify(await store.read(exotic.id))).toBe(JSON.stringify(doc))
    })

    it('reads a durable run with no appended step, and refuses appends out of order or to unknown runs', async () => {
      await open()
      const { head, batches } = splitDurable(failed.toJSON())
      await store.begin(durableSummary(head), head)
      const bare = Run.fromJSON((await store.read(failed.id)) as RunDocument)
      expect(bare.timeline.events.map((e) => e.type)).toEqual(['run.start', 'run.end'])
      const gap = await rejection(store.appendSteps(failed.id, batches[1] as (typeof batches)[number]))
      expect(gap.code).toBe('STORE_SEQ')
      expect((await rejection(store.appendSteps('never-begun', batches[0] as (typeof batches)[number]))).code).toBe('STORE_NOT_FOUND')
      for (const batch of batches) await store.appendSteps(failed.id, batch)
      const whole = Run.fromJSON((await store.read(failed.id)) as RunDocument)
      expectSameStates(whole, failed, failed.timeline.length - 1)
      expect(whole.timeline.links().map((l) => [l.link.name, l.error !== undefined])).toEqual([['price', false], ['charge', true]])
    })

    it('stores a durable run by what changed: 1,000 steps of ~1 KB take under 2 MB', async () => {
      await open()
      let wide = chain<Record<string, string>>('wide', { clock: steppingClock() })
      for (let i = 0; i < 1_000; i++) {
        wide = wide.link(`step${i}`, (ctx) => {
          ctx[`k${i}`] = `${i}:`.padEnd(900, 'x')
        })
      }
      const run = await wide.run({})
      const { head, batches } = splitDurable(run.toJSON())
      expect(batches.length).toBe(1_000)
      const perStep = batches.map((b) => JSON.stringify(b).length)
      expect(Math.min(...perStep)).toBeGreaterThan(900)
      expect(Math.max(...perStep)).toBeLessThan(1_300)
      await store.begin(durableSummary(head), head)
      for (const batch of batches) await store.appendSteps(run.id, batch)
      const loaded = Run.fromJSON((await store.read(run.id)) as RunDocument)
      expect(loaded.timeline.links().length).toBe(1_000)
      expect(loaded.ctx).toEqual(run.ctx)
      // The final state alone is ~900 KB; a snapshot per step would be ~450 MB.
      if (bytes !== undefined) expect(await bytes()).toBeLessThan(2 * 1024 * 1024)
    }, 60_000)

    it('lets exactly one of two concurrent claims win', async () => {
      await open()
      const { head } = splitDurable(exotic.toJSON())
      await store.begin(durableSummary(head), head)
      const results = await Promise.all([store.claim(exotic.id, 'worker-a'), store.claim(exotic.id, 'worker-b')])
      expect(results.filter(Boolean).length).toBe(1)
      const winner = results[0] ? 'worker-a' : 'worker-b'
      const loser = results[0] ? 'worker-b' : 'worker-a'
      expect(await store.claim(exotic.id, winner)).toBe(true)
      expect(await store.claim(exotic.id, loser)).toBe(false)
      expect(await store.claim('no-such-run', winner)).toBe(false)
      await store.write([storedRun(failed.toJSON())])
      expect(await store.claim(failed.id, winner)).toBe(false)
      // Many at once: still one.
      const other = { ...head, run: { ...head.run, id: 'contested' } }
      await store.begin(durableSummary(other), other)
      const many = await Promise.all(Array.from({ length: 8 }, (_, i) => store.claim('contested', `w${i}`)))
      expect(many.filter(Boolean).length).toBe(1)
    })

    it('is unusable once closed', async () => {
      const closing = await open()
      await closing.close()
      expect((await rejection(closing.list())).code).toBe('STORE_CLOSED')
      expect((await rejection(closing.write([storedRun(exotic.toJSON())]))).code).toBe('STORE_CLOSED')
      await closing.close()
    })
  })
}
