import type { Patch } from 'immer'
import { wholeSets } from '../core/set-patches.js'
import { countLinkEvents, type States, type TimelineEvent } from './events.js'
import type { LinkInfo, Position } from '../core/types.js'
import type { RunOf } from '../core/chain.js'
import { EventLog } from './event-log.js'
import type { LinkEnd } from './log-ends.js'
import type { BranchRecord, EventQuery, LinkRecord } from './timeline-records.js'

const NO_RUNS: ReadonlyMap<string, never> = new Map<string, never>()

export type { BranchRecord, EventQuery, LinkRecord } from './timeline-records.js'

/**
 * The ordered events of one run (DESIGN §5), with the questions you ask of them: what was the
 * state at this moment, what did this link change, what happened between two moments.
 *
 * @example
 * const t = checkout.lastRun!.timeline
 * t.filter({ type: 'middleware.error' })   // what broke quietly
 * t.stateAt(t.links()[1]!.endSeq).ctx      // ctx right after the second link
 */
export class Timeline<C = unknown> {
  // A fork's timeline is its parent's first events plus its own. The two are joined into one
  // array only when `events` is first read, so a fork costs only the links it re-runs. A live
  // run's own events are its recorder's log (event-log.ts), built when first read.
  #prefix: readonly TimelineEvent<C>[]
  #prefixLength: number
  #own: readonly TimelineEvent<C>[] | EventLog<C>
  #joined: readonly TimelineEvent<C>[] | undefined
  #nested: ReadonlyMap<string, RunOf<unknown>>

  /**
   * @param events - events in seq order, `events[i].seq === i`
   * @param nested - the runs of nested chains its events name (`child`), by id
   */
  constructor(events: readonly TimelineEvent<C>[], nested: ReadonlyMap<string, RunOf<unknown>> = NO_RUNS) {
    this.#nested = nested
    this.#prefix = []
    this.#prefixLength = 0
    // `Run` hands over its recorder's log where the type says an array (engine.ts).
    this.#own = events as readonly TimelineEvent<C>[] | EventLog<C>
    this.#joined = events instanceof EventLog ? undefined : events
  }

  /** @internal A fork's timeline: the first `length` events of `prefix`, then `own`. */
  static afterPrefix<C>(prefix: readonly TimelineEvent<C>[], length: number, own: readonly TimelineEvent<C>[], nested?: ReadonlyMap<string, RunOf<unknown>>): Timeline<C> {
    const timeline = new Timeline<C>(own, nested)
    timeline.#prefix = prefix
    timeline.#prefixLength = length
    timeline.#joined = undefined
    return timeline
  }

  /** @internal The first `length` events, shared without copying (for a fork of this run). */
  prefixOf(length: number): { prefix: readonly TimelineEvent<C>[]; prefixLength: number } {
    return length <= this.#prefixLength ? { prefix: this.#prefix, prefixLength: length } : { prefix: this.events, prefixLength: length }
  }

  /**
   * Every event in `seq` order; events are shared between runs (a fork's prefix), never copied.
   * Read-only by type, not frozen at run time: freezing costs O(events) at every run and fork,
   * and a fork must cost only the links it re-runs.
   */
  get events(): readonly TimelineEvent<C>[] {
    if (this.#joined === undefined) {
      const own = this.#own instanceof EventLog ? this.#own.toArray() : this.#own
      this.#joined = this.#prefixLength === 0 ? own : this.#prefix.slice(0, this.#prefixLength).concat(own)
    }
    return this.#joined
  }

  /**
   * The runs nested chains made in this run (DESIGN §9), by id: each a full `Run` that a
   * `link.end`, `link.error`, `link.attempt`, `branch.end` or `branch.error` event names as its
   * `child`. Empty for a run without nested chains.
   */
  get nested(): ReadonlyMap<string, RunOf<unknown>> {
    return this.#nested
  }

  /** The nested run an event names, when this timeline holds it. */
  #childOf(event: { readonly child?: string }): RunOf<unknown> | undefined {
    return event.child === undefined ? undefined : this.#nested.get(event.child)
  }

  /** @internal Each link that ran, read from a run's log without building events (`EventLog.linkEnds`); `undefined` when there is none to read or it cannot say. */
  linkEnds(): LinkEnd[] | undefined {
    return this.log()?.linkEnds()
  }

  /** @internal The links that ran (`link.end`, `link.error`), counted without building a log's events. */
  linkCount(): number {
    const own = this.#own
    return countLinkEvents(this.#prefix, this.#prefixLength) + (own instanceof EventLog ? own.linkCount() : countLinkEvents(own))
  }

  /** @internal The run's own log, to read without building events (log-scan.ts); `undefined` for a fork or a timeline made of events. */
  log(): EventLog<C> | undefined {
    return this.#prefixLength === 0 && this.#own instanceof EventLog ? this.#own : undefined
  }

  /** The nested run of this id (an event's `child`), or `undefined`. */
  child(id: string): RunOf<unknown> | undefined {
    return this.#nested.get(id)
  }

  /** Number of events. */
  get length(): number {
    return this.#prefixLength + this.#own.length
  }

  /** The event with this seq (negative counts from the end, like `Array#at`), or `undefined`. */
  at(seq: number): TimelineEvent<C> | undefined {
    const index = this.#index(seq)
    if (index === -1) return undefined
    if (index < this.#prefixLength) return this.#prefix[index]
    const own = this.#own
    return own instanceof EventLog ? own.at(index - this.#prefixLength) : own[index - this.#prefixLength]
  }

  /** The index of a seq (negative from the end), or -1 when out of range. */
  #index(seq: number): number {
    const index = Number.isInteger(seq) && seq < 0 ? this.length + seq : seq
    return Number.isInteger(index) && index >= 0 && index < this.length ? index : -1
  }

  /**
   * The exact frozen states of one moment: the same objects the run produced.
   *
   * @throws RangeError when no event has this seq.
   */
  stateAt(seq: number): States<C> {
    const event = this.at(this.checkSeq(seq, 'stateAt')) as TimelineEvent<C>
    return { ctx: event.ctx, mwctx: event.mwctx, metrics: event.metrics }
  }

  /** The events that match a query (all given fields must match) or a predicate. */
  filter(query: EventQuery | ((event: TimelineEvent<C>) => boolean)): TimelineEvent<C>[] {
    if (typeof query === 'function') return this.events.filter(query)
    const types = query.type === undefined ? undefined : new Set<string>(typeof query.type === 'string' ? [query.type] : query.type)
    return this.events.filter((event) => {
      if (types !== undefined && !types.has(event.type)) return false
      const fields = event as { link?: LinkInfo; middleware?: { name: string; position: Position } }
      if (query.link !== undefined && fields.link?.name !== query.link) return false
      if (query.middleware !== undefined && fields.middleware?.name !== query.middleware) return false
      if (query.position !== undefined && fields.middleware?.position !== query.position) return false
      return true
    })
  }

  /**
   * One record per link execution, in execution order, and one per skipped link (`status:
   * 'skipped'`) where it was skipped. Filter on `status !== 'skipped'` for what ran.
   */
  links(): LinkRecord<C>[] {
    const records: LinkRecord<C>[] = []
    let open: { -readonly [K in keyof LinkRecord<C>]: LinkRecord<C>[K] } | undefined
    let startEvent: TimelineEvent<C> | undefined
    let retried = 0
    let branches: BranchRecord[] | undefined
    const branchStarts = new Map<string, TimelineEvent<C>>()
    for (const event of this.events) {
      switch (event.type) {
        case 'link.start':
          startEvent = event
          open = undefined
          retried = 0
          branches = undefined
          branchStarts.clear()
          break
        case 'branch.start':
          branchStarts.set(event.branch, event)
          break
        case 'branch.end':
        case 'branch.error': {
          const start = branchStarts.get(event.branch)
          if (start === undefined) break
          const failed = event.type === 'branch.error'
          const record: BranchRecord = {
            name: event.branch,
            startSeq: start.seq,
            endSeq: event.seq,
            start: start.t,
            end: event.t,
            durationNs: event.durationNs,
            status: failed ? 'error' : 'ok',
            patches: failed ? [] : event.patches,
            ...(failed && { error: event.error }),
            ...(event.io !== undefined && { io: event.io }),
          }
          const child = this.#childOf(event)
          if (child !== undefined) (record as { child?: RunOf<unknown> }).child = child
          ;(branches ??= []).push(record)
          break
        }
        case 'link.attempt':
          retried++
          break
        case 'link.end':
        case 'link.error': {
          if (startEvent === undefined || startEvent.type !== 'link.start' || startEvent.link !== event.link) break
          const failed = event.type === 'link.error'
          open = {
            link: event.link,
            name: event.link.name,
            index: event.link.index,
            startSeq: startEvent.seq,
            endSeq: event.seq,
            start: startEvent.t,
            end: event.t,
            durationNs: event.durationNs,
            status: failed ? 'error' : 'ok',
            patches: failed ? [] : event.patches,
            inversePatches: failed ? [] : event.inversePatches,
            before: startEvent.ctx,
            after: event.ctx,
            metrics: event.metrics ?? {},
          }
          if (failed) open.error = event.error
          if (retried > 0) open.attempts = retried + 1
          if (branches !== undefined) open.branches = branches
          if (event.io !== undefined) open.io = event.io
          const child = this.#childOf(event)
          if (child !== undefined) open.child = child
          records.push(open)
          startEvent = undefined
          break
        }
        case 'link.skip':
          open = undefined
          records.push({
            link: event.link, name: event.link.name, index: event.link.index, startSeq: event.seq, endSeq: event.seq,
            start: event.t, end: event.t, durationNs: 0n, status: 'skipped', reason: event.reason,
            patches: [], inversePatches: [], before: event.ctx, after: event.ctx, metrics: {},
          })
          break
        default:
          // After-middleware of the same link may still write its metrics.
          if (open !== undefined && 'link' in event && event.link === open.link && event.metrics !== undefined) {
            open.metrics = event.metrics
          } else if (event.metrics === undefined) {
            open = undefined
          }
      }
    }
    return records
  }

  /**
   * The patches that turn the ctx of event `fromSeq` into the ctx of event `toSeq` (applied with
   * immer's `applyPatches`): each link's (and fork's) patches in order; going backwards, their
   * inverse patches in reverse order. A link's patches that name object members of a Set are
   * given as one `replace` of that whole Set: `applyPatches` copies the members it adds, so a
   * later link's removal of such a member by identity would match nothing.
   */
  diff(fromSeq: number, toSeq: number): Patch[] {
    const from = this.checkSeq(fromSeq, 'diff')
    const to = this.checkSeq(toSeq, 'diff')
    const events = this.events
    const out: Patch[] = []
    if (from <= to) {
      for (let seq = from + 1; seq <= to; seq++) {
        const event = events[seq] as TimelineEvent<C>
        if (event.type === 'link.end' || event.type === 'fork') out.push(...wholeSets(event.patches, event.ctx))
      }
    } else {
      for (let seq = from; seq > to; seq--) {
        const event = events[seq] as TimelineEvent<C>
        if (event.type === 'link.end' || event.type === 'fork') out.push(...wholeSets(event.inversePatches, (events[seq - 1] as TimelineEvent<C>).ctx))
      }
    }
    return out
  }

  /**
   * Who changed a field, when, and (with `stacks`) from where: the `ctx.write` events that wrote
   * the path, one of its parents (replacing it) or something inside it. For a link that recorded
   * no writes (no `capture: 'writes'`, or it returned a replacement), its `link.end` event when
   * its patches touch the path; `fork` events likewise. A parallel step answers by its branches:
   * their `ctx.write` events (which name the branch), or the `branch.end` of a branch that
   * recorded none, when its patches touch the path.
   *
   * @param path - keys from the ctx root, or a dotted string (`'items.0.price'`)
   * @example
   * run.timeline.writesTo('customer.email').map((e) => e.type === 'ctx.write' && e.stack)
   */
  writesTo(path: readonly (string | number)[] | string): TimelineEvent<C>[] {
    // Keys compare as strings (an array index is a number in a patch, a digit string here).
    const keys = typeof path === 'string' ? path.split('.') : path.map(String)
    const touches = (other: readonly (string | number)[]): boolean => {
      const n = Math.min(keys.length, other.length)
      for (let i = 0; i < n; i++) if (keys[i] !== String(other[i])) return false
      return true
    }
    // Write events where a link (or a branch) recorded them; its patches where it recorded none
    // (no write capture, or one that returned a replacement instead of writing).
    const out: TimelineEvent<C>[] = []
    const changes = (patches: readonly Patch[]): boolean => patches.some((patch) => touches(patch.path))
    let wrote = false
    // In a parallel step: the branches that recorded writes. A step's branches answer for it.
    let branched = false
    const branchesWrote = new Set<string>()
    for (const event of this.events) {
      switch (event.type) {
        case 'link.start':
          wrote = branched = false
          branchesWrote.clear()
          break
        case 'ctx.write':
          if (event.branch === undefined) wrote = true
          else branchesWrote.add(event.branch)
          if (touches(event.path)) out.push(event)
          break
        case 'branch.end':
          branched = true
          if (!branchesWrote.has(event.branch) && changes(event.patches)) out.push(event)
          break
        case 'link.end':
          if (!wrote && !branched && changes(event.patches)) out.push(event)
          break
        case 'fork':
          if (changes(event.patches)) out.push(event)
          break
        default:
      }
    }
    return out
  }

  private checkSeq(seq: number, method: string): number {
    const index = this.#index(seq)
    if (index === -1) {
      throw new RangeError(`timeline.${method}: seq ${String(seq)} is out of range: this timeline has ${this.length} events (0…${this.length - 1})`)
    }
    return index
  }
}
