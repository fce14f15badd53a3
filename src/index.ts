/**
 * shadowchain: run chains of business steps with link-aware, non-interruptive middleware, and
 * record every run as a shadow timeline you can inspect.
 *
 * @packageDocumentation
 */
export { chain, Chain } from './chain.js'
export type { InsertPosition } from './chain.js'
export { Run } from './run.js'
export type { RunParent } from './run.js'
export { ChainRunError } from './errors.js'
export type { ChainRunErrorCode } from './errors.js'
export { Timeline } from './timeline.js'
export type { EventQuery, LinkRecord } from './timeline.js'
export { systemClock } from './clock.js'
export { formatWaterfall } from './waterfall.js'
export type { WaterfallOptions } from './waterfall.js'
export type {
  EventBase,
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
