// The links of a chain, shared between chain values. Chains are immutable, so building a chain
// link by link would copy the list at every step (O(n²): 25,000 links took ~30 s). Instead a
// chain sees a prefix of an append-only list; appending to the end of the shared list is O(1),
// and only a chain that branches off an older prefix pays for a copy.
import type { LinkDef } from './compile.js'

interface Shared<C> {
  readonly defs: LinkDef<C>[]
  /** name → index in `defs`; every entry is below `defs.length`. */
  readonly byName: Map<string, number>
}

/** An immutable view of the first `length` links of a shared list. */
export class LinkList<C> {
  static empty<C>(): LinkList<C> {
    return new LinkList<C>({ defs: [], byName: new Map() }, 0)
  }

  private constructor(
    private readonly shared: Shared<C>,
    readonly length: number,
  ) {}

  /** Index of the link of this name in this view, or -1. */
  indexOf(name: string): number {
    const index = this.shared.byName.get(name)
    return index !== undefined && index < this.length && this.shared.defs[index]?.name === name ? index : -1
  }

  /** The links of this view, as a fresh array. */
  toArray(): LinkDef<C>[] {
    return this.shared.defs.slice(0, this.length)
  }

  /** A view with `def` appended; O(1) unless another view already appended past this one. */
  append(def: LinkDef<C>): LinkList<C> {
    if (this.shared.defs.length === this.length) {
      this.shared.defs.push(def)
      this.shared.byName.set(def.name, this.length)
      return new LinkList(this.shared, this.length + 1)
    }
    return LinkList.from([...this.toArray(), def])
  }

  /** A view with `def` inserted at `index` (always a copy). */
  insert(index: number, def: LinkDef<C>): LinkList<C> {
    const defs = this.toArray()
    defs.splice(index, 0, def)
    return LinkList.from(defs)
  }

  private static from<C>(defs: LinkDef<C>[]): LinkList<C> {
    return new LinkList<C>({ defs, byName: new Map(defs.map((def, i) => [def.name, i])) }, defs.length)
  }
}
