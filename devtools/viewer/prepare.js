// The viewer's data preparation: pure functions over run documents (docs/run-format.md), no DOM,
// shared by the page (app.js) and the unit tests. Served and dropped files take the same path:
// prepareRun(JSON.parse(text)).

const RESERVED = new Set(['__proto__', 'constructor', 'prototype'])

// ---- values ------------------------------------------------------------------------------------

/** Decodes a tagged JSON value (§5 of the format) into bigint, Map, Set, Date, undefined… */
export function decodeValue(value) {
  if (value === null || typeof value !== 'object') return value
  if (Array.isArray(value)) return decodeArray(value)
  const keys = Object.keys(value)
  if (keys.length === 1 && keys[0].startsWith('$')) return decodeTag(keys[0], value[keys[0]])
  return decodeObject(value)
}

// Version 2: `{ "$holes": n }` as an element stands for n holes (a sparse array stays sparse).
function decodeArray(list) {
  const out = []
  let length = 0
  for (const item of list) {
    const holes = item !== null && typeof item === 'object' && !Array.isArray(item) && Object.keys(item).length === 1 ? item.$holes : undefined
    if (holes === undefined) out[length++] = decodeValue(item)
    else if (Number.isSafeInteger(holes) && holes > 0 && length + holes <= 2 ** 24) length += holes
    else throw new Error(`bad $holes ${textOf(holes, 40)}`)
  }
  out.length = length
  return out
}

function decodeObject(record) {
  const out = {}
  for (const key of Object.keys(record)) {
    if (key === '__proto__') throw new Error("an object key '__proto__' is not allowed")
    out[key] = decodeValue(record[key])
  }
  return out
}

function decodeTag(tag, payload) {
  switch (tag) {
    case '$bigint': return BigInt(payload)
    case '$number': return payload === '-0' ? -0 : Number(payload)
    case '$undefined': return undefined
    case '$date': return new Date(payload === null ? NaN : payload)
    case '$map': return new Map(payload.map(([k, v]) => [decodeValue(k), decodeValue(v)]))
    case '$set': return new Set(payload.map(decodeValue))
    case '$instance': return decodeObject(payload.fields)
    case '$object': return decodeObject(payload)
    case '$unsupported': return `[${payload}]`
    case '$error': {
      const error = new Error(payload.message)
      error.name = payload.name
      if (payload.stack !== undefined) error.stack = payload.stack
      if (payload.code !== undefined) error.code = decodeValue(payload.code)
      if (payload.cause !== undefined) error.cause = decodeValue(payload.cause)
      return error
    }
    default: throw new Error(`unknown tag ${tag}`)
  }
}

/** One line of readable text for any decoded value (strings quoted, bigint as 12n, Map/Set named). */
export function textOf(value, max = 200) {
  const text = describe(value)
  return text.length > max ? `${text.slice(0, max - 1)}…` : text
}

function describe(value) {
  switch (typeof value) {
    case 'string': return JSON.stringify(value)
    case 'bigint': return `${value}n`
    case 'undefined': return 'undefined'
    case 'number': return Object.is(value, -0) ? '-0' : String(value)
    case 'object': break
    default: return String(value)
  }
  if (value === null) return 'null'
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'Invalid Date' : value.toISOString()
  if (value instanceof Error) return `${value.name}: ${value.message}`
  if (value instanceof Map) return `Map {${[...value].map(([k, v]) => `${describe(k)} => ${describe(v)}`).join(', ')}}`
  if (value instanceof Set) return `Set {${[...value].map(describe).join(', ')}}`
  if (Array.isArray(value)) return `[${value.map(describe).join(', ')}]`
  return `{${Object.keys(value).map((k) => `${JSON.stringify(k)}: ${describe(value[k])}`).join(', ')}}`
}

/** JSON with sorted object keys: equal encoded values give equal text. */
export function canonical(value) {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`
  if (value !== null && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical(value[k])}`).join(',')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

// ---- patches -----------------------------------------------------------------------------------

/** Applies decoded patches copy-on-write: untouched subtrees stay shared with `state`. */
export function applyPatches(state, patches) {
  return patches.reduce((current, patch) => applyPatch(current, patch), state)
}

function applyPatch(state, { op, path, value }) {
  if (path.length === 0) {
    if (op === 'remove') throw new Error('cannot remove the root')
    return value
  }
  return updateIn(state, path, 0, op, value)
}

function updateIn(node, path, i, op, value) {
  const key = path[i]
  if (i === path.length - 1) return changeKey(node, key, op, value)
  const child = node instanceof Map ? node.get(key) : node?.[key]
  if (child === null || typeof child !== 'object') throw new Error(`no container at ${path.slice(0, i + 1).map(String).join('.')}`)
  const copy = shallowCopy(node)
  const next = updateIn(child, path, i + 1, op, value)
  if (copy instanceof Map) copy.set(key, next)
  else copy[key] = next
  return copy
}

function shallowCopy(node) {
  if (Array.isArray(node)) return node.slice()
  if (node instanceof Map) return new Map(node)
  if (node instanceof Set) return new Set(node)
  if (node !== null && typeof node === 'object') return { ...node }
  throw new Error(`cannot patch inside ${textOf(node, 40)}`)
}

function changeKey(node, key, op, value) {
  const copy = shallowCopy(node)
  if (copy instanceof Set) {
    if (op === 'add') copy.add(value)
    else if (op === 'remove') removeMember(copy, value)
    else throw new Error('a Set member cannot be replaced')
  } else if (copy instanceof Map) {
    if (op === 'remove') copy.delete(key)
    else copy.set(key, value)
  } else if (Array.isArray(copy)) {
    // An index inside the array (an add may append), as the library's reader checks: a dropped
    // file cannot make a 4-billion-slot array.
    const index = typeof key === 'string' && /^(0|[1-9]\d{0,15})$/.test(key) ? Number(key) : key
    if (!Number.isInteger(index) || index < 0 || index > copy.length - (op === 'add' ? 0 : 1)) throw new Error(`array key ${textOf(key, 40)} is not an index of an array of ${copy.length}`)
    if (op === 'add') copy.splice(index, 0, value)
    else if (op === 'remove') copy.splice(index, 1)
    else copy[index] = value
  } else if (op === 'remove') delete copy[key]
  else copy[key] = value
  return copy
}

// A member named by value (version-1 files name object members so): the first equal member goes,
// as in the library's reader.
function removeMember(set, value) {
  if (set.delete(value)) return
  if (typeof value === 'object' && value !== null) for (const member of set) if (sameValue(member, value)) return void set.delete(member)
}

function decodePatches(list) {
  return list.map((patch) => {
    const path = patch.path.map(decodeValue)
    if (path.some((key) => RESERVED.has(key))) throw new Error(`'${path.find((key) => RESERVED.has(key))}' is not allowed in a patch path`)
    return { op: patch.op, path, value: decodeValue(patch.value) }
  })
}

/** A patch as one line: `replace total = 103`, `remove items.2`, `add tags = "x"`. */
export function patchLine(patch) {
  const path = patch.path.length === 0 ? '(root)' : patch.path.map((key) => (typeof key === 'object' || typeof key === 'bigint' ? textOf(key, 40) : String(key))).join('.')
  return patch.op === 'remove' && patch.value === undefined ? `remove ${path}` : `${patch.op} ${path} = ${textOf(patch.value, 120)}`
}

// ---- runs --------------------------------------------------------------------------------------

function checkDocument(doc) {
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('not a run document: expected a JSON object')
  if (doc.format !== 'shadowchain/run') throw new Error(`not a shadowchain run document (format ${JSON.stringify(doc.format) ?? 'missing'})`)
  if (doc.version !== 1 && doc.version !== 2 && doc.version !== 3) throw new Error(`unsupported version ${textOf(doc.version, 40)}: this viewer reads versions 1 to 3`)
  if (!Array.isArray(doc.events) || doc.events.length < 2) throw new Error('the document has no events')
  if (typeof doc.run !== 'object' || !Array.isArray(doc.links) || !Array.isArray(doc.middleware) || typeof doc.initial !== 'object') throw new Error('the document lacks its run, links, middleware or initial states')
  doc.events.forEach((event, i) => {
    if (event?.seq !== i) throw new Error(`events[${i}]: expected seq ${i}: events are missing or out of order`)
  })
  if (doc.events.at(-1).type !== 'run.end') throw new Error('the last event is not run.end: the document is truncated')
}

/** Rebuilds the states { ctx, mwctx, metrics } of every event (absent = unchanged, metrics null = none). */
export function rebuildStates(doc) {
  let ctx = decodeValue(doc.initial.ctx)
  let mwctx = decodeValue(doc.initial.mwctx)
  let metrics
  return doc.events.map((event) => {
    if (event.ctx !== undefined) ctx = applyPatches(ctx, decodePatches(event.ctx))
    if (event.mwctx !== undefined) mwctx = applyPatches(mwctx, decodePatches(event.mwctx))
    if (event.metrics === null) metrics = undefined
    else if (event.metrics !== undefined) metrics = applyPatches(metrics, decodePatches(event.metrics))
    return { ctx, mwctx, metrics }
  })
}

function prepareEvent(doc, e) {
  const event = { seq: e.seq, type: e.type, t: BigInt(e.t), raw: e }
  if (e.link !== undefined) event.link = doc.links[e.link]
  if (e.middleware !== undefined) event.middleware = doc.middleware[e.middleware]
  if ('link' in event && event.link === undefined) throw new Error(`events[${e.seq}]: link ${e.link} is not in the links table`)
  if ('middleware' in event && event.middleware === undefined) throw new Error(`events[${e.seq}]: middleware ${e.middleware} is not in the middleware table`)
  if (e.durationNs !== undefined) event.durationNs = BigInt(e.durationNs)
  if (e.error !== undefined) event.error = decodeValue(e.error)
  // Version 3: what a link left in io.metrics that could not be recorded, and its writes not recorded.
  if (e.metricsError !== undefined) event.metricsError = decodeValue(e.metricsError)
  if (e.writesDropped !== undefined) event.writesDropped = e.writesDropped
  if (e.ctx !== undefined) event.patches = decodePatches(e.ctx)
  for (const key of ['hook', 'status', 'op', 'stack', 'parent']) if (e[key] !== undefined) event[key] = e[key]
  if (e.type === 'ctx.write') Object.assign(event, { path: e.path.map(decodeValue), value: decodeValue(e.value) })
  return event
}

/**
 * Names each `fork` event by the link it was cut after (`event.after`, undefined before any
 * link): the last link that completed before it, as `fork({ at })` names the cut.
 */
function nameCuts(events) {
  let last
  for (const event of events) {
    if (event.type === 'link.end' || event.type === 'link.error') last = event.link.name
    if (event.type === 'fork') event.after = last
  }
}

/**
 * Where a run's own events begin, as the terminal waterfall decides: after its parent's cut for
 * a fork, at its fork event for a replay of a fork (it re-ran the fork's links only), else 0.
 */
function ownStart(doc, events) {
  if (doc.run.parent !== undefined) return doc.run.parent.seq + 1
  if (doc.run.replayOf === undefined) return -1
  return events.findLastIndex((event) => event.type === 'fork')
}

/** A document made ready for the viewer: events with BigInt times (ns from start), states, metadata. */
export function prepareRun(doc) {
  checkDocument(doc)
  const events = doc.events.map((e) => prepareEvent(doc, e))
  nameCuts(events)
  const startedAt = BigInt(doc.run.startedAt)
  const states = rebuildStates(doc)
  const forkSeq = ownStart(doc, events)
  return {
    doc,
    id: doc.run.id,
    chainName: doc.run.chainName,
    status: doc.run.status,
    error: doc.run.error,
    startedAt,
    durationNs: BigInt(doc.run.endedAt) - startedAt,
    parent: doc.run.parent,
    replayOf: doc.run.replayOf,
    children: doc.run.children ?? [],
    events,
    states,
    // A fork of a fork holds both fork events: its own is the one right after its parent's cut.
    forkSeq,
    forkAfter: forkSeq > 0 ? events[forkSeq]?.after : undefined,
  }
}

/**
 * How an event's time is shown: ns from the run's start, or for a fork's inherited events (they
 * happened before the fork started, so their `t` is negative) ns from the start of the run they
 * were recorded in, marked `inherited`.
 */
export function eventTime(run, event) {
  if (run.forkSeq > 0 && event.seq < run.forkSeq) {
    const ns = event.t - run.events[0].t
    return { ns, inherited: true, text: `+${formatNs(ns)}` }
  }
  return { ns: event.t, inherited: false, text: event.t < 0n ? formatNs(event.t) : `+${formatNs(event.t)}` }
}

/** How a fork is named: `after 'discount'`, or `before the first link`. */
export function cutLabel(after) {
  return after === undefined ? 'before the first link' : `after '${after}'`
}

// ---- write-by-write states -------------------------------------------------------------------

// Computed when asked for (stepping onto a write), not on load: a link that pushes 100,000 items
// would otherwise cost a copy of its array per push for every document loaded.
const writeCache = new WeakMap()

/**
 * The states to show at an event: the document's, except at a `ctx.write`. The document gives
 * a write the states of its link's `link.start`; the viewer replays the link's writes up to this
 * one on a copy of that ctx, so stepping through them shows each one land. A write it cannot
 * replay (a `sort` comparator is not recorded, say) gives the link's start state, `exact: false`.
 */
export function stateAt(run, seq) {
  const states = run.states[seq]
  if (run.events[seq]?.type !== 'ctx.write') return { ...states, exact: true }
  let cache = writeCache.get(run)
  if (cache === undefined) writeCache.set(run, (cache = new Map()))
  let written = cache.get(seq)
  if (written === undefined) cache.set(seq, (written = replayWrites(run, seq)))
  return { ...states, ctx: written.ctx, exact: written.exact }
}

function replayWrites(run, seq) {
  const link = run.events[seq].link
  let first = seq
  while (first > 0 && !(run.events[first - 1].type === 'link.start' && run.events[first - 1].link === link)) first--
  try {
    // One private copy, changed in place: linear in the state and the writes.
    const ctx = structuredClone(run.states[seq].ctx)
    for (let i = first; i <= seq; i++) {
      const event = run.events[i]
      if (event.type === 'ctx.write' && event.link === link) applyWrite(ctx, event)
    }
    return { ctx, exact: true }
  } catch {
    return { ctx: run.states[seq].ctx, exact: false }
  }
}

const OWN_CONTAINER = new Set(['set.add', 'set.delete', 'set.clear', 'map.clear'])

/** One recorded write, applied in place: `set`, `delete`, an array mutator, a Map or Set change. */
function applyWrite(root, { op, path, value }) {
  if (path.some((key) => RESERVED.has(key))) throw new Error('a reserved key in a write path')
  // The container the write changed: the path itself for array mutators, Set changes and
  // map.clear, its parent for property and Map entry writes.
  const own = op.startsWith('map.') || op.startsWith('set.') ? OWN_CONTAINER.has(op) : op !== 'set' && op !== 'delete'
  let node = root
  for (const key of own ? path : path.slice(0, -1)) {
    node = node instanceof Map ? node.get(key) : node[key]
    if (node === null || typeof node !== 'object') throw new Error('no container')
  }
  const key = path.at(-1)
  // The event keeps its own value: later writes change the copy in the state, not the event.
  const copy = structuredClone(value)
  switch (op) {
    case 'set': node[key] = copy; break
    case 'delete': delete node[key]; break
    case 'map.set': node.set(key, copy); break
    case 'map.delete': node.delete(key); break
    case 'map.clear': case 'set.clear': node.clear(); break
    case 'set.add': node.add(copy); break
    case 'set.delete': removeMember(node, value); break
    default:
      if (!Array.isArray(node) || typeof node[op] !== 'function' || !Array.isArray(copy)) throw new Error(`cannot replay ${op}`)
      node[op](...copy)
  }
}

/** `850 ns`, `12.3 µs`, `4.56 ms`, `1.20 s` (as the terminal waterfall prints them). */
export function formatNs(ns) {
  const n = Number(ns)
  if (Math.abs(n) < 1e3) return `${n} ns`
  if (Math.abs(n) < 1e6) return `${(n / 1e3).toPrecision(3)} µs`
  if (Math.abs(n) < 1e9) return `${(n / 1e6).toPrecision(3)} ms`
  return `${(n / 1e9).toFixed(2)} s`
}

/** What an event is about, for lists: `timing (chain-after #0) · price`. */
export function eventSubject(event) {
  const parts = []
  if (event.middleware) parts.push(`${event.middleware.name} (${event.middleware.position} #${event.middleware.index})`)
  if (event.link) parts.push(event.link.name)
  if (event.type === 'fork') parts.push(`from ${event.parent.runId.slice(0, 8)} ${cutLabel(event.after)}`)
  if (event.type === 'run.end') parts.push(event.status)
  if (event.type === 'ctx.write') parts.push(`${event.op} ${event.path.map(String).join('.')}`)
  return parts.join(' · ')
}

/** The events matching every given filter: `{ type?, link?, middleware? }` (names; '' = any). */
export function filterEvents(run, { type = '', link = '', middleware = '' } = {}) {
  return run.events.filter((e) => (!type || e.type === type) && (!link || e.link?.name === link) && (!middleware || e.middleware?.name === middleware))
}

/** Distinct event types, link names and middleware names of a run, for the filter menus. */
export function filterOptions(run) {
  const unique = (pick) => [...new Set(run.events.map(pick).filter((v) => v !== undefined))]
  return { types: unique((e) => e.type), links: unique((e) => e.link?.name), middleware: unique((e) => e.middleware?.name) }
}

// ---- waterfall ---------------------------------------------------------------------------------

/**
 * One row per link execution, in ns from the run's start: the step (first to last event of the
 * link, middleware included), the link's own start/end, and each middleware call as a segment.
 * A fork shows only its own links (after its `fork` event); `inherited` counts the others.
 */
export function waterfall(run) {
  const own = run.forkSeq === -1 ? run.events : run.events.slice(run.forkSeq)
  const rows = collectRows(own)
  const inherited = run.forkSeq === -1 ? 0 : collectRows(run.events.slice(0, run.forkSeq)).length
  return { rows, inherited, totalNs: run.durationNs }
}

function collectRows(events) {
  const rows = new Map()
  for (const event of events) {
    if (event.link === undefined) continue
    const isCall = event.type.startsWith('middleware')
    const end = event.t + (isCall ? event.durationNs : 0n)
    let row = rows.get(event.link)
    if (row === undefined) {
      row = { name: event.link.name, index: event.link.index, stepStart: event.t, stepEnd: end, linkStart: event.t, linkEnd: event.t, linkNs: 0n, middlewareNs: 0n, status: 'ok', error: undefined, firstSeq: event.seq, lastSeq: event.seq, startSeq: event.seq, endSeq: event.seq, segments: [] }
      rows.set(event.link, row)
    }
    if (event.t < row.stepStart) row.stepStart = event.t
    if (end > row.stepEnd) row.stepEnd = end
    row.lastSeq = event.seq
    if (isCall) {
      row.segments.push({ name: event.middleware.name, position: event.middleware.position, start: event.t, end, seq: event.seq, failed: event.type === 'middleware.error' })
      row.middlewareNs += event.durationNs
    }
    if (event.type === 'link.start') Object.assign(row, { linkStart: event.t, linkEnd: event.t, startSeq: event.seq })
    if (event.type === 'link.end' || event.type === 'link.error') {
      Object.assign(row, { linkEnd: event.t, linkNs: event.durationNs, endSeq: event.seq })
      if (event.type === 'link.error') Object.assign(row, { status: 'error', error: event.error })
    }
  }
  return [...rows.values()]
}

/** Every link execution of a run, inherited ones included (same rows as the waterfall's). */
export function linkRows(run) {
  return collectRows(run.events)
}

// ---- trees -------------------------------------------------------------------------------------

/** A path as a lookup key: `["items","0","price"]` (indexes and Map keys as text). */
export function pathKey(path) {
  return JSON.stringify(path.map((key) => (typeof key === 'object' && key !== null ? textOf(key, Infinity) : String(key))))
}

function typeLabel(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return `array(${value.length})`
  if (value instanceof Map) return `Map(${value.size})`
  if (value instanceof Set) return `Set(${value.size})`
  if (value instanceof Date) return 'Date'
  if (value instanceof Error) return 'Error'
  return typeof value
}

function entriesOf(value) {
  if (value === null || typeof value !== 'object' || value instanceof Date || value instanceof Error) return undefined
  if (value instanceof Map) return [...value]
  if (value instanceof Set) return [...value].map((member, i) => [i, member])
  if (Array.isArray(value)) return value.map((item, i) => [i, item])
  return Object.entries(value)
}

/**
 * A value as tree nodes `{ path, key, type, text, children?, collapsed, changed }`: containers
 * deeper than `open` (default 2) start collapsed, unless they are on a changed path (a `pathKey`
 * in `changed`). At most `limit` children per node; a last `…` node counts the rest.
 */
export function valueTree(value, { changed = new Set(), limit = 200, open = 2 } = {}) {
  return node(value, [], '(root)', 0, { changed, limit, open })
}

function node(value, path, key, depth, options) {
  const { changed, limit, open } = options
  const entries = entriesOf(value)
  const isChanged = changed.has(pathKey(path))
  const out = { path, key, type: typeLabel(value), text: entries === undefined ? textOf(value) : summary(value, entries), collapsed: false, changed: isChanged }
  if (entries === undefined) return out
  out.children = entries.slice(0, limit).map(([k, v]) => node(v, [...path, k], typeof k === 'object' || typeof k === 'bigint' ? textOf(k, 60) : String(k), depth + 1, options))
  if (entries.length > limit) out.children.push({ path: [...path, '…'], key: '…', type: 'more', text: `${entries.length - limit} more`, collapsed: false, changed: false })
  out.collapsed = depth > open && !isChanged && entries.length > 0
  return out
}

function summary(value, entries) {
  if (value instanceof Map || value instanceof Set || Array.isArray(value)) return textOf(value, 80)
  return entries.length === 0 ? '{}' : `{${entries.length} key${entries.length === 1 ? '' : 's'}}`
}

/**
 * The paths an event changed, per state: from its ctx / mwctx / metrics patches. A path and all
 * its ancestors count as changed; a `null` metrics (dropped) or root replace marks the root.
 */
export function changedPaths(event) {
  const raw = event.raw
  const keys = (list) => {
    const out = new Set()
    if (list === undefined) return out
    if (list === null) return out.add(pathKey([]))
    for (const patch of decodePatches(list)) for (let i = 0; i <= patch.path.length; i++) out.add(pathKey(patch.path.slice(0, i)))
    return out
  }
  const ctx = keys(raw.ctx)
  // A write changed its path (or for an array mutator or a Set change, its container).
  if (event.type === 'ctx.write') for (let i = 0; i <= event.path.length; i++) ctx.add(pathKey(event.path.slice(0, i)))
  return { ctx, mwctx: keys(raw.mwctx), metrics: keys(raw.metrics) }
}

// ---- links -------------------------------------------------------------------------------------

/** The row of the link an event belongs to, or for an event between links, of the last one before it. */
export function rowOfEvent(rows, seq) {
  return rows.findLast((row) => row.firstSeq <= seq)
}

/** Before/after of a link: states at its link.start and link.end/error, its patches as lines. */
export function linkDiff(run, row) {
  const before = run.states[row.startSeq].ctx
  const end = run.events[row.endSeq]
  const patches = end.patches ?? []
  const changed = new Set()
  for (const patch of patches) for (let i = 0; i <= patch.path.length; i++) changed.add(pathKey(patch.path.slice(0, i)))
  return { before, after: run.states[row.endSeq].ctx, patches, lines: patches.map(patchLine), changed, error: row.error === undefined ? undefined : textOf(row.error) }
}

/**
 * A fork's edit, shown like a link's change: the ctx at the cut (`before`), after the edit
 * (`after`), the edit's patches as lines; `after` names the link the fork was cut after.
 */
export function forkEdit(run, seq) {
  const event = run.events[seq]
  const patches = event.patches ?? []
  const changed = new Set()
  for (const patch of patches) for (let i = 0; i <= patch.path.length; i++) changed.add(pathKey(patch.path.slice(0, i)))
  return { cutAfter: event.after, before: run.states[Math.max(seq - 1, 0)].ctx, after: run.states[seq].ctx, patches, lines: patches.map(patchLine), changed }
}

/** The `ctx.write` events of a link (capture 'writes'): op, path, value text and call site. */
export function linkWrites(run, row) {
  return run.events
    .filter((e) => e.type === 'ctx.write' && e.link?.name === row.name && e.seq > row.startSeq && e.seq < row.endSeq)
    .map((e) => ({ seq: e.seq, op: e.op, path: e.path.map(String).join('.'), value: textOf(e.value, 120), stack: e.stack }))
}

// ---- lineage and comparison --------------------------------------------------------------------

/**
 * The loaded runs as a forest `{ run, kind: 'root' | 'fork' | 'replay', children }`, linked by
 * `run.parent.runId` (forks) and `run.replayOf.runId` (replays). A run whose parent is not
 * loaded is a root, with `missingParent` set.
 */
export function forkTree(runs) {
  const byId = new Map(runs.map((run) => [run.id, run]))
  const nodes = new Map(runs.map((run) => [run.id, { run, kind: run.parent ? 'fork' : run.replayOf ? 'replay' : 'root', children: [] }]))
  const roots = []
  for (const run of runs) {
    const parentId = run.parent?.runId ?? run.replayOf?.runId
    const node = nodes.get(run.id)
    if (parentId !== undefined && byId.has(parentId) && parentId !== run.id) nodes.get(parentId).children.push(node)
    else {
      if (parentId !== undefined) node.missingParent = parentId
      roots.push(node)
    }
  }
  return roots
}

/** Every link's outcome (row, name, status, error message, canonical patches, patch lines), for comparing runs. */
export function linkOutcomes(run) {
  return collectRows(run.events).map((row) => {
    const end = run.events[row.endSeq]
    const message = row.error === undefined ? undefined : errorMessage(row.error)
    return { row, name: row.name, status: row.status, message, patches: canonical(end.raw.ctx ?? []), after: run.states[row.endSeq].ctx, lines: (end.patches ?? []).map(patchLine) }
  })
}

/** Deep equality of decoded values (Maps and Sets in order, Dates by time, NaN equal to NaN). */
export function sameValue(a, b) {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date && Object.is(a.getTime(), b.getTime())
  if (a instanceof Map || a instanceof Set || b instanceof Map || b instanceof Set) {
    if (a.constructor !== b.constructor || a.size !== b.size) return false
    const right = [...b.entries()]
    return [...a.entries()].every((entry, i) => sameValue(entry, right[i]))
  }
  if (Array.isArray(a) !== Array.isArray(b)) return false
  const keys = Object.keys(a)
  return keys.length === Object.keys(b).length && keys.every((key) => Object.hasOwn(b, key) && sameValue(a[key], b[key]))
}

function errorMessage(error) {
  return error instanceof Error ? error.message || error.name : typeof error === 'string' ? error : textOf(error, Infinity)
}

/**
 * What turns `a` into `b`, as patches (at most `limit`): containers are walked key by key,
 * anything else that differs is one `replace`. For showing a difference, not for applying it.
 */
export function valueDiff(a, b, limit = 50) {
  const out = []
  const walk = (x, y, path) => {
    if (out.length >= limit || sameValue(x, y)) return
    const kind = (v) => (v === null || typeof v !== 'object' || v instanceof Date || v instanceof Error || v instanceof Set ? 'value' : v instanceof Map ? 'map' : Array.isArray(v) ? 'array' : 'object')
    const k = kind(x)
    if (k === 'value' || k !== kind(y)) return void out.push({ op: 'replace', path, value: y })
    const entries = (v) => (k === 'map' ? [...v] : Object.entries(v).map(([key, item]) => [k === 'array' ? Number(key) : key, item]))
    const right = new Map(entries(y))
    for (const [key, item] of entries(x)) {
      if (right.has(key)) walk(item, right.get(key), [...path, key])
      else if (out.length < limit) out.push({ op: 'remove', path: [...path, key] })
      right.delete(key)
    }
    for (const [key, item] of right) if (out.length < limit) out.push({ op: 'add', path: [...path, key], value: item })
  }
  walk(a, b, [])
  return out
}

/** The fork edits of a run: each at the place of the link list where it was made (`position`: the links before it). */
function editsOf(run, outcomes) {
  const edits = []
  for (const event of run.events) {
    if (event.type !== 'fork') continue
    const position = outcomes.filter((o) => o.row.endSeq < event.seq).length
    edits.push({ kind: 'edit', name: 'fork edit', position, seq: event.seq, after: event.after, ctx: run.states[event.seq].ctx, lines: (event.patches ?? []).map(patchLine) })
  }
  return edits
}

const rejectedInput = (run) => (run.error?.code === 'INVALID_INPUT' ? run.error.message : undefined)

/**
 * Everything compared between runs, in the order a run meets it: its input, then each fork
 * edit at its place among the links, and the links. Steps are `{ kind: 'input' | 'edit' |
 * 'link', name, lines, … }`; a link step is its {@link linkOutcomes} entry.
 */
export function compareSteps(run) {
  const links = linkOutcomes(run).map((outcome, position) => ({ kind: 'link', position, ...outcome }))
  const edits = editsOf(run, links)
  const input = { kind: 'input', name: 'input', value: run.states[0].ctx, lines: [], message: rejectedInput(run) }
  const steps = [input]
  for (let i = 0; i <= links.length; i++) {
    steps.push(...edits.filter((edit) => edit.position === i))
    if (i < links.length) steps.push(links[i])
  }
  return steps
}

/**
 * Where two runs first differ, in the order a run meets it (as the library's `compareRuns`):
 * the input (`'input'`: different inputs; `'error'` without a link: rejected on one side only, or
 * with another message), then at each place a fork edit that leaves the runs in different states
 * (`'fork'`), then link by link (`'link'`: another link or a missing one, `'error'`,
 * `'patches'`), last the runs' statuses (`'status'`). Returns `{ reason, index, link?, a, b,
 * lines? }`: `index` is the link's place (for `'fork'`, the place of the link after the edit);
 * `a` / `b` each side's step (see {@link compareSteps}), undefined where a side has none;
 * `lines` what turns a's state into b's (input, fork). `undefined` when the runs agree.
 */
export function firstDivergence(runA, runB) {
  const stepsA = compareSteps(runA)
  const stepsB = compareSteps(runB)
  const [inputA, inputB] = [stepsA[0], stepsB[0]]
  if (inputA.message !== undefined || inputB.message !== undefined) {
    if (inputA.message === inputB.message) return undefined
    return { reason: 'error', index: 0, a: inputA, b: inputB }
  }
  if (!sameValue(inputA.value, inputB.value)) return { reason: 'input', index: 0, a: inputA, b: inputB, lines: valueDiff(inputA.value, inputB.value).map(patchLine) }
  const a = stepsA.filter((step) => step.kind === 'link')
  const b = stepsB.filter((step) => step.kind === 'link')
  const editsA = stepsA.filter((step) => step.kind === 'edit')
  const editsB = stepsB.filter((step) => step.kind === 'edit')
  const count = Math.max(a.length, b.length)
  for (let i = 0; i <= count; i++) {
    // The last edit at a place is the state the run went on with.
    const editA = editsA.findLast((edit) => edit.position === i)
    const editB = editsB.findLast((edit) => edit.position === i)
    if (editA !== undefined || editB !== undefined) {
      const stateOf = (edit, links, input) => edit?.ctx ?? (i === 0 ? input.value : links[i - 1]?.after)
      const [stateA, stateB] = [stateOf(editA, a, inputA), stateOf(editB, b, inputB)]
      if (!sameValue(stateA, stateB)) return { reason: 'fork', index: i, link: (b[i - 1] ?? a[i - 1])?.name, a: editA, b: editB, lines: valueDiff(stateA, stateB).map(patchLine) }
    }
    if (i === count) break
    const [x, y] = [a[i], b[i]]
    if (x === undefined || y === undefined || x.name !== y.name) return { reason: 'link', index: i, link: (y ?? x).name, a: x, b: y }
    if (x.status !== y.status || x.message !== y.message) return { reason: 'error', index: i, link: y.name, a: x, b: y }
    // Patches may list the same changes in another order (a stubbed link replays them): the
    // states they lead to decide.
    if (x.status === 'ok' && x.patches !== y.patches && !sameValue(x.after, y.after)) return { reason: 'patches', index: i, link: y.name, a: x, b: y }
  }
  return runA.status === runB.status ? undefined : { reason: 'status', index: a.length, a: undefined, b: undefined }
}
