/**
 * The classification metrics of a validation, free of I/O: `triage eval` computes its figures
 * with them, and so does the demonstration pack's evidence (models/training/evidence.ts).
 * A label is positive where `truth[i]` is 1 (or true), negative where it is 0 (or false).
 */
import { TriageError } from '../errors/index.js';
import type { Confusion, ReliabilityBin, RocPoint } from './types.js';

/** ROC AUC as the Mann-Whitney statistic, ties counted half (mid-ranks); null with one class only. */
export function auc(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>): number | null {
  checkScores(truth, scores);
  const n = scores.length;
  let positives = 0;
  for (let i = 0; i < n; i++) if (truth[i]) positives++;
  const negatives = n - positives;
  if (positives === 0 || negatives === 0) return null;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a] - scores[b]);
  let positiveRankSum = 0;
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && scores[order[j + 1]] === scores[order[i]]) j++;
    const midRank = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) if (truth[order[k]]) positiveRankSum += midRank;
    i = j + 1;
  }
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

export interface Counts {
  tp: number;
  fp: number;
  fn: number;
}

export interface F1 extends Counts {
  precision: number;
  recall: number;
  f1: number;
}

export function f1FromCounts({ tp, fp, fn }: Counts): F1 {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 0;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 0;
  const f1 = tp + fp + fn > 0 ? (2 * tp) / (2 * tp + fp + fn) : 1;
  return { tp, fp, fn, precision, recall, f1 };
}

/** Micro-averaged F1 over every (image, label) decision: truth[i][k], called[i][k]. */
export function microF1(truth: boolean[][], called: boolean[][]): F1 {
  const counts = { tp: 0, fp: 0, fn: 0 };
  truth.forEach((row, i) =>
    row.forEach((present, k) => {
      if (called[i][k] && present) counts.tp++;
      else if (called[i][k]) counts.fp++;
      else if (present) counts.fn++;
    }),
  );
  return f1FromCounts(counts);
}

/**
 * Hierarchical F1 (Kiritchenko et al.): each image's true and predicted sets of terms are extended
 * with every ancestor of their members, then precision and recall are micro-averaged over the
 * extended sets: hP = sum |P^ & T^| / sum |P^|, hR = sum |P^ & T^| / sum |T^|.
 */
export function hierarchicalF1(
  truth: string[][],
  predicted: string[][],
  ancestors: (term: string) => readonly string[],
): F1 {
  const extend = (terms: string[]) => new Set(terms.flatMap((term) => [term, ...ancestors(term)]));
  const counts = { tp: 0, fp: 0, fn: 0 };
  truth.forEach((trueTerms, i) => {
    const t = extend(trueTerms);
    const p = extend(predicted[i]);
    for (const term of p)
      if (t.has(term)) counts.tp++;
      else counts.fp++;
    for (const term of t) if (!p.has(term)) counts.fn++;
  });
  return f1FromCounts(counts);
}

/** The mean of the findings' F1, over the findings with at least one positive label; null: none. */
export function macroF1(findings: readonly Counts[]): number | null {
  const counted = findings.filter((counts) => counts.tp + counts.fn > 0);
  if (counted.length === 0) return null;
  return counted.reduce((sum, counts) => sum + f1FromCounts(counts).f1, 0) / counted.length;
}

/** Labels against calls (1 or true: positive). */
export function confusion(truth: ArrayLike<number | boolean>, called: ArrayLike<boolean | number>): Confusion {
  sameLength(truth, called, 'calls');
  const counts = { tp: 0, fp: 0, fn: 0, tn: 0 };
  for (let i = 0; i < truth.length; i++) {
    if (called[i]) {
      if (truth[i]) counts.tp++;
      else counts.fp++;
    } else if (truth[i]) counts.fn++;
    else counts.tn++;
  }
  return counts;
}

/**
 * The ROC curve as scikit-learn's roc_curve(drop_intermediate=False) draws it: (0, 0) first, then
 * one point per distinct score, descending, each the rates of "score >= threshold". The first
 * point's threshold is +Infinity, as in scikit-learn 1.3 and later (1.2 and earlier put the
 * highest score + 1 there); JSON.stringify writes it as null. Empty when a class is missing.
 */
export function rocCurve(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>): RocPoint[] {
  const { positives, negatives, steps } = sweep(truth, scores);
  if (positives === 0 || negatives === 0) return [];
  return [
    { fpr: 0, tpr: 0, threshold: Infinity },
    ...steps.map((step) => ({ fpr: step.fp / negatives, tpr: step.tp / positives, threshold: step.threshold })),
  ];
}

/** The Brier score: the mean of (p - label)^2; null for no prediction. */
export function brierScore(truth: ArrayLike<number | boolean>, p: ArrayLike<number>): number | null {
  probabilities(truth, p);
  if (p.length === 0) return null;
  let sum = 0;
  for (let i = 0; i < p.length; i++) sum += (p[i] - (truth[i] ? 1 : 0)) ** 2;
  return sum / p.length;
}

/**
 * The reliability diagram over `bins` equal-width bins, as scikit-learn's
 * calibration_curve(strategy='uniform') bins, to the edge: a prediction goes to the bin whose
 * upper edge is the first of numpy's linspace(0, 1, bins + 1) (edge k = k x (1 / bins)) that is
 * not below it (np.searchsorted on the inner edges). So bin k holds (k / bins, (k + 1) / bins],
 * the first one 0 as well: a prediction of exactly 0.3 falls in (0.2, 0.3]. Every bin is listed,
 * the empty ones with null means (scikit-learn lists the non-empty ones only).
 */
export function reliability(truth: ArrayLike<number | boolean>, p: ArrayLike<number>, bins = 10): ReliabilityBin[] {
  probabilities(truth, p);
  if (!Number.isInteger(bins) || bins < 1 || bins > 1000)
    throw new TriageError('INTERNAL', `A reliability diagram has 1 to 1000 bins, not ${bins}.`);
  const step = 1 / bins;
  const inner = Float64Array.from({ length: bins - 1 }, (_, k) => (k + 1) * step);
  const count = new Float64Array(bins);
  const predicted = new Float64Array(bins);
  const observed = new Float64Array(bins);
  for (let i = 0; i < p.length; i++) {
    // The number of inner edges strictly below p[i]: np.searchsorted(edges, p, side='left').
    let lo = 0;
    let hi = inner.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (inner[mid] < p[i]) lo = mid + 1;
      else hi = mid;
    }
    count[lo]++;
    predicted[lo] += p[i];
    if (truth[i]) observed[lo]++;
  }
  return Array.from({ length: bins }, (_, k) => ({
    low: k / bins,
    high: (k + 1) / bins,
    count: count[k],
    meanPredicted: count[k] > 0 ? predicted[k] / count[k] : null,
    observed: count[k] > 0 ? observed[k] / count[k] : null,
  }));
}

/**
 * The expected calibration error over reliability()'s bins: the count-weighted mean of
 * |observed - mean predicted|. Null for no prediction.
 */
export function expectedCalibrationError(
  truth: ArrayLike<number | boolean>,
  p: ArrayLike<number>,
  bins = 10,
): number | null {
  const diagram = reliability(truth, p, bins);
  if (p.length === 0) return null;
  let sum = 0;
  for (const bin of diagram) if (bin.count > 0) sum += bin.count * Math.abs(bin.observed! - bin.meanPredicted!);
  return sum / p.length;
}

/** How `triage calibrate` chooses an operating point. */
export type CalibrationTarget =
  /** The highest Youden index, sensitivity + specificity - 1. */
  | { kind: 'youden' }
  /** The highest threshold whose sensitivity is at least `value`. */
  | { kind: 'sensitivity'; value: number }
  /** Among the thresholds whose PPV is at least `value`, the most sensitive. */
  | { kind: 'ppv'; value: number };

/** "youden", "sensitivity=S" or "ppv=P" with S and P in (0, 1]; a USAGE error otherwise. */
export function parseCalibrationTarget(text: string): CalibrationTarget {
  const trimmed = text.trim();
  if (trimmed === 'youden') return { kind: 'youden' };
  const match = /^(sensitivity|ppv)=(\d+(?:\.\d*)?|\.\d+)$/.exec(trimmed);
  const value = match ? Number(match[2]) : NaN;
  if (match && value > 0 && value <= 1) return { kind: match[1] as 'sensitivity' | 'ppv', value };
  const shown = trimmed.length > 40 ? `${trimmed.slice(0, 40)}...` : trimmed;
  throw new TriageError(
    'USAGE',
    `The calibration target "${shown}" is not one of youden, sensitivity=S or ppv=P with S or P a ` +
      'number in (0, 1] (for example sensitivity=0.9 or ppv=0.8).',
  );
}

/** An operating point "score >= threshold" and its figures on the data it was chosen on. */
export interface ThresholdChoice extends Confusion {
  threshold: number;
  sensitivity: number;
  specificity: number;
  ppv: number;
}

/**
 * The operating point that meets a target, among the thresholds "score >= s" for each distinct
 * score s: for youden the highest sensitivity + specificity - 1 (compared exactly, the higher
 * threshold on a tie); for sensitivity=S the highest threshold whose sensitivity is at least S;
 * for ppv=P, among the thresholds whose PPV is at least P, the most sensitive (the higher on a
 * tie). Null with one class only, or when no threshold meets the target.
 */
export function chooseThreshold(
  truth: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
  target: CalibrationTarget,
): ThresholdChoice | null {
  const { positives, negatives, steps } = sweep(truth, scores);
  if (positives === 0 || negatives === 0) return null;
  let best: (typeof steps)[number] | null = null;
  for (const step of steps) {
    if (target.kind === 'youden') {
      // tp/P - fp/N > tpb/P - fpb/N, multiplied by P N: exact in integers.
      if (best === null || step.tp * negatives - step.fp * positives > best.tp * negatives - best.fp * positives)
        best = step;
    } else if (target.kind === 'sensitivity') {
      if (step.tp / positives >= target.value) {
        best = step;
        break;
      }
    } else if (step.tp / (step.tp + step.fp) >= target.value && (best === null || step.tp > best.tp)) best = step;
  }
  if (best === null) return null;
  const { tp, fp, threshold } = best;
  return {
    threshold,
    sensitivity: tp / positives,
    specificity: (negatives - fp) / negatives,
    ppv: tp / (tp + fp),
    tp,
    fp,
    fn: positives - tp,
    tn: negatives - fp,
  };
}

/**
 * The counts of "score >= threshold" for each distinct score, descending (scikit-learn's
 * _binary_clf_curve).
 */
function sweep(
  truth: ArrayLike<number | boolean>,
  scores: ArrayLike<number>,
): { positives: number; negatives: number; steps: Array<{ threshold: number; tp: number; fp: number }> } {
  checkScores(truth, scores);
  const n = scores.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  const steps: Array<{ threshold: number; tp: number; fp: number }> = [];
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < n; j++) {
    if (truth[order[j]]) tp++;
    else fp++;
    if (j + 1 < n && scores[order[j + 1]] === scores[order[j]]) continue; // a tie group is called whole
    steps.push({ threshold: scores[order[j]], tp, fp });
  }
  return { positives: tp, negatives: fp, steps };
}

/** Refuses arrays of different lengths (a caller's mistake, never the data's). */
export function sameLength(truth: ArrayLike<unknown>, other: ArrayLike<unknown>, what: string): void {
  if (truth.length !== other.length)
    throw new TriageError('INTERNAL', `${truth.length} labels but ${other.length} ${what}.`);
}

/** Scores to rank: as many as labels, none NaN (which has no place in an order). */
export function checkScores(truth: ArrayLike<unknown>, scores: ArrayLike<number>): void {
  sameLength(truth, scores, 'scores');
  for (let i = 0; i < scores.length; i++)
    if (Number.isNaN(scores[i])) throw new TriageError('INTERNAL', `Score ${i} is not a number.`);
}

/** Probabilities: as many as labels, each in [0, 1]. */
function probabilities(truth: ArrayLike<unknown>, p: ArrayLike<number>): void {
  sameLength(truth, p, 'probabilities');
  for (let i = 0; i < p.length; i++)
    if (!(p[i] >= 0 && p[i] <= 1)) throw new TriageError('INTERNAL', `Probability ${i} is not in [0, 1].`);
}
