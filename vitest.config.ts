import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const src = fileURLToPath(new URL('./src/', import.meta.url))

export default defineConfig({
  resolve: {
    // Examples and example tests import 'shadowchain' as a user would; point that at the source.
    alias: [
      { find: /^shadowchain$/, replacement: `${src}index.ts` },
      { find: /^shadowchain\/(.+)$/, replacement: `${src}$1/index.ts` },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'examples/**/*.test.ts'],
    // The store tests need PostgreSQL: found, or started (and stopped) here. See the file.
    globalSetup: ['test/global-setup-postgres.ts'],
    // Guards, not timing assertions: child processes and a browser are slow on a loaded 2-core
    // machine, and a test should fail because it is wrong, not because the machine was busy.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    typecheck: { enabled: true, include: ['test/**/*.test-d.ts'] },
    // The JSON report lets CI print a plain 'N passed, N failed' line.
    reporters: ['default', 'json'],
    outputFile: { json: 'test-artifacts/vitest.json' },
  },
})
