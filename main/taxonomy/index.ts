/**
 * The taxonomy stage: the PadChest label tree (bundled under models/taxonomy/padchest/), term
 * lookup for pack validation, and the roll-up the ensemble applies to its votes.
 */
export { TaxonomyError } from './errors.js';
export type { TaxonomyErrorCode, TermLocation } from './errors.js';
export { defaultTaxonomyPath, loadTaxonomy, TAXONOMY_FILE } from './load.js';
export { parseTaxonomy } from './parse.js';
export { rollUp } from './rollup.js';
export type { Evidence, RolledUpNode } from './rollup.js';
export { normalizeTerm } from './taxonomy.js';
export { ROOT_TREES, TAXONOMY_TREES } from './types.js';
export type { Taxonomy, TaxonomyNode, TaxonomyTree } from './types.js';
