/**
 * `shadowchain/testing`: regression tests from recorded runs, for vitest (or any runner with
 * jest-style `expect.extend`).
 *
 * @example
 * import { expect } from 'vitest'
 * import { matchers } from 'shadowchain/testing'
 * expect.extend(matchers)
 *
 * it('checkout still behaves as recorded', async () => {
 *   await expect('fixtures/checkout.run.json').toReplayIdentically({ chain: checkout, stub: ['charge'] })
 * })
 *
 * @packageDocumentation
 */
import type { Chain } from '../core/chain.js'
import { formatDivergence } from '../present/format-patch.js'
import type { ReplayOptions } from '../lineage/replay.js'
import { loadRun } from '../lineage/run-file.js'
import { Run } from '../lineage/run.js'
// Type-only: makes the augmentation below resolvable; nothing of vitest is loaded at run time.
import type {} from 'vitest'
import { shortRunId } from '../core/run-id.js'

/** What a jest-style matcher returns. */
export interface MatcherResult {
  pass: boolean
  message: () => string
  actual?: unknown
  expected?: unknown
}

/** The part of vitest's matcher context the matchers use. */
interface MatcherContext {
  readonly isNot?: boolean
  equals(a: unknown, b: unknown): boolean
}

function describeRunRef(run: Run<unknown>): string {
  return `run ${shortRunId(run.id)} of chain '${run.chainName}'`
}

/**
 * Loads a run file (or takes a run) and replays it against a chain.
 *
 * @param source - a run, or the path of a run file
 * @param options - the chain to replay on (needed for files) and links to `stub`
 */
export async function replayRecording<C>(source: Run<C> | string, options: ReplayOptions<C> = {}) {
  const run = typeof source === 'string' ? await loadRun<C>(source, options.chain === undefined ? {} : { chain: options.chain as Chain<C> }) : source
  return { recording: run, ...(await run.replay(options)) }
}

/**
 * Passes when replaying the run (or run file) gives the same outcome link for link. Fails with
 * the first diverging link and what each side did.
 */
async function toReplayIdentically(this: MatcherContext, received: unknown, options: ReplayOptions<unknown> = {}): Promise<MatcherResult> {
  if (!(received instanceof Run) && typeof received !== 'string') {
    return { pass: false, message: () => `expected a Run or the path of a run file, got ${typeof received}` }
  }
  const { recording, identical, divergence } = await replayRecording(received as Run<unknown> | string, options)
  const what = `${describeRunRef(recording)}${typeof received === 'string' ? ` (${received})` : ''}`
  return {
    pass: identical,
    message: () =>
      identical
        ? `expected ${what} not to replay identically, but every link behaved as recorded`
        : `expected ${what} to replay identically, but it ${formatDivergence(divergence!)}`,
    ...(divergence !== undefined && { expected: divergence.expected, actual: divergence.actual }),
  }
}

/** Passes when the run executed exactly these links, in this order (skipped links did not run). */
function toHaveRunLinks(this: MatcherContext, received: unknown, names: readonly string[]): MatcherResult {
  if (!(received instanceof Run)) return { pass: false, message: () => `expected a Run, got ${typeof received}` }
  const ran = received.timeline
    .links()
    .filter((link) => link.status !== 'skipped')
    .map((link) => link.name)
  const pass = this.equals(ran, [...names])
  return {
    pass,
    message: () => `expected ${describeRunRef(received)} ${pass ? 'not ' : ''}to have run links [${names.join(', ')}], it ran [${ran.join(', ')}]`,
    expected: [...names],
    actual: ran,
  }
}

/**
 * Passes when something wrote this path during the run (with `value`: wrote exactly that value
 * there). Uses `ctx.write` events of a `capture: 'writes'` run, else the links' (and parallel
 * branches') patches.
 */
function toHaveWritten(this: MatcherContext, received: unknown, path: readonly (string | number)[] | string, ...value: [unknown?]): MatcherResult {
  if (!(received instanceof Run)) return { pass: false, message: () => `expected a Run, got ${typeof received}` }
  const keys = typeof path === 'string' ? path.split('.') : path.map(String)
  const written: unknown[] = []
  // A write at the path, or above it (a parent object or a replacement written whole): then the
  // value is the part of what was written that lies at the path.
  const valueAt = (writtenPath: readonly (string | number)[], value: unknown): [unknown] | undefined => {
    if (writtenPath.length > keys.length || !writtenPath.every((k, i) => String(k) === keys[i])) return undefined
    let node = value
    for (const key of keys.slice(writtenPath.length)) {
      if (node instanceof Map) node = node.get(key)
      else if (typeof node === 'object' && node !== null && Object.hasOwn(node, key)) node = (node as Record<string, unknown>)[key]
      else return undefined
    }
    return [node]
  }
  for (const event of received.timeline.writesTo(path)) {
    const found: ([unknown] | undefined)[] = []
    if (event.type === 'ctx.write' && event.op === 'set') found.push(valueAt(event.path, event.value))
    if (event.type === 'link.end' || event.type === 'branch.end' || event.type === 'fork') {
      for (const patch of event.patches) if (patch.op !== 'remove') found.push(valueAt(patch.path, patch.value))
    }
    for (const hit of found) if (hit !== undefined) written.push(hit[0])
  }
  const pass = value.length === 0 ? written.length > 0 : written.some((w) => this.equals(w, value[0]))
  const target = keys.join('.')
  return {
    pass,
    message: () =>
      `expected ${describeRunRef(received)} ${pass ? 'not ' : ''}to have written ${target}${value.length === 0 ? '' : ` = ${JSON.stringify(value[0])}`}; ` +
      (written.length === 0 ? 'nothing wrote it' : `values written there: ${written.map((w) => JSON.stringify(w)).join(', ')}`),
  }
}

/** The matchers, for `expect.extend(matchers)`. */
export const matchers = { toReplayIdentically, toHaveRunLinks, toHaveWritten }

/** The matcher signatures, for declaration merging into your test runner's `Assertion` type. */
export interface ShadowchainMatchers<R = unknown> {
  /** Replays the received run or run file (see {@link replayRecording}); awaits. */
  toReplayIdentically<C>(options?: ReplayOptions<C>): Promise<R>
  /** The received run executed exactly these links, in order. */
  toHaveRunLinks(names: readonly string[]): R
  /** Something wrote this path during the received run (with `value`: exactly that value). */
  toHaveWritten(path: readonly (string | number)[] | string, value?: unknown): R
}

declare module 'vitest' {
  // Merging requires vitest's exact type parameters, `any` default included.
  interface Assertion<T = any> extends ShadowchainMatchers<T> {}
}

export { formatDivergence, formatPatch } from '../present/format-patch.js'
