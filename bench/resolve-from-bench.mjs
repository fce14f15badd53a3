// Module resolve hook (registered by register.mjs).
//
// The benchmark imports the library from source (../src/index.ts). Bare imports made by those
// source files (`immer`, `zod`) are resolved from bench/ first (then from the repository root),
// so that:
//   - `cd bench && npm install && npm run bench` works without installing the root package, and
//   - the library and the hand-written immer baseline share ONE immer instance (same code, same
//     JIT feedback, same plugin registry): the comparison measures shadowchain, not two copies
//     of immer.
const benchEntry = new URL('./runner.bench.ts', import.meta.url).href
const srcDir = new URL('../src/', import.meta.url).href

function isBare(specifier) {
  return !/^(?:\.{0,2}\/|[a-z][a-z0-9+.-]*:)/i.test(specifier)
}

export async function resolve(specifier, context, nextResolve) {
  if (isBare(specifier) && context.parentURL !== undefined && context.parentURL.startsWith(srcDir)) {
    try {
      return await nextResolve(specifier, { ...context, parentURL: benchEntry })
    } catch (error) {
      // A runtime dependency of src/ that bench/package.json does not list yet: use the root's.
      if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error
    }
  }
  return nextResolve(specifier, context)
}
