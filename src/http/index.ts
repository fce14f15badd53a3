/**
 * `shadowchain/http`: chains behind HTTP (DESIGN §11). `handler(chain, options)` is a
 * fetch-standard `(Request) => Promise<Response>` (Hono, Bun, Deno, Next.js); `nodeListener`
 * serves it from `node:http`.
 *
 * @packageDocumentation
 */
export { handler, DEFAULT_MAX_BODY_BYTES } from './handler.js'
export type { HandlerOptions, HandlerRunOptions } from './handler.js'
export { nodeListener } from './node.js'
export type { FetchHandler } from './node.js'
export { RequestBodyError } from './body.js'
export type { RequestBodyProblem } from './body.js'
export { RUN_ID_HEADER } from './responses.js'
export type { ErrorBody } from './responses.js'
export { serveDevtools } from './serve-devtools.js'
export type { DevtoolsServer, LiveStats, ServeDevtoolsOptions } from './serve-devtools.js'
