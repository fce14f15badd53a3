/**
 * `shadowchain/otel`: OpenTelemetry export of recorded runs. (Live tracing needs no import:
 * give a `tracer` in the run or chain options.)
 *
 * @packageDocumentation
 */
export { exportRun } from './export.js'
export type { ExportRunOptions, ExportRunResult } from './export.js'
export { ATTR as attributeNames } from './names.js'
