import { DocumentError, Run, type Clock, type Middleware, type RunDocument, type TimelineEvent } from '../src/index.js'

/** A clock that advances by `step` ns at every reading, from a fixed epoch-ns start. */
export function steppingClock(start = 1_700_000_000_000_000_000n, step = 1_000n): Clock {
  let t = start - step
  return { now: () => (t += step) }
}

/** A middleware that appends `name:position:link` to a shared log for every call. */
export function logMiddleware(name: string, log: string[]): Middleware {
  return {
    name,
    before: (e) => void log.push(`${name}:${e.position}:${e.link.name}:${e.index}`),
    after: (e) => void log.push(`${name}:${e.position}:${e.link.name}:${e.index}`),
    runStart: () => void log.push(`${name}:runStart`),
    runEnd: (e) => void log.push(`${name}:runEnd:${e.status}`),
  }
}

/** `type` plus who it concerns, one string per event: easy to compare with an inline snapshot. */
export function outline(events: readonly TimelineEvent<unknown>[]): string[] {
  return events.map((event) => {
    const fields = event as { link?: { name: string }; middleware?: { name: string; position: string; index: number } }
    const who = [fields.middleware && `${fields.middleware.name}@${fields.middleware.position}#${fields.middleware.index}`, fields.link?.name]
      .filter(Boolean)
      .join(' ')
    return who ? `${event.type} ${who}` : event.type
  })
}

/** The `DocumentError` a document is rejected with (fails the test when it loads). */
export function rejection(doc: unknown): DocumentError {
  try {
    Run.fromJSON(doc as RunDocument)
  } catch (error) {
    if (error instanceof DocumentError) return error
    throw error
  }
  throw new Error('expected the document to be rejected')
}
