/**
 * shadowchain: run chains of business steps with link-aware, non-interruptive middleware, and
 * record every run as a shadow timeline you can inspect.
 *
 * @packageDocumentation
 */
export { chain, Chain } from './chain.js'
export type { InsertPosition } from './chain.js'
export { Run } from './run.js'
export type { FromJSONOptions, RunParent, RunRef } from './run.js'
export type { ReplayOptions, ReplayResult } from './replay.js'
export type { ForkOptions } from './fork.js'
export { ChainRunError } from './errors.js'
export type { ChainRunErrorCode } from './errors.js'
export { Timeline } from './timeline.js'
export type { EventQuery, LinkRecord } from './timeline.js'
export { systemClock } from './clock.js'
export { formatDuration, formatWaterfall } from './waterfall.js'
export { compareRuns } from './compare.js'
export { divergenceChanges, divergenceLines, divergencePlace, formatDivergence, formatPatch } from './format-patch.js'
export { describeRun } from './describe-run.js'
export type { RunSummary } from './describe-run.js'
export type {
  Divergence,
  DivergenceReason,
  ErrorDivergence,
  ForkDivergence,
  InputDivergence,
  IoDivergence,
  LinkDivergence,
  PatchesDivergence,
  StatusDivergence,
} from './compare.js'
export { saveRun, loadRun } from './run-file.js'
export type { LoadRunOptions } from './run-file.js'
export { DocumentError } from './codec.js'
export type { DecodeLimits } from './codec.js'
export type { ExportOptions, ImportOptions, RunDocument } from './run-document.js'
export type { RedactPath } from './redact.js'
export type { WriteOp } from './write-capture.js'
export type { WaterfallOptions } from './waterfall.js'
export type {
  CtxWriteTimelineEvent,
  EventBase,
  ForkTimelineEvent,
  LinkEndTimelineEvent,
  LinkErrorTimelineEvent,
  LinkStartTimelineEvent,
  MiddlewareCallInfo,
  MiddlewareErrorTimelineEvent,
  MiddlewareTimelineEvent,
  RecordedIO,
  RunEndTimelineEvent,
  RunStartTimelineEvent,
  States,
  TimelineEvent,
  TimelineEventType,
} from './events.js'
export type {
  AfterEvent,
  AfterPosition,
  BeforeEvent,
  BeforePosition,
  CaptureLevel,
  ChainOptions,
  Clock,
  HookResult,
  LinkFn,
  LinkInfo,
  LinkIO,
  LinkOptions,
  Metrics,
  Middleware,
  MwCtx,
  Position,
  RunEndEvent,
  RunInfo,
  RunOptions,
  RunStartEvent,
  RunStatus,
} from './types.js'
