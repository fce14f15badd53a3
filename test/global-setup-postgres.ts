// vitest globalSetup: a PostgreSQL server for the store tests (DESIGN §10, ENVIRONMENT.md).
// PG_URL given: used as it is (and it must answer). Otherwise the default URL
// postgres://shadow:shadow@127.0.0.1:5432/shadow_test when it answers; if not, a server is
// started: as root the system cluster (`pg_ctlcluster 15 main start`, which initdb refuses to run
// as), with the role and database created if missing; as anyone else a throwaway cluster
// (initdb + pg_ctl from /usr/lib/postgresql/15/bin) in a temporary folder on a free port. What
// this setup started, it stops at the end. The URL reaches the tests as inject('pgUrl').
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL URL the store tests use. */
    pgUrl: string
  }
}

const DEFAULT_URL = 'postgres://shadow:shadow@127.0.0.1:5432/shadow_test'
const BIN = '/usr/lib/postgresql/15/bin'

async function answers(url: string): Promise<string | undefined> {
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

async function waitFor(url: string, seconds = 30): Promise<void> {
  let problem: string | undefined
  for (let i = 0; i < seconds * 4; i++) {
    problem = await answers(url)
    if (problem === undefined) return
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  throw new Error(`PostgreSQL at ${url.replace(/:[^:@/]*@/, ':***@')} did not answer: ${problem}`)
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address !== null ? address.port : 0))
    })
  })
}

const run = (command: string, args: string[]): string => execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
const asPostgres = (sql: string): string => run('su', ['postgres', '-c', `psql -v ON_ERROR_STOP=1 -tAc ${JSON.stringify(sql)}`]).trim()

/** As root: the system cluster, started if down; the role and database created if missing. */
async function systemCluster(): Promise<() => void> {
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

/** Not root: a throwaway cluster in a temporary folder, on a free port, trusting local logins. */
async function privateCluster(project: TestProject): Promise<() => void> {
  const dir = mkdtempSync(join(tmpdir(), 'shadowchain-pg-'))
  const data = join(dir, 'data')
  const port = await freePort()
  const password = join(dir, 'password')
  writeFileSync(password, 'shadow\n')
  run(join(BIN, 'initdb'), ['-D', data, '-U', 'shadow', '--pwfile', password, '--auth', 'md5', '-E', 'UTF8', '--no-sync'])
  run(join(BIN, 'pg_ctl'), ['-D', data, '-l', join(dir, 'log'), '-w', '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off`, 'start'])
  const url = `postgres://shadow:shadow@127.0.0.1:${port}/shadow_test`
  const admin = new pg.Client({ connectionString: `postgres://shadow:shadow@127.0.0.1:${port}/postgres` })
  await admin.connect()
  await admin.query('CREATE DATABASE shadow_test')
  await admin.end()
  await waitFor(url)
  project.provide('pgUrl', url)
  return () => {
    try {
      run(join(BIN, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }
}

/** Finds or starts the server; returns the teardown. */
export default async function setup(project: TestProject): Promise<() => void> {
  const given = process.env['PG_URL']
  const url = given ?? DEFAULT_URL
  project.provide('pgUrl', url)
  const problem = await answers(url)
  if (problem === undefined) return () => undefined
  // A URL given on purpose must answer: failing loudly beats testing against another server.
  if (given !== undefined) throw new Error(`PG_URL does not answer (${problem}); unset it to let the tests start a server`)
  return process.getuid?.() === 0 ? systemCluster() : privateCluster(project)
}
