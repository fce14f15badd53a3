// Retries and timeouts of one link (DESIGN §9): the per-attempt signal a link with `timeoutMs`
// is given, and the wait between attempts. Only links that have these options pay for them.
import type { RetryOptions } from '../core/types.js'

/**
 * The `io.signal` of one attempt of a link with `timeoutMs`: it aborts at the deadline, or when
 * the run's signal does. `release()` unhooks it from the run's signal (nothing leaks, however
 * many attempts share one run signal).
 */
export class AttemptSignal {
  private readonly controller = new AbortController()
  private readonly onRunAbort: (() => void) | undefined

  constructor(private readonly run: AbortSignal | undefined) {
    if (run !== undefined) {
      this.onRunAbort = () => this.controller.abort(run.reason)
      run.addEventListener('abort', this.onRunAbort, { once: true })
    }
  }

  get signal(): AbortSignal {
    return this.controller.signal
  }

  abort(reason: unknown): void {
    this.controller.abort(reason)
  }

  release(): void {
    if (this.onRunAbort !== undefined) this.run?.removeEventListener('abort', this.onRunAbort)
  }
}

/** The error of an attempt that outlived its `timeoutMs`. */
export function timeoutError(linkName: string, timeoutMs: number, attempt: number): Error {
  const error = new Error(`link '${linkName}' timed out after ${timeoutMs} ms (attempt ${attempt})`)
  error.name = 'TimeoutError'
  return error
}

/** Whether attempt `attempt`, which failed with `error`, is tried again. A `retryIf` that throws says no. */
export function shouldRetry(retry: RetryOptions, attempt: number, error: unknown): boolean {
  if (attempt >= retry.attempts) return false
  if (retry.retryIf === undefined) return true
  try {
    return retry.retryIf(error) === true
  } catch {
    return false
  }
}

/** Milliseconds to wait after failed attempt `attempt` (from 1): `delayMs * backoff^(attempt-1)`. */
export function delayAfter(retry: RetryOptions, attempt: number): number {
  return (retry.delayMs ?? 0) * (retry.backoff ?? 1) ** (attempt - 1)
}

/**
 * Resolves `true` after `ms`, or `false` as soon as `signal` aborts (the timer is cleared then),
 * whichever comes first.
 *
 * The timer is NOT unref'd, unlike the deadlines of `settle()`: a deadline races the link's own
 * pending work, which keeps the process alive if anything does, but during a delay the timer is
 * the run's only pending work. Unref'd, a script that awaits `chain.run()` would exit in the
 * middle of the run (exit code 13, the run lost) at its first retry delay.
 */
export function wait(ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  return new Promise<boolean>((resolve) => {
    if (signal?.aborted === true) {
      resolve(false)
      return
    }
    const onAbort = (): void => {
      clearTimeout(timer)
      resolve(false)
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve(true)
    }, Math.min(ms, 2_147_483_647))
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
