// The handler's own responses: JSON bodies `{ error: { code, message, runId, … } }` for what went
// wrong, the run's ctx for what went right, and the `shadowchain-run-id` header on every one.
import { diag } from '@opentelemetry/api'
import { formatPath } from '../core/validate.js'
import type { Run } from '../lineage/run.js'

/** The response header that names the run a request made. */
export const RUN_ID_HEADER = 'shadowchain-run-id'

/** At most this many schema issues are listed in a 400 (the rest are counted). */
const MAX_ISSUES = 50

/** The body of every error response the handler makes. */
export interface ErrorBody {
  readonly error: {
    /** `'INVALID_INPUT'`, `'INVALID_JSON'`, `'BODY_TOO_LARGE'`, `'BODY_UNREADABLE'`, the run's error code, or `'OUTPUT_FAILED'`. */
    readonly code: string
    readonly message: string
    /** The run the request made (also in the `shadowchain-run-id` header). */
    readonly runId?: string
    /** With `INVALID_INPUT` from the chain's schema: where the input is wrong. */
    readonly issues?: readonly { readonly path: readonly (string | number)[]; readonly at: string; readonly message: string }[]
    /** Issues beyond the first 50. */
    readonly issuesOmitted?: number
  }
}

/**
 * The text of the responses this module made, by response: `nodeListener` writes it at once
 * (with a content-length) instead of reading the body back through its stream.
 */
const TEXTS = new WeakMap<Response, string>()

/** The body text of a response made here, if it is one (and its body was not read since). */
export function knownText(response: Response): string | undefined {
  const text = TEXTS.get(response)
  return text === undefined || response.bodyUsed ? undefined : text
}

function textResponse(text: string, status: number, headers: Headers): Response {
  const response = new Response(text, { status, headers })
  TEXTS.set(response, text)
  return response
}

/** A JSON response (`application/json; charset=utf-8`, `cache-control: no-store` for errors). */
export function json(status: number, body: unknown, runId: string | undefined): Response {
  const headers = new Headers({ 'content-type': 'application/json; charset=utf-8' })
  if (status >= 400) headers.set('cache-control', 'no-store')
  if (runId !== undefined) headers.set(RUN_ID_HEADER, runId)
  return textResponse(JSON.stringify(body), status, headers)
}

/** An error response: `{ error: { code, message, runId, … } }`. */
export function problem(status: number, code: string, message: string, runId: string | undefined, extra: Partial<ErrorBody['error']> = {}): Response {
  return json(status, { error: { code, message, ...(runId === undefined ? {} : { runId }), ...extra } }, runId)
}

interface Issue {
  readonly path: readonly PropertyKey[]
  readonly message: string
}

/** The issues of a ZodError (or anything shaped like one), else undefined. */
function issuesOf(cause: unknown): readonly Issue[] | undefined {
  const issues = (cause as { issues?: unknown } | null | undefined)?.issues
  if (!Array.isArray(issues)) return undefined
  return issues.filter((i): i is Issue => typeof i === 'object' && i !== null && Array.isArray((i as Issue).path) && typeof (i as Issue).message === 'string')
}

/**
 * The default response for a finished run: 200 with the ctx as JSON for an ok run; 400 naming
 * the schema's issues for a rejected input; 503 for an aborted run; 500 for a failed one, with the
 * run id and error code only (no ctx, no stack, no message from user code).
 */
export function defaultResponse(run: Run<unknown>): Response {
  if (run.status === 'ok') {
    let body: string
    try {
      body = JSON.stringify(run.ctx === undefined ? null : run.ctx)
    } catch (error) {
      diag.warn(`shadowchain/http: run ${run.id} of chain '${run.chainName}' succeeded but its ctx is not JSON (${error instanceof Error ? error.name : typeof error}); give handler() an output()`)
      return problem(500, 'OUTPUT_FAILED', 'the run succeeded but its result could not be written as JSON', run.id)
    }
    return textResponse(body, 200, new Headers({ 'content-type': 'application/json; charset=utf-8', [RUN_ID_HEADER]: run.id }))
  }
  const code = run.error?.code ?? 'INTERNAL'
  if (run.status === 'aborted') return problem(503, code, 'the run was aborted', run.id)
  if (code === 'INVALID_INPUT') {
    const issues = issuesOf(run.error?.cause)
    if (issues === undefined) return problem(400, code, 'the input was refused', run.id)
    const listed = issues.slice(0, MAX_ISSUES).map((issue) => {
      const path = issue.path.map((key) => (typeof key === 'number' ? key : String(key)))
      return { path, at: formatPath(issue.path), message: issue.message }
    })
    const where = [...new Set(listed.map((issue) => issue.at))].join(', ')
    const extra: Partial<ErrorBody['error']> = issues.length > MAX_ISSUES ? { issues: listed, issuesOmitted: issues.length - MAX_ISSUES } : { issues: listed }
    return problem(400, code, `invalid input at ${where}`, run.id, extra)
  }
  return problem(500, code, 'the run failed', run.id)
}

/**
 * `response` with the `shadowchain-run-id` header; a copy when its headers are immutable (a
 * `Response.redirect()`, a response from `fetch()`).
 */
export function withRunId(response: Response, runId: string): Response {
  try {
    response.headers.set(RUN_ID_HEADER, runId)
    return response
  } catch {
    const headers = new Headers(response.headers)
    headers.set(RUN_ID_HEADER, runId)
    return new Response(response.body, { status: response.status, statusText: response.statusText, headers })
  }
}
