// zod, loaded when a run document first needs its schema: a document the hand-written check
// (document-check.ts) does not pass, to be told what is wrong with it. Imported with the library,
// zod cost every program ~140 ms of its start, most of them never reading a malformed document.
// An ES module cannot be imported synchronously, so Node loads zod's CommonJS build (the same
// schemas; a program's own zod, ESM or not, is another copy, as two versions would be). The
// viewer's page bundles src/present/viewer/load-zod-browser.ts instead (scripts/build-viewer.mjs).
import { createRequire } from 'node:module'
import type * as Zod from 'zod'

/** The part of zod the document schema is built with (all a page's bundle keeps of it). */
export type ZodApi = Pick<typeof Zod, 'array' | 'discriminatedUnion' | 'enum' | 'literal' | 'number' | 'strictObject' | 'string' | 'union' | 'unknown'>

let zod: ZodApi | undefined

/** zod (loaded on the first call). */
export function loadZod(): ZodApi {
  return (zod ??= createRequire(import.meta.url)('zod') as typeof Zod)
}
