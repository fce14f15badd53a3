// Reading server-sent events over real loopback, as a page's EventSource would.

export interface SseEvent {
  readonly event: string
  readonly data: string
}

/** An open event stream: every event received so far, and a way to wait for one. */
export interface SseStream {
  readonly events: SseEvent[]
  readonly status: number
  readonly headers: Headers
  waitFor(predicate: (events: readonly SseEvent[]) => boolean, timeoutMs?: number): Promise<void>
  close(): void
}

export async function openSse(url: string): Promise<SseStream> {
  const controller = new AbortController()
  const response = await fetch(url, { signal: controller.signal, headers: { accept: 'text/event-stream' } })
  const events: SseEvent[] = []
  const waiters = new Set<() => void>()
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  void (async () => {
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) return
        buffer += decoder.decode(value, { stream: true })
        let at: number
        while ((at = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, at)
          buffer = buffer.slice(at + 2)
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7)
            else if (line.startsWith('data: ')) data.push(line.slice(6))
          }
          if (data.length > 0) events.push({ event, data: data.join('\n') })
        }
        for (const wake of waiters) wake()
      }
    } catch {
      // aborted
    }
  })()
  return {
    events,
    status: response.status,
    headers: response.headers,
    waitFor: (predicate, timeoutMs = 5_000) =>
      new Promise<void>((resolve, reject) => {
        if (predicate(events)) return resolve()
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`no such event within ${timeoutMs} ms; got: ${events.map((e) => e.event + ' ' + e.data.slice(0, 80)).join(' | ')}`))
        }, timeoutMs)
        const check = (): void => {
          if (!predicate(events)) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      }),
    close: () => controller.abort(),
  }
}

/** Each `run` event's run id, parsed once: a predicate asked at every chunk received would otherwise parse every document again (quadratic in the stream, ~30 s for 150 runs of 200 KB). */
const idOf = new WeakMap<SseEvent, string>()

/** The run ids of the `run` events received, in order. */
export const runIds = (events: readonly SseEvent[]): string[] =>
  events
    .filter((e) => e.event === 'run')
    .map((e) => {
      let id = idOf.get(e)
      if (id === undefined) idOf.set(e, (id = (JSON.parse(e.data) as { run: { id: string } }).run.id))
      return id
    })
