// Waiting for user code without letting it hang a run: a promise a middleware or a link
// returned is raced against a timer and the run's abort signal. Only called for values that
// really are thenables, so synchronous hooks and links never arm a timer.

/** How a wait ended. */
export type Settlement =
  | { readonly kind: 'value'; readonly value: unknown }
  | { readonly kind: 'error'; readonly error: unknown }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'abort'; readonly reason: unknown }

/** Node's setTimeout fires at once past this (and warns): a longer limit is no limit. */
const MAX_TIMER_MS = 2_147_483_647

/**
 * Resolves (never rejects) with how `thenable` settled, or with `'timeout'` after `timeoutMs`,
 * or with `'abort'` as soon as `signal` aborts (one event-loop turn later, so a thenable that
 * settles as the signal aborts counts as settled), whichever comes first. The timer is unref'd (it
 * never keeps a process alive) and, like the abort listener, removed as soon as the wait ends:
 * nothing leaks, however many runs share one signal. What the thenable does after the wait ended
 * is ignored (its rejection is handled, never unhandled).
 *
 * @param timeoutMs - `Infinity` (or more than ~24.8 days): no timer
 * @param signal - `undefined`: no abort
 */
export function settle(thenable: PromiseLike<unknown>, timeoutMs: number, signal: AbortSignal | undefined): Promise<Settlement> {
  return new Promise<Settlement>((resolve) => {
    let open = true
    let timer: ReturnType<typeof setTimeout> | undefined
    const finish = (settlement: Settlement): void => {
      if (!open) return
      open = false
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      resolve(settlement)
    }
    // One turn of grace: a promise that settles as the signal aborts (a link that calls
    // `abort()` and returns) counts as settled, not as cut short.
    const onAbort = (): void => void setImmediate(() => finish({ kind: 'abort', reason: signal?.reason }))
    if (signal !== undefined) {
      if (signal.aborted) {
        onAbort()
      } else {
        signal.addEventListener('abort', onAbort, { once: true })
      }
    }
    if (open && timeoutMs <= MAX_TIMER_MS) {
      timer = setTimeout(() => finish({ kind: 'timeout' }), timeoutMs)
      timer.unref()
    }
    try {
      Promise.resolve(thenable).then(
        (value: unknown) => finish({ kind: 'value', value }),
        (error: unknown) => finish({ kind: 'error', error }),
      )
    } catch (error) {
      finish({ kind: 'error', error })
    }
  })
}
