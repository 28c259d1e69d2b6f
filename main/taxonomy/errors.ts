import { TriageError } from '../errors/index.js';
import type { TaxonomyTree } from './types.js';

/**
 * Failures of the taxonomy stage: coded TriageErrors (the codes live with all the others in
 * main/errors), carrying the term and tree asked for and, for an unknown term, the nearest known
 * one, so the message can say what was probably meant.
 */
export type TaxonomyErrorCode =
  'TAXONOMY_NOT_FOUND' | 'INVALID_TAXONOMY' | 'TAXONOMY_CYCLE' | 'UNKNOWN_TERM' | 'AMBIGUOUS_TERM';

export interface TermLocation {
  term: string;
  tree: TaxonomyTree;
}

export class TaxonomyError extends TriageError {
  declare readonly code: TaxonomyErrorCode;
  /** For UNKNOWN_TERM / AMBIGUOUS_TERM: the term as it was asked for, and in which tree. */
  readonly term: string | undefined;
  readonly tree: TaxonomyTree | undefined;
  /** For UNKNOWN_TERM: the closest known term. */
  readonly nearest: TermLocation | undefined;

  constructor(
    code: TaxonomyErrorCode,
    message: string,
    details: { term?: string; tree?: TaxonomyTree; nearest?: TermLocation; cause?: unknown } = {},
  ) {
    super(code, message, { cause: details.cause });
    this.name = 'TaxonomyError';
    this.term = details.term;
    this.tree = details.tree;
    this.nearest = details.nearest;
  }
}
