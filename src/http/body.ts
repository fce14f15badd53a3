// Reading a request's body with a limit: bytes are counted as they stream in and reading stops at
// the limit, so a client cannot make the service buffer more than `maxBodyBytes`.

/** Why a request's body could not be made into a chain's input. */
export type RequestBodyProblem = 'BODY_TOO_LARGE' | 'INVALID_JSON' | 'BODY_UNREADABLE'

/**
 * A request whose body could not be made into an input: too large (413), not JSON (400), or
 * unreadable (the client went away while sending it; 400). It is the `cause` of the rejected
 * run's `INVALID_INPUT` error, so `output(run)` can tell these apart. Its message never quotes
 * the body (a flight recorder keeps it).
 */
export class RequestBodyError extends Error {
  override readonly name = 'RequestBodyError'
  /** What was wrong. */
  readonly code: RequestBodyProblem
  /** The HTTP status the default response uses: 413 or 400. */
  readonly status: number

  constructor(code: RequestBodyProblem, message: string) {
    super(message)
    this.code = code
    this.status = code === 'BODY_TOO_LARGE' ? 413 : 400
  }
}

/** The body read: its bytes, or why it could not be read. */
export type BodyRead = { readonly ok: true; readonly bytes: Uint8Array } | { readonly ok: false; readonly error: RequestBodyError }

const tooLarge = (limit: number, what: string): RequestBodyError =>
  new RequestBodyError('BODY_TOO_LARGE', `the request body is larger than ${limit} bytes (maxBodyBytes)${what}`)

/**
 * Reads `request`'s body, at most `limit` bytes: a `content-length` above the limit is refused
 * before reading anything, a stream that passes it is cancelled there.
 */
export async function readBody(request: Request, limit: number): Promise<BodyRead> {
  const declared = request.headers.get('content-length')
  if (declared !== null && /^\d+$/.test(declared.trim()) && Number(declared) > limit) {
    return { ok: false, error: tooLarge(limit, `: content-length says ${declared.trim()}`) }
  }
  const body = request.body
  if (body === null) return { ok: true, bytes: new Uint8Array(0) }
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > limit) {
        reader.cancel().catch(() => {})
        return { ok: false, error: tooLarge(limit, '') }
      }
      chunks.push(value)
    }
  } catch (error) {
    const aborted = request.signal.aborted
    return {
      ok: false,
      error: new RequestBodyError('BODY_UNREADABLE', aborted ? 'the request was aborted while its body was read' : `the request body could not be read (${describeReadError(error)})`),
    }
  }
  if (chunks.length === 1) return { ok: true, bytes: chunks[0]! }
  const bytes = new Uint8Array(size)
  let at = 0
  for (const chunk of chunks) {
    bytes.set(chunk, at)
    at += chunk.byteLength
  }
  return { ok: true, bytes }
}

/** The kind of a stream error, without its message (which could quote data). */
function describeReadError(error: unknown): string {
  if (error instanceof Error) {
    const code: unknown = (error as { code?: unknown }).code
    return typeof code === 'string' ? `${error.name} ${code}` : error.name
  }
  return typeof error
}

/** Whether a content type says JSON: `application/json` or any `+json` type. */
export function saysJson(contentType: string | null): boolean {
  if (contentType === null) return false
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase()
  return type === 'application/json' || type.endsWith('+json')
}

/** One decoder for every request (`decode` without `stream` keeps no state between calls). */
const utf8 = new TextDecoder('utf-8', { fatal: true })

/** The body parsed as JSON, or the parser's complaint. */
export function parseJson(bytes: Uint8Array): { readonly ok: true; readonly value: unknown } | { readonly ok: false; readonly reason: string } {
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    return { ok: false, reason: 'it is not UTF-8 text' }
  }
  if (text.trim() === '') return { ok: false, reason: 'it is empty' }
  try {
    return { ok: true, value: JSON.parse(text) as unknown }
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    return { ok: false, reason: message.length > 200 ? `${message.slice(0, 200)}…` : message }
  }
}
