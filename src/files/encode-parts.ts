// Pieces of the run document writer (write-document.ts): patches as the format writes them, the
// tables events refer to links and middleware calls through, and times as offsets.
import type { Patch } from 'immer'
import { encodeLenient, encodeValue, type EncodeNotes } from './codec.js'
import { setsInOrder, wholeSets } from '../core/set-patches.js'
import { diffStates, diffStatesAlong, mayChangeUnpatched } from '../core/diff-states.js'
import type { LinkInfo, MiddlewareCallInfo } from '../core/types.js'
import type { Redactor } from './redact.js'
import { RESERVED_PATH_KEYS, type DocumentLink, type DocumentMiddleware, type DocumentPatch } from './run-document.js'

/**
 * Encodes patches. `state` is the state the patches produce: a patch whose path goes through a
 * key that readers must refuse in paths (`constructor`, `prototype`) is written as a replace of
 * the nearest ancestor above that key, taken from `state`, so the document still loads.
 */
export function encodePatches(patches: readonly Patch[], state: unknown, notes: EncodeNotes): DocumentPatch[] {
  // Object members of a Set are named by identity, which no reader can match: such patches are
  // written as a replace of the whole Set.
  return wholeSets(patches, state).map((original) => {
    let patch = original
    // Reserved keys are refused by readers; object Map keys would come back as new objects that
    // match no key: both are written as a replace of the ancestor above them.
    const reserved = patch.path.findIndex((key) => RESERVED_PATH_KEYS.has(key) || (typeof key === 'object' && key !== null))
    if (reserved !== -1) {
      const path = patch.path.slice(0, reserved)
      patch = { op: 'replace', path, value: path.reduce<unknown>((node, key) => readKey(node, key), state) }
    }
    const out: DocumentPatch = { op: patch.op, path: patch.path.map((key) => encodeValue(key)) }
    // A Set member's removal names the member in `value`.
    if (patch.op !== 'remove' || patch.value !== undefined) out.value = encodeValue(patch.value, notes)
    return out
  })
}

function readKey(node: unknown, key: string | number): unknown {
  if (node instanceof Map) return node.get(key)
  return typeof node === 'object' && node !== null ? (node as Record<string, unknown>)[key] : undefined
}

/** Objects interned into a table, so events refer to links and middleware calls by index. */
export interface Table<T> {
  readonly items: T[]
  ref(item: T): number
}

/** Interns objects into a table, so events refer to links and middleware calls by index. */
export function table<T>(): Table<T> {
  const items: T[] = []
  const index = new Map<T, number>()
  return {
    items,
    ref(item) {
      let at = index.get(item)
      if (at === undefined) {
        at = items.push(item) - 1
        index.set(item, at)
      }
      return at
    },
  }
}

/** A link's entry in the document's table: its meta, scrubbed, only when it has any. */
export function documentLink(link: LinkInfo, redact: Redactor, notes?: EncodeNotes): DocumentLink {
  return Object.keys(link.meta).length === 0 ? { name: link.name, index: link.index } : { name: link.name, index: link.index, meta: encodeLenient(redact.scrub(link.meta), notes) }
}

/** A middleware call's entry in the document's table. */
export function documentMiddleware({ name, position, index }: MiddlewareCallInfo): DocumentMiddleware {
  return { name, position, index }
}

/** ns from `origin` as a JSON number, or as a decimal string past 2^53 ns (104 days): a fork
 * made long after its parent carries the parent's events, far before its own start. */
export function offset(t: bigint, origin: bigint): number | string {
  const ns = Number(t - origin)
  return Number.isSafeInteger(ns) ? ns : String(t - origin)
}

/**
 * A link's or fork's inverse patches as the document writes them, or `undefined` when a reader
 * derives the same ones (the structural diff from `after` back to `before`; `back` when the
 * encoder has it). Never written under redaction.
 */
export function inverseUnlessDerived(inverse: readonly Patch[], after: unknown, before: unknown, back: readonly Patch[] | undefined, redact: Redactor, notes: EncodeNotes): DocumentPatch[] | undefined {
  if (redact.active) {
    // Encoded for its notes only, as it always was.
    encodePatches(back ?? diffStates(redact.apply(after), redact.apply(before)), redact.apply(before), notes)
    return undefined
  }
  const derived = back ?? diffStates(after, before)
  // The same patches, value for value, encode the same: no need to encode and compare them. (Every
  // value they hold is in `before`, encoded earlier: encoding them again notes nothing new.)
  if (samePatches(inverse, derived)) return undefined
  const encoded = encodePatches(derived, before, notes)
  const recorded = encodePatches(inverse, before, notes)
  return JSON.stringify(recorded) === JSON.stringify(encoded) ? undefined : recorded
}

function samePatches(a: readonly Patch[], b: readonly Patch[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as Patch
    const y = b[i] as Patch
    if (x.op !== y.op || x.path.length !== y.path.length || !Object.is(x.value, y.value)) return false
    for (let k = 0; k < x.path.length; k++) if (!Object.is(x.path[k], y.path[k])) return false
  }
  return true
}

/** A patch that puts a Set in place. */
function replacesSet(patch: Patch): boolean {
  return patch.op === 'replace' && patch.value instanceof Set
}

/**
 * The changes of ctx from event to event, as a document writes them (`eventEncoder`, and the
 * text written straight from a run's log): a link's or a fork's own patches when it has them and
 * nothing is redacted, else the diff of the two (redacted) states.
 */
export class CtxChanges {
  // Whether the ctx before holds nothing immer may copy or reorder without a patch
  // (mayChangeUnpatched): then a link's diff back is walked along its patches alone, not over the
  // whole state. Decided at the first change, then kept up with what each change brings in.
  #along: boolean | undefined = undefined
  /**
   * After a change with own patches: the structural diff from after back to before. It decides
   * whether inverse patches can be omitted, and its Set replaces name every Set the change made.
   */
  back: Patch[] | undefined = undefined

  /**
   * The patches a document writes for ctx going from `before` to `after`.
   * @param derived - `own` is the diff of the two states (a link immer was not asked about): its
   *   way back, which the document omits, is not made (`back` is left `undefined`)
   */
  change(before: unknown, after: unknown, own: readonly Patch[] | undefined, redact: Redactor, derived = false): readonly Patch[] {
    this.#along ??= !redact.active && !mayChangeUnpatched(before)
    let forward: readonly Patch[]
    if (own === undefined) {
      this.back = undefined
      forward = diffStates(redact.apply(before), redact.apply(after))
    } else if (derived && !own.some(replacesSet)) {
      // The diff of the two states: its inverse is the diff back, which the document omits, and
      // no Set's members to put in order (a changed Set is one replace of it, in the diff).
      this.back = undefined
      forward = own
    } else {
      // Exact and already computed (but for the order of Sets).
      this.back = this.#along ? diffStatesAlong(after, before, own) : diffStates(after, before)
      forward = setsInOrder(own, after, this.back)
    }
    // What the change brings in is all the next state holds that this one did not.
    if (this.#along) this.#along = !forward.some((patch) => mayChangeUnpatched(patch.value))
    return forward
  }
}
