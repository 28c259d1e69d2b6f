/**
 * The bootstrap of a validation, free of I/O: resamples as integer image weights (how often a
 * resample drew each image), statistics that take such weights in O(n), and the percentile
 * interval of their resampled values. The demonstration pack's evidence
 * (models/training/evidence.ts) draws its patient resamples here too.
 */
import { mulberry32 } from '../phantom/index.js';

export interface BootstrapPlan {
  resamples: number;
  seed: number;
}

/**
 * The resamples' image weights: each resample draws as many patients as there are, with
 * replacement (patient = floor(u x patients), patients in order of first appearance), and an
 * image weighs as often as its patient was drawn.
 */
export function clusterWeights(patients: ReadonlyArray<string | number>, plan: BootstrapPlan): Int32Array[] {
  const ids = [...new Set(patients)];
  const index = new Map(ids.map((id, i) => [id, i]));
  const ofImage = patients.map((id) => index.get(id)!);
  const next = mulberry32(plan.seed);
  const resamples: Int32Array[] = [];
  for (let b = 0; b < plan.resamples; b++) {
    const drawn = new Int32Array(ids.length);
    for (let j = 0; j < ids.length; j++) drawn[Math.floor(next() * ids.length)]++;
    resamples.push(Int32Array.from(ofImage, (p) => drawn[p]));
  }
  return resamples;
}

/**
 * The 95 % percentile bounds of resampled values: of the B values sorted, the order statistics
 * floor(25 B / 1000) and ceil(975 B / 1000) - 1 (0-based; for B = 2000 the 51st and the 1950th),
 * no interpolation. Null when there is no value.
 */
export function percentileBounds(values: ArrayLike<number>): { low: number; high: number } | null {
  const sorted = Array.from(values).sort((a, b) => a - b);
  const n = sorted.length;
  if (n === 0) return null;
  return { low: sorted[Math.floor((25 * n) / 1000)], high: sorted[Math.ceil((975 * n) / 1000) - 1] };
}

/** Scores put in order once, so that each resample's AUC is O(n): see weightedAuc. */
export interface PreparedScores {
  /** Image indexes by ascending score. */
  readonly order: Int32Array;
  /** The start of each tie group in `order`, and the end (exclusive) as the last entry. */
  readonly groups: Int32Array;
  /** 1 for a positive image, 0 for a negative, by image index. */
  readonly positive: Uint8Array;
}

export function prepareScores(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>): PreparedScores {
  const n = scores.length;
  const positive = Uint8Array.from({ length: n }, (_, i) => (truth[i] ? 1 : 0));
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  const groups = [0];
  for (let j = 1; j < n; j++) if (scores[order[j]] !== scores[order[j - 1]]) groups.push(j);
  groups.push(n);
  return { order, groups: Int32Array.from(groups), positive };
}

/**
 * AUC with integer image weights, as on the data with each image repeated as often as its
 * weight: U counts each (positive, negative) pair 1 when the positive scores higher, 1/2 when
 * tied; kept in integers (2U) to the one division. Null when a class weighs nothing.
 */
export function weightedAuc(prepared: PreparedScores, weights: ArrayLike<number>): number | null {
  const { order, groups, positive } = prepared;
  let twiceU = 0;
  let negativesBelow = 0;
  let positives = 0;
  for (let g = 0; g + 1 < groups.length; g++) {
    let p = 0;
    let n = 0;
    for (let j = groups[g]; j < groups[g + 1]; j++) {
      const image = order[j];
      if (positive[image]) p += weights[image];
      else n += weights[image];
    }
    twiceU += 2 * p * negativesBelow + p * n;
    negativesBelow += n;
    positives += p;
  }
  if (positives === 0 || negativesBelow === 0) return null;
  return twiceU / (2 * positives * negativesBelow);
}
