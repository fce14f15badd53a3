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
 * Resolves `true` after `ms` (an unref'd timer: it never keeps a process alive), or `false` as
 * soon as `signal` aborts, whichever comes first.
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
    timer.unref()
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
