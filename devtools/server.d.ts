// Types of server.js, for the TypeScript tests (the server itself is plain JavaScript).

export interface Viewer {
  /** `http://127.0.0.1:<port>/` */
  readonly url: string
  close(): Promise<void>
}

/** Serves the viewer for run files on 127.0.0.1; `load` validates a file (default: the library's `loadRun`). */
export function startViewer(options: { files: readonly string[]; port?: number; load?: (file: string) => Promise<{ toJSON(): unknown }> }): Promise<Viewer>
