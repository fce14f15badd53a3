// A process that opens a store and writes runs, for the tests of two processes at once:
//   node --import tsx writer-process.ts <sqlite|postgres> <path|url> <schema|-> <id prefix> <count>
// It writes <count> runs in batches of 10 (many transactions, so the two processes interleave),
// then prints 'done' and exits 0; any failure exits 1 with the error on stderr.
import { storedRun } from '../../src/store/index.js'
import { postgresStore } from '../../src/store/postgres/index.js'
import { sqliteStore } from '../../src/store/sqlite/index.js'
import type { RunStore } from '../../src/store/types.js'
import { copyAs, okRun } from './fixtures.js'

const [kind, where, schema, prefix, count] = process.argv.slice(2) as [string, string, string, string, string]
const store: RunStore = kind === 'sqlite' ? sqliteStore(where) : postgresStore(where, schema === '-' ? {} : { schema })
try {
  const template = storedRun((await okRun('two-processes')).toJSON()).document
  const n = Number(count)
  for (let i = 0; i < n; i += 10) {
    const batch = []
    for (let j = i; j < Math.min(n, i + 10); j++) batch.push(copyAs(template, `${prefix}-${String(j).padStart(5, '0')}`, 'two-processes', 1_800_000_000_000_000_000n + BigInt(j)))
    await store.write(batch)
  }
  process.stdout.write('done\n')
} finally {
  await store.close()
}
