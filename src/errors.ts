import type { LinkInfo } from './types.js'
import type { Run } from './run.js'

/** Why a run failed. More codes may be added; switch with a default branch. */
export type ChainRunErrorCode = 'LINK_FAILED' | 'ABORTED' | 'INVALID_INPUT' | 'MIDDLEWARE_FAILED'

/**
 * The one error `chain.run()` rejects with. The failed run is complete and recorded: reach it
 * through `error.run` (or `chain.lastRun`), its timeline included.
 *
 * @example
 * try { await checkout.run(order) } catch (e) {
 *   if (e instanceof ChainRunError && e.code === 'LINK_FAILED') console.log(e.link?.name, e.cause)
 * }
 */
export class ChainRunError<C = unknown> extends Error {
  override readonly name = 'ChainRunError'
  /** What kind of failure this is. */
  readonly code: ChainRunErrorCode
  /** The failed run: complete, recorded, with its timeline. */
  readonly run: Run<C>
  /** The link that failed (or whose middleware failed), when there is one. */
  readonly link: LinkInfo | undefined

  /**
   * @param code - what kind of failure
   * @param message - a sentence that says what went wrong and where
   * @param run - the failed run
   * @param link - the link concerned, if any
   * @param cause - the underlying error (the link's, the middleware's, the signal's reason)
   */
  constructor(code: ChainRunErrorCode, message: string, run: Run<C>, link: LinkInfo | undefined, cause: unknown) {
    super(message, { cause })
    this.code = code
    this.run = run
    this.link = link
  }
}

/** A readable one-line description of anything thrown. */
export function describeError(error: unknown): string {
  // Never throws: it describes whatever user code threw (null-prototype objects, bigints,
  // objects whose toString throws…).
  try {
    if (error instanceof Error) return error.message || error.name
    if (typeof error === 'string') return error
    return JSON.stringify(error, (_key, value: unknown) => (typeof value === 'bigint' ? `${value}n` : value)) ?? String(error)
  } catch {
    try {
      return String(error)
    } catch {
      return Object.prototype.toString.call(error)
    }
  }
}
