// `node --import ./register.mjs`: our resolve hook first, then tsx (hooks registered later run
// first, so tsx handles .ts files and hands bare specifiers on to resolve-from-bench.mjs).
import { register } from 'node:module'

register('./resolve-from-bench.mjs', import.meta.url)
await import('tsx')
