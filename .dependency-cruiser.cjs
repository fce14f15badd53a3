// The architecture of DESIGN §8, as rules `npm test` checks: each folder of src/ imports only
// from the folders listed before it, and nothing imports in a circle. Type-only imports count
// too: a type that points the wrong way is a design that points the wrong way.
/** The layers, top first: each may import from the ones before it, never after. */
const LAYERS = ['core', 'run', 'record', 'files', 'lineage', 'present', 'otel', 'store', 'http', 'testing']

const layerRules = LAYERS.map((layer, i) => ({
  name: `layer-${layer}`,
  comment:
    `src/${layer}/ may import only from ${LAYERS.slice(0, i).map((l) => `src/${l}/`).join(', ') || 'nothing else in src/'} ` +
    `(DESIGN §8 and docs/architecture.md: each layer imports only from the layers above it).`,
  severity: 'error',
  from: { path: `^src/${layer}/` },
  to: { path: `^src/(${LAYERS.slice(i + 1).join('|')})/` },
}))

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'Modules that import each other in a circle cannot be understood, tested or loaded one at a time.',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
    ...layerRules,
    {
      name: 'layers-not-the-root',
      comment: 'Files at the root of src/ (the public entry point src/index.ts and the composition it needs) compose the layers; no layer imports them.',
      severity: 'error',
      from: { path: '^src/[^/]+/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'no-orphans-in-src',
      comment: 'A module of src/ that nothing imports is dead code (or a forgotten export).',
      severity: 'error',
      from: { orphan: true, path: '^src/', pathNot: ['^src/index\\.ts$', '^src/[^/]+/index\\.ts$', '\\.d\\.ts$'] },
      to: {},
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'] },
  },
}
