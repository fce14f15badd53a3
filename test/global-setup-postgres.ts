// vitest globalSetup: a PostgreSQL server for the store tests (DESIGN §10, ENVIRONMENT.md).
// PG_URL given: used as it is (and it must answer). Otherwise the default URL
// postgres://shadow:shadow@127.0.0.1:5432/shadow_test when it answers; if not, a server is
// started: as root the system cluster (`pg_ctlcluster 15 main start`, which initdb refuses to run
// as), with the role and database created if missing; as anyone else a throwaway cluster
// (initdb + pg_ctl from /usr/lib/postgresql/15/bin) in a temporary folder on a free port. What
// this setup started, it stops at the end. The URL reaches the tests as inject('pgUrl').
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import type { TestProject } from 'vitest/node'
import { answers, BIN, DEFAULT_URL, run, systemCluster, waitFor } from './postgres-server.js'

declare module 'vitest' {
  export interface ProvidedContext {
    /** The PostgreSQL URL the store tests use. */
    pgUrl: string
  }
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
