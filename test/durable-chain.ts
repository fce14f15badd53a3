// The chain of the durable-run tests, shared by the test and the child process it kills.
import { chain, type Chain, type RunRecorder } from '../src/index.js'
import { postgresStore } from '../src/store/postgres/index.js'
import { sqliteStore } from '../src/store/sqlite/index.js'
import type { RunStore } from '../src/index.js'

export interface Order {
  id: string
  steps: string[]
  total: number
}

/**
 * Four steps; `reserve` calls `stall` before it does anything (the child process hangs there,
 * with `price` and `charge`'s predecessor stored), and every step reports itself to `ran`.
 */
export function orderChain(recorder: RunRecorder, ran: (step: string) => void, stall: () => Promise<void> = async () => {}): Chain<Order> {
  return chain<Order>('order', { recorder })
    .link('validate', (ctx) => {
      ran('validate')
      ctx.steps.push('validate')
    })
    .link('price', async (ctx) => {
      ran('price')
      ctx.total = 42
      ctx.steps.push('price')
    })
    .link('reserve', async (ctx) => {
      await stall()
      ran('reserve')
      ctx.steps.push('reserve')
    })
    .link('charge', (ctx) => {
      ran('charge')
      ctx.steps.push(`charged ${ctx.total}`)
    })
}

/** A store from the arguments a test passes its child: `sqlite <path>` or `postgres <url> <schema>`. */
export function openStore(kind: string, where: string, schema?: string): RunStore {
  if (kind === 'sqlite') return sqliteStore(where)
  if (kind === 'postgres') return postgresStore(where, schema === undefined ? {} : { schema })
  throw new Error(`unknown store kind ${kind}`)
}
