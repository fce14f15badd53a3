/**
 * shadowchain: run chains of business steps with link-aware, non-interruptive middleware, and
 * record every run as a shadow timeline you can inspect.
 *
 * @packageDocumentation
 */
export { chain } from './engine.js'
export { Chain } from './core/chain.js'
export type { InsertPosition } from './core/chain.js'
export { Run } from './lineage/run.js'
export type { ForkOptions, FromJSONOptions, ReplayOptions, ReplayResult, RunParent, RunRef } from './lineage/run.js'
export type { RecordedRun } from './lineage/recorded-run.js'
export { ChainRunError } from './lineage/chain-run-error.js'
export type { ChainRunErrorCode } from './core/errors.js'
export { Timeline } from './record/timeline.js'
export type { BranchRecord, EventQuery, LinkRecord } from './record/timeline.js'
export type { BranchFn, BranchIO, MergeMode, ParallelOptions } from './core/parallel-types.js'
export type { NestMapping } from './core/nested.js'
export { systemClock } from './core/clock.js'
export { shortRunId } from './core/run-id.js'
export { formatDuration, formatWaterfall } from './present/waterfall.js'
export { compareRuns } from './lineage/compare.js'
export { divergenceChanges, divergenceLines, divergencePlace, formatDivergence, formatPatch } from './present/format-patch.js'
export { describeRun } from './present/describe-run.js'
export type { DescribeOptions, RunSummary } from './present/describe-run.js'
export { formatStats } from './present/stats-table.js'
export { describeTrace, formatTrace, stitchRuns } from './present/stitch.js'
export type { AnyRun, RemoteCall, StitchedRun, StitchedTrace, StitchInput, TraceTreeNode } from './present/stitch.js'
export type {
  ChildDivergence,
  Divergence,
  DivergenceReason,
  ErrorDivergence,
  ForkDivergence,
  InputDivergence,
  IoDivergence,
  LinkDivergence,
  PatchesDivergence,
  SkipDivergence,
  StatusDivergence,
  StopDivergence,
} from './lineage/compare.js'
export { saveRun, loadRun } from './lineage/run-file.js'
export type { LoadRunOptions } from './lineage/run-file.js'
export { DocumentError } from './files/codec.js'
export type { DecodeLimits } from './files/codec.js'
export type { ExportOptions, ImportOptions, RunDocument } from './files/run-document.js'
export type { RedactPath } from './files/redact.js'
export type { WriteOp } from './record/write-capture.js'
export type { WaterfallOptions } from './present/waterfall.js'
export type {
  CtxWriteTimelineEvent,
  EventBase,
  ForkTimelineEvent,
  LinkEndTimelineEvent,
  LinkErrorTimelineEvent,
  LinkSkipTimelineEvent,
  LinkAttemptTimelineEvent,
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
  BranchStartTimelineEvent,
  BranchEndTimelineEvent,
  BranchErrorTimelineEvent,
} from './record/events.js'
export type {
  AfterEvent,
  AroundEvent,
  AroundOutcome,
  AroundPosition,
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
  RetryOptions,
  RunTrace,
  TraceCarrier,
  Metrics,
  Middleware,
  MwCtx,
  Position,
  RunEndEvent,
  RunInfo,
  RunOptions,
  RunStartEvent,
  RunStatus,
  SkipReason,
} from './core/types.js'
export { recorder, FlightRecorder } from './store/flight-recorder.js'
export type { RecorderEvent, RecorderHealth, RecorderOptions, RecorderWarning } from './store/flight-recorder.js'
export type { ChainStats, DurationStats, StatsQuery } from './store/statistics.js'
export { memoryStore, StoreError } from './store/index.js'
export type { KeepPolicy, RunQuery, RunStore, StoreErrorCode, StoredRun, StoredRunSummary, StoredStatus } from './store/index.js'
export type { RunRecorder } from './core/recording.js'
export { resume, ResumeError } from './store/resume.js'
export type { ResumeOptions } from './store/resume.js'
