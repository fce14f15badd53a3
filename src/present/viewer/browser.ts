/**
 * The entry of the viewer's browser bundle (devtools/viewer/model.js, built by
 * scripts/build-viewer.mjs with esbuild): everything the page uses to decode, compare and draw
 * runs comes from the library through here, so the page has no logic of its own to drift.
 *
 * @module
 */
// First: zod must know it cannot eval before run-document.ts builds its schemas. Exported, not
// a bare import: the package is `sideEffects: false`, and a bundler may drop a bare import.
export { JITLESS } from './no-eval.js'
export { compareSteps, firstDivergence, forkEdit, forkTree, linkDiff } from './compare-view.js'
export type { Change, CompareStep, EditStep, ForkNode, InputStep, LinkStep, ViewerDivergence } from './compare-view.js'
export { attemptsLabel, checkRun, cutLabel, eventSubject, eventTime, filterEvents, filterOptions, openRun, prepareRun, rowOfEvent } from './run-view.js'
export type { EventFilters, ViewerEvent, ViewerRun } from './run-view.js'
export { isWithin, nestedIdOf, nestedOfRow, nestedView, nestingDepth, remoteInfo, setRemoteRuns, visibleEvents } from './nested-view.js'
export type { EventStop, NestedEntry } from './nested-view.js'
export { changedPaths, pathKey, valueTree } from './values.js'
export type { TreeNode, TreeOptions } from './values.js'
export { linkWrites, stateAt } from './writes.js'
export type { ShownStates, WriteLine } from './writes.js'
export { formatDuration } from '../waterfall.js'
export { shortRunId } from '../../core/run-id.js'
export { valueText } from '../value-text.js'
