/**
 * The validation stage: a pack measured on a site's own labelled images (`triage eval`), and its
 * operating points chosen on them (`triage calibrate`).
 */
export type * from './types.js';
export { auc, f1FromCounts, hierarchicalF1, microF1 } from './metrics.js';
export type { Counts, F1 } from './metrics.js';
export { clusterWeights, percentileBounds, prepareScores, weightedAuc } from './bootstrap.js';
export type { BootstrapPlan, PreparedScores } from './bootstrap.js';
