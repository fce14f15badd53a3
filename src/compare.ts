import { describeError } from './errors.js'
import type { Run } from './run.js'
import type { LinkRecord } from './timeline.js'
import type { LinkInfo } from './types.js'

/**
 * Where two runs first differ.
 * - `'patches'`: the link changed ctx differently (`expected` / `actual`: the two patch lists);
 * - `'error'`: one run's link failed and the other's did not, or they failed with different
 *   messages (`expected` / `actual`: the errors, `undefined` for the side that succeeded);
 * - `'link'`: a different link ran at this place, or one run has a link the other has not
 *   (`expected` / `actual`: the link names, `undefined` when missing);
 * - `'status'`: every link agrees but the runs ended differently (the two statuses);
 * - `'io'` (replay only): the link drew more `io.now()` / `io.random()` values than were
 *   recorded (`expected` / `actual`: the recorded and the drawn values).
 */
export interface Divergence {
  /** The link concerned (in the actual run when it has one); `undefined` only for a `'status'`
   * divergence of runs that executed no link. */
  readonly link: LinkInfo | undefined
  /** The seq in the actual run: the link's `link.end` / `link.error`, or its `run.end`. */
  readonly seq: number
  /** Why they differ (see above). */
  readonly reason: 'patches' | 'error' | 'status' | 'link' | 'io'
  /** What the reference run (the recording) did there. */
  readonly expected: unknown
  /** What the other run (the replay) did there. */
  readonly actual: unknown
}

/**
 * Equality for recorded values, by content: NaN equals NaN, 0 and -0 differ (as in run files),
 * Maps and Sets compare in order, Dates by time. Shared subtrees (`===`) cost nothing.
 */
export function sameData(a: unknown, b: unknown, depth = 0): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null || depth > 1_000) return false
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false
    for (let i = 0; i < a.length; i++) if (!sameData(a[i], b[i], depth + 1)) return false
    return true
  }
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
  if (a instanceof Map || a instanceof Set) {
    if (a.constructor !== b.constructor || a.size !== (b as Map<unknown, unknown>).size) return false
    const left = [...(a as Map<unknown, unknown>).entries()]
    const right = [...(b as Map<unknown, unknown>).entries()]
    return left.every((entry, i) => sameData(entry, right[i], depth + 1))
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  const keys = Object.keys(a)
  if (keys.length !== Object.keys(b).length) return false
  for (const key of keys) {
    if (!Object.hasOwn(b, key) || !sameData((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key], depth + 1)) return false
  }
  return true
}

function errorMessage(record: LinkRecord<unknown>): string | undefined {
  return record.status === 'error' ? describeError(record.error) : undefined
}

/**
 * Finds the first link whose outcome differs between a recorded run and another run of the same
 * (or a changed) chain; `undefined` when they agree link for link and end the same way. Links
 * that failed with the same message count as agreeing.
 *
 * @param expected - the reference run (a recording)
 * @param actual - the run to check against it
 */
export function compareRuns<A, B>(expected: Run<A>, actual: Run<B>): Divergence | undefined {
  const want = expected.timeline.links()
  const got = actual.timeline.links()
  const endSeq = actual.timeline.length - 1
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const a = want[i]
    const b = got[i]
    if (a === undefined || b === undefined || a.name !== b.name) {
      return { link: (b ?? a)?.link, seq: b?.endSeq ?? endSeq, reason: 'link', expected: a?.name, actual: b?.name }
    }
    const errorA = errorMessage(a)
    const errorB = errorMessage(b)
    if (errorA !== errorB) {
      return { link: b.link, seq: b.endSeq, reason: 'error', expected: a.error, actual: b.error }
    }
    // Patches may list the same changes in another order (a stubbed link replays the recorded
    // ones through immer): the states they lead to decide. The inputs agree so far.
    if (errorA === undefined && !sameData(a.patches, b.patches) && !sameData(a.after, b.after)) {
      return { link: b.link, seq: b.endSeq, reason: 'patches', expected: a.patches, actual: b.patches }
    }
  }
  if (expected.status !== actual.status) {
    return { link: got.at(-1)?.link, seq: endSeq, reason: 'status', expected: expected.status, actual: actual.status }
  }
  return undefined
}
