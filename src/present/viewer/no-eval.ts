/**
 * Imported first by the viewer's bundle entry, before any schema is built: the page's
 * Content-Security-Policy forbids `eval`, so zod must not compile its parsers with
 * `new Function`, nor even probe whether it may (a strict policy reports the caught attempt as a
 * violation). Validation is the same; only zod's compiled fast path is left out.
 *
 * @module
 */
import { config } from 'zod'

config({ jitless: true })

/** Marks the setting as made (the entry imports this module for its effect). */
export const JITLESS = true
