/**
 * The states of a run document's events, rebuilt when asked for (see `document-run.ts`): the
 * library's decoder and patcher applied in order, as far as asked, the states kept.
 *
 * @module
 */
import type { Patch } from 'immer'
import { diffStates } from '../../core/diff-states.js'
import { childPath, DocumentError, type DecodeLimits } from '../../files/codec.js'
import { decodeValue } from '../../files/decode.js'
import { applyDocumentPatches, freezeDeep, PatchError } from '../../files/patch-apply.js'
import type { DocumentPatch, RunDocument } from '../../files/run-document.js'
import type { States } from '../../record/events.js'

/** Throws a `DocumentError` at `path`. */
export const fail = (path: string, problem: string): never => {
  throw new DocumentError(path, problem)
}

export const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value)

/**
 * The states of a document's events, rebuilt in order as far as asked and kept (they share every
 * unchanged subtree, so keeping them all costs what changed). Reading the states of event n
 * applies the patches of the events not yet rebuilt up to n, once.
 */
export class StateCursor {
  readonly #doc: RunDocument
  readonly #at: string
  readonly #limits: DecodeLimits
  readonly #ctx: unknown[] = []
  readonly #mwctx: unknown[] = []
  readonly #metrics: unknown[] = []
  /** The ctx patches as applied, of the events that changed ctx. */
  readonly #applied = new Map<number, readonly Patch[]>()
  readonly #extra = new Map<string, readonly Patch[]>()

  constructor(doc: RunDocument, at: string, limits: DecodeLimits) {
    this.#doc = doc
    this.#at = at
    this.#limits = limits
  }

  /** How many events' states are rebuilt. */
  get built(): number {
    return this.#ctx.length
  }

  stateAt(seq: number): States<unknown> {
    this.#build(seq)
    return { ctx: this.#ctx[seq], mwctx: this.#mwctx[seq], metrics: this.#metrics[seq] } as States<unknown>
  }

  /** The event's own ctx change (`link.end`, `fork`), or a branch's patches (`branch.end`, against the ctx when it ended). */
  patchesAt(seq: number): readonly Patch[] {
    this.#build(seq)
    const e = this.#doc.events[seq]
    if (e?.type !== 'branch.end') return this.#applied.get(seq) ?? EMPTY
    const key = `branch:${seq}`
    let patches = this.#extra.get(key)
    if (patches === undefined) {
      const where = `${this.#at}.events[${seq}].patches`
      patches = e.patches === undefined ? EMPTY : this.#apply(this.#ctx[seq], e.patches, where).patches
      this.#extra.set(key, patches)
    }
    return patches
  }

  /** What turns the event's ctx back into the one before it: the document's inverse patches, or the structural diff back. */
  inversePatchesAt(seq: number): readonly Patch[] {
    this.#build(seq)
    const key = `inverse:${seq}`
    let patches = this.#extra.get(key)
    if (patches === undefined) {
      const e = this.#doc.events[seq] as { inversePatches?: DocumentPatch[] }
      const after = this.#ctx[seq]
      const before = seq === 0 ? after : this.#ctx[seq - 1]
      patches =
        e.inversePatches === undefined
          ? Object.freeze(diffStates(after, before).map((p) => Object.freeze(p)))
          : this.#apply(after, e.inversePatches, `${this.#at}.events[${seq}].inversePatches`).patches
      this.#extra.set(key, patches)
    }
    return patches
  }

  #build(seq: number): void {
    const doc = this.#doc
    const version = doc.version
    for (let i = this.#ctx.length; i <= seq; i++) {
      const e = doc.events[i] as DocumentEventStates
      const where = `${this.#at}.events[${i}]`
      let ctx = i === 0 ? freezeDeep(decodeValue(doc.initial?.ctx, `${this.#at}.initial.ctx`, this.#limits, version)) : this.#ctx[i - 1]
      let mwctx = i === 0 ? freezeDeep(decodeValue(doc.initial?.mwctx, `${this.#at}.initial.mwctx`, this.#limits, version)) : this.#mwctx[i - 1]
      let metrics = i === 0 ? undefined : this.#metrics[i - 1]
      if (e.ctx !== undefined) {
        const applied = this.#apply(ctx, e.ctx, `${where}.ctx`)
        ctx = applied.state
        if (e.type === 'link.end' || e.type === 'fork') this.#applied.set(i, Object.freeze(applied.patches))
      }
      if (e.mwctx !== undefined) mwctx = this.#apply(mwctx, e.mwctx, `${where}.mwctx`).state
      if (e.metrics === null) metrics = undefined
      else if (e.metrics !== undefined) metrics = this.#apply(metrics, e.metrics, `${where}.metrics`).state
      this.#ctx.push(ctx)
      this.#mwctx.push(mwctx)
      this.#metrics.push(metrics)
    }
  }

  #apply(state: unknown, list: readonly DocumentPatch[], at: string): { state: unknown; patches: readonly Patch[] } {
    if (!Array.isArray(list)) fail(at, 'expected a list of patches')
    const patches = list.map((patch, i): Patch => {
      const where = childPath(at, i)
      if (!isObject(patch) || !Array.isArray(patch.path)) fail(where, 'expected a patch { op, path, value? }')
      const path = patch.path.map((key, k) => {
        const here = childPath(childPath(where, 'path'), k)
        const decodedKey = decodeValue(key, here, this.#limits, this.#doc.version)
        if (decodedKey === '__proto__' || decodedKey === 'constructor' || decodedKey === 'prototype') fail(here, `'${decodedKey}' is not allowed in a patch path`)
        if (typeof decodedKey === 'object' && decodedKey !== null) fail(here, 'a patch path key must be a string, a number or another primitive Map key')
        return decodedKey as string | number
      })
      const out: Patch = { op: patch.op, path }
      if ('value' in patch) out.value = freezeDeep(decodeValue(patch.value, childPath(where, 'value'), this.#limits, this.#doc.version))
      return Object.freeze(out)
    })
    try {
      return applyDocumentPatches(state, patches)
    } catch (error) {
      if (!(error instanceof PatchError)) throw error
      return fail(error.index === undefined ? at : childPath(at, error.index), `patch does not apply: ${error.message}`)
    }
  }
}

const EMPTY: readonly Patch[] = Object.freeze([])

/** What the cursor reads of an event. */
interface DocumentEventStates {
  readonly type: string
  readonly ctx?: DocumentPatch[]
  readonly mwctx?: DocumentPatch[]
  readonly metrics?: DocumentPatch[] | null
  readonly patches?: DocumentPatch[]
}
