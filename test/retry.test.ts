import { describe, expect, it } from 'vitest'
import { chain, ChainRunError, type LinkAttemptTimelineEvent, type Middleware, type Run } from '../src/index.js'
import { ensureBuilt } from './built-dist.js'
import { logMiddleware, outline, steppingClock } from './helpers.js'

interface Pay {
  charged: number
  notes: string[]
}
const pay = (): Pay => ({ charged: 0, notes: [] })

/** A link that fails its first `failures` attempts (writing to its draft first), then charges. */
const flaky = (failures: number, seen: number[] = []) =>
  (ctx: { charged: number; notes: string[] }, io: { attempt: number }): void => {
    seen.push(io.attempt)
    ctx.notes.push(`attempt ${io.attempt}`)
    if (io.attempt <= failures) throw new Error(`declined ${io.attempt}`)
    ctx.charged += 1
  }

const attemptsOf = (run: Run<Pay>): LinkAttemptTimelineEvent<Pay>[] => run.timeline.filter({ type: 'link.attempt' }) as LinkAttemptTimelineEvent<Pay>[]

const rejectedWith = async (promise: Promise<unknown>): Promise<ChainRunError<Pay>> => {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(ChainRunError)
  return error as ChainRunError<Pay>
}

describe('retry (DESIGN §9)', () => {
  it('tries again until an attempt succeeds; io.attempt counts from 1; a retried attempt\'s draft is discarded', async () => {
    const seen: number[] = []
    const run = await chain<Pay>('r', { clock: steppingClock() })
      .link('charge', flaky(2, seen), { retry: { attempts: 3 } })
      .run(pay())
    expect(seen).toEqual([1, 2, 3])
    expect(run.ctx).toEqual({ charged: 1, notes: ['attempt 3'] })
    const attempts = attemptsOf(run)
    expect(attempts.map((e) => [e.attempt, (e.error as Error).message])).toEqual([[1, 'declined 1'], [2, 'declined 2']])
    expect(attempts.every((e) => e.durationNs >= 0n && e.link.name === 'charge')).toBe(true)
    expect(outline(run.timeline.events).filter((l) => l.startsWith('link'))).toEqual(['link.start charge', 'link.attempt charge', 'link.attempt charge', 'link.end charge'])
  })

  it('records the attempts in timeline.links(); stateAt at an attempt event is the link\'s input', async () => {
    const run = await chain<Pay>('r', { clock: steppingClock() })
      .link('first', (ctx) => void ctx.notes.push('first'))
      .link('charge', flaky(1), { retry: { attempts: 2 } })
      .link('plain', () => {})
      .run(pay())
    const [first, charge, plain] = run.timeline.links()
    expect(first?.attempts).toBeUndefined()
    expect(charge?.attempts).toBe(2)
    expect(charge?.status).toBe('ok')
    expect(plain?.attempts).toBeUndefined()
    const attempt = run.timeline.filter({ type: 'link.attempt' })[0]
    expect(attempt).toBeDefined()
    expect(run.timeline.stateAt(attempt?.seq ?? -1).ctx).toEqual({ charged: 0, notes: ['first'] })
    expect(run.timeline.stateAt(charge?.endSeq ?? -1).ctx).toEqual({ charged: 1, notes: ['first', 'attempt 2'] })
  })

  it('runs middleware once around all attempts; the after event carries attempts', async () => {
    const log: string[] = []
    const attempts: unknown[] = []
    const seeAfter: Middleware<Pay> = { name: 'see', after: (event) => void attempts.push(event.attempts) }
    await chain<Pay>('r')
      .link('charge', flaky(2), { retry: { attempts: 5 }, use: [seeAfter] })
      .link('plain', () => {}, { use: [seeAfter] })
      .use(logMiddleware('log', log))
      .run(pay())
    expect(log.filter((l) => l.includes(':charge'))).toHaveLength(2)
    expect(attempts).toEqual([3, undefined])
  })

  it('fails the run with the last attempt\'s error when every attempt fails; links() says how many', async () => {
    const error = await rejectedWith(chain<Pay>('r').link('charge', flaky(9), { retry: { attempts: 3 } }).run(pay()))
    expect(error.code).toBe('LINK_FAILED')
    expect((error.cause as Error).message).toBe('declined 3')
    expect(error.message).toContain('(attempt 3 of 3)')
    expect(error.run.ctx).toEqual(pay())
    expect(error.run.timeline.filter({ type: 'link.attempt' })).toHaveLength(2)
    expect(error.run.timeline.links()[0]).toMatchObject({ status: 'error', attempts: 3 })
  })

  it('stops retrying when retryIf says no (or throws)', async () => {
    for (const retryIf of [(e: unknown) => (e as Error).message !== 'declined 2', () => { throw new Error('bad rule') }]) {
      const seen: number[] = []
      const error = await rejectedWith(chain<Pay>('r').link('charge', flaky(9, seen), { retry: { attempts: 5, retryIf } }).run(pay()))
      expect(seen).toEqual(retryIf.length === 1 ? [1, 2] : [1])
      expect(error.code).toBe('LINK_FAILED')
    }
  })

  it('waits delayMs * backoff^(n-1) between attempts, on timers that keep the process alive (the delay is the run\'s only pending work)', async () => {
    const delays: number[] = []
    const real = globalThis.setTimeout
    let unrefs = 0
    const spy = ((fn: () => void, ms: number) => {
      delays.push(ms)
      const timer = real(fn, 0)
      const unref = timer.unref.bind(timer)
      timer.unref = () => (unrefs++, unref())
      return timer
    }) as unknown as typeof setTimeout
    globalThis.setTimeout = spy
    try {
      await chain<Pay>('r').link('charge', flaky(3), { retry: { attempts: 4, delayMs: 10, backoff: 3 } }).run(pay())
    } finally {
      globalThis.setTimeout = real
    }
    expect(delays).toEqual([10, 30, 90])
    expect(unrefs).toBe(0)
  })

  it('finishes a run whose only pending work is a retry delay, in a process that awaits it at top level', { timeout: 120_000 }, async () => {
    const { execFileSync } = await import('node:child_process')
    ensureBuilt()
    const script = `
      const { chain } = await import(${JSON.stringify(new URL('../dist/index.js', import.meta.url).href)})
      const run = await chain('c').link('a', (ctx, io) => { if (io.attempt === 1) throw new Error('busy'); ctx.ok = true }, { retry: { attempts: 2, delayMs: 20 } }).run({})
      console.log(JSON.stringify(run.ctx))
    `
    expect(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' }).trim()).toBe('{"ok":true}')
  })

  it('stops waiting at once when the run\'s signal aborts during a delay (the timer is cleared)', async () => {
    const controller = new AbortController()
    const seen: number[] = []
    const pending = chain<Pay>('r')
      .link('charge', (ctx, io) => {
        if (io.attempt === 1) setImmediate(() => controller.abort(new Error('shutting down')))
        flaky(9, seen)(ctx, io)
      }, { retry: { attempts: 3, delayMs: 3_600_000 } })
      .run(pay(), { signal: controller.signal })
    const error = await rejectedWith(pending)
    expect(error.code).toBe('ABORTED')
    expect(seen).toEqual([1])
    expect(error.run.timeline.filter({ type: 'link.attempt' })).toHaveLength(1)
  })

  it('does not retry once the run was aborted', async () => {
    const controller = new AbortController()
    const seen: number[] = []
    const error = await rejectedWith(
      chain<Pay>('r')
        .link('charge', (_ctx, io) => {
          seen.push(io.attempt)
          controller.abort(new Error('stop'))
          throw new Error('failed while aborting')
        }, { retry: { attempts: 3 } })
        .run(pay(), { signal: controller.signal }),
    )
    expect(error.code).toBe('ABORTED')
    expect(seen).toEqual([1])
  })
})

describe('timeoutMs (DESIGN §9)', () => {
  it('aborts io.signal at the deadline and fails the run with TIMEOUT; late writes never reach ctx, the draft is revoked', async () => {
    let signal: AbortSignal | undefined
    let lateWrite: unknown = 'not yet'
    let release: () => void = () => {}
    const later = new Promise<void>((resolve) => (release = resolve))
    const error = await rejectedWith(
      chain<Pay>('t')
        .link('charge', async (ctx, io) => {
          signal = io.signal
          await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve()))
          await later
          try {
            ctx.charged = 99
            lateWrite = 'written'
          } catch (e) {
            lateWrite = e
          }
        }, { timeoutMs: 5 })
        .run(pay()),
    )
    expect(error.code).toBe('TIMEOUT')
    expect(error.link?.name).toBe('charge')
    expect((error.cause as Error).name).toBe('TimeoutError')
    expect(signal?.aborted).toBe(true)
    expect(error.run.ctx).toEqual(pay())
    release()
    await new Promise((resolve) => setImmediate(resolve))
    await new Promise((resolve) => setImmediate(resolve))
    expect(lateWrite).toBeInstanceOf(TypeError)
    expect(error.run.ctx).toEqual(pay())
    expect(error.run.timeline.links()[0]).toMatchObject({ status: 'error' })
  })

  it('retries a timed-out attempt; a later attempt that succeeds ends the link well', async () => {
    const run = await chain<Pay>('t')
      .link('charge', async (ctx, io) => {
        ctx.notes.push(`attempt ${io.attempt}`)
        if (io.attempt === 1) await new Promise<void>((resolve) => io.signal.addEventListener('abort', () => resolve()))
        ctx.charged = io.attempt
      }, { timeoutMs: 5, retry: { attempts: 2 } })
      .run(pay())
    expect(run.ctx).toEqual({ charged: 2, notes: ['attempt 2'] })
    const [attempt] = attemptsOf(run)
    expect((attempt?.error as Error).name).toBe('TimeoutError')
    expect(run.timeline.links()[0]?.attempts).toBe(2)
  })

  it('gives io.signal the run\'s abort too', async () => {
    const controller = new AbortController()
    let seen: unknown
    const error = await rejectedWith(
      chain<Pay>('t')
        .link('charge', async (_ctx, io) => {
          setImmediate(() => controller.abort(new Error('user left')))
          io.signal.addEventListener('abort', () => void (seen = io.signal.reason))
          await new Promise<void>(() => {})
        }, { timeoutMs: 3_600_000 })
        .run(pay(), { signal: controller.signal }),
    )
    expect(error.code).toBe('ABORTED')
    expect((seen as Error).message).toBe('user left')
  })

  it('a link without timeoutMs gets the run\'s own signal', async () => {
    const controller = new AbortController()
    let signal: AbortSignal | undefined
    await chain<Pay>('t').link('a', (_ctx, io) => void (signal = io.signal)).run(pay(), { signal: controller.signal })
    expect(signal).toBe(controller.signal)
  })
})

describe('retry and timeoutMs: bad configuration is a TypeError at build time', () => {
  const bad: [string, object][] = [
    ['attempts', { retry: { attempts: 0 } }],
    ['attempts', { retry: { attempts: 1.5 } }],
    ['attempts', { retry: { attempts: '3' } }],
    ['attempts', { retry: {} }],
    ['delayMs', { retry: { attempts: 2, delayMs: -1 } }],
    ['delayMs', { retry: { attempts: 2, delayMs: Infinity } }],
    ['backoff', { retry: { attempts: 2, backoff: -2 } }],
    ['backoff', { retry: { attempts: 2, backoff: NaN } }],
    ['retryIf', { retry: { attempts: 2, retryIf: true } }],
    ['retry', { retry: null }],
    ['unknown', { retry: { attempts: 2, tries: 3 } }],
    ['timeoutMs', { timeoutMs: -5 }],
    ['timeoutMs', { timeoutMs: Infinity }],
    ['timeoutMs', { timeoutMs: '5' }],
  ]
  for (const [what, options] of bad) {
    it(`rejects ${JSON.stringify(options)} (${what})`, () => {
      expect(() => chain<Pay>('b').link('a', () => {}, options as never)).toThrow(TypeError)
      expect(() => chain<Pay>('b').link('a', () => {}, options as never)).toThrow(what === 'unknown' ? /tries/ : new RegExp(what))
    })
  }
  it('accepts a good configuration', () => {
    expect(() => chain<Pay>('b').link('a', () => {}, { retry: { attempts: 1, delayMs: 0, backoff: 0, retryIf: () => true }, timeoutMs: 0 })).not.toThrow()
  })
})
