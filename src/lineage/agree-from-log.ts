// The common answer of a comparison of runs, "these links agree", found from the actual run's
// event log (record/log-ends.ts) without building its events or its link records: a replay
// compares a run that nobody has read yet, and building its events cost more than comparing them.
import type { LinkRecord } from '../record/timeline.js'
import type { RecordedRun } from './recorded-run.js'
import { sameData } from './same-data.js'

/**
 * @internal How many of the first links `compareLinks(expected, actual)` would find agreeing,
 * read from `actual`'s log: the same link, neither failed, skipped or nested, no fork on either
 * side, patches equal by content. It stops at the first link it cannot confirm so (patches that
 * differ are left to `compareLinks`, which also compares the states they led to). `-1` when the
 * log cannot say (see `linkEnds`), the runs ran different numbers of links, or either was forked.
 * `want.length` when every link agrees: then only the stop and the status remain to compare.
 *
 * @param want - `expected.timeline.links()`
 */
export function agreedFromLog(expected: RecordedRun<unknown>, actual: RecordedRun<unknown>, want: readonly LinkRecord<unknown>[]): number {
  if (expected.parent !== undefined || actual.parent !== undefined) return -1
  const got = actual.timeline.linkEnds()
  if (got === undefined || got.length !== want.length) return -1
  // A fork event in the expected run (one without `parent`: a loaded file may hold one) is an edit.
  for (const event of expected.timeline.events) if (event.type === 'fork') return -1
  for (let i = 0; i < got.length; i++) {
    const a = want[i] as LinkRecord<unknown>
    const b = got[i] as (typeof got)[number]
    if (a.name !== b.link.name || a.status !== 'ok' || a.child !== undefined || !sameData(a.patches, b.patches)) return i
  }
  return got.length
}
