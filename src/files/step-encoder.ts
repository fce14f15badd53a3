// A durable run's document, written as the run goes (DESIGN §10 "Durable runs"): its head (what
// comes before the events, with the events so far) when it begins, then each batch of completed
// steps as the events they add, with the link and middleware table entries they name first.
// The same per-event encoding as a whole document's (write-document.ts), fed one event at a time.
import type { EncodeNotes } from './codec.js'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import type { DurableStart } from '../core/recording.js'
import type { TimelineEvent } from '../record/events.js'
import { mergeRedactPaths, redactor, type Redactor } from './redact.js'
import type { DocumentEvent, DocumentLink, DocumentMiddleware, DocumentVersion } from './run-document.js'
import { documentLink, documentMiddleware, table } from './encode-parts.js'
import { documentHeader, eventEncoder, versionNotes, type DocumentHeader, type HeaderRun } from './write-document.js'


/** Events encoded since the last batch, and the table entries they named first. */
export interface EncodedSteps {
  readonly events: DocumentEvent[]
  readonly links: DocumentLink[]
  readonly middleware: DocumentMiddleware[]
  readonly version: DocumentVersion
}

/**
 * Encodes one run's events in order, a batch at a time. Redaction applies the run's paths; a
 * value seen at a redacted path is scrubbed from copies elsewhere in the events that come after
 * it (a whole document, written at the end, scrubs earlier copies too).
 */
export class StepEncoder {
  readonly #redact: Redactor
  readonly #links = table<LinkInfo>()
  readonly #middleware = table<MiddlewareCallInfo>()
  readonly #header: DocumentHeader
  readonly #encode: (event: TimelineEvent<unknown>) => DocumentEvent
  #linksSent = 0
  /** What a link's meta needs of the version (a sparse array: 2), noted as the events' encoder notes it. */
  readonly #notes: EncodeNotes
  #middlewareSent = 0

  /**
   * @param run - the run as it begins
   * @param first - its first event (`run.start`, or a fork's events up to its `fork` event): the
   *   initial states of the document
   */
  constructor(run: DurableStart, first: TimelineEvent<unknown>) {
    this.#redact = redactor(mergeRedactPaths(run.redact))
    this.#redact.collect(first.ctx)
    this.#redact.collect(first.mwctx)
    const begun: HeaderRun = {
      id: run.id,
      chainName: run.chainName,
      // Placeholders until the run ends: a reader of the unfinished run replaces them.
      status: 'aborted',
      startedAt: run.startedAt,
      endedAt: run.startedAt,
      error: undefined,
      parent: run.parent,
      replayOf: run.replayOf,
      // Known as it begins: an unfinished run is listed by its trace too (the whole document, at
      // the end, has it in any case, with a trace made later).
      trace: run.trace,
      childIds: [],
    }
    this.#header = documentHeader(begun, first, this.#redact, this.#links, [], new Map())
    this.#notes = versionNotes(this.#header)
    // Nested runs are not embedded in a durable run's steps (the whole document, at the end, has them).
    this.#encode = eventEncoder(run.startedAt, this.#redact, this.#links.ref, this.#middleware.ref, this.#header, new Map())
  }

  /** The document's head: everything before the events (the tables as the events so far named them). */
  head(): Omit<DocumentHeader, 'links' | 'middleware'> & { links: DocumentLink[]; middleware: DocumentMiddleware[] } {
    return { ...this.#header, links: [], middleware: [] }
  }

  /** Encodes the next events, in seq order, each against the one before it. */
  encode(events: readonly TimelineEvent<unknown>[]): EncodedSteps {
    this.#redact.collectEvents(events)
    const out: DocumentEvent[] = []
    for (const event of events) out.push(this.#encode(event))
    const links = this.#links.items.slice(this.#linksSent).map((link) => documentLink(link, this.#redact, this.#notes))
    this.#linksSent = this.#links.items.length
    const middleware = this.#middleware.items.slice(this.#middlewareSent).map(documentMiddleware)
    this.#middlewareSent = this.#middleware.items.length
    return { events: out, links, middleware, version: this.#header.version }
  }
}
