// `node --import ./register.mjs`: our resolve hook first, then tsx (hooks registered later run
// first, so tsx handles .ts files and hands bare specifiers on to resolve-from-bench.mjs).
import Module, { register } from 'node:module'
import { delimiter } from 'node:path'
import { fileURLToPath } from 'node:url'

register('./resolve-from-bench.mjs', import.meta.url)
// src/ loads zod and hdr-histogram-js with require() when first needed (src/files/load-zod.ts,
// src/store/statistics.ts): CommonJS resolution, which the hook above does not reach. Its global
// folders (NODE_PATH, read again by _initPaths) get bench/node_modules, after the root's.
process.env.NODE_PATH = [fileURLToPath(new URL('./node_modules', import.meta.url)), process.env.NODE_PATH].filter(Boolean).join(delimiter)
Module._initPaths()
await import('tsx')
