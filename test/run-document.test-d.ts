// The published RunDocument is the hand-written interface of run-document.ts, and the schema the
// reader validates with produces exactly that type.
import { describe, expectTypeOf, it } from 'vitest'
import type * as z from 'zod'
import type { Run, RunDocument } from '../src/index.js'
import { runDocumentSchema } from '../src/files/document-schema.js'
import type { DocumentEvent, DocumentLinkEnd } from '../src/files/run-document.js'

describe('RunDocument', () => {
  it('is what toJSON returns and what the schema parses to', () => {
    expectTypeOf<ReturnType<Run['toJSON']>>().toEqualTypeOf<RunDocument>()
    expectTypeOf<z.output<ReturnType<typeof runDocumentSchema>>>().toEqualTypeOf<RunDocument>()
  })

  it('narrows events by type, like docs/run-format.md §2', () => {
    const event = {} as DocumentEvent
    if (event.type === 'link.end') expectTypeOf(event).toEqualTypeOf<DocumentLinkEnd>()
    // @ts-expect-error a link.start has no durationNs
    const bad: DocumentEvent = { seq: 0, t: 0, type: 'link.start', link: 0, durationNs: 1 }
    void bad
    if (event.type === 'link.skip') expectTypeOf(event.reason).toEqualTypeOf<'when' | 'stopped'>()
    if (event.type === 'link.attempt') expectTypeOf(event.attempt).toEqualTypeOf<number>()
    // @ts-expect-error a link.attempt has no reason
    const badAttempt: DocumentEvent = { seq: 0, t: 0, type: 'link.attempt', link: 0, attempt: 1, error: null, durationNs: 1, reason: 'when' }
    void badAttempt
    if (event.type === 'branch.end') expectTypeOf(event.branch).toEqualTypeOf<string>()
    // @ts-expect-error a branch.start has no patches
    const badBranch: DocumentEvent = { seq: 0, t: 0, type: 'branch.start', link: 0, branch: 'a', patches: [] }
    void badBranch
    // @ts-expect-error version 11 does not exist
    const future: RunDocument['version'] = 11
    void future
  })
})
