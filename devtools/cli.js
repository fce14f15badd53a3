#!/usr/bin/env node
// The `shadowchain` command line: look at recorded runs from a terminal.
// Plain JavaScript on the built library (dist/), so `node devtools/cli.js` runs it as it is.
import { parseArgs } from 'node:util'
import { commands } from './commands.js'

const USAGE = `shadowchain: look at recorded runs

usage: shadowchain <command> [options]

commands:
  inspect <file>           a run as a waterfall, nested chains' runs in place (--events: every
                           event, --json: a summary)
  diff <a> <b>             where two runs of one chain diverge (exit 1 when they do)
  export <file> --out <f>  rewrite a run file, with --redact <path> to hide values
  view <file...>           the devtools viewer for runs, on 127.0.0.1 (--port N, --no-open)
  runs <store>             the runs kept in a store, newest first (--chain, --status, --link,
                           --since, --until, --limit, --before, --json)
  stats <store>            count, errors and p50/p95/p99/max per chain, link and middleware call
  retain <store>           delete what a keep policy lets go (--chain, --last, --failed,
                           --interrupted-older-than)
  inspect <store> <id>     inspect, diff and view take a store and run ids as well as files:
  diff <store> <a> <b>     two stored runs
  view <store> [<id>...]   stored runs in the viewer (no id: the latest 20)
  inspect <a> <b>...       several files and stores (each followed by run ids), or --trace <id>:
  view <a> <b>...          the runs of one distributed trace as one tree, each service's run
                           under the link that called it
  view --live <store>      the viewer, pushed each new run (and durable run step) as it is stored

A store is an SQLite file or a postgres:// URL (?schema=NAME for a schema other than public);
a run id is a full id, or a unique start or end of one of at least 8 characters
(tables show the last 8).

Run 'shadowchain <command> --help' for a command's options.
Exit codes: 0 ok, 1 runs diverge (diff), 2 bad usage, or a file or store that cannot be read.`

/** Thrown for anything the user should fix: printed as one line, exit code 2. */
export class UsageError extends Error {}

async function main(argv) {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(USAGE)
    return 0
  }
  const command = commands[name]
  if (command === undefined) throw new UsageError(`unknown command '${name}' (try 'shadowchain --help')`)
  let parsed
  try {
    parsed = parseArgs({ args: rest, options: { help: { type: 'boolean', short: 'h' }, ...command.options }, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(`${name}: ${error.message}`)
  }
  if (parsed.values.help) {
    console.log(command.help)
    return 0
  }
  return command.run(parsed.values, parsed.positionals, UsageError)
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    // One readable line, never a stack trace: the file or the arguments are what needs fixing.
    const known = error instanceof UsageError || error?.name === 'DocumentError' || typeof error?.code === 'string'
    const message = known ? error.message : `unexpected error: ${error?.message ?? String(error)}`
    process.stderr.write(`shadowchain: ${message.split('\n')[0]}\n`)
    process.exitCode = 2
  },
)
