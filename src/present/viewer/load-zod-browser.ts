/**
 * The page's `loadZod` (scripts/build-viewer.mjs puts it in place of src/files/load-zod.ts): a
 * page has no `require`, and its bundle holds what the schema uses of zod (named, so that the rest
 * is left out). The same zod `no-eval.ts` configures.
 *
 * @module
 */
import { array, discriminatedUnion, enum as enumOf, literal, number, strictObject, string, union, unknown } from 'zod'
import type { ZodApi } from '../../files/load-zod.js'

const api: ZodApi = { array, discriminatedUnion, enum: enumOf, literal, number, strictObject, string, union, unknown }

/** What the document schema is built with. */
export function loadZod(): ZodApi {
  return api
}
