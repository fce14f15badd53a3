// The devtools page: vanilla DOM over the viewer's model (model.js, bundled from the library's
// src/present/viewer/ by `npm run build`): decoding, validation, comparison, waterfall rows and
// formatting are the library's own; this file only draws. Every value reaches the page through
// textContent (never innerHTML), so whatever a run recorded is shown as text, never run.
import {
  attemptsLabel, changedPaths, checkRun, compareSteps, cutLabel, eventSubject, eventTime, filterEvents, filterOptions, firstDivergence, forkEdit, forkTree, formatDuration,
  isWithin, linkDiff, linkWrites, nestedIdOf, nestedOfRow, nestedView, openRun, pathKey, remoteInfo, rowOfEvent, setRemoteRuns, shortRunId, stateAt, valueText, valueTree, visibleEvents,
} from './model.js'

const $ = (id) => document.getElementById(id)
// run: the run chosen (picker, compare); view: the run of the selected event, `run` or a nested
// chain's run inside it (DESIGN §9); expanded: ids of the nested runs shown in place; stops: the
// events the slider and the arrow keys step through (run's, with expanded nested runs' in place).
// The event list and the waterfall are virtual: `entries` and `lines` are everything they hold,
// the DOM only the rows in view (plus OVERSCAN), drawn again as they scroll: a 100,000-event run
// costs the page what a 50-event one does.
const state = {
  runs: [], sources: new Map(), live: { on: false, runs: 0, dropped: 0 }, run: undefined, view: undefined, seq: 0, zoom: 1, filters: { type: '', link: '', middleware: '' }, compareId: '', toggled: new Map(), items: new Map(), expanded: new Set(), stops: { length: 0, at: () => undefined, indexOf: () => -1 }, stopAt: 0,
  compared: '', entries: { length: 0, at: () => undefined }, entryOf: () => -1, eventWindow: '', lines: [], lineOf: new Map(), lineWindow: '', selectedLine: undefined,
}

/** Height of one event of the list and of one waterfall line, px (style.css sets the same). */
const EVENT_HEIGHT = 20
const LINE_HEIGHT = 24
/** Rows drawn above and below what is in view. */
const OVERSCAN = 24
/** Most ctx.write events listed for one link, and most steps per side in the comparison. */
const MOST_WRITES = 500
const MOST_STEPS = 200
/** Runs longer than this (events) are compared when asked, not as soon as they are shown. */
const COMPARE_AT_ONCE = 20_000
/** Link names suggested by the link filter. */
const MOST_SUGGESTIONS = 50

/** createElement with text children only: `h('li', { className: 'x', dataset: { seq: 1 } }, 'text', child)`. */
function h(tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [key, value] of Object.entries(props)) {
    if (key === 'dataset') Object.assign(el.dataset, value)
    else if (key.startsWith('on')) el.addEventListener(key.slice(2), value)
    else el[key] = value
  }
  for (const child of children.flat()) if (child !== undefined && child !== null && child !== false) el.append(child instanceof Node ? child : document.createTextNode(String(child)))
  return el
}

const fill = (el, ...children) => el.replaceChildren(...children.flat().filter((c) => c !== undefined && c !== null && c !== false))
const runById = (id) => state.runs.find((run) => run.id === id)
const short = shortRunId
const relation = (run) =>
  run.parent ? `fork of ${short(run.parent.runId)} ${cutLabel(run.forkAfter)}` : run.replayOf ? `replay of ${short(run.replayOf.runId)}` : 'original'
const runLabel = (run) => `${run.chainName} · ${short(run.id)} · ${relation(run)} · ${run.status}`

// ---- loading -------------------------------------------------------------------------------------

function showErrors(errors) {
  fill($('errors'), errors.map((text) => h('span', {}, text)))
  $('errors').hidden = errors.length === 0
}

/**
 * Opens documents (served or dropped: the same path) and shows them; ones that cannot be read are
 * reported. Served and pushed documents were validated by the server; a dropped file is
 * validated by the library in a worker (`check`), and taken off the page if it is refused.
 */
function addDocuments(entries, errors = [], show = false) {
  const opened = []
  let first
  for (const { source, load, check } of entries) {
    try {
      const run = openRun(load())
      first ??= run
      if (check !== undefined) opened.push({ run, source, check })
      state.sources.set(run.id, source)
      const at = state.runs.findIndex((other) => other.id === run.id)
      if (at === -1) state.runs.push(run)
      else state.runs[at] = run
    } catch (error) {
      errors.push(`${source}: ${error?.message ?? error}`)
    }
  }
  performance.mark('shadowchain:opened')
  showErrors(errors)
  if (state.runs.length === 0) return
  // Runs of several services that share a trace: each remote run opens under the link that called it.
  setRemoteRuns(state.runs.map((run) => ({ run, origin: state.sources.get(run.id) })))
  // A dropped file is shown; a live update keeps what is looked at.
  const keep = show && first !== undefined ? undefined : state.run && runById(state.run.id)
  const roots = forkTree(state.runs).map((node) => node.run)
  selectRun(keep ?? (show ? first : undefined) ?? roots.find((run) => remoteInfo(run.id) === undefined) ?? roots[0], keep ? state.seq : undefined)
  for (const { run, source, check } of opened) validate(run, source, check)
}

/** No run left to show (every dropped file was refused). */
function clearRun() {
  Object.assign(state, { run: undefined, view: undefined, entries: { length: 0, at: () => undefined }, lines: [], stops: { length: 0, at: () => undefined, indexOf: () => -1 } })
  for (const id of ['run-picker', 'run-summary', 'fork-tree', 'event-list', 'waterfall', 'waterfall-note', 'position', 'state-title', 'inspector', 'link-title', 'link-panel', 'compare', 'compare-picker']) fill($(id))
}

// ---- validation of dropped files, off the page's thread ------------------------------------------

let checker
const checks = new Map()

/** Validates a dropped file's text with the library (`checkRun`, in check.js's worker); a refused run leaves the page. */
function validate(run, source, text) {
  const refused = (message) => {
    if (!state.runs.includes(run)) return
    state.runs = state.runs.filter((other) => other !== run)
    const errors = [...$('errors').querySelectorAll('span')].map((span) => span.textContent)
    showErrors([...errors, `${source}: ${message}`])
    if (state.runs.length === 0) return clearRun()
    setRemoteRuns(state.runs.map((r) => ({ run: r, origin: state.sources.get(r.id) })))
    if (state.run === run) selectRun(state.runs[0])
    else renderRun()
  }
  try {
    checker ??= new Worker('/viewer/check.js', { type: 'module' })
    checker.onmessage = ({ data }) => {
      const pending = checks.get(data.id)
      checks.delete(data.id)
      performance.mark('shadowchain:checked')
      if (pending !== undefined && data.error !== undefined) pending(data.error)
    }
    checks.set(run.id + source, refused)
    checker.postMessage({ id: run.id + source, text })
  } catch {
    // No worker here: validated on this thread, after the page has drawn.
    setTimeout(() => {
      try {
        checkRun(JSON.parse(text))
      } catch (error) {
        refused(error?.message ?? String(error))
      }
    }, 0)
  }
}

async function loadServed() {
  try {
    const response = await fetch('/api/runs')
    if (!response.ok) throw new Error(`the server answered ${response.status}`)
    // The server validated each file again; the ones that no longer are run files come as errors.
    const text = await response.text()
    performance.mark('shadowchain:read')
    const { runs, errors, sources, live } = JSON.parse(text)
    performance.mark('shadowchain:parsed')
    addDocuments(runs.map((doc, i) => ({ source: sources?.[i] ?? `run ${i + 1}`, load: () => doc })), errors)
    markInteractive()
    if (live === true) listen()
  } catch (error) {
    showErrors([`could not load the served runs: ${error?.message ?? error}`])
  }
}

/** Marks (performance.mark) when the page has drawn what it loaded and can take input: after the next frame. */
function markInteractive() {
  requestAnimationFrame(() => setTimeout(() => performance.mark('shadowchain:interactive'), 0))
}

// ---- live view (DESIGN §11): runs, and durable runs' steps, pushed as server-sent events ----------

/** How many runs a live page keeps. */
const LIVE_KEEP = 200

/** Connects to the live stream: the recent runs come first, then each run as it happens. */
function listen() {
  state.live.on = true
  const pending = new Map()
  let timer
  const flush = () => {
    timer = undefined
    const docs = [...pending.values()]
    pending.clear()
    // A page left open keeps the latest runs only (the one looked at stays).
    const over = state.runs.length + docs.length - LIVE_KEEP
    if (over > 0) state.runs = state.runs.filter((run, i) => i >= over || run === state.run)
    addDocuments(docs.map((doc) => ({ source: `live run ${short(String(doc?.run?.id ?? ''))}`, load: () => doc })), [])
    renderLive()
  }
  // Several pushes in a burst are drawn once.
  const take = (doc) => {
    pending.set(String(doc?.run?.id), doc)
    timer ??= setTimeout(flush, 50)
  }
  const events = new EventSource('/api/live')
  events.addEventListener('run', (e) => ((state.live.runs += 1), take(JSON.parse(e.data))))
  events.addEventListener('step', (e) => take(JSON.parse(e.data).document))
  events.addEventListener('dropped', (e) => ((state.live.dropped = JSON.parse(e.data).dropped), renderLive()))
  events.onopen = () => (($('live').dataset.state = 'connected'), renderLive())
  events.onerror = () => (($('live').dataset.state = 'reconnecting'), renderLive())
  renderLive()
}

function renderLive() {
  const el = $('live')
  el.hidden = !state.live.on
  const dropped = state.live.dropped > 0 ? ` · ${state.live.dropped} dropped (this page was too slow)` : ''
  fill(el, `● live${el.dataset.state === 'reconnecting' ? ' (reconnecting)' : ''} · ${state.runs.length} run${state.runs.length === 1 ? '' : 's'}${dropped}`)
}

async function loadFiles(files) {
  const texts = await Promise.all([...files].map(async (file) => ({ name: file.name, text: await file.text() })))
  performance.mark('shadowchain:read')
  addDocuments(texts.map(({ name, text }) => ({ source: name, load: () => JSON.parse(text), check: text })), [], true)
  markInteractive()
}

// ---- selection -----------------------------------------------------------------------------------

/** A loaded parent, replayed original, fork or replay of a run: what it is compared with first. */
const relatedRun = (run) =>
  state.runs.find((o) => o !== run && [run.parent?.runId, run.replayOf?.runId].includes(o.id)) ??
  state.runs.find((o) => o.parent?.runId === run.id || o.replayOf?.runId === run.id)

function selectRun(run, seq) {
  state.run = run
  state.view = run
  state.expanded = new Set()
  state.stops = stopsOf(run)
  state.items = new Map()
  state.filters = { type: '', link: '', middleware: '' }
  if (!runById(state.compareId) || state.compareId === run.id) state.compareId = relatedRun(run)?.id ?? ''
  $('event-list').scrollTop = 0
  $('waterfall').scrollTop = 0
  renderRun()
  select(seq ?? Math.max(run.forkSeq, 0))
}

/**
 * What the slider and the arrow keys step through, as `{ length, at(i), indexOf(run, seq) }`: the
 * run's events (nothing built for them), or with expanded nested runs, their events in place.
 */
function stopsOf(run) {
  if (state.expanded.size === 0) {
    const length = run.events.length
    return { length, at: (i) => (i >= 0 && i < length ? { run, seq: i } : undefined), indexOf: (r, seq) => (r === run ? seq : -1) }
  }
  const stops = visibleEvents(run, state.expanded)
  return { length: stops.length, at: (i) => stops[i], indexOf: (r, seq) => stops.findIndex((stop) => stop.run === r && stop.seq === seq) }
}

/** Where the stop of event `seq` of `run` is among state.stops (a guess first: the last one, or the next). */
function stopIndex(run, seq) {
  const at = (i) => state.stops.at(i)?.run === run && state.stops.at(i)?.seq === seq
  for (const guess of [state.stopAt, state.stopAt + 1, state.stopAt - 1]) if (at(guess)) return guess
  return state.stops.indexOf(run, seq)
}

/** Selects event `seq` of `run` (the chosen run, or a nested run inside it). */
function select(seq, run = state.run) {
  // Where the list and the waterfall are, read before anything changes, and both scrolled before
  // anything is drawn: one layout a step.
  const seen = { list: sight($('event-list')), box: sight($('waterfall')) }
  state.view = run
  state.seq = Math.min(Math.max(seq, 0), run.events.length - 1)
  state.stopAt = Math.max(stopIndex(run, state.seq), 0)
  const event = run.events[state.seq]
  const row = rowOfEvent(run.allRows, state.seq)
  state.selectedLine = row !== undefined && event.t >= 0n ? lineKey(run, row.name) : undefined
  const listTop = scrolledTo($('event-list'), state.entryOf(run, state.seq), EVENT_HEIGHT, 1, seen.list)
  const boxTop = scrolledTo($('waterfall'), state.selectedLine === undefined ? -1 : (state.lineOf.get(state.selectedLine) ?? -1), LINE_HEIGHT, 2, seen.box)
  showEvent(run, state.seq, { top: listTop, height: seen.list.height })
  showLine(state.selectedLine, { top: boxTop, height: seen.box.height })
  $('slider').value = String(state.stopAt)
  fill($('position'), `event ${state.seq} / ${run.events.length - 1}`, run.host && ` · nested run ${short(run.id)} '${run.chainName}'`)
  placeCursor(event)
  // A state is rebuilt from the document when it is shown: a damaged file fails here, said in place.
  try {
    renderInspector(event)
  } catch (error) {
    fill($('inspector'), h('p', { className: 'err', dataset: { testid: 'state-error' } }, `cannot show this state: ${error?.message ?? error}`))
  }
  try {
    // Stepping inside one link: its panel is what it was.
    const shown = `${run.id}:${row?.name}:${row?.startSeq}:${event.type === 'fork' ? state.seq : ''}`
    if (shown !== state.linkShown) renderLink(row)
    state.linkShown = shown
  } catch (error) {
    state.linkShown = undefined
    fill($('link-panel'), h('p', { className: 'err' }, `cannot show this link: ${error?.message ?? error}`))
  }
}

/** Steps through the events shown: the run's, and those of its expanded nested runs in place. */
function step(delta) {
  const at = stopIndex(state.view, state.seq)
  const next = state.stops.at(Math.min(Math.max(at + delta, 0), state.stops.length - 1))
  if (next !== undefined) select(next.seq, next.run)
}

/** Expands or collapses nested run `id` of `run` in place (the waterfall and the event list). */
function toggleNested(run, id) {
  let [seq, view] = [state.seq, state.view]
  if (state.expanded.has(id)) {
    state.expanded.delete(id)
    // A selection inside the collapsed run moves to the event that names it.
    const child = nestedView(run, id)
    if (child !== undefined && isWithin(view, child)) [seq, view] = [child.host.seq, run]
  } else state.expanded.add(id)
  state.stops = stopsOf(state.run)
  $('slider').max = String(state.stops.length - 1)
  renderEvents()
  renderWaterfall()
  select(seq, view)
}

/** The ▸/▾ button of a nested run (lazily drawn: nothing of a collapsed run is built). */
function expander(run, id, label) {
  const open = state.expanded.has(id)
  return h('button', { className: `expander${open ? ' open' : ''}`, type: 'button', title: `${open ? 'collapse' : 'expand'} nested run ${short(id)}`, ariaExpanded: String(open), dataset: { testid: 'nested-toggle', child: id }, onclick: (e) => (e.stopPropagation(), toggleNested(run, id)) },
    open ? '▾' : '▸', label && ` ${label}`)
}

// ---- run-level panels ----------------------------------------------------------------------------

function renderRun() {
  const run = state.run
  state.linkShown = undefined
  fill($('run-picker'), state.runs.map((r) => h('option', { value: r.id, selected: r === run }, runLabel(r))))
  const links = run.rows.length + run.inherited
  fill($('run-summary'), h('b', { className: `status ${run.status}` }, run.status), ` ${formatDuration(run.durationNs)} · ${links} links · ${run.events.length} events`, run.error && h('span', { className: 'err' }, ` · ${run.error.code}: ${run.error.message}`),
    run.stoppedBy && h('span', { className: 'stopped', dataset: { testid: 'stopped-by' } }, ` · stopped by #${run.stoppedBy.index} '${run.stoppedBy.name}'${run.stoppedBy.reason === undefined ? '' : `: ${run.stoppedBy.reason}`}`))
  renderForkTree()
  renderFilters()
  renderEvents()
  renderWaterfall()
  try {
    renderCompare()
  } catch (error) {
    fill($('compare'), h('p', { className: 'err' }, `cannot compare: ${error?.message ?? error}`))
  }
  $('slider').max = String(state.stops.length - 1)
}

function renderForkTree() {
  const item = (node) =>
    h('li', {},
      h('button', { className: node.run === state.run ? 'current' : '', dataset: { testid: 'fork-node', runId: node.run.id }, onclick: () => selectRun(node.run) },
        h('b', {}, short(node.run.id)), ` ${node.kind === 'root' ? node.run.chainName : node.kind === 'fork' ? `fork ${cutLabel(node.run.forkAfter)}` : 'replay'} `,
        h('span', { className: `status ${node.run.status}` }, node.run.status), node.missingParent && h('small', {}, ` (parent ${short(node.missingParent)} not loaded)`)),
      node.children.length > 0 && h('ul', {}, node.children.map(item)))
  fill($('fork-tree'), forkTree(state.runs).map(item))
}

function renderFilters() {
  const options = filterOptions(state.run)
  const menu = (id, key, all, values) => {
    fill($(id), h('option', { value: '' }, all), values.map((v) => h('option', { value: v, selected: state.filters[key] === v }, v)))
    $(id).onchange = () => {
      state.filters[key] = $(id).value
      renderEvents()
      select(state.seq, state.view)
    }
  }
  menu('filter-type', 'type', 'all types', options.types)
  menu('filter-middleware', 'middleware', 'all middleware', options.middleware)
  // A run may have 25,000 links: a box to type in, its suggestions the first that match.
  const box = $('filter-link')
  box.value = state.filters.link
  const suggest = () => {
    const text = box.value.trim()
    const matching = []
    for (const name of options.links) if (name.includes(text) && matching.push(name) >= MOST_SUGGESTIONS) break
    fill($('filter-links'), matching.map((name) => h('option', { value: name })))
  }
  suggest()
  box.oninput = suggest
  box.onchange = () => {
    state.filters.link = box.value.trim()
    renderEvents()
    select(state.seq, state.view)
  }
}

/** Shorter than eventSubject for the list: the middleware's name without its position. */
const listSubject = (event) => (event.middleware ? [event.middleware.name, event.link?.name ?? event.middleware.position].join(' · ') : eventSubject(event))

/** Builds the list's entries (the run's events that match the filters, expanded nested runs' in place) and draws the ones in view. */
function renderEvents() {
  const run = state.run
  const { type, link, middleware } = state.filters
  if (state.expanded.size === 0 && !type && !link && !middleware) {
    // Every event of the run, in order: nothing to build.
    const length = run.events.length
    state.entries = { length, at: (i) => ({ run, event: run.events[i], depth: 0 }) }
    state.entryOf = (r, seq) => (r === run ? seq : -1)
  } else {
    const entries = []
    const index = new Map()
    addEntries(run, 0, entries, index)
    state.entries = { length: entries.length, at: (i) => entries[i] }
    state.entryOf = (r, seq) => index.get(r)?.[seq] ?? -1
  }
  state.eventWindow = ''
  drawEvents()
}

/** A run's events as list entries; an expanded nested run's follow the event that names it, indented. */
function addEntries(run, depth, entries, index) {
  const at = new Int32Array(run.events.length).fill(-1)
  index.set(run, at)
  for (const event of filterEvents(run, state.filters)) {
    at[event.seq] = entries.length
    entries.push({ run, event, depth })
    const id = nestedIdOf(run, event.seq)
    const child = id !== undefined && state.expanded.has(id) ? nestedView(run, id) : undefined
    if (child !== undefined) addEntries(child, depth + 1, entries, index)
  }
}

/**
 * The rows of a virtual list to draw: [first, end) of `count` rows of `height` px in `box`, the
 * rows in view and OVERSCAN more each side. The rows drawn (`drawn`: "first:end:count") are kept
 * while what is in view stays a few rows inside them, so that stepping or scrolling by a row
 * redraws nothing most of the time.
 */
function windowOf(box, count, height, drawn, seen = sight(box)) {
  const shown = seen.height || 800
  // Scrolled past what is left (the list just got shorter): as the box will be, at its end.
  const top = Math.max(0, Math.min(seen.top, count * height - shown))
  const [from, to] = [Math.floor(top / height), Math.min(count, Math.ceil((top + shown) / height))]
  const [a, b, n] = drawn.split(':').map(Number)
  const margin = OVERSCAN / 4
  if (n === count && (a === 0 || from - a >= margin) && (b === count || b - to >= margin) && a <= from && to <= b) return [a, b]
  return [Math.max(0, from - OVERSCAN), Math.min(count, to + OVERSCAN)]
}

/** Where a scrolled box is and how much of it shows (reading it lays the page out if it changed since). */
const sight = (box) => ({ top: box.scrollTop, height: box.clientHeight })

/** Draws the list's entries in view (again only when what is in view changed). */
function drawEvents(force = false, seen = undefined) {
  const list = $('event-list')
  const count = state.entries.length
  if (count === 0) {
    state.items = new Map()
    return fill(list, h('li', { className: 'empty' }, 'no event matches the filters'))
  }
  const [first, end] = windowOf(list, count, EVENT_HEIGHT, force ? '' : state.eventWindow, seen)
  const key = `${first}:${end}:${count}`
  if (!force && key === state.eventWindow) return
  state.eventWindow = key
  state.items = new Map()
  // Spacers stand for the events above and below (not padding: it would stretch the list's box).
  const spacer = (rows) => {
    const li = h('li', { className: 'spacer', ariaHidden: 'true' })
    li.style.height = `${rows * EVENT_HEIGHT}px`
    return li
  }
  const items = [first > 0 && spacer(first)]
  for (let i = first; i < end; i++) items.push(eventItem(state.entries.at(i)))
  items.push(end < count && spacer(count - end))
  fill(list, items)
}

function eventItem({ run, event, depth }) {
  // A fork's inherited events are timed from the start of the run they were recorded in.
  const time = eventTime(run, event)
  const id = nestedIdOf(run, event.seq)
  const selected = run === state.view && event.seq === state.seq
  const li = h('li', { className: `ev ${event.type.replace('.', '-')}${event.error === undefined ? '' : ' failed'}${time.inherited ? ' inherited' : ''}${depth > 0 ? ' nested' : ''}${selected ? ' selected' : ''}`, dataset: { testid: 'event', seq: event.seq, type: event.type, run: run.id }, onclick: () => select(event.seq, run) },
    h('span', { className: 'seq' }, event.seq), h('span', { className: 'time', dataset: { testid: 'event-time' }, title: time.inherited ? 'inherited from the parent: time since the parent run started' : run.host ? 'time since the outermost run started' : 'time since the run started' }, time.text),
    h('span', { className: 'type' }, event.type), h('span', { className: 'who', title: eventSubject(event) }, id !== undefined && expander(run, id, ''), listSubject(event)),
    event.durationNs !== undefined && h('span', { className: 'dur' }, formatDuration(event.durationNs)))
  if (depth > 0) li.style.setProperty('--depth', String(depth))
  state.items.set(`${run.id}:${event.seq}`, li)
  return li
}

/**
 * Scrolls `box` so that row `at` (of `rows` rows of `height` px) is in view, the least it takes;
 * returns where it is scrolled to (`seen`: where it was, as read before).
 */
function scrolledTo(box, at, height, rows, seen) {
  if (at < 0) return seen.top
  const [top, bottom] = [at * height, (at + rows) * height]
  const to = top < seen.top ? top : bottom > seen.top + seen.height ? bottom - seen.height : seen.top
  if (to !== seen.top) box.scrollTop = to
  return to
}

/** Marks the selected event in the list (scrolled to it: `seen`), drawn first if it was not. */
function showEvent(run, seq, seen = sight($('event-list'))) {
  const list = $('event-list')
  if (state.entryOf(run, seq) >= 0) drawEvents(false, seen)
  for (const item of list.querySelectorAll('.selected')) item.classList.remove('selected')
  state.items.get(`${run.id}:${seq}`)?.classList.add('selected')
}

// ---- waterfall -----------------------------------------------------------------------------------

const fraction = (t, total) => (total <= 0n ? 0 : Math.min(Math.max(Number(t) / Number(total), 0), 1))
const pct = (f) => `${(f * 100).toFixed(4)}%`

function bar(className, start, end, total, title, onclick) {
  const el = h('div', { className: `bar ${className}`, title, onclick })
  el.style.left = pct(fraction(start, total))
  el.style.width = pct(fraction(end, total) - fraction(start, total))
  return el
}

function renderWaterfall() {
  const { rows, totalNs, inherited } = state.run
  fill($('waterfall-note'), `${rows.length} link${rows.length === 1 ? '' : 's'}, ${formatDuration(totalNs)}${inherited ? ` · ${inherited} inherited from the parent, not shown` : ''}`)
  const ticks = [0, 0.25, 0.5, 0.75, 1].map((f) => {
    const tick = h('span', { className: 'tick' }, formatDuration(BigInt(Math.round(Number(totalNs) * f))))
    tick.style.left = pct(f)
    return tick
  })
  state.lines = []
  state.lineOf = new Map()
  addLines(state.run, rows, 0)
  const canvas = h('div', { className: 'canvas' }, h('div', { className: 'row axis' }, h('div', { className: 'label' }, 'time'), h('div', { className: 'track' }, ticks)), h('div', { id: 'lines' }), h('div', { id: 'cursor' }))
  canvas.style.setProperty('--zoom', String(state.zoom))
  fill($('waterfall'), canvas)
  state.lineWindow = ''
  drawLines()
}

const lineKey = (run, name) => `${run.id}\u0000${name}`

/**
 * The waterfall's lines of `run` (a nested run's on its outermost run's axis), its expanded nested
 * runs in place: one line per link, per branch lane, per nested run's head (then its own lines).
 */
function addLines(run, rows, depth) {
  for (const row of rows) {
    state.lineOf.set(lineKey(run, row.name), state.lines.length)
    state.lines.push({ kind: row.status === 'skipped' ? 'skipped' : 'row', run, row, depth })
    if (row.status === 'skipped' || (row.branches.length === 0 && row.child === undefined && row.span === undefined && row.failedAttempts.length === 0)) continue
    // A parallel step's branches: one lane each under its row (click selects the branch's end).
    const nested = nestedOfRow(run, row)
    const under = (place, label) => nested.filter((n) => n.place === place && (label === undefined || n.label === label))
    addNested(run, under('link'), depth)
    addNested(run, under('remote', ''), depth)
    for (const lane of row.branches) {
      state.lines.push({ kind: 'lane', run, row, lane, depth, nested: under('branch', lane.name), remote: under('remote', lane.name) })
      addNested(run, under('branch', lane.name), depth)
      addNested(run, under('remote', lane.name), depth)
    }
    addNested(run, under('attempt'), depth)
  }
}

/** An expanded nested (or remote) run under the line that made it: a head line, then its own lines, indented. */
function addNested(run, entries, depth) {
  for (const { id } of entries) {
    if (!state.expanded.has(id)) continue
    const child = nestedView(run, id)
    if (child === undefined) continue
    state.lines.push({ kind: 'head', run, child, depth: depth + 1 })
    addLines(child, child.rows, depth + 1)
  }
}

/** Draws the waterfall's lines in view (again only when what is in view changed). */
function drawLines(force = false, seen = undefined) {
  const box = $('waterfall')
  const holder = $('lines')
  if (!holder) return
  const count = state.lines.length
  const [first, end] = windowOf(box, count, LINE_HEIGHT, force ? '' : state.lineWindow, seen)
  const key = `${first}:${end}:${count}`
  if (!force && key === state.lineWindow) return
  state.lineWindow = key
  holder.style.paddingTop = `${first * LINE_HEIGHT}px`
  holder.style.height = `${count * LINE_HEIGHT}px`
  const out = []
  for (let i = first; i < end; i++) out.push(drawLine(state.lines[i]))
  fill(holder, out)
}

/** Marks the selected link's line (scrolled to it, below the sticky time axis: `seen`), drawn first if it was not. */
function showLine(key, seen = sight($('waterfall'))) {
  const box = $('waterfall')
  if (key !== undefined && state.lineOf.has(key)) drawLines(false, seen)
  for (const el of box.querySelectorAll('.row[data-testid="waterfall-row"]')) el.classList.toggle('selected', key !== undefined && lineKey({ id: el.dataset.run }, el.dataset.link) === key)
}

function drawLine(line) {
  const { run, row, depth } = line
  const totalNs = state.run.totalNs
  const indent = (el) => (depth > 0 && (el.classList.add('in-nested'), el.style.setProperty('--depth', String(depth))), el)
  if (line.kind === 'head') return indent(nestedHead(line.child, totalNs))
  if (line.kind === 'skipped') {
    // A skipped link never ran: greyed, no bars, its reason in place of its durations.
    return indent(h('div', { className: `row skipped${lineKey(run, row.name) === state.selectedLine ? ' selected' : ''}`, dataset: { testid: 'waterfall-row', link: row.name, run: run.id }, onclick: () => select(row.endSeq, run) },
      h('div', { className: 'label' },
        h('span', { className: 'idx' }, row.index), h('span', { className: 'name', dataset: { testid: 'link-name' } }, row.name),
        h('span', { className: 'skip', dataset: { testid: 'skip-reason' } }, `skipped: ${row.reason === 'stopped' ? 'stopped' : 'when'}`)),
      h('div', { className: 'track' })))
  }
  if (line.kind === 'lane') {
    const { lane } = line
    return indent(h('div', { className: `row lane ${lane.status}`, dataset: { testid: 'branch-lane', link: row.name, branch: lane.name, run: run.id }, onclick: () => select(lane.endSeq, run) },
      h('div', { className: 'label' },
        h('span', { className: 'idx' }, lane === row.branches.at(-1) ? '└' : '├'), h('span', { className: 'name', dataset: { testid: 'branch-name' } }, lane.name),
        line.nested.map((n) => expander(run, n.id, 'nested')), line.remote.map((n) => expander(run, n.id, remoteLabel(n.id))),
        h('span', { className: 'dur', dataset: { testid: 'branch-duration' } }, formatDuration(lane.end - lane.start)),
        lane.status === 'error' && h('span', { className: 'err' }, ` ✗ ${valueText(lane.error, 60)}`)),
      h('div', { className: 'track' }, bar(`branch ${lane.status}`, lane.start, lane.end, totalNs, `branch ${lane.name} ${formatDuration(lane.end - lane.start)}`))))
  }
  const nested = nestedOfRow(run, row)
  const under = (place, label) => nested.filter((n) => n.place === place && (label === undefined || n.label === label))
  const track = h('div', { className: 'track' },
    bar('step', row.stepStart, row.stepEnd, totalNs, `step ${formatDuration(row.stepEnd - row.stepStart)}`),
    row.segments.map((s) => bar(`mw${s.failed ? ' failed' : ''}`, s.start, s.end, totalNs, `${s.name} (${s.position}) ${formatDuration(s.end - s.start)}${s.failed ? ' ✗ failed' : ''}`, (e) => (e.stopPropagation(), select(s.seq, run)))),
    bar(`link ${row.status}`, row.linkStart, row.linkEnd, totalNs, `${row.name} ${formatDuration(row.linkNs)}`),
    // Each failed attempt of a retried link is its own segment, over the link's bar.
    row.failedAttempts.map((a) => bar('attempt failed', a.start, a.end, totalNs, `attempt ${a.attempt} ✗ ${valueText(a.error, 60)} ${formatDuration(a.end - a.start)}`, (e) => (e.stopPropagation(), select(a.seq, run)))))
  return indent(h('div', { className: `row ${row.status}${lineKey(run, row.name) === state.selectedLine ? ' selected' : ''}`, dataset: { testid: 'waterfall-row', link: row.name, run: run.id }, onclick: () => select(row.startSeq, run) },
    h('div', { className: 'label' },
      h('span', { className: 'idx' }, row.index), h('span', { className: 'name', dataset: { testid: 'link-name' } }, row.name),
      // Next to the name: the label clips what does not fit (an error's message).
      under('link').map((n) => expander(run, n.id, 'nested')), under('remote', '').map((n) => expander(run, n.id, remoteLabel(n.id))), under('attempt').map((n) => expander(run, n.id, `attempt ${n.label}`)),
      h('span', { className: 'dur', dataset: { testid: 'link-duration' }, title: 'the link alone' }, formatDuration(row.linkNs)),
      h('span', { className: 'mwdur', dataset: { testid: 'middleware-duration' }, title: 'middleware around it' }, `+${formatDuration(row.middlewareNs)} mw`),
      attemptsLabel(row) && h('span', { className: 'attempts', dataset: { testid: 'attempts' }, title: 'failed attempts were retried' }, ` ↻ ${attemptsLabel(row)}`),
      row.status === 'error' && h('span', { className: 'err' }, ` ✗ ${valueText(row.error, 60)}`)),
    track))
}

/** The expander's words for a remote run: another service's run that the link called. */
const remoteLabel = (id) => `⇢ remote${remoteInfo(id)?.origin ? ` (${remoteInfo(id).origin})` : ''}`

/** The head line of an expanded nested (or remote) run; its own lines follow it, indented. */
function nestedHead(child, totalNs) {
  const first = child.events[0]?.t ?? 0n
  const last = child.events.at(-1)?.t ?? first
  const far = remoteInfo(child.id)
  const kind = far === undefined ? 'nested run' : 'remote run'
  return h('div', { className: `nested${far === undefined ? '' : ' remote'}`, dataset: { testid: far === undefined ? 'nested-run' : 'remote-run', run: child.id } },
    h('div', { className: `row nested-head ${child.status}`, dataset: { testid: far === undefined ? 'nested-head' : 'remote-head', run: child.id }, title: `${kind} ${child.id} of chain '${child.chainName}'${far?.origin ? ` (${far.origin})` : ''}: ${child.status}${child.error ? ` (${child.error.code}: ${child.error.message})` : ''}`, onclick: () => select(0, child) },
      h('div', { className: 'label' }, h('span', { className: 'name' }, far === undefined ? `↳ ${child.chainName} · ${short(child.id)}` : `⇢ remote run ${short(child.id)} '${child.chainName}'${far.origin ? ` (${far.origin})` : ''}`), h('span', { className: `status ${child.status}` }, ` ${child.status}`),
        h('span', { className: 'dur' }, formatDuration(child.durationNs)), child.error && h('span', { className: 'err', dataset: { testid: 'nested-error' } }, ` ✗ ${child.error.code}: ${child.error.message}`)),
      h('div', { className: 'track' }, bar(`nested ${child.status}`, first, last, totalNs, `nested run ${short(child.id)} ${formatDuration(child.durationNs)}`))))
}

function placeCursor(event) {
  const cursor = $('cursor')
  if (!cursor) return
  cursor.hidden = event.t < 0n
  cursor.style.left = `calc(var(--label) + (100% - var(--label)) * ${fraction(event.t, state.run.totalNs)})`
}

/**
 * Zooms the waterfall around an anchor that stays where it is on screen: `anchorX` (px from the
 * waterfall's left edge: the mouse, for ctrl+wheel), else the time cursor when it is in view,
 * else the middle of the visible bars.
 */
function zoom(factor, anchorX) {
  const box = $('waterfall')
  const canvas = box.querySelector('.canvas')
  const next = factor === 0 ? 1 : Math.min(Math.max(state.zoom * factor, 1), 10_000)
  if (!canvas) return void (state.zoom = next)
  const label = parseFloat(getComputedStyle(canvas).getPropertyValue('--label')) || 0
  const left = box.getBoundingClientRect().left
  const cursor = $('cursor')
  const cursorX = cursor && !cursor.hidden ? cursor.getBoundingClientRect().left - left : undefined
  const visible = (x) => x !== undefined && x >= label && x <= box.clientWidth
  const x = visible(anchorX) ? anchorX : visible(cursorX) ? cursorX : (label + box.clientWidth) / 2
  // The fraction of the run's time under the anchor, before and after.
  const at = (box.scrollLeft + x - label) / Math.max(canvas.clientWidth - label, 1)
  state.zoom = next
  canvas.style.setProperty('--zoom', String(state.zoom))
  box.scrollLeft = label + at * (canvas.clientWidth - label) - x
}

// ---- inspector and link panel --------------------------------------------------------------------

/** A value tree as nested <details>; open state follows the user's toggles across selections. */
function renderTree(node, scope) {
  const key = `${scope}:${pathKey(node.path)}`
  const head = [h('span', { className: 'key' }, node.key), h('span', { className: 'type' }, node.type), h('span', { className: 'text' }, node.text)]
  if (node.children === undefined) return h('li', { className: node.changed ? 'leaf changed' : 'leaf', dataset: { path: pathKey(node.path) } }, head)
  const details = h('details', { open: state.toggled.get(key) ?? !node.collapsed }, h('summary', {}, head), h('ul', {}, node.children.map((child) => renderTree(child, scope))))
  details.addEventListener('toggle', () => (details.open === !node.collapsed ? state.toggled.delete(key) : state.toggled.set(key, details.open)))
  return h('li', { className: node.changed ? 'changed' : '', dataset: { path: pathKey(node.path) } }, details)
}

function treeSection(title, value, changed, scope, testid) {
  const root = value === undefined && title === 'metrics' ? undefined : valueTree(value, { changed })
  const count = [...changed].length
  return h('details', { className: `state${root?.changed ? ' changed' : ''}`, open: true, dataset: { testid } },
    h('summary', {}, title, count > 0 && h('small', { className: 'changes' }, ' changed here')),
    root === undefined ? h('p', { className: 'none' }, 'none (outside a link)') : h('ul', { className: 'tree' }, root.children ? root.children.map((c) => renderTree(c, scope)) : renderTree(root, scope)))
}

function renderInspector(event) {
  // At a ctx.write: the ctx as of that write, not as of its link's start.
  // The run of the event: the chosen run, or a nested run expanded inside it.
  const { ctx, mwctx, metrics, exact } = stateAt(state.view, event.seq)
  const changed = changedPaths(state.view, event.seq)
  const time = eventTime(state.view, event)
  fill($('state-title'), state.view.host && `in nested run ${short(state.view.id)} '${state.view.chainName}' · `, `#${event.seq} ${event.type} ${eventSubject(event)} · ${time.inherited ? 'inherited, ' : ''}${time.text}`)
  fill($('inspector'),
    event.error !== undefined && h('p', { className: 'err', dataset: { testid: 'event-error' } }, `✗ ${valueText(event.error, 300)}`),
    !exact && h('p', { className: 'none' }, 'this write could not be replayed here: ctx as at the start of its link'),
    treeSection('ctx', ctx, changed.ctx, 'ctx', 'state-ctx'),
    treeSection('mwctx', mwctx, changed.mwctx, 'mwctx', 'state-mwctx'),
    treeSection('metrics', metrics, changed.metrics, 'metrics', 'state-metrics'))
}

/** At a fork event, the Link panel shows the fork's edit as a change of its own. */
function renderEdit(seq) {
  const edit = forkEdit(state.view, seq)
  fill($('link-title'), `fork edit ${cutLabel(edit.cutAfter)}`)
  const side = (title, value) => h('div', { className: 'side' }, h('h3', {}, title), h('ul', { className: 'tree' }, valueTree(value, { changed: edit.changed, open: 0 }).children?.map((c) => renderTree(c, `${title}:fork`)) ?? []))
  fill($('link-panel'),
    h('ul', { className: 'patches', dataset: { testid: 'link-patches' } }, edit.lines.length > 0 ? edit.patches.map((p, i) => h('li', { className: `op-${p.op}` }, edit.lines[i])) : h('li', { className: 'none' }, 'no edit: the fork runs on the state as it was')),
    h('div', { className: 'diff' }, side('at the cut', edit.before), side('after the edit', edit.after)))
}

function renderLink(row) {
  const run = state.view
  if (run.events[state.seq]?.type === 'fork') return renderEdit(state.seq)
  if (row === undefined) {
    fill($('link-title'))
    return fill($('link-panel'), h('p', { className: 'none' }, 'no link has run yet at this event'))
  }
  const diff = linkDiff(run, row)
  const writes = linkWrites(run, row)
  const captured = run.captured
  fill($('link-title'), `#${row.index} ${row.name} · link ${formatDuration(row.linkNs)} · middleware ${formatDuration(row.middlewareNs)} · ${row.status === 'skipped' ? `skipped (${row.reason}): it did not run` : row.status}${attemptsLabel(row) && ` · ${attemptsLabel(row)}`}`)
  const side = (title, value) => h('div', { className: 'side' }, h('h3', {}, title), h('ul', { className: 'tree' }, valueTree(value, { changed: diff.changed, open: 0 }).children?.map((c) => renderTree(c, `${title}:${row.name}`)) ?? []))
  fill($('link-panel'),
    diff.error && h('p', { className: 'err' }, `✗ ${diff.error} (its changes were discarded)`),
    h('ul', { className: 'patches', dataset: { testid: 'link-patches' } }, diff.lines.length > 0 ? diff.patches.map((p, i) => h('li', { className: `op-${p.op}` }, diff.lines[i])) : h('li', { className: 'none' }, 'no changes')),
    h('div', { className: 'diff' }, side('before', diff.before), side('after', diff.after)),
    h('h3', {}, `ctx.write events (${writes.length})`),
    !captured ? h('p', { className: 'none' }, "writes were not captured: record with capture: 'writes' (and stacks: true for call sites)")
      : h('ul', { className: 'writes', dataset: { testid: 'writes' } }, writes.slice(0, MOST_WRITES).map((w) => h('li', { onclick: () => select(w.seq, run) },
        h('span', { className: 'seq' }, `#${w.seq}`), w.branch !== undefined && h('span', { className: 'branch', dataset: { testid: 'write-branch' } }, `[${w.branch}]`), h('span', { className: 'op' }, w.op), h('span', { className: 'path' }, w.path || '(root)'), ` = ${w.value}`,
        h('div', { className: 'stack', dataset: { testid: 'call-site' } }, w.stack ? `at ${w.stack}` : 'no call site (record with stacks: true)'))),
        writes.length > MOST_WRITES && h('li', { className: 'none' }, `… ${writes.length - MOST_WRITES} more: step through them with the arrow keys`)))
}

// ---- comparison ----------------------------------------------------------------------------------

/** The verdict of a comparison, in words. */
function verdict(divergence, run, other) {
  if (divergence === undefined) return 'no divergence: same input, every link agrees and both runs ended alike'
  switch (divergence.reason) {
    case 'input': return `first divergence at the input: the runs started from different inputs`
    case 'fork': return `first divergence at the fork edit ${cutLabel(divergence.link)} (fork)`
    case 'status': return `the links agree but the runs ended ${run.status} and ${other.status}`
    case 'stop': return `the links agree but one run was stopped early: by ${run.stoppedBy ? `'${run.stoppedBy.name}'` : 'no link'} and ${other.stoppedBy ? `'${other.stoppedBy.name}'` : 'no link'}`
  }
  if (divergence.a?.kind === 'input') return 'first divergence at the input: it was rejected (error)'
  const link = divergence.b ?? divergence.a
  return `first divergence at link #${link.row.index} '${link.name}' (${divergence.reason})`
}

function renderCompare() {
  const run = state.run
  const others = state.runs.filter((r) => r !== run)
  fill($('compare-picker'), h('option', { value: '' }, others.length ? 'choose a run…' : 'load another run to compare'), others.map((r) => h('option', { value: r.id, selected: r.id === state.compareId }, runLabel(r))))
  const other = runById(state.compareId)
  if (other === undefined || other === run) return fill($('compare'))
  // The comparison is the library's (compareRuns), on both runs as Run.fromJSON rebuilds them: for
  // long runs that takes a while, so it waits to be asked for.
  const key = `${run.id}:${other.id}`
  if (Math.max(run.events.length, other.events.length) > COMPARE_AT_ONCE && state.compared !== key) {
    return fill($('compare'), h('button', { type: 'button', dataset: { testid: 'compare-now' }, onclick: () => ((state.compared = key), renderCompare()) }, `compare ${short(run.id)} with ${short(other.id)}`),
      h('small', {}, ` (${(run.events.length + other.events.length).toLocaleString('en-US')} events: both runs are read in full first)`))
  }
  const divergence = firstDivergence(run, other)
  // Whether a step is where its side diverged (steps are rebuilt per column: matched by place).
  const diverged = (step, side) => {
    const at = divergence?.[side]
    if (at === undefined || step.kind !== at.kind) return false
    return step.kind === 'input' || (step.kind === 'edit' ? step.seq === at.seq : step.position === at.position)
  }
  const stepItem = (step, side) => {
    const mark = diverged(step, side)
    // An input's differences are listed once, under the verdict.
    const lines = mark && step.kind !== 'input' ? step.lines : []
    const head = step.kind === 'link'
      ? [h('span', { className: 'name' }, `#${step.row.index} ${step.name}`), h('span', { className: 'dur' }, formatDuration(step.row.linkNs)), step.message && h('span', { className: 'err' }, ` ✗ ${step.message}`)]
      : step.kind === 'edit' ? [h('span', { className: 'name' }, `fork edit ${cutLabel(step.after)}`)]
        : [h('span', { className: 'name' }, 'input'), step.message && h('span', { className: 'err' }, ` ✗ rejected: ${step.message}`)]
    return h('li', { className: `${step.kind} ${step.status ?? 'ok'}${mark ? ' diverged' : ''}`, dataset: { testid: 'compare-step', kind: step.kind } }, head,
      mark && lines.length > 0 && h('ul', { className: 'patches' }, lines.map((line) => h('li', {}, line))))
  }
  const column = (r, side) => {
    const steps = compareSteps(r)
    // Where only the other run was edited, this side says so at the same place: before the
    // link at divergence.index, or after its last link.
    const absent = divergence?.reason === 'fork' && divergence[side] === undefined
    const noEdit = () => h('li', { className: 'edit diverged', dataset: { testid: 'compare-step', kind: 'no-edit' } }, h('span', { className: 'name' }, `no edit ${cutLabel(divergence.link)}`))
    // A long run: the steps around the divergence (or the first ones), the others counted.
    const center = Math.max(steps.findIndex((step) => diverged(step, side) || (divergence !== undefined && step.kind === 'link' && step.position >= divergence.index)), 0)
    const from = Math.max(0, Math.min(center - MOST_STEPS / 2, steps.length - MOST_STEPS))
    const shown = steps.slice(from, from + MOST_STEPS)
    const more = (count, where) => count > 0 && h('li', { className: 'more', dataset: { testid: 'compare-more' } }, `… ${count} step${count === 1 ? '' : 's'} ${where}`)
    const items = shown.flatMap((step) => (absent && step.kind === 'link' && step.position === divergence.index ? [noEdit(), stepItem(step, side)] : [stepItem(step, side)]))
    if (absent && from + shown.length === steps.length && !steps.some((step) => step.kind === 'link' && step.position === divergence.index)) items.push(noEdit())
    items.unshift(more(from, 'before'))
    items.push(more(steps.length - from - shown.length, 'after'))
    return h('div', { className: 'side', dataset: { testid: `compare-${side}` } }, h('h3', {}, runLabel(r)), h('ol', {}, items))
  }
  fill($('compare'),
    h('p', { className: divergence ? 'verdict diverged' : 'verdict', dataset: { testid: 'divergence' } }, verdict(divergence, run, other)),
    divergence?.lines?.length > 0 && h('small', {}, 'what turns this run’s ctx there into the other’s:'),
    divergence?.lines?.length > 0 && h('ul', { className: 'patches', dataset: { testid: 'divergence-lines' } }, divergence.lines.map((line) => h('li', {}, line))),
    // A divergence inside a nested chain's run: where, and what each side did there.
    divergence?.nested && h('pre', { className: 'nested-divergence', dataset: { testid: 'nested-divergence' } }, `inside the nested run: ${divergence.nested.join('\n')}`),
    h('div', { className: 'diff' }, column(run, 'a'), column(other, 'b')))
}

// ---- wiring --------------------------------------------------------------------------------------

$('run-picker').onchange = () => selectRun(runById($('run-picker').value))
$('compare-picker').onchange = () => {
  state.compareId = $('compare-picker').value
  try {
    renderCompare()
  } catch (error) {
    fill($('compare'), h('p', { className: 'err' }, `cannot compare: ${error?.message ?? error}`))
  }
}
$('slider').oninput = () => {
  const stop = state.stops.at(Number($('slider').value))
  if (stop !== undefined) select(stop.seq, stop.run)
}
$('prev').onclick = () => step(-1)
$('next').onclick = () => step(1)
$('zoom-in').onclick = () => zoom(2)
$('zoom-out').onclick = () => zoom(0.5)
$('zoom-reset').onclick = () => zoom(0)
// ctrl+wheel zooms around the mouse.
$('waterfall').addEventListener('wheel', (e) => e.ctrlKey && (e.preventDefault(), zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - $('waterfall').getBoundingClientRect().left)), { passive: false })
$('file-input').onchange = () => {
  const files = [...$('file-input').files]
  // Emptied, so that choosing the same file again loads it again.
  $('file-input').value = ''
  loadFiles(files)
}
// The virtual list and waterfall draw what scrolled into view, once a frame.
const onScroll = (draw) => {
  let frame
  return () => (frame ??= requestAnimationFrame(() => ((frame = undefined), draw())))
}
$('event-list').addEventListener('scroll', onScroll(() => drawEvents()), { passive: true })
$('waterfall').addEventListener('scroll', onScroll(() => drawLines()), { passive: true })
addEventListener('resize', onScroll(() => (drawEvents(), drawLines())))
document.addEventListener('keydown', (e) => {
  const delta = { ArrowRight: 1, ArrowDown: 1, ArrowLeft: -1, ArrowUp: -1 }[e.key]
  const target = e.target
  if (delta === undefined || state.run === undefined || target.tagName === 'SELECT' || (target.tagName === 'INPUT' && target.type !== 'range')) return
  e.preventDefault()
  step(delta)
})
document.addEventListener('dragover', (e) => (e.preventDefault(), document.body.classList.add('dragging')))
document.addEventListener('dragleave', () => document.body.classList.remove('dragging'))
document.addEventListener('drop', (e) => {
  e.preventDefault()
  document.body.classList.remove('dragging')
  loadFiles(e.dataTransfer?.files ?? [])
})
loadServed()
