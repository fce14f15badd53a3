// 'shadowchain/http' as a user installs it: the built subpath imports, and its declarations
// compile in a strict consumer (no skipLibCheck) that types input and output from the chain.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { ensureBuilt, ROOT } from './built-dist.js'

beforeAll(() => ensureBuilt())

it('imports from the built package and types options from the chain', () => {
  const dir = mkdtempSync(join(tmpdir(), 'shadowchain-http-dts-'))
  try {
    const file = join(dir, 'consumer.ts')
    const lines = [
      `import { chain } from ${JSON.stringify(join(ROOT, 'dist', 'index.js'))}`,
      `import { handler, nodeListener, RequestBodyError, RUN_ID_HEADER, type HandlerOptions } from ${JSON.stringify(join(ROOT, 'dist', 'http', 'index.js'))}`,
      `import { createServer } from 'node:http'`,
      `const c = chain<{ n: number; user?: string }>('c').link('a', (ctx) => { ctx.n += 1 })`,
      'const options: HandlerOptions<{ n: number; user?: string }> = {',
      "  async input(request) { return { n: ((await request.json()) as { n: number }).n, user: request.headers.get('x-user') ?? 'anonymous' } },",
      '  output(run, request) {',
      "    if (run.status === 'ok') return Response.json({ n: run.ctx.n, via: request.method })",
      '    if (run.error?.cause instanceof RequestBodyError) return new Response(run.error.cause.code, { status: run.error.cause.status })',
      '    return undefined',
      '  },',
      '  maxBodyBytes: 64 * 1024,',
      '  runOptions: { capture: "off" },',
      '}',
      'const h: (request: Request) => Promise<Response> = handler(c, options)',
      'export const server = createServer(nodeListener(h))',
      'export const header: string = RUN_ID_HEADER',
      '// @ts-expect-error input must make the chain\'s ctx',
      "handler(c, { input: () => ({ m: 1 }) })",
      '// @ts-expect-error the tracer is an option of the handler, not of its runs',
      'handler(c, { runOptions: { tracer: undefined as never as import("@opentelemetry/api").Tracer } })',
    ]
    writeFileSync(file, lines.join('\n') + '\n')
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['--ignoreConfig', '--noEmit', '--strict', '--exactOptionalPropertyTypes', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--lib', 'es2022']
    args.push('--skipLibCheck', 'false', '--typeRoots', join(ROOT, 'node_modules', '@types'), '--types', 'node', file)
    let out = ''
    try {
      execFileSync(process.execPath, [tsc, ...args], { cwd: dir, encoding: 'utf8' })
    } catch (error) {
      out = String((error as { stdout?: string }).stdout)
    }
    expect(out).toBe('')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

it('is an export of the package', async () => {
  const http = (await import(join(ROOT, 'dist', 'http', 'index.js'))) as Record<string, unknown>
  expect(typeof http['handler']).toBe('function')
  expect(typeof http['nodeListener']).toBe('function')
  const pkg = (await import(join(ROOT, 'package.json'), { with: { type: 'json' } })) as { default: { exports: Record<string, unknown> } }
  expect(pkg.default.exports['./http']).toEqual({ types: './dist/http/index.d.ts', import: './dist/http/index.js' })
})
