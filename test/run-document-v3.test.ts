// Version 3 of the run document: `metricsError` and `writesDropped` on link events, round-tripped
// through a file and validated on import; and run error codes (INTERNAL, and the coming TIMEOUT
// and CONFLICT) that the document's open code set must load.
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, ChainRunError, DocumentError, loadRun, Run, saveRun, type LinkEndTimelineEvent, type LinkErrorTimelineEvent, type RunDocument, type TimelineEvent } from '../src/index.js'
import { steppingClock } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-v3-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

let saved = 0
/** Saves with saveRun and loads with loadRun; returns the loaded run and the file's text. */
async function throughFile<C>(run: Run<C>, options?: { redact?: (string | number)[][] }): Promise<{ back: Run<C>; text: string }> {
  const file = join(dir, `run-${++saved}.run.json`)
  await saveRun(run, file, options)
  return { back: await loadRun<C>(file), text: await readFile(file, 'utf8') }
}

async function failedRun<C>(promise: Promise<Run<C>>): Promise<ChainRunError<C>> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof ChainRunError)) throw new Error(`expected a ChainRunError, got ${String(error)}`)
  return error as ChainRunError<C>
}

type LinkEvent<C> = LinkEndTimelineEvent<C> | LinkErrorTimelineEvent<C>
const linkEvents = <C>(run: Run<C>): LinkEvent<C>[] =>
  run.timeline.events.filter((e): e is LinkEvent<C> => e.type === 'link.end' || e.type === 'link.error')

/** Two errors are the same as the document carries them: class name, message, stack. */
function expectSameError(actual: unknown, expected: unknown): void {
  expect(actual).toBeInstanceOf(Error)
  expect(expected).toBeInstanceOf(Error)
  const [a, e] = [actual as Error, expected as Error]
  expect(a.name).toBe(e.name)
  expect(a.message).toBe(e.message)
  expect(a.stack).toBe(e.stack)
}

/** Every event the same, field by field (errors as the document carries them). */
function expectSameEvents<C>(back: Run<C>, run: Run<C>): void {
  expect(back.timeline.length).toBe(run.timeline.length)
  run.timeline.events.forEach((event, i) => {
    const loaded = back.timeline.events[i] as TimelineEvent<C>
    expect(loaded.type).toBe(event.type)
    expect(loaded.seq).toBe(event.seq)
    expect(loaded.t).toBe(event.t)
    expect(loaded.ctx).toStrictEqual(event.ctx)
    expect(loaded.mwctx).toStrictEqual(event.mwctx)
    expect(loaded.metrics).toStrictEqual(event.metrics)
    if (event.type === 'link.end' || event.type === 'link.error') {
      const l = loaded as LinkEvent<C>
      expect(l.link).toStrictEqual(event.link)
      expect(l.durationNs).toBe(event.durationNs)
      expect('writesDropped' in l).toBe('writesDropped' in event)
      expect(l.writesDropped).toBe(event.writesDropped)
      expect('metricsError' in l).toBe('metricsError' in event)
      if (event.metricsError !== undefined) expectSameError(l.metricsError, event.metricsError)
      if (event.type === 'link.error') expectSameError((l as LinkErrorTimelineEvent<C>).error, event.error)
      else expect((l as LinkEndTimelineEvent<C>).patches).toStrictEqual(event.patches)
    }
  })
}

describe('metricsError on link events', () => {
  // A cycle in io.metrics cannot be recorded: a marker in the state, metricsError on the event.
  const cyclic = () => {
    const self: Record<string, unknown> = { ok: true }
    self['self'] = self
    return self
  }

  it('round-trips through saveRun / loadRun on link.end and link.error; the document is version 3', async () => {
    const c = chain<{ n: number }>('metrics-lost', { clock: steppingClock() })
      .link('loop', (ctx, io) => {
        io.metrics.count = 1
        io.metrics.self = cyclic()
        ctx.n += 1
      })
      .link('fine', (ctx, io) => {
        io.metrics.count = 2
        ctx.n += 1
      })
      .link('boom', (_ctx, io) => {
        io.metrics.again = cyclic()
        throw new TypeError('boom')
      })
    const run = (await failedRun(c.run({ n: 0 }))).run
    const [loop, fine, boom] = linkEvents(run)
    expect(loop?.metricsError).toBeInstanceOf(Error)
    expect((loop?.metricsError as Error).message).toBe('metrics could not be recorded in full: metrics.self.self [Circular]')
    expect(fine && 'metricsError' in fine).toBe(false)
    expect(boom?.type).toBe('link.error')
    expect((boom?.metricsError as Error).message).toBe('metrics could not be recorded in full: metrics.again.self [Circular]')

    expect(run.toJSON().version).toBe(3)
    const { back, text } = await throughFile(run)
    expect(text.startsWith('{"format":"shadowchain/run","version": 3,')).toBe(true)
    expect(back.status).toBe('error')
    expect(back.error?.code).toBe('LINK_FAILED')
    expectSameEvents(back, run)
    const [bLoop, bFine, bBoom] = linkEvents(back)
    expect((bLoop?.metricsError as Error).message).toBe('metrics could not be recorded in full: metrics.self.self [Circular]')
    expect(bLoop?.metrics).toStrictEqual({ count: 1, self: { ok: true, self: '[Circular]' } })
    expect(bFine && 'metricsError' in bFine).toBe(false)
    expect((bBoom?.metricsError as Error).message).toBe('metrics could not be recorded in full: metrics.again.self [Circular]')
    // And again: a loaded run exports the same document.
    expect(back.toJSON()).toStrictEqual(run.toJSON())
  })

  it('is scrubbed of redacted values like errors are', async () => {
    const secret = 'CARD-4111-SECRET'
    const run = await chain<{ card: string }>('metrics-secret', { clock: steppingClock() })
      .link('leak', (ctx, io) => {
        io.metrics[ctx.card] = cyclic()
      })
      .run({ card: secret })
    expect(String((linkEvents(run)[0]?.metricsError as Error).message)).toContain(secret)
    const { back, text } = await throughFile(run, { redact: [['card']] })
    expect(text).not.toContain(secret)
    expect((linkEvents(back)[0]?.metricsError as Error).message).toBe('metrics could not be recorded in full: metrics["[REDACTED]"].self [Circular]')
  })
})

describe('writesDropped on link events', () => {
  it("round-trips through saveRun / loadRun on link.end and link.error (capture 'writes', maxWritesPerLink 5)", async () => {
    const c = chain<{ n: number }>('hot', { clock: steppingClock() })
      .link('loop', (ctx) => {
        for (let i = 0; i < 20; i++) ctx.n = i
      })
      .link('quiet', (ctx) => void (ctx.n = -1))
      .link('crash', (ctx) => {
        for (let i = 0; i < 8; i++) ctx.n = i
        throw new Error('crashed after 8 writes')
      })
    const run = (await failedRun(c.run({ n: 0 }, { capture: 'writes', maxWritesPerLink: 5 }))).run
    const [loop, quiet, crash] = linkEvents(run)
    expect(loop?.writesDropped).toBe(15)
    expect(quiet && 'writesDropped' in quiet).toBe(false)
    expect(crash?.type).toBe('link.error')
    expect(crash?.writesDropped).toBe(3)

    expect(run.toJSON().version).toBe(3)
    const { back, text } = await throughFile(run)
    expect(text.startsWith('{"format":"shadowchain/run","version": 3,')).toBe(true)
    expectSameEvents(back, run)
    const [bLoop, bQuiet, bCrash] = linkEvents(back)
    expect(bLoop?.writesDropped).toBe(15)
    expect(bQuiet && 'writesDropped' in bQuiet).toBe(false)
    expect(bCrash?.writesDropped).toBe(3)
    expect(back.timeline.filter({ type: 'ctx.write' })).toHaveLength(5 + 1 + 5)
    expect(back.toJSON()).toStrictEqual(run.toJSON())
  })

  it('a document that needs neither field stays version 1', async () => {
    const run = await chain<{ n: number }>('calm').link('few', (ctx) => void (ctx.n = 1)).run({ n: 0 }, { capture: 'writes', maxWritesPerLink: 5 })
    expect(run.toJSON().version).toBe(1)
    const { text } = await throughFile(run)
    expect(text.startsWith('{"format":"shadowchain/run","version": 1,')).toBe(true)
  })
})

describe('run error codes', () => {
  it('a run that failed INTERNAL round-trips: code, message, no link, cause', async () => {
    // A clock that breaks at link b's start: shadowchain's own failure, blamed on no link.
    let calls = 0
    const clock = {
      now: () => {
        if (++calls === 4) throw new Error('clock broke')
        return 1_700_000_000_000_000_000n + BigInt(calls) * 1_000n
      },
    }
    const error = await failedRun(chain<{ n: number }>('internal').link('a', () => {}).link('b', () => {}).run({ n: 0 }, { clock }))
    expect(error.code).toBe('INTERNAL')
    const run = error.run
    const doc = run.toJSON()
    expect(doc.run.error?.code).toBe('INTERNAL')
    expect(doc.version).toBe(1)
    const { back } = await throughFile(run)
    expect(back.status).toBe('error')
    expect(back.error).toBeInstanceOf(ChainRunError)
    expect(back.error?.code).toBe('INTERNAL')
    expect(back.error?.message).toBe(error.message)
    expect(back.error?.link).toBeUndefined()
    expectSameError(back.error?.cause, error.cause)
    expect((back.error?.cause as Error).message).toBe('clock broke')
    expect(back.startedAt).toBe(run.startedAt)
    expect(back.endedAt).toBe(run.endedAt)
    expectSameEvents(back, run)
    expect(back.timeline.at(-1)).toMatchObject({ type: 'run.end', status: 'error', error: back.error })
  })

  it("loads the coming codes TIMEOUT and CONFLICT, and any other: the code set is open", async () => {
    const run = await failedRun(chain<{ n: number }>('codes').link('a', () => { throw new Error('x') }).run({ n: 0 }))
    for (const code of ['TIMEOUT', 'CONFLICT', 'SOMETHING_NEW']) {
      const doc = JSON.parse(JSON.stringify(run.run.toJSON())) as RunDocument
      doc.run.error!.code = code
      const back = Run.fromJSON(doc)
      expect(back.error?.code).toBe(code)
      expect(back.error?.link?.name).toBe('a')
    }
  })
})

describe('hostile metricsError and writesDropped are rejected with a path', () => {
  let doc: RunDocument
  let at: number
  beforeAll(async () => {
    const run = await chain<{ n: number }>('hostile')
      .link('loop', (ctx, io) => {
        for (let i = 0; i < 4; i++) ctx.n = i
        const self: Record<string, unknown> = {}
        self['self'] = self
        io.metrics.self = self
      })
      .run({ n: 0 }, { capture: 'writes', maxWritesPerLink: 1 })
    doc = run.toJSON()
    at = doc.events.findIndex((e) => e.type === 'link.end')
    expect(doc.version).toBe(3)
    expect(doc.events[at]).toMatchObject({ writesDropped: 3, metricsError: { $error: { name: 'Error' } } })
    expect(() => Run.fromJSON(fresh())).not.toThrow()
  })
  const fresh = (): RunDocument => JSON.parse(JSON.stringify(doc)) as RunDocument
  const withEvent = (fields: Record<string, unknown>, version?: number): unknown => {
    const d = fresh() as unknown as { version: number; events: Record<string, unknown>[] }
    Object.assign(d.events[at]!, fields)
    if (version !== undefined) d.version = version
    return d
  }
  const rejection = (d: unknown): DocumentError => {
    try {
      Run.fromJSON(d)
    } catch (error) {
      expect(error).toBeInstanceOf(DocumentError)
      return error as DocumentError
    }
    throw new Error('expected the document to be rejected')
  }

  it.each([
    ['negative', -1],
    ['fractional', 1.5],
    ['past 2^53', 2 ** 53],
    ['huge', 1e300],
    ['a string', '3'],
    ['null', null],
  ])('writesDropped %s', (_name, value) => {
    const error = rejection(withEvent({ writesDropped: value }))
    expect(error.path).toBe(`$.events[${at}].writesDropped`)
    expect(error.message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.writesDropped: `))
  })

  it('accepts writesDropped 0 and 2^53 - 1', () => {
    for (const n of [0, Number.MAX_SAFE_INTEGER]) {
      const back = Run.fromJSON(withEvent({ writesDropped: n }))
      expect((back.timeline.at(at) as LinkEndTimelineEvent).writesDropped).toBe(n)
    }
  })

  it('a metricsError that is a 20 MB string, quickly; accepted under a raised limit', () => {
    const big = 'x'.repeat(20_000_000)
    const started = performance.now()
    const error = rejection(withEvent({ metricsError: big }))
    expect(performance.now() - started).toBeLessThan(5_000)
    expect(error.message).toBe(`$.events[${at}].metricsError: string of 20000000 characters is longer than the limit of 16777216`)
    expect(error.message.length).toBeLessThan(200)
    const back = Run.fromJSON(withEvent({ metricsError: big }), { maxStringLength: 20_000_000 })
    expect((back.timeline.at(at) as LinkEndTimelineEvent).metricsError).toBe(big)
  })

  it('a metricsError with an unknown tag, a bad $error payload or a __proto__ key', () => {
    expect(rejection(withEvent({ metricsError: { $bogus: 1 } })).message).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.metricsError.*: unknown tag`))
    expect(rejection(withEvent({ metricsError: { $error: { name: 1, message: 'x' } } })).path).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.metricsError`))
    const proto = JSON.parse('{"a":{"__proto__":{"polluted":true}}}') as unknown
    expect(rejection(withEvent({ metricsError: proto })).path).toMatch(new RegExp(`^\\$\\.events\\[${at}\\]\\.metricsError`))
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined()
  })

  it('either field in a version-1 or version-2 document, which are closed to them', () => {
    for (const version of [1, 2]) {
      const d = withEvent({}, version) as { events: Record<string, unknown>[] }
      expect(rejection(d).message).toBe(`$.events[${at}].metricsError: this field exists from version 3 on; the document says version ${version}`)
      delete d.events[at]!['metricsError']
      expect(rejection(d).message).toBe(`$.events[${at}].writesDropped: this field exists from version 3 on; the document says version ${version}`)
      delete d.events[at]!['writesDropped']
      expect(() => Run.fromJSON(d)).not.toThrow()
    }
  })

  it('either field on an event type that has no such field', () => {
    const start = doc.events.findIndex((e) => e.type === 'link.start')
    for (const field of ['metricsError', 'writesDropped']) {
      const d = fresh() as unknown as { events: Record<string, unknown>[] }
      d.events[start]![field] = 1
      expect(rejection(d).message).toMatch(new RegExp(`^\\$\\.events\\[${start}\\]: .*${field}`))
    }
  })
})
