import { randomUUID } from 'node:crypto'
import { once } from 'node:events'
import { createWriteStream } from 'node:fs'
import { open, readFile, rename, rm, stat } from 'node:fs/promises'
import type { Chain } from '../core/chain.js'
import { DocumentError } from '../files/codec.js'
import { VERSION, type ExportOptions, type ImportOptions } from '../files/run-document.js'
import { exportParts } from '../files/write-document.js'
import { Run } from './run.js'

/** The digits of the newest version: what a file's header leaves room for. */
const VERSION_WIDTH = String(VERSION).length

/** Options of {@link loadRun}. */
export interface LoadRunOptions<C> extends ImportOptions {
  /** The chain to attach (replay and fork need it); its name must match the file's. */
  chain?: Chain<C>
  /** Largest file accepted, in bytes. Default 1 GiB. */
  maxBytes?: number
}

/**
 * Writes a run file. Events are written one at a time as they are encoded, so a large run never
 * exists as one JSON string in memory; the file appears complete or not at all (it is written
 * under a temporary name and renamed).
 *
 * @param run - the run to save
 * @param path - where to write (conventionally `*.run.json`)
 * @param options - `redact`: paths whose values become `'[REDACTED]'` everywhere
 */
export async function saveRun<C>(run: Run<C>, path: string, options?: ExportOptions): Promise<void> {
  const { header, events, nested } = exportParts(run, options)
  const temporary = `${path}.${randomUUID()}.tmp`
  const out = createWriteStream(temporary, { encoding: 'utf8' })
  let done = false
  try {
    const write = async (chunk: string): Promise<void> => {
      if (!out.write(chunk)) await once(out, 'drain')
    }
    const written = header.version
    // Room for the newest version's digits: events may raise a version 9 to 10 (`"version": 9`:
    // a space before the number is JSON whitespace).
    const head = JSON.stringify(header).replace(`"version":${written},`, `"version":${String(written).padStart(VERSION_WIDTH)},`)
    await write(`${head.slice(0, -1)},"events":[\n`)
    let first = true
    for (const event of events) {
      await write(`${first ? '' : ',\n'}${JSON.stringify(event)}`)
      first = false
    }
    // Nested runs (version 8) follow the events, one whole document a line.
    let docs = 0
    for (const doc of nested) await write(`${docs++ === 0 ? '\n],"nested":[\n' : ',\n'}${JSON.stringify(doc)}`)
    await write('\n]}\n')
    out.end()
    await once(out, 'finish')
    if (header.version !== written) {
      // An event or a nested run needed a newer version (2: a sparse array; 3: a link event's
      // metricsError or writesDropped; …). Its digits are rewritten in place, in the room left
      // for them (the header is ASCII up to it), so events are still written as they are encoded.
      const file = await open(temporary, 'r+')
      try {
        await file.write(String(header.version).padStart(VERSION_WIDTH), head.indexOf('"version":') + '"version":'.length)
      } finally {
        await file.close()
      }
    }
    await rename(temporary, path)
    done = true
  } finally {
    if (!done) {
      out.destroy()
      await rm(temporary, { force: true })
    }
  }
}

/**
 * Reads a run file written by {@link saveRun} (or any `run.toJSON()` document). The file is
 * read as one string and parsed once; it is validated before anything is rebuilt.
 *
 * @throws DocumentError naming the file and the path of the first problem
 */
export async function loadRun<C = unknown>(path: string, options: LoadRunOptions<C> = {}): Promise<Run<C>> {
  const maxBytes = options.maxBytes ?? 1024 ** 3
  const size = (await stat(path)).size
  if (size > maxBytes) throw new DocumentError('$', `the file is ${size} bytes, more than the limit of ${maxBytes}`, path)
  const text = await readFile(path, 'utf8')
  let doc: unknown
  try {
    doc = JSON.parse(text)
  } catch (error) {
    throw new DocumentError('$', `not valid JSON (${(error as Error).message}); is the file truncated?`, path)
  }
  try {
    return Run.fromJSON<C>(doc, options)
  } catch (error) {
    if (error instanceof DocumentError) throw new DocumentError(error.path, error.problem, path)
    throw error
  }
}
