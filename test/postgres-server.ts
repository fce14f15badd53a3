// Finding and starting the PostgreSQL server the store tests and the recorder benchmark use
// (ENVIRONMENT.md): the default URL, whether a server answers, and as root the system cluster
// with the role and database created if missing.
import { execFileSync } from 'node:child_process'
import { join } from 'node:path'
import pg from 'pg'

/** Where the tests and benchmarks look for PostgreSQL first. */
export const DEFAULT_URL = 'postgres://shadow:shadow@127.0.0.1:5432/shadow_test'
/** The Debian PostgreSQL 15 binaries. */
export const BIN = '/usr/lib/postgresql/15/bin'

/** Why the server at `url` does not answer, or undefined when it does. */
export async function answers(url: string): Promise<string | undefined> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3_000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    await client.query('SELECT 1')
    return undefined
  } catch (error) {
    return error instanceof Error ? error.message || String((error as { code?: unknown }).code) : String(error)
  } finally {
    await client.end().catch(() => undefined)
  }
}

/** Waits until the server at `url` answers (throws after `seconds`). */
export async function waitFor(url: string, seconds = 30): Promise<void> {
  let problem: string | undefined
  for (let i = 0; i < seconds * 4; i++) {
    problem = await answers(url)
    if (problem === undefined) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} did not answer: ${problem}`)
}

/** Runs a command, its output as text. */
export const run = (command: string, args: string[]): string => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const asPostgres = (sql: string): string => run('su', ['postgres', '-c', `psql -v ON_ERROR_STOP=1 -tAc ${JSON.stringify(sql)}`]).trim()

/** As root: the system cluster, started if down; the role and database created if missing. */
export async function systemCluster(): Promise<() => void> {
  let started = false
  try {
    run('pg_ctlcluster', ['15', 'main', 'status'])
  } catch {
    run('pg_ctlcluster', ['15', 'main', 'start'])
    started = true
  }
  run(join(BIN, 'pg_isready'), ['-h', '127.0.0.1', '-p', '5432', '-t', '30'])
  if (asPostgres("SELECT 1 FROM pg_roles WHERE rolname = 'shadow'") !== '1') asPostgres("CREATE ROLE shadow LOGIN PASSWORD 'shadow'")
  if (asPostgres("SELECT 1 FROM pg_database WHERE datname = 'shadow_test'") !== '1') run('su', ['postgres', '-c', 'createdb -O shadow shadow_test'])
  await waitFor(DEFAULT_URL)
  return () => {
    if (started) run('pg_ctlcluster', ['15', 'main', 'stop'])
  }
}
