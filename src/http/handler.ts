// `handler(chain, options)`: a fetch-standard `(Request) => Promise<Response>` that makes each
// request one recorded run (DESIGN §11). The body is read here with a limit; a body that cannot
// become an input is still a run (rejected, recorded); the caller's W3C trace context is the run's
// parent; the request's signal is the run's; every response names its run.
import { context, diag, isSpanContextValid, propagation, ROOT_CONTEXT, trace, type Context, type TextMapGetter, type Tracer } from '@opentelemetry/api'
import type { Chain } from '../core/chain.js'
import { describeError } from '../core/errors.js'
import type { RunOptions } from '../core/types.js'
import { checkRunOptions } from '../core/validate.js'
import type { ExecutionOutcome } from '../lineage/execution.js'
import type { Run } from '../lineage/run.js'
import { parseJson, readBody, RequestBodyError, saysJson } from './body.js'
import { defaultResponse, problem, withRunId } from './responses.js'

/** Default of `maxBodyBytes`: 1 MiB. */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024

/** Run options a handler passes on to every run (its trace context and tracer are its own). */
export type HandlerRunOptions = Omit<RunOptions, 'traceContext' | 'tracer'>

/** Options of {@link handler}, typed by the chain's ctx `C`. */
export interface HandlerOptions<C> {
  /**
   * Makes the run's input from the request. Default: the body parsed as JSON (whatever the
   * content type says; an empty body or one that is not JSON is a 400). The request given here
   * has its body already read (within `maxBodyBytes`), so `await request.json()` / `.text()` /
   * `.formData()` work; when its content type says JSON the body was checked to be JSON.
   * A chain with an input schema still validates what this returns (a rejection is a 400 naming
   * the paths). Throwing rejects the request: a thrown `Response` is sent as it is (say, a 401),
   * anything else is a 400 `INVALID_INPUT` that does not quote it; either way the run is
   * recorded as rejected, with what was thrown as its error's cause.
   */
  input?(request: Request): C | Promise<C>
  /**
   * Makes the response for every run (ok, failed, aborted, rejected); return `undefined` to get
   * the default for that run. Default: 200 with `run.ctx` as JSON for an ok run; 400
   * `{ error: { code: 'INVALID_INPUT', message, runId, issues: [{ path, at, message }] } }` for an
   * input the schema rejected; 400 `INVALID_JSON` / `BODY_UNREADABLE` and 413 `BODY_TOO_LARGE`
   * for a body that could not become an input (`run.error.cause` is then a `RequestBodyError`);
   * 503 `ABORTED` for an aborted run; 500 `{ error: { code, message: 'the run failed', runId } }`
   * for a failed run: no ctx, no stack, no message from your code unless you render it here.
   * Whatever it returns gets the `shadowchain-run-id` header; if it throws, or returns something
   * that is not a Response, the answer is a 500 `OUTPUT_FAILED` (reported through OTel's `diag`).
   */
  output?(run: Run<C>, request: Request): Response | undefined | Promise<Response | undefined>
  /**
   * Live tracing of every run (a span per run and link; the run span is a child of the caller's
   * span from `traceparent`). With an HTTP server instrumentation as well, the run span and the
   * instrumentation's server span are both children of the caller's span.
   */
  tracer?: Tracer
  /**
   * The largest body read, in bytes (default 1 MiB; `Infinity`: no limit). A `content-length`
   * above it is refused before reading; a streamed body is cut where it passes it. Either is a 413.
   */
  maxBodyBytes?: number
  /**
   * Other options of every run: `recorder`, `capture`, `redact`, `hookTimeoutMs`, … A `signal`
   * given here aborts runs too, besides the request's own (a client that went away).
   */
  runOptions?: HandlerRunOptions
}

const OPTION_KEYS = ['input', 'output', 'tracer', 'maxBodyBytes', 'runOptions']

/** Reads W3C headers from a `Headers` (duplicates arrive joined, which the W3C propagator refuses). */
const getter: TextMapGetter<Headers> = {
  keys: (headers) => [...headers.keys()],
  get: (headers, key) => headers.get(key) ?? undefined,
}

/**
 * The run's parent: the caller's context extracted from the request's `traceparent`,
 * `tracestate` and `baggage` through the globally registered propagator (so `run.trace` names
 * the caller's span as `remoteParent`, which is how runs of several services are stitched).
 * Without a valid `traceparent` (none, malformed, or duplicated), the context active in the
 * handler (an HTTP server instrumentation's span, say), with any extracted baggage.
 */
function incomingContext(request: Request): Context {
  let extracted: Context
  try {
    extracted = propagation.extract(ROOT_CONTEXT, request.headers, getter)
  } catch (error) {
    diag.warn(`shadowchain/http: trace context could not be extracted: ${describeError(error)}`)
    return context.active()
  }
  const span = trace.getSpanContext(extracted)
  if (span !== undefined && isSpanContextValid(span)) return extracted
  const baggage = propagation.getBaggage(extracted)
  return baggage === undefined ? context.active() : propagation.setBaggage(context.active(), baggage)
}

function checkOptions<C>(chain: Chain<C>, options: HandlerOptions<C>): void {
  const where = `handler(chain '${chain.name}')`
  if (typeof options !== 'object' || options === null) throw new TypeError(`${where}: options must be an object`)
  for (const key of Object.keys(options)) {
    if (!OPTION_KEYS.includes(key)) throw new TypeError(`${where}: unknown option '${key}' (known: ${OPTION_KEYS.join(', ')})`)
  }
  for (const fn of ['input', 'output'] as const) {
    if (options[fn] !== undefined && typeof options[fn] !== 'function') throw new TypeError(`${where}: ${fn} must be a function`)
  }
  const max = options.maxBodyBytes
  if (max !== undefined && !(typeof max === 'number' && (Number.isSafeInteger(max) || max === Infinity) && max >= 0)) {
    throw new TypeError(`${where}: maxBodyBytes must be a whole number of bytes ≥ 0 (or Infinity), got ${String(max)}`)
  }
  if (options.runOptions !== undefined) {
    checkRunOptions(options.runOptions, `${where}: runOptions`)
    for (const own of ['traceContext', 'tracer']) {
      if (own in options.runOptions) throw new TypeError(`${where}: runOptions.${own} is the handler's own (give tracer as an option of handler())`)
    }
  }
  if (options.tracer !== undefined) checkRunOptions({ tracer: options.tracer }, where)
}

/** What a rejected run records as its input: the request's shape, never its body. */
function requestShape(request: Request): { method: string; path: string; contentType: string | null; contentLength: string | null } {
  let path = '/'
  try {
    path = new URL(request.url).pathname
  } catch {
    // a relative or odd URL: keep '/'
  }
  return { method: request.method, path, contentType: request.headers.get('content-type'), contentLength: request.headers.get('content-length') }
}

const isResponse = (value: unknown): value is Response =>
  value instanceof Response || (typeof value === 'object' && value !== null && typeof (value as Response).status === 'number' && (value as Response).headers instanceof Headers && 'body' in value)

/**
 * A fetch-standard handler that runs `chain` once per request: `(request) => Promise<Response>`,
 * usable as it is from Hono (`app.post('/x', (c) => h(c.req.raw))`), Bun (`Bun.serve({ fetch: h })`),
 * Deno (`Deno.serve(h)`), Next.js route handlers (`export const POST = h`), and from `node:http`
 * through {@link nodeListener}.
 *
 * Every request makes exactly one run, recorded by the run options' `recorder` whatever happens
 * (a body too large or not JSON is a run rejected with `INVALID_INPUT`), and every response
 * carries its id in the `shadowchain-run-id` header. The caller's W3C trace context
 * (`traceparent`, `tracestate`, `baggage`, read by the propagator registered with
 * `propagation.setGlobalPropagator`) is the run's parent: its span is the caller's span's child
 * and `run.trace.remoteParent` names it. The request's signal is the run's: a client that goes
 * away aborts the run (recorded as `'aborted'`).
 *
 * @param chain - the chain each request runs
 * @param options - see {@link HandlerOptions}
 * @throws TypeError on malformed options, when called (not per request)
 *
 * @example
 * const h = handler(checkout, { runOptions: { recorder: rec } })
 * http.createServer(nodeListener(h)).listen(3000)
 * app.post('/checkout', (c) => h(c.req.raw))   // Hono
 */
export function handler<C>(chain: Chain<C>, options: HandlerOptions<C> = {}): (request: Request) => Promise<Response> {
  checkOptions(chain, options)
  const { input, output, tracer } = options
  const limit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
  const base: RunOptions = { ...options.runOptions }
  if (tracer !== undefined) base.tracer = tracer
  const userSignal = base.signal

  async function respond(run: Run<C>, request: Request, fallback: () => Response): Promise<Response> {
    if (output !== undefined) {
      try {
        const chosen = await output(run, request)
        if (chosen !== undefined) {
          if (!isResponse(chosen)) throw new TypeError(`output() returned ${chosen === null ? 'null' : typeof chosen}, not a Response`)
          return withRunId(chosen, run.id)
        }
      } catch (error) {
        diag.error(`shadowchain/http: output() failed for run ${run.id} of chain '${chain.name}': ${describeError(error)}`)
        return problem(500, 'OUTPUT_FAILED', 'the response could not be made', run.id)
      }
    }
    return fallback()
  }

  async function execute(input: unknown, runOptions: RunOptions, reject?: { message: string; cause: unknown }): Promise<Run<C> | Response> {
    try {
      const outcome: ExecutionOutcome<C> = await chain._execute(input, runOptions, reject === undefined ? {} : { reject })
      return outcome.run
    } catch (error) {
      // Only options the run refuses (checked when the handler was made) get here.
      diag.error(`shadowchain/http: chain '${chain.name}' could not run: ${describeError(error)}`)
      return problem(500, 'INTERNAL', 'the request could not be run', undefined)
    }
  }

  return async function handle(request: Request): Promise<Response> {
    const runOptions: RunOptions = { ...base, traceContext: incomingContext(request), signal: userSignal === undefined ? request.signal : AbortSignal.any([userSignal, request.signal]) }
    /** A run rejected before its input could be made: recorded, then answered. */
    const rejected = async (cause: unknown, message: string, fallback: (runId: string) => Response, req: Request = request): Promise<Response> => {
      const run = await execute(requestShape(request), runOptions, { message, cause })
      return run instanceof Response ? run : respond(run, req, () => fallback(run.id))
    }
    const bodyProblem = (error: RequestBodyError, detail = error.message) =>
      rejected(error, error.message, (runId) => problem(error.status, error.code, detail, runId))

    let req = request
    let value: unknown
    const method = request.method.toUpperCase()
    if (method !== 'GET' && method !== 'HEAD') {
      const read = await readBody(request, limit)
      if (!read.ok) return bodyProblem(read.error)
      const bytes = read.bytes
      if (input === undefined || (bytes.byteLength > 0 && saysJson(request.headers.get('content-type')))) {
        const parsed = parseJson(bytes)
        if (!parsed.ok) {
          // The parser's words may quote the body: the client is told, the recording is not.
          return bodyProblem(new RequestBodyError('INVALID_JSON', `the request body is not JSON (${bytes.byteLength} bytes)`), `the request body is not JSON: ${parsed.reason}`)
        }
        value = parsed.value
      }
      if (input !== undefined) {
        req = new Request(request.url, { method: request.method, headers: request.headers, body: bytes.byteLength > 0 ? bytes : null, signal: request.signal })
      }
    } else if (input === undefined) {
      return bodyProblem(new RequestBodyError('INVALID_JSON', `a ${method} request has no body`), `a ${method} request has no body: expected JSON`)
    }
    if (input !== undefined) {
      try {
        value = await input(req)
      } catch (thrown) {
        if (isResponse(thrown)) {
          return rejected(thrown, `input(request) answered ${thrown.status}`, (runId) => withRunId(thrown, runId), req)
        }
        return rejected(thrown, 'input(request) refused the request', (runId) => problem(400, 'INVALID_INPUT', 'the request could not be made into an input', runId), req)
      }
    }
    const run = await execute(value, runOptions)
    return run instanceof Response ? run : respond(run, req, () => defaultResponse(run as Run<unknown>))
  }
}
