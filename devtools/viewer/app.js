// The devtools page: vanilla DOM over the viewer's model (model.js, bundled from the library's
// src/present/viewer/ by `npm run build`): decoding, validation, comparison, waterfall rows and
// formatting are the library's own; this file only draws. Every value reaches the page through
// textContent (never innerHTML), so whatever a run recorded is shown as text, never run.
import {
  attemptsLabel, changedPaths, compareSteps, cutLabel, eventSubject, eventTime, filterEvents, filterOptions, firstDivergence, forkEdit, forkTree, formatDuration,
  isWithin, linkDiff, linkWrites, nestedIdOf, nestedOfRow, nestedView, nestingDepth, pathKey, prepareRun, remoteInfo, rowOfEvent, setRemoteRuns, stateAt, valueText, valueTree, visibleEvents,
} from './model.js'

const $ = (id) => document.getElementById(id)
// run: the run chosen (picker, compare); view: the run of the selected event, `run` or a nested
// chain's run inside it (DESIGN §9); expanded: ids of the nested runs shown in place; stops: the
// events the slider and the arrow keys step through (run's, with expanded nested runs' in place).
const state = { runs: [], sources: new Map(), live: { on: false, runs: 0, dropped: 0 }, run: undefined, view: undefined, seq: 0, zoom: 1, filters: { type: '', link: '', middleware: '' }, compareId: '', toggled: new Map(), items: new Map(), expanded: new Set(), stops: [] }

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
const short = (id) => id.slice(0, 8)
const relation = (run) =>
  run.parent ? `fork of ${short(run.parent.runId)} ${cutLabel(run.forkAfter)}` : run.replayOf ? `replay of ${short(run.replayOf.runId)}` : 'original'
const runLabel = (run) => `${run.chainName} · ${short(run.id)} · ${relation(run)} · ${run.status}`

// ---- loading -------------------------------------------------------------------------------------

function showErrors(errors) {
  fill($('errors'), errors.map((text) => h('span', {}, text)))
  $('errors').hidden = errors.length === 0
}

/** Prepares documents (served or dropped: the same path) and shows them; bad ones are reported. */
function addDocuments(entries, errors = []) {
  for (const { source, load } of entries) {
    try {
      const run = prepareRun(load())
      state.sources.set(run.id, source)
      const at = state.runs.findIndex((other) => other.id === run.id)
      if (at === -1) state.runs.push(run)
      else state.runs[at] = run
    } catch (error) {
      errors.push(`${source}: ${error?.message ?? error}`)
    }
  }
  showErrors(errors)
  if (state.runs.length === 0) return
  // Runs of several services that share a trace: each remote run opens under the link that called it.
  setRemoteRuns(state.runs.map((run) => ({ run, origin: state.sources.get(run.id) })))
  const keep = state.run && runById(state.run.id)
  const roots = forkTree(state.runs).map((node) => node.run)
  selectRun(keep ?? roots.find((run) => remoteInfo(run.id) === undefined) ?? roots[0], keep ? state.seq : undefined)
}

async function loadServed() {
  try {
    const response = await fetch('/api/runs')
    if (!response.ok) throw new Error(`the server answered ${response.status}`)
    // The server validated each file again; the ones that no longer are run files come as errors.
    const { runs, errors, sources, live } = await response.json()
    addDocuments(runs.map((doc, i) => ({ source: sources?.[i] ?? `run ${i + 1}`, load: () => doc })), errors)
    if (live === true) listen()
  } catch (error) {
    showErrors([`could not load the served runs: ${error?.message ?? error}`])
  }
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
  addDocuments(texts.map(({ name, text }) => ({ source: name, load: () => JSON.parse(text) })))
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
  state.stops = visibleEvents(run, state.expanded)
  state.items = new Map()
  state.filters = { type: '', link: '', middleware: '' }
  if (!runById(state.compareId) || state.compareId === run.id) state.compareId = relatedRun(run)?.id ?? ''
  renderRun()
  select(seq ?? Math.max(run.forkSeq, 0))
}

/** Selects event `seq` of `run` (the chosen run, or a nested run inside it). */
function select(seq, run = state.run) {
  state.view = run
  state.seq = Math.min(Math.max(seq, 0), run.events.length - 1)
  $('slider').value = String(Math.max(state.stops.findIndex((stop) => stop.run === run && stop.seq === state.seq), 0))
  const event = run.events[state.seq]
  fill($('position'), `event ${state.seq} / ${run.events.length - 1}`, run.host && ` · nested run ${short(run.id)} '${run.chainName}'`)
  for (const item of document.querySelectorAll('#event-list .selected')) item.classList.remove('selected')
  const item = state.items.get(`${run.id}:${state.seq}`)
  item?.classList.add('selected')
  item?.scrollIntoView({ block: 'nearest' })
  const row = rowOfEvent(run.allRows, state.seq)
  for (const el of document.querySelectorAll('#waterfall .row')) el.classList.toggle('selected', row !== undefined && el.dataset.run === run.id && el.dataset.link === row.name && event.t >= 0n)
  placeCursor(event)
  renderInspector(event)
  renderLink(row)
}

/** Steps through the events shown: the run's, and those of its expanded nested runs in place. */
function step(delta) {
  const at = state.stops.findIndex((stop) => stop.run === state.view && stop.seq === state.seq)
  const next = state.stops[Math.min(Math.max(at + delta, 0), state.stops.length - 1)]
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
  state.stops = visibleEvents(state.run, state.expanded)
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
  fill($('run-picker'), state.runs.map((r) => h('option', { value: r.id, selected: r === run }, runLabel(r))))
  const links = run.rows.length + run.inherited
  fill($('run-summary'), h('b', { className: `status ${run.status}` }, run.status), ` ${formatDuration(run.durationNs)} · ${links} links · ${run.events.length} events`, run.error && h('span', { className: 'err' }, ` · ${run.error.code}: ${run.error.message}`),
    run.stoppedBy && h('span', { className: 'stopped', dataset: { testid: 'stopped-by' } }, ` · stopped by #${run.stoppedBy.index} '${run.stoppedBy.name}'${run.stoppedBy.reason === undefined ? '' : `: ${run.stoppedBy.reason}`}`))
  renderForkTree()
  renderFilters()
  renderEvents()
  renderWaterfall()
  renderCompare()
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
  menu('filter-link', 'link', 'all links', options.links)
  menu('filter-middleware', 'middleware', 'all middleware', options.middleware)
}

/** Shorter than eventSubject for the list: the middleware's name without its position. */
const listSubject = (event) => (event.middleware ? [event.middleware.name, event.link?.name ?? event.middleware.position].join(' · ') : eventSubject(event))

function renderEvents() {
  state.items = new Map()
  const items = eventItems(state.run, 0)
  fill($('event-list'), items.length > 0 ? items : h('li', { className: 'empty' }, 'no event matches the filters'))
}

/** The list items of a run's events; an expanded nested run's follow the event that names it, indented. */
function eventItems(run, depth) {
  return filterEvents(run, state.filters).flatMap((event) => {
    // A fork's inherited events are timed from the start of the run they were recorded in.
    const time = eventTime(run, event)
    const id = nestedIdOf(run, event.seq)
    const li = h('li', { className: `ev ${event.type.replace('.', '-')}${event.error === undefined ? '' : ' failed'}${time.inherited ? ' inherited' : ''}${depth > 0 ? ' nested' : ''}`, dataset: { testid: 'event', seq: event.seq, type: event.type, run: run.id }, onclick: () => select(event.seq, run) },
      h('span', { className: 'seq' }, event.seq), h('span', { className: 'time', dataset: { testid: 'event-time' }, title: time.inherited ? 'inherited from the parent: time since the parent run started' : run.host ? 'time since the outermost run started' : 'time since the run started' }, time.text),
      h('span', { className: 'type' }, event.type), h('span', { className: 'who', title: eventSubject(event) }, id !== undefined && expander(run, id, ''), listSubject(event)),
      event.durationNs !== undefined && h('span', { className: 'dur' }, formatDuration(event.durationNs)))
    if (depth > 0) li.style.setProperty('--depth', String(depth))
    state.items.set(`${run.id}:${event.seq}`, li)
    const child = id !== undefined && state.expanded.has(id) ? nestedView(run, id) : undefined
    return child === undefined ? [li] : [li, ...eventItems(child, depth + 1)]
  })
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
  const lines = rowLines(state.run, rows, totalNs)
  const canvas = h('div', { className: 'canvas' }, h('div', { className: 'row axis' }, h('div', { className: 'label' }, 'time'), h('div', { className: 'track' }, ticks)), lines, h('div', { id: 'cursor' }))
  canvas.style.setProperty('--zoom', String(state.zoom))
  fill($('waterfall'), canvas)
}

/** The waterfall rows of `run` (a nested run's on its outermost run's axis), its expanded nested runs in place. */
function rowLines(run, rows, totalNs) {
  return rows.flatMap((row) => {
    // A skipped link never ran: greyed, no bars, its reason in place of its durations.
    if (row.status === 'skipped') {
      return h('div', { className: 'row skipped', dataset: { testid: 'waterfall-row', link: row.name, run: run.id }, onclick: () => select(row.endSeq, run) },
        h('div', { className: 'label' },
          h('span', { className: 'idx' }, row.index), h('span', { className: 'name', dataset: { testid: 'link-name' } }, row.name),
          h('span', { className: 'skip', dataset: { testid: 'skip-reason' } }, `skipped: ${row.reason === 'stopped' ? 'stopped' : 'when'}`)),
        h('div', { className: 'track' }))
    }
    const track = h('div', { className: 'track' },
      bar('step', row.stepStart, row.stepEnd, totalNs, `step ${formatDuration(row.stepEnd - row.stepStart)}`),
      row.segments.map((s) => bar(`mw${s.failed ? ' failed' : ''}`, s.start, s.end, totalNs, `${s.name} (${s.position}) ${formatDuration(s.end - s.start)}${s.failed ? ' ✗ failed' : ''}`, (e) => (e.stopPropagation(), select(s.seq, run)))),
      bar(`link ${row.status}`, row.linkStart, row.linkEnd, totalNs, `${row.name} ${formatDuration(row.linkNs)}`),
      // Each failed attempt of a retried link is its own segment, over the link's bar.
      row.failedAttempts.map((a) => bar('attempt failed', a.start, a.end, totalNs, `attempt ${a.attempt} ✗ ${valueText(a.error, 60)} ${formatDuration(a.end - a.start)}`, (e) => (e.stopPropagation(), select(a.seq, run)))))
    // A parallel step's branches: one lane each under its row (click selects the branch's end).
    const nested = nestedOfRow(run, row)
    const under = (place, label) => nested.filter((n) => n.place === place && (label === undefined || n.label === label))
    const lanes = row.branches.flatMap((lane) => [
      h('div', { className: `row lane ${lane.status}`, dataset: { testid: 'branch-lane', link: row.name, branch: lane.name, run: run.id }, onclick: () => select(lane.endSeq, run) },
        h('div', { className: 'label' },
          h('span', { className: 'idx' }, lane === row.branches.at(-1) ? '└' : '├'), h('span', { className: 'name', dataset: { testid: 'branch-name' } }, lane.name),
          under('branch', lane.name).map((n) => expander(run, n.id, 'nested')), under('remote', lane.name).map((n) => expander(run, n.id, remoteLabel(n.id))),
          h('span', { className: 'dur', dataset: { testid: 'branch-duration' } }, formatDuration(lane.end - lane.start)),
          lane.status === 'error' && h('span', { className: 'err' }, ` ✗ ${valueText(lane.error, 60)}`)),
        h('div', { className: 'track' }, bar(`branch ${lane.status}`, lane.start, lane.end, totalNs, `branch ${lane.name} ${formatDuration(lane.end - lane.start)}`))),
      ...under('branch', lane.name).flatMap((n) => nestedBlock(run, n.id, totalNs)), ...under('remote', lane.name).flatMap((n) => nestedBlock(run, n.id, totalNs))])
    return [h('div', { className: `row ${row.status}`, dataset: { testid: 'waterfall-row', link: row.name, run: run.id }, onclick: () => select(row.startSeq, run) },
      h('div', { className: 'label' },
        h('span', { className: 'idx' }, row.index), h('span', { className: 'name', dataset: { testid: 'link-name' } }, row.name),
        // Next to the name: the label clips what does not fit (an error's message).
        under('link').map((n) => expander(run, n.id, 'nested')), under('remote', '').map((n) => expander(run, n.id, remoteLabel(n.id))), under('attempt').map((n) => expander(run, n.id, `attempt ${n.label}`)),
        h('span', { className: 'dur', dataset: { testid: 'link-duration' }, title: 'the link alone' }, formatDuration(row.linkNs)),
        h('span', { className: 'mwdur', dataset: { testid: 'middleware-duration' }, title: 'middleware around it' }, `+${formatDuration(row.middlewareNs)} mw`),
        attemptsLabel(row) && h('span', { className: 'attempts', dataset: { testid: 'attempts' }, title: 'failed attempts were retried' }, ` ↻ ${attemptsLabel(row)}`),
        row.status === 'error' && h('span', { className: 'err' }, ` ✗ ${valueText(row.error, 60)}`)),
      track), ...under('link').flatMap((n) => nestedBlock(run, n.id, totalNs)), ...under('remote', '').flatMap((n) => nestedBlock(run, n.id, totalNs)), ...lanes, ...under('attempt').flatMap((n) => nestedBlock(run, n.id, totalNs))]
  })
}

/** The expander's words for a remote run: another service's run that the link called. */
const remoteLabel = (id) => `⇢ remote${remoteInfo(id)?.origin ? ` (${remoteInfo(id).origin})` : ''}`

/** An expanded nested (or remote) run under the row that made it: a head line, then its own rows, indented. */
function nestedBlock(run, id, totalNs) {
  if (!state.expanded.has(id)) return []
  const child = nestedView(run, id)
  if (child === undefined) return []
  const first = child.events[0]?.t ?? 0n
  const last = child.events.at(-1)?.t ?? first
  const far = remoteInfo(child.id)
  const kind = far === undefined ? 'nested run' : 'remote run'
  const block = h('div', { className: `nested${far === undefined ? '' : ' remote'}`, dataset: { testid: far === undefined ? 'nested-run' : 'remote-run', run: child.id } },
    h('div', { className: `row nested-head ${child.status}`, dataset: { testid: far === undefined ? 'nested-head' : 'remote-head', run: child.id }, title: `${kind} ${child.id} of chain '${child.chainName}'${far?.origin ? ` (${far.origin})` : ''}: ${child.status}${child.error ? ` (${child.error.code}: ${child.error.message})` : ''}`, onclick: () => select(0, child) },
      h('div', { className: 'label' }, h('span', { className: 'name' }, far === undefined ? `↳ ${child.chainName} · ${short(child.id)}` : `⇢ remote run ${short(child.id)} '${child.chainName}'${far.origin ? ` (${far.origin})` : ''}`), h('span', { className: `status ${child.status}` }, ` ${child.status}`),
        h('span', { className: 'dur' }, formatDuration(child.durationNs)), child.error && h('span', { className: 'err', dataset: { testid: 'nested-error' } }, ` ✗ ${child.error.code}: ${child.error.message}`)),
      h('div', { className: 'track' }, bar(`nested ${child.status}`, first, last, totalNs, `nested run ${short(child.id)} ${formatDuration(child.durationNs)}`))),
    rowLines(child, child.rows, totalNs))
  // Indents its labels only: its bars stay on the outermost run's time axis.
  block.style.setProperty('--depth', String(nestingDepth(child)))
  return [block]
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
  const captured = run.events.some((e) => e.type === 'ctx.write')
  fill($('link-title'), `#${row.index} ${row.name} · link ${formatDuration(row.linkNs)} · middleware ${formatDuration(row.middlewareNs)} · ${row.status === 'skipped' ? `skipped (${row.reason}): it did not run` : row.status}${attemptsLabel(row) && ` · ${attemptsLabel(row)}`}`)
  const side = (title, value) => h('div', { className: 'side' }, h('h3', {}, title), h('ul', { className: 'tree' }, valueTree(value, { changed: diff.changed, open: 0 }).children?.map((c) => renderTree(c, `${title}:${row.name}`)) ?? []))
  fill($('link-panel'),
    diff.error && h('p', { className: 'err' }, `✗ ${diff.error} (its changes were discarded)`),
    h('ul', { className: 'patches', dataset: { testid: 'link-patches' } }, diff.lines.length > 0 ? diff.patches.map((p, i) => h('li', { className: `op-${p.op}` }, diff.lines[i])) : h('li', { className: 'none' }, 'no changes')),
    h('div', { className: 'diff' }, side('before', diff.before), side('after', diff.after)),
    h('h3', {}, `ctx.write events (${writes.length})`),
    !captured ? h('p', { className: 'none' }, "writes were not captured: record with capture: 'writes' (and stacks: true for call sites)")
      : h('ul', { className: 'writes', dataset: { testid: 'writes' } }, writes.map((w) => h('li', { onclick: () => select(w.seq) },
        h('span', { className: 'seq' }, `#${w.seq}`), h('span', { className: 'op' }, w.op), h('span', { className: 'path' }, w.path || '(root)'), ` = ${w.value}`,
        h('div', { className: 'stack', dataset: { testid: 'call-site' } }, w.stack ? `at ${w.stack}` : 'no call site (record with stacks: true)')))))
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
    const items = steps.flatMap((step) => (absent && step.kind === 'link' && step.position === divergence.index ? [noEdit(), stepItem(step, side)] : [stepItem(step, side)]))
    if (absent && !steps.some((step) => step.kind === 'link' && step.position === divergence.index)) items.push(noEdit())
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
$('compare-picker').onchange = () => ((state.compareId = $('compare-picker').value), renderCompare())
$('slider').oninput = () => {
  const stop = state.stops[Number($('slider').value)]
  if (stop !== undefined) select(stop.seq, stop.run)
}
$('prev').onclick = () => step(-1)
$('next').onclick = () => step(1)
$('zoom-in').onclick = () => zoom(2)
$('zoom-out').onclick = () => zoom(0.5)
$('zoom-reset').onclick = () => zoom(0)
// ctrl+wheel zooms around the mouse.
$('waterfall').addEventListener('wheel', (e) => e.ctrlKey && (e.preventDefault(), zoom(e.deltaY < 0 ? 1.25 : 0.8, e.clientX - $('waterfall').getBoundingClientRect().left)), { passive: false })
$('file-input').onchange = () => loadFiles($('file-input').files)
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
