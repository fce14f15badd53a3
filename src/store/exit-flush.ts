// Flushing recorders when the process ends on its own (`beforeExit`) or is asked to (`SIGTERM`),
// so a short-lived process loses no run. One pair of process listeners serves every open recorder
// (a listener per recorder would pass Node's limit of 10 and warn). A SIGTERM listener replaces
// Node's default (exit at once): after the flushes, if nobody else listens, the signal is raised
// again to end as Node would.

/** The flushes of the recorders open now. */
const flushes = new Set<() => Promise<void>>()

function onBeforeExit(): void {
  // A flush that fails at exit is not tried again at the next beforeExit: its store's failure was
  // reported already, and trying again would keep the process alive for ever.
  for (const flush of flushes) void flush().catch(() => flushes.delete(flush))
}

function onTerm(): void {
  process.removeListener('SIGTERM', onTerm)
  const done = (): void => {
    if (process.listenerCount('SIGTERM') === 0) process.kill(process.pid, 'SIGTERM')
  }
  void Promise.allSettled([...flushes].map((flush) => flush())).then(done)
}

/** The process hooks of one recorder; `remove()` takes them away (on `close()`). */
export class ExitFlush {
  readonly #flush: () => Promise<void>

  constructor(flush: () => Promise<void>) {
    this.#flush = flush
    flushes.add(flush)
    if (!process.listeners('beforeExit').includes(onBeforeExit)) process.on('beforeExit', onBeforeExit)
    if (!process.listeners('SIGTERM').includes(onTerm)) process.on('SIGTERM', onTerm)
  }

  remove(): void {
    flushes.delete(this.#flush)
    if (flushes.size > 0) return
    process.removeListener('beforeExit', onBeforeExit)
    process.removeListener('SIGTERM', onTerm)
  }
}
