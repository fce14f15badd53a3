// Redaction (issue #10, item 11): a value at a redacted path never leaves the process, neither
// at its path nor wherever it was copied (messages, stacks, causes, io, metrics, mwctx, meta),
// in files, the command line and the viewer. (Spans: test/otel-redact.test.ts.)
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { chain, ChainRunError, loadRun, Run, saveRun, type Middleware, type RedactPath } from '../src/index.js'
import { MIN_SECRET_LENGTH, redactor } from '../src/files/redact.js'
import { ensureBuilt, ROOT } from './built-dist.js'

const CARD = '4242424242424242'
const CVC = 9731
const occurrences = (text: string, secret: string | number) => text.split(String(secret)).length - 1

interface Order {
  customer: { name: string; card: string; cvc: number }
  total: number
  note?: string
  cards?: Record<string, number>
}

const order = (): Order => ({ customer: { name: 'Ada', card: CARD, cvc: CVC }, total: 0 })

const audit: Middleware<Order> = {
  name: 'audit',
  after(e) {
    e.mwctx['lastCard'] = e.ctx.customer.card
    if (e.error !== undefined) throw new Error(`audit saw card ${e.ctx.customer.card}`)
  },
}

/** A chain that copies the card everywhere a link or middleware can, then fails with it. */
function leaky(options: { redact?: readonly RedactPath[] } = {}) {
  return chain<Order>('checkout', options)
    .link(
      'price',
      (ctx, io) => {
        ctx.total = 10
        io.metrics['cardUsed'] = ctx.customer.card
        io.metrics['cvc'] = ctx.customer.cvc
        ctx.note = `charging card ${ctx.customer.card}`
        ctx.cards = { [ctx.customer.card]: 1 }
      },
      { meta: { sample: CARD } },
    )
    .link('charge', (ctx) => {
      throw new Error(`card ${ctx.customer.card} declined`, { cause: new Error(`gateway refused ${ctx.customer.card} (cvc ${ctx.customer.cvc})`) })
    })
    .use(audit)
}

async function failed(c: ReturnType<typeof leaky>): Promise<Run<Order>> {
  const error = await c.run(order()).then(
    () => undefined,
    (e: unknown) => e,
  )
  if (!(error instanceof ChainRunError)) throw new Error('expected the run to fail')
  return error.run as Run<Order>
}

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shadowchain-redact-'))
})
afterAll(async () => {
  if (dir !== undefined) await rm(dir, { recursive: true, force: true })
})

describe('a redacted value is scrubbed wherever it was copied', () => {
  it('leaves no copy in the saved file of a failed run: states, messages, stacks, causes, metrics, mwctx, meta, keys', async () => {
    const run = await failed(leaky())
    const file = join(dir, 'failed.run.json')
    await saveRun(run, file, { redact: [['customer', 'card'], ['customer', 'cvc']] })
    const text = await readFile(file, 'utf8')
    expect(occurrences(text, CARD)).toBe(0)
    expect(occurrences(text, CVC)).toBe(0)
    // The file still loads, and says where the secret was.
    const back = await loadRun<Order>(file)
    expect(back.input).toMatchObject({ customer: { name: 'Ada', card: '[REDACTED]', cvc: '[REDACTED]' } })
    expect(back.ctx.note).toBe('charging card [REDACTED]')
    expect(back.ctx.cards).toEqual({ '[REDACTED]': 1 })
    expect(back.error?.message).toBe("link 'charge' (#1) of chain 'checkout' failed: card [REDACTED] declined")
    const linkError = back.timeline.events.find((event) => event.type === 'link.error')!
    expect(linkError.error).toBeInstanceOf(Error)
    expect((linkError.error as Error).stack).toContain('card [REDACTED] declined')
    expect(((linkError.error as Error).cause as Error).message).toBe('gateway refused [REDACTED] (cvc [REDACTED])')
    expect(back.timeline.links()[0]!.metrics).toEqual({ cardUsed: '[REDACTED]', cvc: '[REDACTED]' })
    expect(back.timeline.events.at(-1)!.mwctx).toEqual({ lastCard: '[REDACTED]' })
    expect(back.timeline.links()[0]!.name).toBe('price')
    // Loaded, it still redacts: exporting it again changes nothing.
    expect(back.redact).toEqual([['customer', 'card'], ['customer', 'cvc']])
    expect(back.toJSON()).toEqual(JSON.parse(text))
  })

  it('keeps every other value, and replaces numbers only when they equal a secret', async () => {
    const run = await chain<{ pin: number; card: string; copy: number; log: string[]; short: string; code: string }>('rule')
      .link('copy', (ctx) => {
        ctx.copy = ctx.pin
        ctx.log.push(`pin ${ctx.pin}, pin+1 ${ctx.pin + 1}, card ${ctx.card}, code ${ctx.code}`)
      })
      .run({ pin: 123456, card: '5500-0000', copy: 0, log: [], short: 'abc', code: 'abc' })
    const doc = run.toJSON({ redact: [['pin'], ['card'], ['short']] })
    const back = Run.fromJSON<typeof run.ctx>(doc)
    expect(back.ctx).toEqual({
      pin: '[REDACTED]',
      card: '[REDACTED]',
      copy: '[REDACTED]',
      // 123457 is another number; 'abc' is shorter than MIN_SECRET_LENGTH: redacted at its path only.
      log: ['pin [REDACTED], pin+1 123457, card [REDACTED], code abc'],
      short: '[REDACTED]',
      code: 'abc',
    })
    expect(MIN_SECRET_LENGTH).toBe(4)
  })

  it('scrubs values a link wrote onto a redacted path later in the run, and values inside a redacted object', async () => {
    const run = await chain<{ user?: { token: string; id: number }; log: string[] }>('late')
      .link('login', (ctx) => void (ctx.user = { token: 'tok-ABCDEF', id: 77 }))
      .link('log', (ctx) => void ctx.log.push(`token=${ctx.user!.token}`))
      .run({ log: [] }, { capture: 'writes' })
    const text = JSON.stringify(run.toJSON({ redact: [['user']] }))
    expect(occurrences(text, 'tok-ABCDEF')).toBe(0)
    expect(Run.fromJSON<typeof run.ctx>(JSON.parse(text)).ctx.log).toEqual(['token=[REDACTED]'])
  })

  it('redactor: path values are learnt from every state before anything is scrubbed', () => {
    const r = redactor([['a', '*', 'secret']])
    r.collect({ a: [{ secret: 'alpha-1' }, { secret: 'beta-22' }], b: 'alpha-1' })
    expect(r.secrets).toBe(2)
    expect(r.scrubText('x alpha-1 y beta-22')).toBe('x [REDACTED] y [REDACTED]')
    expect(r.scrub(new Map([['beta-22', 1]]))).toEqual(new Map([['[REDACTED]', 1]]))
    expect(r.apply({ a: [{ secret: 'alpha-1' }], c: 'alpha-1!' })).toEqual({ a: [{ secret: '[REDACTED]' }], c: '[REDACTED]!' })
  })
})

describe('the redact option (run option and chain default)', () => {
  it('is kept on the run and applied by toJSON and saveRun with no options; an export option adds to it', async () => {
    const run = await failed(leaky({ redact: [['customer', 'card']] }))
    expect(run.redact).toEqual([['customer', 'card']])
    expect(occurrences(JSON.stringify(run.toJSON()), CARD)).toBe(0)
    expect(JSON.stringify(run.toJSON())).toContain(String(CVC))
    const file = join(dir, 'default.run.json')
    await saveRun(run, file, { redact: [['customer', 'cvc']] })
    const text = await readFile(file, 'utf8')
    expect(occurrences(text, CARD)).toBe(0)
    expect(occurrences(text, CVC)).toBe(0)
    expect(JSON.parse(text).redacted.paths).toEqual([['customer', 'card'], ['customer', 'cvc']])
  })

  it('adds a run option to the chain default, and a fork or replay keeps its original redaction', async () => {
    const c = leaky({ redact: [['customer', 'card']] })
    const run = await c.run(order(), { redact: [['customer', 'cvc']] }).catch((e: ChainRunError<Order>) => e.run as Run<Order>)
    expect(run.redact).toEqual([['customer', 'card'], ['customer', 'cvc']])
    const plain = leaky()
    const original = await plain.run(order(), { redact: [['customer', 'card']] }).catch((e: ChainRunError<Order>) => e.run as Run<Order>)
    const fork = await original.fork({ at: 'price', chain: plain.insert({ after: 'price' }, 'fine', () => {}) }).catch((e: ChainRunError<Order>) => e.run as Run<Order>)
    expect(fork.redact).toEqual([['customer', 'card']])
    expect(occurrences(JSON.stringify(fork.toJSON()), CARD)).toBe(0)
    const { run: replay } = await original.replay()
    expect(replay.redact).toEqual([['customer', 'card']])
    expect(occurrences(JSON.stringify(replay.toJSON()), CARD)).toBe(0)
  })

  it('is validated when the chain is built and when run() is called: a TypeError names the bad path', async () => {
    expect(() => chain('bad', { redact: [['ok'], []] })).toThrow(TypeError)
    expect(() => chain('bad', { redact: [['ok'], []] })).toThrow(/redact\[1\] must be a non-empty array of keys/)
    expect(() => chain('bad', { redact: 'customer.card' as never })).toThrow(/redact must be an array of paths/)
    expect(() => chain('bad', { redact: [['a', { no: 1 } as never]] })).toThrow(/chain 'bad': options: redact\[0\]/)
    await expect(chain<{ a: number }>('ok').run({ a: 1 }, { redact: [[]] })).rejects.toThrow(/run options: redact\[0\]/)
  })
})

// ---- the command line and the viewer ------------------------------------------------------------

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, 'devtools', 'cli.js'), ...args], { cwd: ROOT, timeout: 20_000, encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr })
    })
  })
}

describe('the command line and the viewer', () => {
  let file: string
  beforeAll(async () => {
    ensureBuilt()
    file = join(dir, 'cli.run.json')
    await saveRun(await failed(leaky({ redact: [['customer', 'card'], ['customer', 'cvc']] })), file)
  }, 180_000)

  it('print no copy of a redacted value: inspect (waterfall, events, json) and export', async () => {
    const out = join(dir, 'cli-copy.run.json')
    const results = await Promise.all([cli('inspect', file, '--events'), cli('inspect', file, '--json'), cli('export', file, '--out', out)])
    for (const result of results) {
      expect(result.code).toBe(0)
      expect(occurrences(result.stdout + result.stderr, CARD)).toBe(0)
      expect(occurrences(result.stdout + result.stderr, CVC)).toBe(0)
    }
    expect(results[0]!.stdout).toContain('card [REDACTED] declined')
    const copy = await readFile(out, 'utf8')
    expect(occurrences(copy, CARD)).toBe(0)
    expect(JSON.parse(copy).redacted.paths).toEqual([['customer', 'card'], ['customer', 'cvc']])
  })

  it('serves no copy of a redacted value to the viewer', async () => {
    const { startViewer } = (await import(join(ROOT, 'devtools', 'server.js'))) as {
      startViewer(options: { files: string[] }): Promise<{ url: string; close(): Promise<void> }>
    }
    const viewer = await startViewer({ files: [file] })
    try {
      const body = await (await fetch(new URL('/api/runs', viewer.url))).text()
      expect(body).toContain('[REDACTED]')
      expect(occurrences(body, CARD)).toBe(0)
      expect(occurrences(body, CVC)).toBe(0)
    } finally {
      await viewer.close()
    }
  })
})
