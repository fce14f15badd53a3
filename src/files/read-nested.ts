// Nested runs in a run document (version 8, docs/run-format.md §2.1): the checks a reader runs on
// the tree of documents. Before the shape check, a walk over the raw input bounds the nesting and
// gives each embedded document the same head checks (object, format, version) as the top one;
// after it, each document's `child` references and its `nested` documents must match one to one.
import { DocumentError, quote } from './codec.js'
import { CHILD_EVENT_TYPES, FORMAT, NESTED_SINCE, VERSION, type DocumentVersion, type RunDocument } from './run-document.js'

/**
 * Checks what every document of the tree must be before its shape is checked: a JSON object of
 * format `shadowchain/run` and a version this reader knows, whose events put `child` only on the
 * event types that can have it, nested at most `maxNesting` levels deep. Iterative: a hostile
 * document nested 100,000 levels deep is refused at the level past the limit.
 *
 * @throws DocumentError at the path of the first problem (`$.nested[0].version`, …)
 */
export function checkDocumentTree(input: unknown, maxNesting: number): void {
  const work: { doc: unknown; at: string; depth: number }[] = [{ doc: input, at: '$', depth: 0 }]
  for (let next = work.pop(); next !== undefined; next = work.pop()) {
    const { doc, at, depth } = next
    checkHead(doc, at)
    const { events, nested } = doc as { events?: unknown; nested?: unknown }
    if (Array.isArray(events)) events.forEach((event: unknown, i) => checkChildField(event, `${at}.events[${i}]`))
    if (!Array.isArray(nested)) continue
    if (nested.length > 0 && depth >= maxNesting) {
      throw new DocumentError(`${at}.nested`, `nested runs go deeper than ${maxNesting} levels (the reader's maxNesting limit)`)
    }
    // In reverse, so the first problem in document order is found first.
    for (let k = nested.length - 1; k >= 0; k--) work.push({ doc: nested[k], at: `${at}.nested[${k}]`, depth: depth + 1 })
  }
}

/** A document's object, format and version (a bad value is quoted, never stringified whole). */
function checkHead(input: unknown, at: string): void {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new DocumentError(at, `a run document must be a JSON object, got ${input === null ? 'null' : Array.isArray(input) ? 'an array' : typeof input}`)
  }
  const head = input as { format?: unknown; version?: unknown }
  if (head.format !== FORMAT) throw new DocumentError(`${at}.format`, `expected '${FORMAT}', got ${quote(head.format)}: this is not a shadowchain run document`)
  if (typeof head.version !== 'number' || !Number.isInteger(head.version) || head.version < 1 || head.version > VERSION) {
    throw new DocumentError(`${at}.version`, `unsupported version ${quote(head.version)}: this shadowchain reads versions 1 to ${VERSION}`)
  }
}

/** `child` belongs to the events of a call that can run a nested chain. */
function checkChildField(event: unknown, at: string): void {
  if (typeof event !== 'object' || event === null || !Object.hasOwn(event, 'child')) return
  const type: unknown = (event as { type?: unknown }).type
  if (typeof type === 'string' && !CHILD_EVENT_TYPES.has(type)) {
    throw new DocumentError(`${at}.child`, `a ${quote(type)} event names no nested run: only ${[...CHILD_EVENT_TYPES].join(', ')} events have child`)
  }
}

/**
 * A document's nested runs against its events (after the shape check): `child` and `nested`
 * exist from version 8 on; every `child` names one of the nested documents, every nested
 * document is named by an event, and no id appears twice among the nested documents or equals
 * the id of the document or of one that encloses it (no cycles).
 *
 * @param doc - the document, its shape checked
 * @param enclosing - the ids of the documents that enclose it (its parent's, its parent's parent's, …)
 * @throws DocumentError at the path of the first problem (`$.events[4].child`, `$.nested[1].run.id`)
 */
export function checkChildren(doc: RunDocument, enclosing: ReadonlySet<string>): void {
  const version: DocumentVersion = doc.version
  const byId = new Map<string, number>()
  if (doc.nested !== undefined) {
    if (version < NESTED_SINCE) throw new DocumentError('$.nested', `this field exists from version ${NESTED_SINCE} on; the document says version ${version}`)
    doc.nested.forEach((child, k) => {
      const id = child.run.id
      const at = `$.nested[${k}].run.id`
      if (id === doc.run.id || enclosing.has(id)) throw new DocumentError(at, `run ${quote(id)} is the run that embeds it, or one that encloses that run: nested runs cannot form a cycle`)
      const first = byId.get(id)
      if (first !== undefined) throw new DocumentError(at, `run ${quote(id)} is embedded twice (also at $.nested[${first}])`)
      byId.set(id, k)
    })
  }
  const named = new Set<string>()
  doc.events.forEach((event, i) => {
    const child = 'child' in event ? event.child : undefined
    if (child === undefined) return
    const at = `$.events[${i}].child`
    if (version < NESTED_SINCE) throw new DocumentError(at, `this field exists from version ${NESTED_SINCE} on; the document says version ${version}`)
    if (!byId.has(child)) throw new DocumentError(at, `no nested document has the id ${quote(child)}`)
    named.add(child)
  })
  for (const [id, k] of byId) {
    if (!named.has(id)) throw new DocumentError(`$.nested[${k}].run.id`, `no event names run ${quote(id)} as its child: an embedded run belongs to the call that made it`)
  }
}

/** A `DocumentError` from an embedded document, at its path within the enclosing one. */
export function withinNested(error: unknown, k: number): unknown {
  if (!(error instanceof DocumentError)) return error
  return new DocumentError(`$.nested[${k}]${error.path.slice(1)}`, error.problem, error.file)
}
