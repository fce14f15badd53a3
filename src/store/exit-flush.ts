// Flushing a recorder when the process ends on its own (`beforeExit`) or is asked to (`SIGTERM`),
// so a short-lived process loses no run. A SIGTERM listener replaces Node's default (exit at
// once): after the flush, if nobody else listens, the signal is raised again to end as Node would.

/** The process hooks of one recorder; `remove()` takes them away (on `close()`). */
export class ExitFlush {
  readonly #flush: () => Promise<void>
  readonly #onBeforeExit = (): void => {
    void this.#flush().catch(() => {})
  }
  readonly #onTerm = (): void => {
    process.removeListener('SIGTERM', this.#onTerm)
    const done = (): void => {
      if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM')
    }
    this.#flush().then(done, done)
  }

  constructor(flush: () => Promise<void>) {
    this.#flush = flush
    process.on('beforeExit', this.#onBeforeExit)
    process.on('SIGTERM', this.#onTerm)
  }

  remove(): void {
    process.removeListener('beforeExit', this.#onBeforeExit)
    process.removeListener('SIGTERM', this.#onTerm)
  }
}
