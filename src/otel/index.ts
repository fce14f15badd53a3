/**
 * `shadowchain/otel`: OpenTelemetry export of recorded runs. (Live tracing needs no import:
 * give a `tracer` in the run or chain options.)
 *
 * @packageDocumentation
 */
export { exportRun } from './export.js'
export type { ExportRunOptions, ExportRunResult } from './export.js'
export { ATTR as attributeNames, normaliseMetricKey } from './names.js'
export { describeSpanTable, EXPORTED_IDS } from './registry.js'
export type { SpanTableStats } from './registry.js'
