// The zod schema of run documents: the shape check that decides, and names the problem, when a
// document fails the hand-written check (document-check.ts). Each part `satisfies` its type in
// run-document.ts, so the published types and what is accepted agree. Built on first use, with
// zod loaded then (load-zod.ts): a program that reads only well-formed documents never loads it.
import type * as Z from 'zod'
import { loadZod, type ZodApi } from './load-zod.js'
import {
  FORMAT,
  type DocumentCtxWrite,
  type DocumentEvent,
  type DocumentFork,
  type DocumentLinkEnd,
  type DocumentLinkAttempt,
  type DocumentBranchStart,
  type DocumentBranchEnd,
  type DocumentBranchError,
  type DocumentLinkError,
  type DocumentLinkSkip,
  type DocumentLinkStart,
  type DocumentMiddleware,
  type DocumentMiddlewareCall,
  type DocumentMiddlewareError,
  type DocumentPatch,
  type DocumentRun,
  type DocumentRunEnd,
  type DocumentRunStart,
  type RunDocument,
} from './run-document.js'
import { WRITE_OPS } from '../record/capture-traps.js'

/** A `ctx.write` event's `op`s (write capture's), and a middleware call's `position`s (document-check.ts reads both). */
export { WRITE_OPS }
export const MIDDLEWARE_POSITIONS = ['chain-before', 'link-before', 'link-after', 'chain-after', 'run-start', 'run-end', 'chain-around', 'link-around'] as const

/**
 * The shape of a run document, version 1 to 10 (integrity and limits are checked after it),
 * typed as the hand-written `RunDocument`. Built (and zod loaded) on the first call.
 */
export function runDocumentSchema(): Z.ZodType<RunDocument> {
  return (schema ??= buildSchema(loadZod()))
}

let schema: Z.ZodType<RunDocument> | undefined

type MutuallyAssignable<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false

function buildSchema(z: ZodApi): Z.ZodType<RunDocument> {
  // Names and ids are short; a bound keeps a hostile header from carrying megabytes.
  const name = z.string().max(4096, 'longer than 4096 characters')
  const branchName = name.min(1, 'a branch name is not empty')
  const nsString = z.string().regex(/^-?\d{1,30}$/, 'expected nanoseconds as a decimal integer string')
  // Event times are offsets from run.startedAt in ns: JSON numbers, exact up to 2^53 ns (104 days).
  // Past 2^53 ns an offset is written as a decimal string, like the run's own times.
  const nsOffset = z.union([z.number().int().refine(Number.isSafeInteger), nsString], {
    error: 'expected whole nanoseconds: a safe integer, or a decimal integer string',
  })
  const patchDoc = z.strictObject({
    op: z.enum(['add', 'replace', 'remove']),
    path: z.array(z.unknown()),
    value: z.unknown().optional(),
  }) satisfies Z.ZodType<DocumentPatch>
  const patchList = z.array(patchDoc)
  const middlewareDoc = z.strictObject({
    name,
    position: z.enum(MIDDLEWARE_POSITIONS),
    index: z.number().int().nonnegative(),
  }) satisfies Z.ZodType<DocumentMiddleware>
  const tableRef = z.number().int().nonnegative()
  const ioDoc = z.strictObject({ now: z.array(z.number()).optional(), random: z.array(z.number()).optional() })
  // Version 3: what a link left in io.metrics that could not be recorded (a value, like `error`),
  // and how many of its writes were not recorded past maxWritesPerLink (a count).
  const linkNotes = {
    metricsError: z.unknown().optional(),
    writesDropped: z
      .number()
      .refine((n) => Number.isSafeInteger(n) && n >= 0, { error: 'expected a count: a whole number from 0 to 2^53 - 1' })
      .optional(),
  }
  // Version 8: the id of the run a nested chain made in this call (one of the document's `nested`).
  const spanId = z.string().regex(/^(?!0{16})[0-9a-f]{16}$/, 'a span id is 16 lowercase hex digits, not all zero')
  const childRef = { child: name.min(1, 'a run id is not empty').optional(), span: spanId.optional() }
  const base = {
    seq: z.number().int().nonnegative(),
    t: nsOffset,
    ctx: patchList.optional(),
    mwctx: patchList.optional(),
    metrics: patchList.nullable().optional(),
  }
  const eventDoc = z.discriminatedUnion('type', [
    z.strictObject({ ...base, type: z.literal('run.start') }) satisfies Z.ZodType<DocumentRunStart>,
    z.strictObject({
      ...base,
      type: z.enum(['middleware.before', 'middleware.after']),
      middleware: tableRef,
      link: tableRef.optional(),
      durationNs: nsOffset,
    }) satisfies Z.ZodType<DocumentMiddlewareCall>,
    z.strictObject({
      ...base,
      type: z.literal('middleware.error'),
      middleware: tableRef,
      hook: z.enum(['before', 'around', 'after', 'runStart', 'runEnd']),
      link: tableRef.optional(),
      error: z.unknown(),
      durationNs: nsOffset,
    }) satisfies Z.ZodType<DocumentMiddlewareError>,
    z.strictObject({ ...base, type: z.literal('link.start'), link: tableRef }) satisfies Z.ZodType<DocumentLinkStart>,
    z.strictObject({
      ...base,
      type: z.literal('link.end'),
      link: tableRef,
      inversePatches: patchList.optional(),
      durationNs: nsOffset,
      io: ioDoc.optional(),
      ...linkNotes,
      ...childRef,
    }) satisfies Z.ZodType<DocumentLinkEnd>,
    z.strictObject({
      ...base,
      type: z.literal('link.error'),
      link: tableRef,
      error: z.unknown(),
      durationNs: nsOffset,
      io: ioDoc.optional(),
      ...linkNotes,
      ...childRef,
    }) satisfies Z.ZodType<DocumentLinkError>,
    z.strictObject({ ...base, type: z.literal('link.skip'), link: tableRef, reason: z.enum(['when', 'stopped']) }) satisfies Z.ZodType<DocumentLinkSkip>,
    z.strictObject({
      ...base,
      type: z.literal('link.attempt'),
      link: tableRef,
      attempt: z.number().int().positive(),
      error: z.unknown(),
      durationNs: nsOffset,
      io: ioDoc.optional(),
      ...childRef,
    }) satisfies Z.ZodType<DocumentLinkAttempt>,
    z.strictObject({ ...base, type: z.literal('branch.start'), link: tableRef, branch: branchName }) satisfies Z.ZodType<DocumentBranchStart>,
    z.strictObject({ ...base, type: z.literal('branch.end'), link: tableRef, branch: branchName, patches: patchList.optional(), durationNs: nsOffset, io: ioDoc.optional(), ...childRef }) satisfies Z.ZodType<DocumentBranchEnd>,
    z.strictObject({ ...base, type: z.literal('branch.error'), link: tableRef, branch: branchName, error: z.unknown(), durationNs: nsOffset, io: ioDoc.optional(), ...childRef }) satisfies Z.ZodType<DocumentBranchError>,
    z.strictObject({
      ...base,
      type: z.literal('ctx.write'),
      link: tableRef,
      op: z.enum(WRITE_OPS),
      path: z.array(z.unknown()),
      value: z.unknown().optional(),
      branch: branchName.optional(),
      stack: z.string().max(4096).optional(),
    }) satisfies Z.ZodType<DocumentCtxWrite>,
    z.strictObject({
      ...base,
      type: z.literal('fork'),
      parent: z.strictObject({ runId: z.string().max(4096), seq: z.number().int().nonnegative() }),
      inversePatches: patchList.optional(),
    }) satisfies Z.ZodType<DocumentFork>,
    z.strictObject({ ...base, type: z.literal('run.end'), status: z.enum(['ok', 'error', 'aborted']) }) satisfies Z.ZodType<DocumentRunEnd>,
  ]) satisfies Z.ZodType<DocumentEvent>

  const runDoc = z.strictObject({
    id: name.min(1),
    chainName: name,
    status: z.enum(['ok', 'error', 'aborted']),
    startedAt: nsString,
    endedAt: nsString,
    error: z
      .strictObject({
        code: z.string(),
        message: z.string(),
        link: tableRef.optional(),
        cause: z.unknown().optional(),
      })
      .optional(),
    parent: z.strictObject({ runId: name, seq: z.number().int().nonnegative() }).optional(),
    replayOf: z.strictObject({ runId: name }).optional(),
    stoppedBy: tableRef.optional(),
    stopReason: z.string().optional(),
    children: z.array(name),
    trace: z
      .strictObject({
        traceId: z.string().regex(/^(?!0{32})[0-9a-f]{32}$/, 'a trace id is 32 lowercase hex digits, not all zero'),
        spanId,
        remoteParent: spanId.optional(),
      })
      .optional(),
  }) satisfies Z.ZodType<DocumentRun>

  const documentShape = z.strictObject({
    format: z.literal(FORMAT),
    version: z.union([z.literal(1), z.literal(2), z.literal(3), z.literal(4), z.literal(5), z.literal(6), z.literal(7), z.literal(8), z.literal(9), z.literal(10)]),
    run: runDoc,
    redacted: z.strictObject({ paths: z.array(z.array(z.union([z.string(), z.number()]))), placeholder: z.string() }).optional(),
    links: z.array(z.strictObject({ name, index: z.number().int().nonnegative(), meta: z.unknown().optional() })),
    middleware: z.array(middlewareDoc),
    initial: z.strictObject({ ctx: z.unknown(), mwctx: z.unknown() }),
    events: z.array(eventDoc).min(2, 'a run has at least run.start and run.end'),
    // Version 8: the nested runs' own documents, recursively (the reader bounds the depth first).
    get nested(): Z.ZodOptional<Z.ZodArray<Z.ZodType<RunDocument>>> {
      return z.array(documentShape).optional()
    },
  }) satisfies Z.ZodType<RunDocument>

  // Both ways: the schema produces a RunDocument (above), and a RunDocument has no field the schema
  // would refuse (a field documented in the types but never accepted would fail here).
  true satisfies MutuallyAssignable<Z.output<typeof documentShape>, RunDocument>
  return documentShape
}
