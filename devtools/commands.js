// The commands of the `shadowchain` command line. Each: parseArgs options, its --help text, and
// run(values, positionals, UsageError) → exit code.
import { spawn } from 'node:child_process'
import { stat } from 'node:fs/promises'
import { compareRuns, describeRun, divergenceChanges, divergenceLines, divergencePlace, formatDuration, loadRun, Run, saveRun, shortRunId } from '../dist/index.js'
import { formatStats } from '../dist/present/stats-table.js'
import { describeTrace, stitchRuns, traceLines } from '../dist/present/stitch.js'
import { waterfallLines } from '../dist/present/waterfall.js'
import { gatherSources, loadSources, parseTraceId } from './gather.js'
import { isStoreArg, parseCount, parseDuration, parseLimit, parseStatuses, parseTime, readRunDocument, resolveRunId, withStore } from './store.js'

const color = () => process.stdout.isTTY === true && process.env.NO_COLOR === undefined

// A document that declares redaction is printed as the library would write it now: its paths
// applied again and copies of their values scrubbed, whatever wrote the file.
const redacted = (run) => (run.redact.length > 0 ? Run.fromJSON(run.toJSON()) : run)

async function load(file, UsageError) {
  try {
    return redacted(await loadRun(file))
  } catch (error) {
    if (error?.code === 'ENOENT') throw new UsageError(`cannot read ${file}: no such file`)
    if (error?.code === 'EISDIR') throw new UsageError(`cannot read ${file}: it is a directory`)
    if (error?.code === 'EACCES') throw new UsageError(`cannot read ${file}: permission denied`)
    throw error
  }
}

function expectFiles(positionals, count, usage, UsageError) {
  if (positionals.length !== count) throw new UsageError(`expected ${count === 1 ? 'one file' : `${count} files`}: ${usage}`)
}

const replacer = (_key, value) => (typeof value === 'bigint' ? value.toString() : value)

// ---- streamed output: a 100,000-event run is printed as it is made, never as one string --------

/** Bytes gathered before one write to stdout. */
const CHUNK = 64 * 1024

/**
 * Writes `lines` to stdout, each followed by a newline, in chunks of about 64 KiB as they come,
 * waiting when stdout is full. A reader that goes away (`| head`) ends the output quietly.
 *
 * @param lines - strings (any iterable: a generator is read as it goes)
 */
export async function writeLines(lines, out = process.stdout) {
  let closed = false
  const onError = (error) => {
    if (error?.code === 'EPIPE') closed = true
  }
  out.on('error', onError)
  try {
    let chunk = ''
    for (const line of lines) {
      chunk += `${line}\n`
      if (chunk.length < CHUNK) continue
      if (closed) return
      if (!out.write(chunk)) await new Promise((resume) => out.once('drain', resume))
      chunk = ''
    }
    if (chunk !== '' && !closed) out.write(chunk)
  } finally {
    out.off('error', onError)
  }
}

/**
 * The lines of `JSON.stringify(value, replacer, 2)`, one at a time: objects and arrays are opened
 * and written member by member (a 25,000-link summary is never one string); what is `depth` levels
 * down, and anything that is not a plain object or array, is stringified whole and indented.
 */
export function* jsonLines(value, depth = 4) {
  yield* jsonMember('', value, '', '', depth, '')
}

/** What JSON.stringify cannot say (undefined, a function, a symbol): left out of an object, null in an array. */
function unsaid(key, value) {
  const shown = replacer(key, typeof value?.toJSON === 'function' ? value.toJSON(key) : value)
  return shown === undefined || typeof shown === 'function' || typeof shown === 'symbol'
}

function* jsonMember(prefix, value, pad, comma, depth, key) {
  const shown = replacer(key, typeof value?.toJSON === 'function' ? value.toJSON(key) : value)
  const plain = shown !== null && typeof shown === 'object' && (Array.isArray(shown) || Object.getPrototypeOf(shown) === Object.prototype || Object.getPrototypeOf(shown) === null)
  if (!plain || depth === 0) {
    const text = JSON.stringify(shown, replacer, 2)
    const lines = (text ?? 'null').split('\n')
    for (let i = 0; i < lines.length; i++) yield `${i === 0 ? `${pad}${prefix}` : pad}${lines[i]}${i === lines.length - 1 ? comma : ''}`
    return
  }
  const array = Array.isArray(shown)
  // What JSON.stringify leaves out of an object: undefined, functions and symbols.
  const members = array ? shown.map((item, i) => [String(i), item]) : Object.keys(shown).map((k) => [k, shown[k]]).filter(([k, v]) => !unsaid(k, v))
  const [open, close] = array ? ['[', ']'] : ['{', '}']
  if (members.length === 0) {
    yield `${pad}${prefix}${open}${close}${comma}`
    return
  }
  yield `${pad}${prefix}${open}`
  const inner = `${pad}  `
  for (let i = 0; i < members.length; i++) {
    const [k, v] = members[i]
    const last = i === members.length - 1
    // In an array, what JSON cannot say is null.
    const item = array && unsaid(k, v) ? null : v
    yield* jsonMember(array ? '' : `${JSON.stringify(k)}: `, item, inner, last ? '' : ',', depth - 1, k)
  }
  yield `${pad}${close}${comma}`
}

// ---- runs from a store (DESIGN §10) ---------------------------------------------------------------

const STORE_HELP = `A store is an SQLite file (sqliteStore) or a postgres:// URL (postgresStore; ?schema=NAME for a
schema other than public). A run id is a full id, or a unique start or end of one of at least 8 characters (tables show the last 8).`

/** A stored run document as a Run, redacted as a file's would be. */
const fromDocument = (doc) => redacted(Run.fromJSON(doc))

/**
 * The runs a command is given: `count` run files, or a store followed by `count` run ids.
 * Every store is closed before this returns.
 */
async function loadRuns(positionals, count, usage, UsageError) {
  const wrongCount = () => new UsageError(`expected ${count === 1 ? 'one file' : `${count} files`}, or a store and ${count === 1 ? 'a run id' : `${count} run ids`}: ${usage}`)
  if (positionals.length === count + 1) {
    // A readable file that is no SQLite database is a run file: one too many of them.
    if (!(await isStoreArg(positionals[0])) && (await isFile(positionals[0]))) throw wrongCount()
    return withStore(positionals[0], UsageError, async (store) => {
      const docs = []
      for (const id of positionals.slice(1)) docs.push(await readRunDocument(store, id, UsageError))
      return docs.map(fromDocument)
    })
  }
  if (positionals.length === count) {
    if (await isStoreArg(positionals[0])) throw new UsageError(`${positionals[0]} is a run store: give ${count === 1 ? 'a run id' : `${count} run ids`} after it: ${usage}`)
    return Promise.all(positionals.map((file) => load(file, UsageError)))
  }
  throw wrongCount()
}

const isFile = (path) => stat(path).then((info) => info.isFile(), () => false)

/** An epoch-ns time as ISO (milliseconds). */
const isoTime = (ns) => new Date(Number(ns / 1_000_000n)).toISOString()

/** A plain table: columns left-aligned, two spaces apart, no trailing spaces. */
function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((row) => [...row[i]].length)))
  return rows.map((row) => row.map((cell, i) => cell + ' '.repeat(widths[i] - [...cell].length)).join('  ').trimEnd()).join('\n')
}

const runsCommand = {
  options: {
    chain: { type: 'string' },
    status: { type: 'string', multiple: true },
    link: { type: 'string' },
    since: { type: 'string' },
    until: { type: 'string' },
    limit: { type: 'string' },
    before: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: `usage: shadowchain runs <store> [--chain C] [--status S] [--link L] [--since T] [--until T]
                        [--limit N] [--before ID] [--json]

Lists the runs kept in a store, newest first: id, chain, status, start time, duration, links
run, and the link that failed with the error code. Reads metadata only, never a timeline.
  --chain C     only runs of chain C
  --status S    only runs with this status: ok, error, aborted, interrupted (repeat it, or
                separate with commas: --status error,aborted)
  --link L      only runs whose error names link L (the link that failed)
  --since T     only runs started at or after T: an ISO date or time (2026-12-01,
                2026-12-01T09:30:00Z), or a time ago (30s, 30m, 1h, 2d, 1w)
  --until T     only runs started before T (same forms)
  --limit N     at most N runs, 1 to 10,000 (default 50)
  --before ID   the page after run ID (the last id of the previous page; a unique start or end will do)
  --json        the summaries as JSON (times in epoch ns, as strings)

${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    if (positionals.length !== 1) throw new UsageError('expected one store: shadowchain runs <store> [options]')
    const query = {
      ...(values.chain !== undefined && { chain: values.chain }),
      ...(values.status !== undefined && { status: parseStatuses(values.status, UsageError) }),
      ...(values.link !== undefined && { link: values.link }),
      ...(values.since !== undefined && { since: parseTime('since', values.since, UsageError) }),
      ...(values.until !== undefined && { until: parseTime('until', values.until, UsageError) }),
      limit: values.limit === undefined ? 50 : parseLimit(values.limit, 10_000, UsageError),
    }
    if (values.before !== undefined && values.before.trim() === '') throw new UsageError('--before needs a run id')
    return withStore(positionals[0], UsageError, async (store) => {
      const before = values.before === undefined ? undefined : await resolveRunId(store, values.before, UsageError)
      const summaries = await store.list({ ...query, ...(before !== undefined && { before }) })
      if (values.json) {
        console.log(JSON.stringify(summaries, replacer, 2))
        return 0
      }
      if (summaries.length === 0) {
        console.log(`no runs${Object.keys(query).length > 1 || before !== undefined ? ' match' : ''} in ${store.where}`)
        return 0
      }
      const rows = [['id', 'chain', 'status', 'started', 'duration', 'links', 'failed link / code']]
      for (const s of summaries) {
        const failed = [s.failedLink, s.code].filter((x) => x !== undefined).join(' / ')
        rows.push([shortRunId(s.id), s.chain, s.status, isoTime(s.startedAt), s.durationNs === undefined ? '–' : formatDuration(s.durationNs), String(s.links), failed])
      }
      console.log(table(rows))
      return 0
    })
  },
}

const statsCommand = {
  options: { chain: { type: 'string' }, limit: { type: 'string' }, json: { type: 'boolean' } },
  help: `usage: shadowchain stats <store> [--chain C] [--limit N] [--json]

Statistics of the runs kept in a store, computed from their timelines as a flight recorder
computes them live (rec.stats()): per chain, its runs; per link and per middleware call: count,
errors and p50 / p95 / p99 / max durations (HDR histograms, 3 significant digits).
  --chain C   only runs of chain C
  --limit N   read the newest N runs (default 1,000; at most 1,000,000)
  --json      the statistics as JSON (ChainStats[], durations in ns as strings)

${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    if (positionals.length !== 1) throw new UsageError('expected one store: shadowchain stats <store> [options]')
    const limit = values.limit === undefined ? 1_000 : parseLimit(values.limit, 1_000_000, UsageError)
    // Loaded here: the histograms are needed by this command only.
    const { storeStatistics } = await import('./store-stats.js')
    return withStore(positionals[0], UsageError, async (store) => {
      const { stats, runs, interrupted } = await storeStatistics(store, { chain: values.chain, limit })
      if (values.json) {
        console.log(JSON.stringify(stats, replacer, 2))
        return 0
      }
      const notes = [runs === limit && `the newest ${limit}; --limit N for more`, interrupted > 0 && `${interrupted} interrupted: their links and middleware only`].filter(Boolean)
      console.log(`${runs} run${runs === 1 ? '' : 's'}${values.chain === undefined ? '' : ` of chain '${values.chain}'`} in ${store.where}${notes.length > 0 ? ` (${notes.join('; ')})` : ''}`)
      console.log('')
      console.log(formatStats(stats))
      return 0
    })
  },
}

const retainCommand = {
  options: {
    chain: { type: 'string', multiple: true },
    last: { type: 'string' },
    failed: { type: 'string' },
    'interrupted-older-than': { type: 'string' },
    json: { type: 'boolean' },
  },
  help: `usage: shadowchain retain <store> --chain C [--chain C2]... [--last N] [--failed N]
                          [--interrupted-older-than D] [--json]

Deletes the runs of the chains named that a keep policy lets go, as a flight recorder's keep
does in its store (store.retain): for a store that services write to without retention of their
own, or a cron job. At least one of --last and --failed.
  --chain C                     a chain whose runs are retained (repeat it for several)
  --last N                      keep the newest N finished runs of each chain (any status)
  --failed N                    also keep the newest N failed runs (error or aborted)
  --interrupted-older-than D    also delete the durable runs left unfinished ('interrupted')
                                that began more than D ago (30m, 12h, 2d, 1w): runs whose
                                process died and that nobody resumed. Without it they are kept.
                                Make it longer than a durable run may take
  --json                        how many runs each chain lost, as JSON ({ "<chain>": N })

A run that a kept run descends from (a fork's parent, a resumed run's original) is kept.
${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    if (positionals.length !== 1) throw new UsageError('expected one store: shadowchain retain <store> --chain C --last N [options]')
    if (values.chain === undefined) throw new UsageError('--chain is needed: retain deletes runs of the chains it names, and of no other')
    if (values.last === undefined && values.failed === undefined) throw new UsageError('--last or --failed is needed (or both): the runs they keep stay, the other finished runs go')
    const older = values['interrupted-older-than']
    const keep = {
      ...(values.last !== undefined && { last: parseCount('last', values.last, UsageError) }),
      ...(values.failed !== undefined && { failed: parseCount('failed', values.failed, UsageError) }),
      ...(older !== undefined && { interruptedMs: parseDuration('interrupted-older-than', older, UsageError) }),
    }
    return withStore(positionals[0], UsageError, async (store) => {
      const deleted = {}
      for (const chain of new Set(values.chain)) deleted[chain] = await store.retain(chain, keep)
      if (values.json) console.log(JSON.stringify(deleted, null, 2))
      else for (const [chain, n] of Object.entries(deleted)) console.log(`chain '${chain}': ${n} run${n === 1 ? '' : 's'} deleted from ${store.where}`)
      return 0
    })
  },
}

// A nested chain's run (DESIGN §9) is listed in place, under the event that names it, indented;
// its times count from the outermost run's start, as in the waterfall.
function formatEvent(event, run, depth = 0) {
  const who = [event.middleware && `${event.middleware.name} (${event.middleware.position} #${event.middleware.index})`, event.link && `link '${event.link.name}'`]
    .filter(Boolean)
    .join(' ')
  const duration = event.durationNs === undefined ? '' : `  ${formatDuration(event.durationNs)}`
  // Signed as the waterfall signs it: a fork's inherited events come before its own start.
  const since = event.t - run.startedAt
  const offset = event.t === 0n ? '' : since < 0n ? formatDuration(since) : `+${formatDuration(since)}`
  const error = event.error === undefined ? '' : `  ✗ ${event.error?.message ?? String(event.error)}`
  // A skipped link says why; the run's end says which link stopped it.
  const skip = event.type === 'link.skip' ? `  – skipped: ${event.reason}` : ''
  // A failed attempt of a retried link says which one it was.
  const attempt = event.type === 'link.attempt' ? `  ↻ attempt ${event.attempt} (retried)` : ''
  // A branch of a parallel step is named with its step.
  const branch = event.branch === undefined ? '' : `  branch '${event.branch}'`
  const stop = event.stoppedBy === undefined ? '' : `  stopped by link '${event.stoppedBy.name}'${event.stopReason === undefined ? '' : `: ${event.stopReason}`}`
  const nested = event.child === undefined ? '' : `  ↳ nested run ${shortRunId(event.child)}`
  return `${'    '.repeat(depth)}${String(event.seq).padStart(5)}  ${offset.padEnd(11)}  ${event.type.padEnd(17)}  ${who}${branch}${duration}${attempt}${error}${skip}${stop}${nested}`
}

/** Every event of `run`, a nested run's events under the event that names it (unless `flat`), line by line. */
function* eventLines(run, root, depth, flat) {
  for (const event of run.timeline.events) {
    yield formatEvent(event, root, depth)
    const child = flat || event.child === undefined ? undefined : run.timeline.child(event.child)
    if (child !== undefined) {
      yield `${'    '.repeat(depth + 1)} ▾ nested run ${shortRunId(child.id)} '${child.chainName}' (${child.status}):`
      yield* eventLines(child, root, depth + 1, flat)
    }
  }
}

/** The runs of a stitched trace, callers before the runs they called. */
function* treeRuns(nodes) {
  for (const node of nodes) {
    yield node
    yield* treeRuns(node.remote)
  }
}

/** `inspect` of several runs (files, stores and run ids, `--trace`): one stitched tree per trace. */
async function inspectMany(values, positionals, trace, width, UsageError) {
  const usage = 'shadowchain inspect <file|store [run-id...]>... [--trace <id>]'
  const { sources, close } = await gatherSources(positionals, { trace, loadFile: (file) => load(file, UsageError), fromDocument, usage, UsageError })
  let entries
  try {
    entries = await loadSources(sources, trace)
  } finally {
    await close()
  }
  if (entries.length === 0) throw new UsageError(trace === undefined ? `no runs: ${usage}` : `no runs of trace ${trace} in ${positionals.join(', ')}`)
  const traces = stitchRuns(entries)
  if (values.json) {
    await writeLines(jsonLines({ traces: traces.map(describeTrace) }))
    return 0
  }
  const options = { width, color: color() && !values['no-color'], nested: !values['no-nested'] }
  await writeLines(manyLines(traces, options, values))
  return 0
}

/** What `inspect` prints of stitched traces, line by line: each trace (a blank line apart), then with --events each run's events. */
function* manyLines(traces, options, values) {
  for (let i = 0; i < traces.length; i++) {
    if (i > 0) yield ''
    yield* traceLines(traces[i], options)
  }
  if (!values.events) return
  for (const t of traces) {
    // Times count from the start of the root a run is under: known as each root's tree is walked.
    for (const root of t.roots) {
      for (const node of treeRuns([root])) {
        yield ''
        yield `${node.calledBy === undefined ? 'run' : '⇢ remote run'} ${shortRunId(node.run.id)} '${node.run.chainName}'${node.origin === undefined ? '' : ` (${node.origin})`}${node.calledBy === undefined ? '' : ` called by link '${node.calledBy.link.name}' of run ${shortRunId(node.calledBy.runId)}`}:`
        yield* eventLines(node.run, root.run, 0, values['no-nested'] === true)
      }
    }
  }
}

/** What `inspect` prints of one run, line by line: its waterfall, then with --events every event. */
function* singleLines(run, width, values) {
  yield* waterfallLines(run, { width, color: color() && !values['no-color'], nested: !values['no-nested'] })
  if (!values.events) return
  yield ''
  yield* eventLines(run, run, 0, values['no-nested'] === true)
}

const inspect = {
  options: {
    events: { type: 'boolean' },
    json: { type: 'boolean' },
    width: { type: 'string' },
    'no-color': { type: 'boolean' },
    'no-nested': { type: 'boolean' },
    trace: { type: 'string' },
  },
  help: `usage: shadowchain inspect <file> [--events] [--json] [--width N] [--no-color] [--no-nested]
       shadowchain inspect <store> <run-id> [options]
       shadowchain inspect <file|store [run-id...]>... [--trace <trace-id>] [options]

Prints a run as a waterfall: one row per link, a bar scaled to its time (█ the link itself,
░ the middleware around it), durations in ns/µs/ms, status, middleware errors and fork parent.
A nested chain's run is drawn in place under the link (or branch, or failed attempt) that ran
it, indented, with its own links on the same time axis.
  --events     list every event of the timeline after the waterfall
  --json       print a machine-readable summary instead (JSON on stdout)
  --width N    width of the bars (default 40)
  --no-color   no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)
  --no-nested  name each nested chain's run on one line instead of drawing it (and its
               events) in place under the link that ran it
  --trace ID   the runs of one distributed trace (a W3C trace id): every run of it in each
               store given, and those of the files given

Several runs (files, stores each followed by run ids, or --trace) are stitched: runs that share
a trace are one tree, each run another service made for a link drawn under that link
(⇢ remote run, with where it was read), on the caller's time axis (--json: the trees).

${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    const width = values.width === undefined ? 40 : Number(values.width)
    if (!Number.isInteger(width) || width < 10 || width > 400) throw new UsageError(`--width must be a whole number from 10 to 400, got '${values.width}'`)
    const trace = values.trace === undefined ? undefined : parseTraceId(values.trace, UsageError)
    const single = positionals.length === 1 || (positionals.length === 2 && (await isStoreArg(positionals[0])))
    if (trace !== undefined || (positionals.length > 1 && !single)) return inspectMany(values, positionals, trace, width, UsageError)
    const [run] = await loadRuns(positionals, 1, 'shadowchain inspect <file>  or  shadowchain inspect <store> <run-id>', UsageError)
    // Streamed: a 100,000-event run is written line by line as it is drawn.
    if (values.json) {
      await writeLines(jsonLines(describeRun(run, { nested: !values['no-nested'] })))
      return 0
    }
    await writeLines(singleLines(run, width, values))
    return 0
  },
}

const diff = {
  options: { json: { type: 'boolean' } },
  help: `usage: shadowchain diff <a> <b> [--json]
       shadowchain diff <store> <run-id-a> <run-id-b> [--json]

Compares two runs of one chain and shows where they first differ: their inputs (and what
changed between them), an input only one run rejected, a fork edit between two links, or the
first link whose outcome differs: its changes (patches) on each side, its errors, or the link
that ran in its place; last, how the runs ended.
Exit code 0 when the runs do not diverge, 1 when they do, 2 when a file cannot be read.
  --json   print the divergence as JSON

${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    const [a, b] = await loadRuns(positionals, 2, 'shadowchain diff <a> <b>  or  shadowchain diff <store> <run-id-a> <run-id-b>', UsageError)
    const names = positionals.length === 3 ? positionals.slice(1) : positionals
    const divergence = compareRuns(a, b)
    if (values.json) {
      // Errors print as { name, message, code? }: their stacks belong to the machine that recorded
      // them. A rejected input's error is a ChainRunError whose code says so ('INVALID_INPUT').
      const plain = (value) =>
        value instanceof Error ? { name: value.name, message: value.message, ...(typeof value.code === 'string' && { code: value.code }) } : value
      // A divergence inside a nested run (child) is made plain the same way, at each level.
      const plainDivergence = (d) => ({ ...d, link: d.link?.name, expected: plain(d.expected), actual: plain(d.actual), ...(d.child !== undefined && { child: plainDivergence(d.child) }) })
      const out = divergence && plainDivergence(divergence)
      console.log(JSON.stringify({ diverges: divergence !== undefined, ...out }, replacer, 2))
      return divergence === undefined ? 0 : 1
    }
    const chainNote = a.chainName === b.chainName ? `chain '${a.chainName}'` : `chains '${a.chainName}' and '${b.chainName}'`
    if (divergence === undefined) {
      console.log(`no divergence: ${chainNote}, ${a.timeline.links().length} links agree and both runs ended '${a.status}'`)
      return 0
    }
    console.log(`runs diverge ${divergencePlace(divergence)} (${divergence.reason}), ${chainNote}`)
    // A divergence inside a nested chain's run (DESIGN §9) follows, indented under its link.
    const show = (d, indent) => {
      const block = (title, lines) => {
        console.log(`${indent}  ${title}:`)
        for (const line of lines) console.log(`${indent}    ${line}`)
      }
      block(`a ${names[0]}`, divergenceLines(d.reason, d.expected))
      block(`b ${names[1]}`, divergenceLines(d.reason, d.actual))
      // Different inputs (or two different fork edits): what turns a's state into b's.
      const changes = divergenceChanges(d)
      if (changes.length > 0) block('changes from a to b', changes)
      if (d.child !== undefined) {
        console.log(`${indent}  inside the nested run: runs diverge ${divergencePlace(d.child)} (${d.child.reason})`)
        show(d.child, `${indent}  `)
      }
    }
    show(divergence, '')
    return 1
  },
}

const exportCommand = {
  options: { out: { type: 'string', short: 'o' }, redact: { type: 'string', multiple: true } },
  help: `usage: shadowchain export <file> --out <file> [--redact <path>]...

Rewrites a run file. --redact replaces the value at a dotted path with '[REDACTED]' in every
state, the input and every patch ('*' matches any key: --redact 'users.*.password'). Segments
that are whole numbers are array indexes. The output says which paths were redacted.`,
  async run(values, positionals, UsageError) {
    expectFiles(positionals, 1, 'shadowchain export <file> --out <file>', UsageError)
    if (values.out === undefined) throw new UsageError('export: --out <file> is required')
    const redact = (values.redact ?? []).map((path) => {
      if (path.trim() === '') throw new UsageError('--redact needs a dotted path such as user.password')
      return path.split('.').map((key) => (/^\d+$/.test(key) ? Number(key) : key))
    })
    const run = await load(positionals[0], UsageError)
    await saveRun(run, values.out, { redact })
    console.log(`wrote ${values.out}${redact.length > 0 ? ` (redacted: ${values.redact.join(', ')})` : ''}`)
    return 0
  },
}

/** Opens a URL in the desktop's browser, detached; any failure is ignored (the URL is printed). */
function openBrowser(url) {
  const [command, args] =
    process.platform === 'darwin' ? ['open', [url]] : process.platform === 'win32' ? ['cmd', ['/c', 'start', '', url]] : ['xdg-open', [url]]
  try {
    const child = spawn(command, args, { detached: true, stdio: 'ignore' })
    child.on('error', () => {})
    child.unref()
  } catch {
    // No opener on this machine: the printed URL is enough.
  }
}

const view = {
  options: { port: { type: 'string', short: 'p' }, 'no-open': { type: 'boolean' }, trace: { type: 'string' }, live: { type: 'boolean' }, interval: { type: 'string' } },
  help: `usage: shadowchain view <file...> [--port N] [--no-open]
       shadowchain view <store> [<run-id>...] [--port N] [--no-open]
       shadowchain view <file|store [run-id...]>... [--trace <trace-id>] [--port N] [--no-open]
       shadowchain view --live <store> [--interval MS] [--port N] [--no-open]

Serves the devtools viewer for the run files (a run and its forks and replays), or for runs
kept in a store (with no run id: its latest 20 runs), on 127.0.0.1 only, prints its URL and
opens it in a browser. The page needs nothing from the network; more run files can be dropped
onto it. Runs are read again on every page load. Serves until interrupted (Ctrl-C).
  --port N     the port to listen on (default 0: any free port)
  --no-open    print the URL only, never start a browser
  --trace ID   the runs of one distributed trace (a W3C trace id) from every store and file given
  --live       serve the newest runs of one store and push each run stored after the page
               opened (server-sent events; the store is polled, --interval MS, default 250),
               and each new step of a durable run as its stored document grows

Runs that share a trace are shown as one tree: a run another service made for a link opens in
place under that link (⇢ remote), like a nested chain's run.

${STORE_HELP}`,
  async run(values, positionals, UsageError) {
    if (positionals.length === 0) throw new UsageError('expected at least one file, or a store: shadowchain view <file...>  or  shadowchain view <store> [<run-id>...]')
    const port = values.port === undefined ? 0 : Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got '${values.port}'`)
    const trace = values.trace === undefined ? undefined : parseTraceId(values.trace, UsageError)
    const waitForSignal = () =>
      new Promise((stop) => {
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    if (values.live) {
      if (positionals.length !== 1 || !(await isStoreArg(positionals[0]))) throw new UsageError('--live takes one store: shadowchain view --live <store>')
      const interval = values.interval === undefined ? 250 : Number(values.interval)
      if (!Number.isInteger(interval) || interval < 20 || interval > 60_000) throw new UsageError(`--interval must be a whole number of ms from 20 to 60,000, got '${values.interval}'`)
      const { startLiveViewer } = await import('./live.js')
      return withStore(positionals[0], UsageError, async (store) => {
        const viewer = await startLiveViewer({ store, port, intervalMs: interval, fromDocument })
        console.log(`shadowchain live viewer: ${viewer.url}`)
        if (!values['no-open']) openBrowser(viewer.url)
        await waitForSignal()
        await viewer.close()
        return 0
      })
    }
    // Loaded lazily: the other commands do not need an HTTP server.
    const { startViewer } = await import('./server.js')
    const serve = async (options) => {
      const viewer = await startViewer({ port, load: (file) => load(file, UsageError), ...options })
      console.log(`shadowchain viewer: ${viewer.url}`)
      if (!values['no-open']) openBrowser(viewer.url)
      await waitForSignal()
      await viewer.close()
      return 0
    }
    const stores = []
    for (const arg of positionals) if (await isStoreArg(arg)) stores.push(arg)
    const mixed = trace !== undefined || stores.length > 1 || (stores.length === 1 && stores[0] !== positionals[0])
    if (mixed) {
      const usage = 'shadowchain view <file|store [run-id...]>... [--trace <id>]'
      const { sources, close } = await gatherSources(positionals, { trace, loadFile: (file) => load(file, UsageError), fromDocument, usage, UsageError })
      try {
        const shown = []
        for (const s of sources) {
          const run = await s.load()
          if (trace === undefined || run.trace?.traceId === trace) shown.push(s)
        }
        if (shown.length === 0) throw new UsageError(trace === undefined ? `no runs: ${usage}` : `no runs of trace ${trace} in ${positionals.join(', ')}`)
        return await serve({ sources: shown })
      } finally {
        await close()
      }
    }
    if (stores.length === 0) return serve({ files: positionals })
    // The store stays open while the viewer serves: each page load reads the runs again.
    return withStore(positionals[0], UsageError, async (store) => {
      const ids = []
      for (const arg of positionals.slice(1)) ids.push(await resolveRunId(store, arg, UsageError))
      if (positionals.length === 1) ids.push(...(await store.list({ limit: 20 })).map((s) => s.id))
      if (ids.length === 0) throw new UsageError(`no runs in ${store.where}`)
      const sources = [...new Set(ids)].map((id) => ({
        name: `run ${shortRunId(id)}`,
        load: async () => {
          const doc = await store.read(id)
          if (doc === undefined) throw new UsageError(`no run '${id}' in ${store.where} (deleted)`)
          return fromDocument(doc)
        },
      }))
      return serve({ sources })
    })
  },
}

export const commands = { inspect, diff, export: exportCommand, view, runs: runsCommand, stats: statsCommand, retain: retainCommand }
