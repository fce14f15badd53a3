// The commands of the `shadowchain` command line. Each: parseArgs options, its --help text, and
// run(values, positionals, UsageError) → exit code.
import { spawn } from 'node:child_process'
import { compareRuns, describeRun, divergenceChanges, divergenceLines, divergencePlace, formatDuration, formatWaterfall, loadRun, Run, saveRun } from '../dist/index.js'

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
  const nested = event.child === undefined ? '' : `  ↳ nested run ${event.child.slice(0, 8)}`
  return `${'    '.repeat(depth)}${String(event.seq).padStart(5)}  ${offset.padEnd(11)}  ${event.type.padEnd(17)}  ${who}${branch}${duration}${attempt}${error}${skip}${stop}${nested}`
}

/** Every event of `run`, a nested run's events under the event that names it (unless `flat`). */
function eventLines(run, root, depth, flat) {
  const lines = []
  for (const event of run.timeline.events) {
    lines.push(formatEvent(event, root, depth))
    const child = flat || event.child === undefined ? undefined : run.timeline.child(event.child)
    if (child !== undefined) {
      lines.push(`${'    '.repeat(depth + 1)} ▾ nested run ${child.id.slice(0, 8)} '${child.chainName}' (${child.status}):`)
      lines.push(...eventLines(child, root, depth + 1, flat))
    }
  }
  return lines
}

const inspect = {
  options: { events: { type: 'boolean' }, json: { type: 'boolean' }, width: { type: 'string' }, 'no-color': { type: 'boolean' }, 'no-nested': { type: 'boolean' } },
  help: `usage: shadowchain inspect <file> [--events] [--json] [--width N] [--no-color] [--no-nested]

Prints a run as a waterfall: one row per link, a bar scaled to its time (█ the link itself,
░ the middleware around it), durations in ns/µs/ms, status, middleware errors and fork parent.
A nested chain's run is drawn in place under the link (or branch, or failed attempt) that ran
it, indented, with its own links on the same time axis.
  --events     list every event of the timeline after the waterfall
  --json       print a machine-readable summary instead (JSON on stdout)
  --width N    width of the bars (default 40)
  --no-color   no ANSI colours (also when NO_COLOR is set or stdout is not a terminal)
  --no-nested  name each nested chain's run on one line instead of drawing it (and its
               events) in place under the link that ran it`,
  async run(values, positionals, UsageError) {
    expectFiles(positionals, 1, 'shadowchain inspect <file>', UsageError)
    const run = await load(positionals[0], UsageError)
    if (values.json) {
      console.log(JSON.stringify(describeRun(run, { nested: !values['no-nested'] }), replacer, 2))
      return 0
    }
    const width = values.width === undefined ? 40 : Number(values.width)
    if (!Number.isInteger(width) || width < 10 || width > 400) throw new UsageError(`--width must be a whole number from 10 to 400, got '${values.width}'`)
    console.log(formatWaterfall(run, { width, color: color() && !values['no-color'], nested: !values['no-nested'] }))
    if (values.events) {
      console.log('')
      for (const line of eventLines(run, run, 0, values['no-nested'] === true)) console.log(line)
    }
    return 0
  },
}

const diff = {
  options: { json: { type: 'boolean' } },
  help: `usage: shadowchain diff <a> <b> [--json]

Compares two runs of one chain and shows where they first differ: their inputs (and what
changed between them), an input only one run rejected, a fork edit between two links, or the
first link whose outcome differs: its changes (patches) on each side, its errors, or the link
that ran in its place; last, how the runs ended.
Exit code 0 when the runs do not diverge, 1 when they do, 2 when a file cannot be read.
  --json   print the divergence as JSON`,
  async run(values, positionals, UsageError) {
    expectFiles(positionals, 2, 'shadowchain diff <a> <b>', UsageError)
    const [a, b] = await Promise.all(positionals.map((file) => load(file, UsageError)))
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
      block(`a ${positionals[0]}`, divergenceLines(d.reason, d.expected))
      block(`b ${positionals[1]}`, divergenceLines(d.reason, d.actual))
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
  options: { port: { type: 'string', short: 'p' }, 'no-open': { type: 'boolean' } },
  help: `usage: shadowchain view <file...> [--port N] [--no-open]

Serves the devtools viewer for the run files (a run and its forks and replays) on 127.0.0.1
only, prints its URL and opens it in a browser. The page needs nothing from the network; more
run files can be dropped onto it. Serves until interrupted (Ctrl-C).
  --port N     the port to listen on (default 0: any free port)
  --no-open    print the URL only, never start a browser`,
  async run(values, positionals, UsageError) {
    if (positionals.length === 0) throw new UsageError('expected at least one file: shadowchain view <file...>')
    const port = values.port === undefined ? 0 : Number(values.port)
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--port must be a whole number from 0 to 65535, got '${values.port}'`)
    // Loaded lazily: the other commands do not need an HTTP server.
    const { startViewer } = await import('./server.js')
    const viewer = await startViewer({ files: positionals, port, load: (file) => load(file, UsageError) })
    console.log(`shadowchain viewer: ${viewer.url}`)
    if (!values['no-open']) openBrowser(viewer.url)
    await new Promise((stop) => {
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    await viewer.close()
    return 0
  },
}

export const commands = { inspect, diff, export: exportCommand, view }
