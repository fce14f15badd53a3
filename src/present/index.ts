// The present layer's entry for what the library exports from it beyond the root's own imports:
// the statistics table (DESIGN §10), which the command line uses and a program can print.
export { formatStats } from './stats-table.js'
export type { StatsTableChain, StatsTableSeries } from './stats-table.js'
