// Types of prepare.js, for the TypeScript tests (the page itself is plain JavaScript).

export type Key = string | number | unknown
export interface Patch { readonly op: 'add' | 'replace' | 'remove'; readonly path: readonly Key[]; readonly value?: unknown }
export interface States { readonly ctx: unknown; readonly mwctx: unknown; readonly metrics: unknown }
export interface LinkRef { readonly name: string; readonly index: number; readonly meta?: unknown }
export interface MiddlewareRef { readonly name: string; readonly position: string; readonly index: number }

export interface ViewerEvent {
  readonly seq: number
  readonly type: string
  /** ns since the run's start (negative for a fork's inherited events). */
  readonly t: bigint
  readonly raw: Record<string, unknown>
  readonly link?: LinkRef
  readonly middleware?: MiddlewareRef
  readonly durationNs?: bigint
  readonly error?: unknown
  /** `link.end` / `link.error` (version 3): what the link left in `io.metrics` that could not be recorded. */
  readonly metricsError?: unknown
  /** `link.end` / `link.error` (version 3): writes not recorded past `maxWritesPerLink`. */
  readonly writesDropped?: number
  readonly patches?: readonly Patch[]
  readonly hook?: string
  readonly status?: string
  readonly op?: string
  readonly path?: readonly Key[]
  readonly value?: unknown
  readonly stack?: string
  readonly parent?: { readonly runId: string; readonly seq: number }
  /** A `fork` event: the link it was cut after (undefined before the first link). */
  readonly after?: string
}

export interface ViewerRun {
  readonly doc: unknown
  readonly id: string
  readonly chainName: string
  readonly status: 'ok' | 'error' | 'aborted'
  readonly error?: { readonly code: string; readonly message: string }
  readonly startedAt: bigint
  readonly durationNs: bigint
  readonly parent?: { readonly runId: string; readonly seq: number }
  readonly replayOf?: { readonly runId: string }
  readonly children: readonly string[]
  readonly events: readonly ViewerEvent[]
  readonly states: readonly States[]
  /** Where the run's own events begin (its `fork` event, for a fork or a replay of a fork), -1 when it has no inherited events. */
  readonly forkSeq: number
  /** A fork: the link it was cut after. */
  readonly forkAfter: string | undefined
}

export interface Segment { readonly name: string; readonly position: string; readonly start: bigint; readonly end: bigint; readonly seq: number; readonly failed: boolean }
export interface WaterfallRow {
  readonly name: string
  readonly index: number
  readonly stepStart: bigint
  readonly stepEnd: bigint
  readonly linkStart: bigint
  readonly linkEnd: bigint
  readonly linkNs: bigint
  readonly middlewareNs: bigint
  readonly status: 'ok' | 'error'
  readonly error: unknown
  readonly firstSeq: number
  readonly lastSeq: number
  readonly startSeq: number
  readonly endSeq: number
  readonly segments: readonly Segment[]
}

export interface TreeNode {
  readonly path: readonly Key[]
  readonly key: string
  readonly type: string
  readonly text: string
  readonly children?: readonly TreeNode[]
  readonly collapsed: boolean
  readonly changed: boolean
}

export interface LinkOutcome { readonly row: WaterfallRow; readonly name: string; readonly status: 'ok' | 'error'; readonly message: string | undefined; readonly patches: string; readonly after: unknown; readonly lines: readonly string[] }
export interface InputStep { readonly kind: 'input'; readonly name: 'input'; readonly value: unknown; readonly lines: readonly string[]; readonly message: string | undefined }
export interface EditStep { readonly kind: 'edit'; readonly name: 'fork edit'; readonly position: number; readonly seq: number; readonly after: string | undefined; readonly ctx: unknown; readonly lines: readonly string[] }
export interface LinkStep extends LinkOutcome { readonly kind: 'link'; readonly position: number }
export type CompareStep = InputStep | EditStep | LinkStep
export interface ViewerDivergence {
  readonly reason: 'input' | 'fork' | 'link' | 'error' | 'patches' | 'status'
  /** The link's place; for 'fork' the place of the link after the edit; 0 for the input. */
  readonly index: number
  /** The link concerned; for 'fork' the link the edit was made after. */
  readonly link?: string | undefined
  readonly a: CompareStep | undefined
  readonly b: CompareStep | undefined
  /** 'input' and 'fork': what turns a's state into b's, as patch lines. */
  readonly lines?: readonly string[]
}
export interface ForkNode { readonly run: ViewerRun; readonly kind: 'root' | 'fork' | 'replay'; readonly children: readonly ForkNode[]; readonly missingParent?: string }
export interface Write { readonly seq: number; readonly op: string; readonly path: string; readonly value: string; readonly stack: string | undefined }

export function decodeValue(value: unknown): unknown
export function textOf(value: unknown, max?: number): string
export function canonical(value: unknown): string
export function applyPatches(state: unknown, patches: readonly Patch[]): unknown
export function patchLine(patch: Patch): string
export function rebuildStates(doc: unknown): States[]
export function prepareRun(doc: unknown): ViewerRun
export function formatNs(ns: bigint | number): string
export function eventSubject(event: ViewerEvent): string
export function filterEvents(run: ViewerRun, filters?: { type?: string; link?: string; middleware?: string }): ViewerEvent[]
export function filterOptions(run: ViewerRun): { types: string[]; links: string[]; middleware: string[] }
export function waterfall(run: ViewerRun): { rows: WaterfallRow[]; inherited: number; totalNs: bigint }
export function linkRows(run: ViewerRun): WaterfallRow[]
export function pathKey(path: readonly Key[]): string
export function valueTree(value: unknown, options?: { changed?: ReadonlySet<string>; limit?: number; open?: number }): TreeNode
export function changedPaths(event: ViewerEvent): { ctx: Set<string>; mwctx: Set<string>; metrics: Set<string> }
export function rowOfEvent(rows: readonly WaterfallRow[], seq: number): WaterfallRow | undefined
export function linkDiff(run: ViewerRun, row: WaterfallRow): { before: unknown; after: unknown; patches: readonly Patch[]; lines: string[]; changed: Set<string>; error: string | undefined }
export function linkWrites(run: ViewerRun, row: WaterfallRow): Write[]
export function forkTree(runs: readonly ViewerRun[]): ForkNode[]
export function firstDivergence(a: ViewerRun, b: ViewerRun): ViewerDivergence | undefined
export function linkOutcomes(run: ViewerRun): LinkOutcome[]
export function eventTime(run: ViewerRun, event: ViewerEvent): { ns: bigint; inherited: boolean; text: string }
export function cutLabel(after: string | undefined): string
export function stateAt(run: ViewerRun, seq: number): States & { readonly exact: boolean }
export function forkEdit(run: ViewerRun, seq: number): { cutAfter: string | undefined; before: unknown; after: unknown; patches: readonly Patch[]; lines: string[]; changed: Set<string> }
export function valueDiff(a: unknown, b: unknown, limit?: number): Patch[]
export function compareSteps(run: ViewerRun): CompareStep[]
