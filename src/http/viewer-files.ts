// What both devtools servers share (the file viewer of `shadowchain view`, devtools/server.js,
// and the live view, serve-devtools.ts): the page's files under devtools/viewer/, the security
// headers they are served with, the Host check, and the answers. On 127.0.0.1 only; run data is
// business data: no inline script, no other origin, no framing, no referrer.
import { readFile, stat } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { dirname, extname, join, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** devtools/viewer/ of the package (from src/http/ and from dist/http/ alike). */
const VIEWER_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', 'devtools', 'viewer')

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
}

/** The headers of every answer (an event stream's too). `connect-src` follows `default-src 'self'`. */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store',
}

/** Rejects unless the page's model was bundled (`npm run build` makes devtools/viewer/model.js). */
export async function assertViewerBuilt(): Promise<void> {
  await stat(join(VIEWER_DIR, 'model.js')).catch(() => {
    throw new Error(`the devtools viewer is not built (${join(VIEWER_DIR, 'model.js')} is missing): run npm run build`)
  })
}

/** Answers with `body` (nothing for HEAD) and the security headers; a request already answered is ended. */
export function send(response: ServerResponse, status: number, type: string, body: string | Buffer): void {
  if (response.headersSent) return void response.end()
  response.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) })
  response.end(response.req.method === 'HEAD' ? undefined : body)
}

/** `send` of a plain-text answer. */
export function sendText(response: ServerResponse, status: number, text: string): void {
  send(response, status, 'text/plain; charset=utf-8', text)
}

/**
 * The checks every request passes first: its Host must be the server's own (a page on another
 * site that rebinds its DNS name to 127.0.0.1 sends its own), its method GET or HEAD. Answers
 * and returns false when it fails them.
 */
export function admitted(request: IncomingMessage, response: ServerResponse, origin: string): boolean {
  const host = request.headers.host ?? ''
  if (host !== origin && host !== origin.replace('127.0.0.1', 'localhost')) {
    sendText(response, 403, 'forbidden host')
    return false
  }
  if (request.method !== 'GET' && request.method !== 'HEAD') {
    sendText(response, 404, 'not found')
    return false
  }
  return true
}

/**
 * Serves the page (`/`) or one of its files (`/viewer/…`, no traversal, known types only) and
 * returns true; returns false for any other path (the caller's API, or a 404).
 */
export async function servePage(pathname: string, response: ServerResponse): Promise<boolean> {
  if (pathname === '/') {
    send(response, 200, TYPES['.html'] as string, await readFile(join(VIEWER_DIR, 'index.html')))
    return true
  }
  if (!pathname.startsWith('/viewer/')) return false
  const file = viewerFile(pathname)
  let body: Buffer | undefined
  if (file !== undefined) body = await readFile(file).catch(() => undefined)
  if (file === undefined || body === undefined) sendText(response, 404, 'not found')
  else send(response, 200, TYPES[extname(file)] as string, body)
  return true
}

/** The file under devtools/viewer/ that a URL path names, or undefined (traversal, unknown type). */
function viewerFile(urlPath: string): string | undefined {
  let relative: string
  try {
    relative = decodeURIComponent(urlPath.slice('/viewer/'.length))
  } catch {
    return undefined
  }
  const file = resolve(VIEWER_DIR, relative)
  return file.startsWith(VIEWER_DIR + sep) && TYPES[extname(file)] !== undefined ? file : undefined
}
