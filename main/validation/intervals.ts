/**
 * Closed-form intervals, free of I/O: DeLong's for an AUC and for the difference of two AUCs on
 * the same images, Wilson's for a proportion.
 */
import { TriageError } from '../errors/index.js';
import { checkScores } from './metrics.js';
import type { Interval } from './types.js';

/**
 * The coefficients of Wichura's AS 241 (PPND16), lowest power first: numerator and denominator
 * of the central region |p - 0.5| <= 0.425 (A, B), of the tails up to r = 5 (C, D) and beyond (E, F).
 */
const A = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987, 67265.7709270087,
  33430.57558358813, 2509.0809287301227,
];
const B = [
  1.0, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271,
  28729.085735721943, 5226.495278852854,
];
const C = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684, 0.2417807251774506,
  0.022723844989269184, 0.0007745450142783414,
];
const D = [
  1.0, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457,
  0.0005475938084995345, 1.0507500716444169e-9,
];
const E = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124,
  0.0012426609473880784, 2.7115555687434876e-5, 2.0103343992922881e-7,
];
const F = [
  1.0, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133, 1.8463183175100548e-5,
  1.421511758316446e-7, 2.0442631033899397e-15,
];

/** a[0] + a[1] x + ... + a[k] x^k, by Horner's rule. */
function polynomial(a: readonly number[], x: number): number {
  let sum = 0;
  for (let k = a.length - 1; k >= 0; k--) sum = sum * x + a[k];
  return sum;
}

/**
 * The standard normal quantile, Wichura's algorithm AS 241 (PPND16, about 1e-16 relative
 * accuracy): normalQuantile(0.975) = 1.9599639845400536, one unit in the last place below
 * scipy.special.ndtri's 1.959963984540054.
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) throw new TriageError('INTERNAL', `A normal quantile needs p in (0, 1), not ${p}.`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * polynomial(A, r)) / polynomial(B, r);
  }
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const x = r <= 5 ? polynomial(C, r - 1.6) / polynomial(D, r - 1.6) : polynomial(E, r - 5) / polynomial(F, r - 5);
  return q < 0 ? -x : x;
}

/** The two-sided normal critical value of a confidence level (1.96 for 0.95). */
function critical(level: number): number {
  if (!(level > 0 && level < 1)) throw new TriageError('INTERNAL', `A confidence level lies in (0, 1), not ${level}.`);
  return normalQuantile(0.5 + level / 2);
}

/** Mid-ranks (1-based, ties sharing the mean of their ranks) of values. */
function midRanks(values: Float64Array): Float64Array {
  const n = values.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let i = 0; i < n;) {
    let j = i;
    while (j + 1 < n && values[order[j + 1]] === values[order[i]]) j++;
    for (let k = i; k <= j; k++) ranks[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  return ranks;
}

/**
 * DeLong, DeLong and Clarke-Pearson (1988): the Mann-Whitney AUCs of several scorers on the same
 * images and their covariance matrix S10 / m + S01 / n, from the structural components
 * V10 (per positive: the share of negatives it outscores, ties half) and V01 (per negative: the
 * share of positives that outscore it), whose sample covariances (divisor m - 1, n - 1) are S10
 * and S01. The components come from mid-ranks, as Sun and Xu (2014) compute them, in
 * O(k (m + n) log(m + n)) for k scorers. Null with one class only; a covariance is NaN when a
 * class has a single image (its sample covariance is undefined).
 */
export function delong(
  truth: ArrayLike<number | boolean>,
  scorers: ReadonlyArray<ArrayLike<number>>,
): { aucs: number[]; covariance: number[][] } | null {
  const positives: number[] = [];
  const negatives: number[] = [];
  for (let i = 0; i < truth.length; i++) (truth[i] ? positives : negatives).push(i);
  const m = positives.length;
  const n = negatives.length;
  if (m === 0 || n === 0) return null;
  const aucs: number[] = [];
  const v10: Float64Array[] = [];
  const v01: Float64Array[] = [];
  for (const scores of scorers) {
    checkScores(truth, scores);
    const x = Float64Array.from(positives, (i) => scores[i]);
    const y = Float64Array.from(negatives, (i) => scores[i]);
    const z = new Float64Array(m + n);
    z.set(x);
    z.set(y, m);
    const tx = midRanks(x);
    const ty = midRanks(y);
    const tz = midRanks(z);
    let rankSum = 0;
    for (let i = 0; i < m; i++) rankSum += tz[i];
    aucs.push((rankSum - (m * (m + 1)) / 2) / (m * n));
    v10.push(Float64Array.from(tx, (t, i) => (tz[i] - t) / n));
    v01.push(Float64Array.from(ty, (t, j) => 1 - (tz[m + j] - t) / m));
  }
  const covariance = aucs.map((a, k) =>
    aucs.map((b, l) => {
      let s10 = 0;
      for (let i = 0; i < m; i++) s10 += (v10[k][i] - a) * (v10[l][i] - b);
      let s01 = 0;
      for (let j = 0; j < n; j++) s01 += (v01[k][j] - a) * (v01[l][j] - b);
      return s10 / (m - 1) / m + s01 / (n - 1) / n;
    }),
  );
  return { aucs, covariance };
}

/**
 * The AUC with DeLong's normal interval, clipped to [0, 1]. All null with one class only; low and
 * high null when a class has a single image. A variance of 0 (every positive above every
 * negative) gives [auc, auc].
 */
export function delongInterval(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>, level = 0.95): Interval {
  const z = critical(level);
  const result = delong(truth, [scores]);
  if (result === null) return { value: null, low: null, high: null, method: 'delong' };
  return normal(result.aucs[0], result.covariance[0][0], z, 0, 1);
}

/**
 * AUC(a) - AUC(b) on the same images, with DeLong's normal interval of the paired difference
 * (variance S_aa + S_bb - 2 S_ab), clipped to [-1, 1]. All null with one class only.
 */
export function delongDifference(
  truth: ArrayLike<number | boolean>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  level = 0.95,
): Interval {
  const z = critical(level);
  const result = delong(truth, [a, b]);
  if (result === null) return { value: null, low: null, high: null, method: 'delong' };
  const [[saa, sab], [, sbb]] = result.covariance;
  return normal(result.aucs[0] - result.aucs[1], saa + sbb - 2 * sab, z, -1, 1);
}

function normal(value: number, variance: number, z: number, min: number, max: number): Interval {
  if (Number.isNaN(variance)) return { value, low: null, high: null, method: 'delong' };
  // Rounding can leave the variance of a difference of equal scorers a hair below 0.
  const half = z * Math.sqrt(Math.max(0, variance));
  return { value, low: Math.max(min, value - half), high: Math.min(max, value + half), method: 'delong' };
}

/**
 * Wilson's score interval of successes / trials (Newcombe's form, as scipy's
 * binomtest(k, n).proportion_ci(method='wilson')): centre (2 k + z^2) / (2 (n + z^2)), half-width
 * z sqrt(z^2 + 4 k (n - k) / n) / (2 (n + z^2)), exactly 0 and 1 at k = 0 and k = n. All null for
 * no trial.
 */
export function wilson(successes: number, trials: number, level = 0.95): Interval {
  const z = critical(level);
  if (!Number.isInteger(trials) || !Number.isInteger(successes) || successes < 0 || successes > trials)
    throw new TriageError('INTERNAL', `A proportion needs 0 <= successes <= trials, integers: ${successes}/${trials}.`);
  if (trials === 0) return { value: null, low: null, high: null, method: 'wilson' };
  const p = successes / trials;
  const denominator = 2 * (trials + z * z);
  const centre = (2 * trials * p + z * z) / denominator;
  const half = (z * Math.sqrt(z * z + 4 * trials * p * (1 - p))) / denominator;
  return {
    value: p,
    low: successes === 0 ? 0 : Math.max(0, centre - half),
    high: successes === trials ? 1 : Math.min(1, centre + half),
    method: 'wilson',
  };
}
