// The PostgreSQL store against the real server (test/global-setup-postgres.ts finds or starts
// it; these tests fail, never skip, when it cannot be reached). Every store lives in a schema of
// its own, dropped at the end, so this file runs beside any other.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:net'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { chain, recorder } from '../../src/index.js'
import { storedRun } from '../../src/store/index.js'
import { postgresStore } from '../../src/store/postgres/index.js'
import { rejection, storeContract } from './contract.js'
import { exoticRun, neverYieldingLoop } from './fixtures.js'
import { writer } from './processes.js'

const url = inject('pgUrl')
const schemas: string[] = []
const newSchema = (): string => {
  const name = `sc_test_${randomUUID().replace(/-/g, '').slice(0, 16)}`
  schemas.push(name)
  return name
}
let admin: pg.Client

beforeAll(async () => {
  admin = new pg.Client({ connectionString: url })
  await admin.connect()
})
afterAll(async () => {
  for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`)
  await admin.end()
})

storeContract('postgres', async () => {
  const schema = newSchema()
  const store = postgresStore(url, { schema })
  await store.ready()
  // Tables with their TOAST and indexes.
  const bytes = async (): Promise<number> => {
    const tables = ['shadowchain_runs', 'shadowchain_documents', 'shadowchain_steps'].map((t) => `pg_total_relation_size('"${schema}".${t}')`)
    return Number((await admin.query<{ n: string }>(`SELECT (${tables.join(' + ')})::bigint AS n`)).rows[0]?.n)
  }
  return { store, bytes }
})

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const address = server.address() as { port: number }
      server.close(() => resolve(address.port))
    })
  })
}

describe('the PostgreSQL store', () => {
  it('creates prefixed tables, a schema version and a text document column in its schema', async () => {
    const schema = newSchema()
    const store = postgresStore(url, { schema })
    await store.ready()
    await store.close()
    const tables = await admin.query<{ table_name: string }>('SELECT table_name FROM information_schema.tables WHERE table_schema = $1 ORDER BY table_name', [schema])
    expect(tables.rows.map((r) => r.table_name)).toEqual(['shadowchain_documents', 'shadowchain_meta', 'shadowchain_runs', 'shadowchain_steps'])
    const version = await admin.query(`SELECT value FROM "${schema}".shadowchain_meta WHERE key = 'schema_version'`)
    expect(version.rows).toEqual([{ value: '1' }])
    const column = await admin.query("SELECT data_type FROM information_schema.columns WHERE table_schema = $1 AND table_name = 'shadowchain_documents' AND column_name = 'document'", [schema])
    expect(column.rows).toEqual([{ data_type: 'text' }])
  })

  it('says STORE_UNREACHABLE for a port where nothing listens, naming the URL without its password', async () => {
    const port = await freePort()
    const store = postgresStore(`postgres://shadow:s3cret-pw@127.0.0.1:${port}/shadow_test`, { connectTimeoutMs: 2_000 })
    expect(store.where).toBe(`postgres://shadow:***@127.0.0.1:${port}/shadow_test`)
    const error = await rejection(store.list())
    expect(error.code).toBe('STORE_UNREACHABLE')
    expect(error.message).toContain(`127.0.0.1:${port}`)
    expect(error.message).not.toContain('s3cret-pw')
    expect(error.message).toMatch(/ECONNREFUSED/)
    await store.close()
  })

  it('says STORE_UNREACHABLE for a wrong password, without the password', async () => {
    const bad = new URL(url)
    bad.password = 'wrong-pw'
    const store = postgresStore(bad.toString())
    const error = await rejection(store.ready())
    expect(error.code).toBe('STORE_UNREACHABLE')
    expect(error.message).not.toContain('wrong-pw')
    expect(error.message).toContain(bad.host)
    await store.close()
  })

  it('refuses a store of another schema version as STORE_VERSION, naming the schema and server', async () => {
    const schema = newSchema()
    await postgresStore(url, { schema }).ready()
    await admin.query(`UPDATE "${schema}".shadowchain_meta SET value = '99' WHERE key = 'schema_version'`)
    const store = postgresStore(url, { schema })
    const error = await rejection(store.ready())
    expect(error.code).toBe('STORE_VERSION')
    expect(error.message).toContain(schema)
    expect(error.message).toContain("'99'")
    expect(error.message).toContain(new URL(url).host)
    expect(error.message).not.toContain(`:${new URL(url).password}@`)
    await store.close()
  })

  it('refuses shadowchain-named tables it did not make (STORE_FOREIGN) and lives beside other tables', async () => {
    const foreign = newSchema()
    await admin.query(`CREATE SCHEMA "${foreign}"; CREATE TABLE "${foreign}".shadowchain_runs (x int); INSERT INTO "${foreign}".shadowchain_runs VALUES (7)`)
    const store = postgresStore(url, { schema: foreign })
    const error = await rejection(store.ready())
    expect(error.code).toBe('STORE_FOREIGN')
    expect(error.message).toContain('shadowchain_runs')
    expect((await admin.query(`SELECT x FROM "${foreign}".shadowchain_runs`)).rows).toEqual([{ x: 7 }])
    await store.close()

    const shared = newSchema()
    await admin.query(`CREATE SCHEMA "${shared}"; CREATE TABLE "${shared}".orders (id int); INSERT INTO "${shared}".orders VALUES (1)`)
    const beside = postgresStore(url, { schema: shared })
    await beside.write([storedRun((await exoticRun()).toJSON())])
    expect((await beside.list()).length).toBe(1)
    await beside.retain('exotic', { last: 0 })
    expect((await admin.query(`SELECT id FROM "${shared}".orders`)).rows).toEqual([{ id: 1 }])
    await beside.close()
  })

  it('reports a stored document that is not JSON as STORE_CORRUPT', async () => {
    const schema = newSchema()
    const store = postgresStore(url, { schema })
    const doc = (await exoticRun()).toJSON()
    await store.write([storedRun(doc)])
    await admin.query(`UPDATE "${schema}".shadowchain_documents SET document = left(document, 100)`)
    const error = await rejection(store.read(doc.run.id))
    expect(error.code).toBe('STORE_CORRUPT')
    expect(error.message).toContain(doc.run.id)
    await store.close()
  })

  it('loses nothing when two processes create the tables and write at once', async () => {
    const schema = newSchema()
    const outs = await Promise.all([writer(['postgres', url, schema, 'a', '300']), writer(['postgres', url, schema, 'b', '300'])])
    expect(outs).toEqual(['done\n', 'done\n'])
    const count = await admin.query(`SELECT count(*)::int AS n, count(*) FILTER (WHERE id LIKE 'a-%')::int AS a FROM "${schema}".shadowchain_runs`)
    expect(count.rows).toEqual([{ n: 600, a: 300 }])
    const docs = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".shadowchain_documents`)
    expect(docs.rows).toEqual([{ n: 600 }])
  }, 120_000)

  it('takes two batches at once (a recorder keeps both in flight, each its own transaction), and loses none', async () => {
    const schema = newSchema()
    const store = postgresStore(url, { schema })
    expect(store.writesInFlight).toBe(2)
    const rec = recorder({ store, batch: { size: 3, delayMs: 0 }, keep: { last: 1_000, failed: 1_000 } })
    const c = chain<{ n: number }>('many', { recorder: rec }).link('add', (ctx) => void (ctx.n += 1))
    for (let n = 0; n < 300; n++) await c.run({ n })
    await rec.close()
    const count = await admin.query(`SELECT (SELECT count(*) FROM "${schema}".shadowchain_runs)::int AS runs, (SELECT count(*) FROM "${schema}".shadowchain_documents)::int AS docs`)
    expect(count.rows).toEqual([{ runs: 300, docs: 300 }])
  })

  it('hears the server while a loop of runs never yields to the event loop, and loses no run it does not report', async () => {
    const schema = newSchema()
    // Without a turn the server's answers are never heard: past maxPending the oldest would go.
    const rec = recorder({ store: postgresStore(url, { schema }), keep: { last: 100_000, failed: 100_000 }, maxPending: 4_900, onWarning: () => {} })
    const { written: writtenDuringLoop, ran } = await neverYieldingLoop(rec, 5_000)
    await rec.close()
    // Answers heard while the loop ran (the first run only, without the one-turn yield; the loop
    // goes on past 5,000 runs until one is heard, so a slow moment cannot fail this). Whether
    // every run is kept depends on the server keeping up with the loop (other test files load
    // it); a run not kept is one reported as dropped.
    expect(writtenDuringLoop, `health: ${JSON.stringify(rec.health)}`).toBeGreaterThan(1)
    expect(rec.health.written + rec.health.dropped).toBe(ran)
    expect(rec.health.pending).toBe(0)
    const count = await admin.query(`SELECT count(*)::int AS n FROM "${schema}".shadowchain_runs`)
    expect(count.rows).toEqual([{ n: rec.health.written }])
  }, 60_000)

  it('uses a pool it is given and leaves it open on close', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 2 })
    const store = postgresStore(pool, { schema: newSchema() })
    const shown = new URL(url)
    if (shown.password !== '') shown.password = '***'
    expect(store.where).toBe(shown.toString())
    await store.write([storedRun((await exoticRun()).toJSON())])
    await store.close()
    expect((await pool.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }])
    await pool.end()
  })
})
