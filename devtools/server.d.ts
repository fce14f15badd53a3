// Types of server.js, for the TypeScript tests (the server itself is plain JavaScript).

export interface Viewer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  close(): Promise<void>
}

/** Serves the viewer for run files on 127.0.0.1; `load` validates a file (default: the library's `loadRun`). */
export function startViewer(options: {
  files?: readonly string[]
  /** Runs from elsewhere (a store): `load()` gives the run; `origin` names where it was read. */
  sources?: readonly { name: string; origin?: string; load(): Promise<{ toJSON(): unknown }> }[]
  port?: number
  load?: (file: string) => Promise<{ toJSON(): unknown }>
}): Promise<Viewer>
