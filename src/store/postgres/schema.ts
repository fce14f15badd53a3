// Opening a PostgreSQL run store: the pool, messages that name the server without its password,
// and the migration (one transaction under an advisory lock, so processes that open a new
// database at once all succeed).
import pg from 'pg'
import { redactUrl, StoreError } from '../errors.js'

/** The schema version this shadowchain writes and reads (`shadowchain_meta.schema_version`). */
export const POSTGRES_SCHEMA_VERSION = 1

/** Options of `postgresStore`. */
export interface PostgresStoreOptions {
  /** The PostgreSQL schema that holds the tables, created when missing. Default `'public'`. */
  schema?: string
  /** Most connections the store's own pool opens (not used with a pool you pass). Default 4. */
  max?: number
  /** How long connecting may take before `STORE_UNREACHABLE`, in ms (own pool only). Default 5,000. */
  connectTimeoutMs?: number
}

/** An advisory-lock key of shadowchain's migrations (the second key is the schema's hash). */
const LOCK_KEY = 0x5c_c4a1

/** `"name"`, quoted for SQL. */
export function ident(name: string): string {
  return `"${name.replace(/"/g, '""')}"`
}

/** Where a pool connects, for messages: `postgres://user@host:port/database`, never the password. */
export function poolWhere(pool: pg.Pool): string {
  const o = pool.options
  if (typeof o.connectionString === 'string') return redactUrl(o.connectionString)
  return `postgres://${o.user ?? ''}${o.user ? '@' : ''}${o.host ?? 'localhost'}:${o.port ?? 5432}/${o.database ?? ''}`
}

const UNREACHABLE_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ETIMEDOUT', 'ECONNRESET', 'EAI_AGAIN', '28P01', '28000', '3D000', '57P03'])

/** A driver error as a StoreError naming the server (never its password). */
export function postgresError(error: unknown, where: string, doing: string): StoreError {
  if (error instanceof StoreError) return error
  const code = (error as { code?: unknown }).code
  // Node's AggregateError (IPv4 and IPv6 both refused) carries the code on its errors.
  const inner = (error as { errors?: { code?: unknown }[] }).errors?.[0]?.code
  const message = error instanceof Error ? error.message || (error as { errors?: Error[] }).errors?.[0]?.message || error.name : String(error)
  const known = typeof code === 'string' ? code : typeof inner === 'string' ? inner : undefined
  if ((known !== undefined && UNREACHABLE_CODES.has(known)) || (doing === 'connecting' && /timeout|terminated|connect/i.test(message))) {
    return new StoreError('STORE_UNREACHABLE', where, `cannot reach PostgreSQL while ${doing}: ${message}${known !== undefined ? ` (${known})` : ''}`, error)
  }
  return new StoreError('STORE_FAILED', where, `PostgreSQL failed while ${doing}: ${message}${known !== undefined ? ` (${known})` : ''}`, error)
}

function schemaSql(s: string): string {
  return `
CREATE TABLE ${s}.shadowchain_meta (key text PRIMARY KEY, value text NOT NULL);
CREATE TABLE ${s}.shadowchain_runs (
  id text COLLATE "C" PRIMARY KEY,
  chain text NOT NULL,
  status text NOT NULL,
  started_at bigint NOT NULL,
  ended_at bigint,
  duration_ns bigint,
  failed_link text,
  code text,
  parent_id text COLLATE "C",
  links integer NOT NULL,
  trace_id text COLLATE "C",
  owner text,
  next_seq integer
);
CREATE INDEX shadowchain_runs_time ON ${s}.shadowchain_runs (started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_chain ON ${s}.shadowchain_runs (chain, started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_chain_status ON ${s}.shadowchain_runs (chain, status, started_at DESC, id DESC);
CREATE INDEX shadowchain_runs_parent ON ${s}.shadowchain_runs (parent_id) WHERE parent_id IS NOT NULL;
CREATE INDEX shadowchain_runs_trace ON ${s}.shadowchain_runs (trace_id, started_at DESC, id DESC) WHERE trace_id IS NOT NULL;
CREATE TABLE ${s}.shadowchain_documents (id text COLLATE "C" PRIMARY KEY, document text NOT NULL);
CREATE TABLE ${s}.shadowchain_steps (run_id text COLLATE "C" NOT NULL, seq integer NOT NULL, batch text NOT NULL, PRIMARY KEY (run_id, seq));
`
}

/**
 * Checks the schema and creates the tables when they are missing, in one transaction that holds
 * an advisory lock for the schema: a second process waits, then finds the tables made.
 */
export async function migrate(pool: pg.Pool, schema: string, where: string): Promise<void> {
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (error) {
    throw postgresError(error, where, 'connecting')
  }
  const s = ident(schema)
  try {
    await client.query('BEGIN')
    await client.query('SELECT pg_advisory_xact_lock($1, hashtext($2))', [LOCK_KEY, schema])
    const tables = (await client.query<{ name: string }>(
      "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = $1 AND table_name LIKE 'shadowchain\\_%' ORDER BY table_name",
      [schema],
    )).rows.map((row) => row.name)
    if (tables.length === 0) {
      // Created only when missing: CREATE SCHEMA IF NOT EXISTS needs the CREATE privilege even then.
      const exists = (await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])).rowCount === 1
      if (!exists) await client.query(`CREATE SCHEMA ${s}`)
      await client.query(schemaSql(s))
      await client.query(`INSERT INTO ${s}.shadowchain_meta (key, value) VALUES ('schema_version', $1), ('created_by', 'shadowchain')`, [String(POSTGRES_SCHEMA_VERSION)])
    } else if (!tables.includes('shadowchain_meta')) {
      throw new StoreError('STORE_FOREIGN', where, `schema ${s} has tables named like shadowchain's (${tables.join(', ')}) but no shadowchain_meta table: they were not made by shadowchain, which leaves them untouched`)
    } else {
      const version = (await client.query<{ value: string }>(`SELECT value FROM ${s}.shadowchain_meta WHERE key = 'schema_version'`)).rows[0]?.value
      if (version !== String(POSTGRES_SCHEMA_VERSION)) {
        throw new StoreError('STORE_VERSION', where, `the run store in schema ${s} has schema version ${version === undefined ? '(none)' : `'${version}'`}; this shadowchain reads version ${POSTGRES_SCHEMA_VERSION}`)
      }
    }
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw postgresError(error, where, `opening the run store (schema ${s})`)
  } finally {
    client.release()
  }
}
