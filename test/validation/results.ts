/** Hand-made labelled results for the evaluation's tests: three members, two assessed terms. */
import type { Finding, StoredResult } from '../../main/domain/index.js';
import type { CollectedImages, Evaluation, LabelledImage, Labels } from '../../main/validation/index.js';

export const MEMBERS = ['a', 'b', 'c'];

export function finding(term: string, members: number[], positive: boolean): Finding {
  const sorted = [...members].sort((x, y) => y - x);
  return {
    term,
    cui: null,
    tree: 'finding',
    positive,
    direct: true,
    assessed: true,
    votes: { positive: members.filter((m) => m >= 0.5).length, total: members.length },
    probability: {
      ensemble: sorted[Math.floor(members.length / 2)],
      mean: members.reduce((s, m) => s + m, 0) / members.length,
      min: Math.min(...members),
      max: Math.max(...members),
    },
    indeterminate: false,
    perModel: Object.fromEntries(members.map((m, i) => [MEMBERS[i], m])),
    supportedBy: [],
    paths: [],
  };
}

/** An image whose consolidation and pneumothorax members say these values (the majority's call). */
export function image(
  file: string,
  labels: Array<0 | 1 | null>,
  consolidation: number[],
  pneumothorax: number[],
  patient: string | null,
  sex: string,
): LabelledImage {
  const call = (values: number[]) => values.filter((v) => v >= 0.5).length >= 2;
  const result = {
    file,
    status: 'ok',
    findings: [
      finding('consolidation', consolidation, call(consolidation)),
      finding('pneumothorax', pneumothorax, call(pneumothorax)),
      // A term a member declares but none trained: never assessed.
      { ...finding('nodule', [0.5], false), assessed: false, probability: null, perModel: {} },
    ],
  } as unknown as StoredResult;
  return { file, result, patient, attributes: { sex, age: 'unknown', view: 'PA', manufacturer: 'unknown' }, labels };
}

export const labels: Labels = {
  file: 'labels.csv',
  sha256: '0'.repeat(64),
  keyColumn: 'file',
  terms: [
    { term: 'consolidation', tree: 'finding', column: 'consolidation' },
    { term: 'pneumothorax', tree: 'finding', column: 'pneumothorax' },
    { term: 'nodule', tree: 'finding', column: 'nodule' },
    { term: 'normal', tree: 'status', column: 'normal' },
  ],
  rows: [],
};

export function collected(images: LabelledImage[]): CollectedImages {
  return {
    scan: {} as CollectedImages['scan'],
    images,
    rejected: { total: 2, byReason: { 'out of distribution (feature-distance)': 2 } },
    errors: { total: 1, byCode: { TRUNCATED: 1 } },
    missing: 3,
    unlabelled: 4,
    duplicates: 0,
    reused: 5,
  };
}

export const pack: Evaluation['pack'] = {
  id: 'p',
  version: '1.0.0',
  fingerprint: 'f'.repeat(64),
  rule: 'majority',
  indeterminate: { low: 0.4, high: 0.6 },
  demo: true,
  notForClinicalUse: true,
  models: MEMBERS.map((id) => ({ id, version: '1.0.0', sha256: '0'.repeat(64), operatingPoints: {} })),
  calibration: null,
};
