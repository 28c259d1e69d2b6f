/**
 * The validation stage: a pack measured on a site's own labelled images (`triage eval`), and its
 * operating points chosen on them (`triage calibrate`).
 */
export type * from './types.js';
