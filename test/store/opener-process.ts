// A process that opens new SQLite stores at set moments, for the test of processes creating one
// file at once:
//   node --import tsx opener-process.ts <directory> <first moment, epoch ms> <count> <gap ms>
// Opens <directory>/store-<i>.db at moment first + i × gap (busy-waiting for it, so that processes
// given the same moments open each file together), for i < count, and closes it. Prints the
// failures as a JSON array of messages, and exits 0.
import { join } from 'node:path'
import { openSqlite } from '../../src/store/sqlite/schema.js'

const [directory, first, count, gap] = process.argv.slice(2) as [string, string, string, string]
const failures: string[] = []
for (let i = 0; i < Number(count); i++) {
  const at = Number(first) + i * Number(gap)
  while (Date.now() < at) {
    // waits for the moment
  }
  try {
    openSqlite(join(directory, `store-${i}.db`)).close()
  } catch (error) {
    failures.push(error instanceof Error ? error.message : String(error))
  }
}
process.stdout.write(`${JSON.stringify(failures)}\n`)
