/** Hand-made analysis results for the store and triage tests (the shape the engine produces). */
import type { AnalysisResult, Finding, ModelProvenance } from '../../main/domain/index.js';

export const MODELS: ModelProvenance[] = [
  { id: 'alpha', version: '1.0.0', sha256: 'a'.repeat(64), operatingPoints: { Nodule: 0.3, Pneumothorax: 0.2 } },
  { id: 'beta', version: '1.1.0', sha256: 'b'.repeat(64), operatingPoints: { Nodule: 0.4 } },
];

/**
 * A finding of two members, alpha at p - 0.05 and beta at p + 0.05, both voting as `positive`
 * says: under the majority rule the ensemble's value is the smaller (1 of 2 is no majority).
 */
export function finding(
  term: string,
  options: { tree?: Finding['tree']; positive?: boolean; direct?: boolean; p?: number; indeterminate?: boolean } = {},
): Finding {
  const positive = options.positive ?? true;
  const p = options.p ?? (positive ? 0.9 : 0.1);
  return {
    term,
    cui: 'C0000000',
    tree: options.tree ?? 'finding',
    positive,
    direct: options.direct ?? true,
    assessed: true,
    votes: { positive: positive ? 2 : 0, total: 2 },
    probability: { ensemble: p - 0.05, mean: p, min: p - 0.05, max: p + 0.05 },
    indeterminate: options.indeterminate ?? false,
    perModel: { alpha: p - 0.05, beta: p + 0.05 },
    supportedBy: [],
    paths: [['radiological finding', term]],
  };
}

export function result(file: string, options: Partial<AnalysisResult> & { positives?: string[] } = {}): AnalysisResult {
  const { positives = [], ...rest } = options;
  return {
    file,
    status: 'ok',
    sopInstanceUID: null,
    studyInstanceUID: null,
    executionProvider: 'cpu',
    pack: { id: 'test-pack', version: '1.0.0', rule: 'majority', indeterminate: { low: 0.4, high: 0.6 }, demo: true },
    models: MODELS,
    notForClinicalUse: true,
    notes: [],
    findings: [...positives.map((term) => finding(term)), finding('cardiomegaly', { positive: false })],
    timings: { decodeMs: 1, preprocessMs: 2, inferenceMs: 3, explainMs: 4 },
    ...rest,
  };
}

/** A term the pack declares and no member was trained on, as the engine lists it. */
export function unassessed(term: string): Finding {
  return {
    term,
    cui: 'C0000000',
    tree: 'finding',
    positive: false,
    direct: false,
    assessed: false,
    votes: { positive: 0, total: 0 },
    probability: null,
    indeterminate: false,
    perModel: {},
    supportedBy: [],
    paths: [['radiological finding', term]],
  };
}
