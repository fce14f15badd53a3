// Why a run failed, in words: the failures the runner builds before `Run` makes them a
// `ChainRunError`, and the messages that say what went wrong and where.
import { describeError, type ChainRunErrorCode } from '../core/errors.js'
import type { LinkInfo, MiddlewareCallInfo, RunStatus } from '../core/types.js'

/** Why a run failed, before it becomes a `ChainRunError`. */
export interface Failure {
  readonly code: ChainRunErrorCode
  readonly message: string
  readonly link: LinkInfo | undefined
  readonly cause: unknown
}

/** A middleware error kept for `safe: false`. */
export interface MiddlewareFailure {
  readonly middleware: MiddlewareCallInfo
  readonly link: LinkInfo | undefined
  readonly error: unknown
}

/** The status of a run that failed with `code`. */
export function statusOf(code: ChainRunErrorCode): RunStatus {
  return code === 'ABORTED' ? 'aborted' : 'error'
}

/** The failure of a `safe: false` run whose middleware failed: the first, and how many more. */
export function middlewareFailure(chainName: string, failures: readonly MiddlewareFailure[]): Failure {
  const first = failures[0] as MiddlewareFailure
  const where = first.link === undefined ? first.middleware.position : `${first.middleware.position} of link '${first.link.name}'`
  const more = failures.length > 1 ? ` (and ${failures.length - 1} more middleware error${failures.length > 2 ? 's' : ''})` : ''
  return {
    code: 'MIDDLEWARE_FAILED',
    message: `middleware '${first.middleware.name}' failed at ${where} in chain '${chainName}': ${describeError(first.error)}${more}`,
    link: first.link,
    cause: failures.length === 1 ? first.error : new AggregateError(failures.map((f) => f.error), 'middleware errors'),
  }
}


/** A run ended early by `io.stop()`: which link stopped it, and the reason it gave. */
export interface Stop {
  readonly link: LinkInfo
  readonly reason: string | undefined
}
