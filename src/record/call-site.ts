// Where in user code a write happened (`stacks: true`): the first stack frame outside shadowchain.
// Frames inside shadowchain (the library's root folder, src/ or dist/, one above this layer's)
// and inside Node are not call sites.
const OWN_DIR = pathOfUrl(new URL('..', import.meta.url).href)
const FRAME = /\(?((?:file:\/\/)?[^()\s]+):(\d+):(\d+)\)?$/

/**
 * `file:line:column` of the first stack frame outside shadowchain and Node's internals: where in
 * user code the write happened. Costs a stack capture (~10 µs): only with `stacks: true`.
 */
export function callSite(): string | undefined {
  const stack = new Error().stack
  if (stack === undefined) return undefined
  for (const line of stack.split('\n').slice(1)) {
    const match = FRAME.exec(line.trim())
    if (match === null) continue
    const file = pathOfUrl(match[1] as string)
    if (file.startsWith(OWN_DIR) || file.startsWith('node:') || file.includes('/node_modules/immer/')) continue
    return `${file}:${match[2]}:${match[3]}`
  }
  return undefined
}

/**
 * A `file:` URL as the path Node prints in stack frames (what `node:url`'s `fileURLToPath` gives,
 * without importing Node: this layer also runs in browsers). Anything else (a plain path, an
 * `http:` URL of a bundle) is kept as it is, so frames and this folder compare alike.
 */
function pathOfUrl(url: string): string {
  if (!url.startsWith('file://')) return url
  let path: string
  try {
    const parsed = new URL(url)
    path = decodeURIComponent(parsed.pathname)
    // file:///C:/dir/ is C:\dir\ on Windows; a host is a UNC share (file://server/share).
    if (/^\/[A-Za-z]:/.test(path)) return path.slice(1).replaceAll('/', '\\')
    if (parsed.host !== '') return `\\\\${parsed.host}${path.replaceAll('/', '\\')}`
  } catch {
    return url
  }
  return path
}
