/**
 * The classification metrics of a validation, free of I/O: `triage eval` computes its figures
 * with them, and so does the demonstration pack's evidence (models/training/evidence.ts).
 * A label is positive where `truth[i]` is 1 (or true), negative where it is 0 (or false).
 */

/** ROC AUC as the Mann-Whitney statistic, ties counted half (mid-ranks); null with one class only. */
export function auc(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>): number | null {
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
