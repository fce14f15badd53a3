// The error a failed run rejects with. It lives with `Run` (which makes it, and which it
// carries); its code type and `describeError` are core's, used by every layer.
import { SETTLED, type ChainRunErrorCode } from '../core/errors.js'
import type { LinkInfo } from '../core/types.js'
import type { RunOf } from '../core/chain.js'

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
  readonly run: RunOf<C>
  /** The link that failed (or whose middleware failed), when there is one. */
  readonly link: LinkInfo | undefined

  /**
   * @param code - what kind of failure
   * @param message - a sentence that says what went wrong and where
   * @param run - the failed run
   * @param link - the link concerned, if any
   * @param cause - the underlying error (the link's, the middleware's, the signal's reason)
   */
  /** @internal Kept as it is when caught again (a nested chain's failure): see `SETTLED`. */
  get [SETTLED](): true {
    return true
  }

  constructor(code: ChainRunErrorCode, message: string, run: RunOf<C>, link: LinkInfo | undefined, cause: unknown) {
    super(message, { cause })
    this.code = code
    this.run = run
    this.link = link
  }
}
