// diffStatesAlong (src/core/diff-states.ts) gives what diffStates gives, walking only the paths
// the patches name: on states an import rebuilt (applyDocumentPatches shares everything off the
// paths), and on states immer made from a state without Sets or immerable instances. It is what
// the run document writer and reader use instead of diffing a whole 1,000-key ctx per link.
import * as fc from 'fast-check'
import { applyPatches, enableMapSet, enablePatches, immerable, produce, type Objectish, type Patch } from 'immer'
import { describe, expect, it } from 'vitest'
import { diffBothWays, diffStates, diffStatesAlong, mayChangeUnpatched } from '../src/core/diff-states.js'
import { applyDocumentPatches } from '../src/files/patch-apply.js'

enablePatches()
enableMapSet()

class Point {
  [immerable] = true
  x = 1
}

// ---- states and edits -----------------------------------------------------------------------------

type State = Record<string, unknown>
const KEYS = ['a', 'b', 'c', '1', '20', 'd'] as const
const keyArb = fc.constantFrom(...KEYS)
const primitiveArb = fc.oneof(fc.integer({ min: -3, max: 9 }), fc.constantFrom('x', 'y', '', null, true, undefined))

const { value: valueArb, object: objectArb } = fc.letrec<{ value: unknown; object: State; array: unknown[]; map: Map<unknown, unknown>; set: Set<unknown> }>((tie) => ({
  value: fc.oneof({ depthSize: 'small', withCrossShrink: true }, primitiveArb, tie('object'), tie('array'), tie('map'), tie('set'), fc.constant(new Date(0))),
  object: fc.dictionary(keyArb, tie('value'), { maxKeys: 5 }),
  array: fc.array(tie('value'), { maxLength: 4 }),
  map: fc.array(fc.tuple(fc.oneof(keyArb, fc.integer({ min: 0, max: 3 })), tie('value')), { maxLength: 4 }).map((pairs) => new Map(pairs)),
  set: fc.array(fc.oneof(primitiveArb, fc.constant({ member: 1 })), { maxLength: 4 }).map((members) => new Set(members)),
}))

/** One edit: `path` picks a container at each step, `op` acts on the last one reached. */
interface Edit {
  readonly path: readonly number[]
  readonly op: number
  readonly key: string
  readonly index: number
  readonly value: unknown
}

const editArb: fc.Arbitrary<Edit> = fc.record({
  path: fc.array(fc.nat(), { maxLength: 3 }),
  op: fc.nat(9),
  key: keyArb,
  index: fc.nat(),
  value: valueArb,
})

function children(node: object): unknown[] {
  const all = node instanceof Map ? [...node.values()] : node instanceof Set ? [] : Object.values(node)
  return all.filter((child) => typeof child === 'object' && child !== null && !(child instanceof Date))
}

function applyEdit(root: object, edit: Edit): void {
  let node = root
  for (const step of edit.path) {
    const next = children(node)
    if (next.length === 0) break
    node = next[step % next.length] as object
  }
  const value = edit.value
  if (Array.isArray(node)) {
    const at = node.length === 0 ? 0 : edit.index % node.length
    if (edit.op === 0 || node.length === 0) node.push(value)
    else if (edit.op === 1) node.unshift(value)
    else if (edit.op === 2) node.splice(at, 1)
    else if (edit.op === 3) node.reverse()
    else node[at] = value
  } else if (node instanceof Map) {
    const keys = [...node.keys()]
    const key = keys.length === 0 || edit.op < 3 ? edit.key : keys[edit.index % keys.length]
    if (edit.op === 3 && node.has(key)) {
      // Deleted and set back: the key moves to the end, and immer records nothing.
      const kept = node.get(key)
      node.delete(key)
      node.set(key, kept)
    } else if (edit.op === 4) node.delete(key)
    else node.set(key, value)
  } else if (node instanceof Set) {
    const members = [...node]
    if (edit.op === 3 && members.length > 0) {
      const member = members[edit.index % members.length]
      node.delete(member)
      node.add(member)
    } else if (edit.op === 4 && members.length > 0) node.delete(members[edit.index % members.length])
    else node.add(typeof value === 'object' ? edit.key : value)
  } else if (node instanceof Point) {
    node.x = edit.index
  } else {
    const record = node as Record<string, unknown>
    const keys = Object.keys(record)
    const key = keys.length === 0 || edit.op < 3 ? edit.key : (keys[edit.index % keys.length] as string)
    if (edit.op === 3 && key in record) {
      // Deleted and added back: the key moves to the end, and immer records nothing.
      const kept = record[key]
      delete record[key]
      record[key] = kept
    } else if (edit.op === 4) delete record[key]
    else if (edit.op === 5 && key in record) {
      // Changed and changed back: a new object, no patch.
      const kept = record[key]
      record[key] = 'changed'
      record[key] = kept
    } else if (edit.op === 6) record[key] = new Point()
    else record[key] = value
  }
}

/** `state` after `edits` in one immer recipe, with the patches both ways. */
function edited(state: State, edits: readonly Edit[]): { after: State; patches: Patch[]; inverse: Patch[] } {
  let patches: Patch[] = []
  let inverse: Patch[] = []
  const after = produce(
    state,
    (draft) => {
      for (const edit of edits) applyEdit(draft, edit)
    },
    (p, i) => {
      patches = p
      inverse = i
    },
  )
  return { after, patches, inverse }
}

const caseArb = fc.record({ state: objectArb, edits: fc.array(editArb, { minLength: 1, maxLength: 5 }) })

/**
 * A patch as any writer may put in a document, not only immer: an array's member added and
 * another removed (its items shift, its length kept), a value replaced and then patched inside,
 * the whole state replaced. Each is made against the state the patches before it left.
 */
interface PatchSpec {
  readonly path: readonly number[]
  readonly op: 'add' | 'replace' | 'remove'
  readonly key: string
  readonly index: number
  readonly value: unknown
  readonly root: boolean
}

const patchSpecArb: fc.Arbitrary<PatchSpec> = fc.record({
  // Short paths, often the same: patches that meet in one container (an add and a remove in one
  // array, a value replaced then patched inside).
  path: fc.oneof(fc.constantFrom([], [0], [0, 0], [1]), fc.array(fc.nat(2), { maxLength: 3 })),
  op: fc.constantFrom('add', 'replace', 'remove'),
  key: keyArb,
  index: fc.nat(),
  value: valueArb,
  root: fc.nat(30).map((n) => n === 0),
})

function patchOf(state: unknown, spec: PatchSpec): Patch {
  if (spec.root || typeof state !== 'object' || state === null) return { op: 'replace', path: [], value: spec.value }
  const path: (string | number)[] = []
  let node = state as object
  for (const step of spec.path) {
    const keys = node instanceof Map ? [...node.keys()] : node instanceof Set ? [] : Object.keys(node)
    const containers = keys.filter((key) => {
      const child: unknown = node instanceof Map ? node.get(key) : (node as Record<string, unknown>)[key as string]
      return typeof child === 'object' && child !== null && !(child instanceof Date)
    })
    if (containers.length === 0) break
    const key = containers[step % containers.length] as string
    path.push(Array.isArray(node) ? Number(key) : key)
    node = (node instanceof Map ? node.get(key) : (node as Record<string, unknown>)[key]) as object
  }
  let key: string | number
  if (Array.isArray(node)) key = spec.index % (node.length + 1)
  else if (node instanceof Set) key = spec.index % (node.size + 1)
  else {
    const keys = node instanceof Map ? [...node.keys()] : Object.keys(node)
    key = spec.op === 'add' || keys.length === 0 ? spec.key : (keys[spec.index % keys.length] as string)
    // An object key may come as a number in a document ('1' as 1): diffStates names it '1'.
    if (!(node instanceof Map) && /^\d+$/.test(key) && spec.index % 2 === 0) key = Number(key)
  }
  const value = node instanceof Set && spec.op === 'remove' ? [...node][spec.index % Math.max(node.size, 1)] : spec.value
  return spec.op === 'remove' && !(node instanceof Set) ? { op: 'remove', path: [...path, key] } : { op: spec.op, path: [...path, key], value }
}

/** The patches of `specs` that apply, each made against the state the ones before it left. */
function documentPatches(state: unknown, specs: readonly PatchSpec[]): Patch[] {
  const out: Patch[] = []
  let current = state
  for (const spec of specs) {
    const patch = patchOf(current, spec)
    try {
      current = applyDocumentPatches(current, [patch]).state
      out.push(patch)
    } catch {
      // A patch that does not apply (a member to remove that is not there): left out.
    }
  }
  return out
}

describe('diffStatesAlong', () => {
  it('gives what diffStates gives, both ways, on a state rebuilt by applying the patches (as an import does)', () => {
    fc.assert(
      fc.property(caseArb, ({ state, edits }) => {
        const before = produce(state, () => undefined)
        const { patches } = edited(before, edits)
        const { state: after, patches: applied } = applyDocumentPatches(before, patches)
        expect(diffStatesAlong(after, before, applied)).toEqual(diffStates(after, before))
        expect(diffStatesAlong(before, after, applied)).toEqual(diffStates(before, after))
      }),
      { numRuns: 1500 },
    )
  })

  it('gives what diffStates gives, both ways, on a state rebuilt from any patches a document may hold', () => {
    fc.assert(
      fc.property(objectArb, fc.array(patchSpecArb, { minLength: 1, maxLength: 6 }), (state, specs) => {
        const before = produce(state, () => undefined)
        const { state: after, patches: applied } = applyDocumentPatches(before, documentPatches(before, specs))
        expect(diffStatesAlong(after, before, applied)).toEqual(diffStates(after, before))
        expect(diffStatesAlong(before, after, applied)).toEqual(diffStates(before, after))
      }),
      { numRuns: 5000 },
    )
  })

  it('gives what diffStates gives on a state immer made, from a state without Sets or immerable instances', () => {
    let covered = 0
    fc.assert(
      fc.property(caseArb, ({ state, edits }) => {
        const before = produce(state, () => undefined)
        if (mayChangeUnpatched(before)) return
        covered++
        const { after, patches, inverse } = edited(before, edits)
        if (mayChangeUnpatched(after)) {
          // What the edits brought in is named by the patches: the walk goes inside it whole.
          expect(patches.some((patch) => mayChangeUnpatched(patch.value))).toBe(true)
        }
        expect(diffStatesAlong(after, before, patches)).toEqual(diffStates(after, before))
        expect(diffStatesAlong(after, before, inverse)).toEqual(diffStates(after, before))
        expect(diffStatesAlong(before, after, patches)).toEqual(diffStates(before, after))
      }),
      { numRuns: 1500 },
    )
    expect(covered).toBeGreaterThan(200)
  })

  it('needs mayChangeUnpatched: a Set member deleted and added back moves without a patch', () => {
    const before = produce({ tags: new Set(['a', 'b']), n: 1 }, () => undefined)
    const { after, patches } = edited(before, [{ path: [0], op: 3, key: 'a', index: 0, value: null }])
    expect(patches).toEqual([])
    expect(diffStates(after, before)).toEqual([{ op: 'replace', path: ['tags'], value: before.tags }])
    expect(diffStatesAlong(after, before, patches)).toEqual([])
    expect(mayChangeUnpatched(before)).toBe(true)
    expect(mayChangeUnpatched({ list: [{ p: new Point() }] })).toBe(true)
    expect(mayChangeUnpatched({ list: [1, { m: new Map([['k', new Date(0)]]) }], e: new Error('x') })).toBe(false)
  })

  it('reads only the keys the patches name, in a 1,000-key state', () => {
    const wide: Record<string, number> = {}
    for (let i = 0; i < 1000; i++) wide[`k${i}`] = i
    const before = produce({ wide, other: { x: 1 } }, () => undefined)
    const oneKey = produce(before, (d) => {
      d.wide['k500'] = -1
    })
    const twoKeys = produce(oneKey, (d) => {
      d.wide['k7'] = -2
      d.other.x = 2
    })
    let reads = 0
    let keyLists = 0
    const watched = (target: object): object =>
      new Proxy(target, {
        get: (t, key, receiver) => {
          reads++
          return Reflect.get(t, key, receiver) as unknown
        },
        ownKeys: (t) => {
          keyLists++
          return Reflect.ownKeys(t)
        },
      })
    // One key named: two reads of it (one a side), and no list of the 1,000 keys.
    const one: Patch[] = [{ op: 'replace', path: ['wide', 'k500'], value: -1 }]
    expect(diffStatesAlong({ ...oneKey, wide: watched(oneKey.wide) }, before, one)).toEqual(diffStates(oneKey, before))
    expect([reads, keyLists]).toEqual([2, 0])
    // Two keys of one object named: their order is the object's, found in one list of its keys.
    reads = 0
    const two: Patch[] = [...one, { op: 'replace', path: ['wide', 'k7'], value: -2 }, { op: 'replace', path: ['other', 'x'], value: 2 }]
    const expected = diffStates(twoKeys, before)
    expect(expected).toEqual([
      { op: 'replace', path: ['wide', 'k7'], value: 7 },
      { op: 'replace', path: ['wide', 'k500'], value: 500 },
      { op: 'replace', path: ['other', 'x'], value: 1 },
    ])
    expect(diffStatesAlong({ ...twoKeys, wide: watched(twoKeys.wide) }, before, two)).toEqual(expected)
    expect([reads, keyLists]).toEqual([4, 1])
  })

  it('follows diffStates where the items of an array shift, and past a replaced value', () => {
    const before = produce({ list: [{ id: 1 }, { id: 2 }, { id: 3 }], box: { inner: { n: 1 } } }, () => undefined)
    const { after, patches } = edited(before, [])
    expect(after).toBe(before)
    expect(patches).toEqual([])
    const shifted = produce(before, (d) => {
      d.list.shift()
      d.list[0]!.id = 9
      d.box = { inner: { n: 2 } }
    })
    const named: Patch[] = [
      { op: 'remove', path: ['list', 2] },
      { op: 'replace', path: ['list', 0, 'id'], value: 9 },
      { op: 'replace', path: ['box'], value: shifted.box },
    ]
    expect(diffStatesAlong(shifted, before, named)).toEqual(diffStates(shifted, before))
    expect(diffStatesAlong(before, shifted, named)).toEqual(diffStates(before, shifted))
  })
})

describe('diffStates of two plain objects (the shortcut a flat mwctx or metrics takes)', () => {
  // Wrapped in an array, the same pair is diffed by the walk alone: its patches, less the
  // wrapper's index, are what the shortcut must give.
  const walked = (from: unknown, to: unknown): Patch[] => diffStates([from], [to]).map((patch) => ({ ...patch, path: patch.path.slice(1) }))

  it('gives what the walk gives, in the same order, for any two objects', () => {
    const flatArb = fc.dictionary(keyArb, fc.oneof(primitiveArb, valueArb), { maxKeys: 6 })
    fc.assert(
      fc.property(flatArb, flatArb, fc.boolean(), (from, to, share) => {
        // Shared members (as two states immer made share what did not change) as well as equal ones.
        const next = share ? { ...to, ...Object.fromEntries(Object.entries(from).filter(([key]) => key in to)) } : to
        expect(diffStates(from, next)).toEqual(walked(from, next))
        expect(diffStates(next, from)).toEqual(walked(next, from))
      }),
      { numRuns: 2_000 },
    )
  })

  it("turns one state into the other, and diffBothWays's way back (along the diff's paths) is diffStates's, on any states immer made and on any two objects", () => {
    const back = (from: unknown, to: unknown): void => {
      const [forward, inverse] = diffBothWays(from, to)
      expect(forward).toEqual(diffStates(from, to))
      expect(applyPatches(from as Objectish, forward)).toEqual(to)
      expect(inverse).toEqual(diffStates(to, from))
      expect(applyPatches(to as Objectish, inverse)).toEqual(from)
    }
    fc.assert(
      fc.property(caseArb, ({ state, edits }) => {
        const before = produce(state, () => undefined)
        const { after } = edited(before, edits)
        back(before, after)
        back(after, before)
      }),
      { numRuns: 1500 },
    )
    fc.assert(fc.property(objectArb, objectArb, (from, to) => back(from, to)), { numRuns: 1000 })
  })

  it('replaces a member that changed type, adds and removes keys, and leaves equal objects to the walk', () => {
    expect(diffStates({ a: 1, b: { x: 1 }, c: 'k' }, { b: { x: 2 }, c: null, d: 4 })).toEqual([
      { op: 'remove', path: ['a'] },
      { op: 'replace', path: ['b', 'x'], value: 2 },
      { op: 'replace', path: ['c'], value: null },
      { op: 'add', path: ['d'], value: 4 },
    ])
    expect(diffStates({ at: new Date(5) }, { at: new Date(5) })).toEqual([])
  })
})
