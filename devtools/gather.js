// Runs from several files and stores at once (DESIGN §11: the runs of several services that share
// a trace): positionals are run files, and stores each followed by run ids; `--trace <id>` takes
// every run of that trace from each store (and keeps only that trace's runs of the files).
import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { isStoreArg, openStore, resolveRunId } from './store.js'
import { shortRunId } from '../dist/index.js'

const TRACE_ID = /^[0-9a-f]{32}$/

/** `--trace`: a W3C trace id, 32 hex digits (any case). */
export function parseTraceId(text, UsageError) {
  const id = String(text).trim().toLowerCase()
  if (!TRACE_ID.test(id) || /^0+$/.test(id)) throw new UsageError(`--trace must be a W3C trace id (32 hex digits, not all zero), got '${text}'`)
  return id
}

const isFile = (path) => stat(path).then((info) => info.isFile(), () => false)

/** A store's name for labels: an SQLite file's name, a URL without its password. */
const storeName = (arg, store) => (store.kind === 'sqlite' ? basename(arg) : store.where)

/**
 * Opens what the positionals name and says which runs they give, without reading them:
 * `{ sources: [{ name, origin, load() }], stores }`, `load()` resolving to a Run (read again on
 * each call); `stores` are open until `close()`.
 *
 * @param positionals - run files, and stores each followed by zero or more run ids
 * @param options.trace - a trace id: every run of it from each store, and only its runs of the files
 * @param options.loadFile - loads a run file (the CLI's, with its messages)
 * @param options.fromDocument - a stored document as a Run
 */
export async function gatherSources(positionals, { trace, loadFile, fromDocument, usage, UsageError }) {
  const groups = []
  let current
  for (const [i, arg] of positionals.entries()) {
    if (await isStoreArg(arg)) groups.push((current = { store: arg, ids: [] }))
    else if (await isFile(arg)) {
      current = undefined
      groups.push({ file: arg })
    } else if (current !== undefined) current.ids.push(arg)
    else if (i === 0) throw new UsageError(`cannot read ${arg}: no such file`)
    else throw new UsageError(`expected one file, or a store and a run id (or several files and stores, each store followed by run ids): '${arg}' is neither a file nor a store: ${usage}`)
  }
  const stores = []
  const close = () => Promise.all(stores.map((s) => s.close().catch(() => undefined)))
  try {
    const sources = []
    for (const group of groups) {
      if (group.file !== undefined) {
        const name = basename(group.file)
        sources.push({ name, origin: name, file: group.file, load: () => loadFile(group.file) })
        continue
      }
      if (group.ids.length === 0 && trace === undefined) throw new UsageError(`${group.store} is a run store: give a run id after it (or --trace <id>): ${usage}`)
      const store = await openStore(group.store, UsageError)
      stores.push(store)
      const ids = []
      for (const arg of group.ids) ids.push(await resolveRunId(store, arg, UsageError))
      if (trace !== undefined) ids.push(...(await store.list({ trace, limit: 10_000 })).map((s) => s.id))
      const name = storeName(group.store, store)
      for (const id of [...new Set(ids)]) {
        sources.push({
          name: `run ${shortRunId(id)}`,
          origin: name,
          load: async () => {
            const doc = await store.read(id)
            if (doc === undefined) throw new UsageError(`no run '${id}' in ${store.where} (deleted)`)
            return fromDocument(doc)
          },
        })
      }
    }
    return { sources, stores, close }
  } catch (error) {
    await close()
    throw error
  }
}

/** Loads every source: `[{ run, origin }]`, only the runs of `trace` when one is given. */
export async function loadSources(sources, trace) {
  const entries = []
  for (const s of sources) {
    const run = await s.load()
    if (trace === undefined || run.trace?.traceId === trace) entries.push({ run, origin: s.origin })
  }
  return entries
}
