/**
 * The bootstrap of a validation, free of I/O: resamples as integer image weights (how often a
 * resample drew each image), statistics that take such weights in O(n), and the percentile
 * interval of their resampled values. The demonstration pack's evidence
 * (models/training/evidence.ts) draws its patient resamples here too.
 */
import { TriageError } from '../errors/index.js';
import { mulberry32 } from '../phantom/index.js';
import { checkScores, sameLength } from './metrics.js';
import type { Confusion, Interval } from './types.js';

export interface BootstrapPlan {
  resamples: number;
  seed: number;
}

/**
 * The most image weights a bootstrap holds at once (resamples x images, 4 bytes each: 256 MiB);
 * a plan over it is refused before anything is allocated.
 */
export const MAX_BOOTSTRAP_WEIGHTS = 2 ** 26;

/** Refuses a plan over MAX_BOOTSTRAP_WEIGHTS for this many images (USAGE, naming the most resamples allowed). */
export function checkBootstrapPlan(images: number, plan: BootstrapPlan): void {
  if (!Number.isInteger(plan.resamples) || plan.resamples < 1 || !Number.isInteger(plan.seed))
    throw new TriageError('USAGE', 'The bootstrap needs a whole number of resamples (1 or more) and a whole seed.');
  if (plan.resamples * images > MAX_BOOTSTRAP_WEIGHTS)
    throw new TriageError(
      'USAGE',
      `${plan.resamples} resamples of ${images} images would hold more than ${MAX_BOOTSTRAP_WEIGHTS} image ` +
        `weights; ask for at most ${Math.max(1, Math.floor(MAX_BOOTSTRAP_WEIGHTS / Math.max(1, images)))} resamples.`,
    );
}

/**
 * The plain bootstrap's image weights: each resample draws n images with replacement
 * (image = floor(u x n), u from mulberry32(seed)), an image weighing as often as it was drawn.
 */
export function imageWeights(n: number, plan: BootstrapPlan): Int32Array[] {
  checkBootstrapPlan(n, plan);
  const next = mulberry32(plan.seed);
  const resamples: Int32Array[] = [];
  for (let b = 0; b < plan.resamples; b++) {
    const drawn = new Int32Array(n);
    for (let j = 0; j < n; j++) drawn[Math.floor(next() * n)]++;
    resamples.push(drawn);
  }
  return resamples;
}

/**
 * The resamples' image weights: each resample draws as many patients as there are, with
 * replacement (patient = floor(u x patients), patients in order of first appearance), and an
 * image weighs as often as its patient was drawn.
 */
export function clusterWeights(patients: ReadonlyArray<string | number>, plan: BootstrapPlan): Int32Array[] {
  checkBootstrapPlan(patients.length, plan);
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
  checkScores(truth, scores);
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

/** Labels against calls with integer image weights, as on the data with each image repeated. */
export function weightedConfusion(
  truth: ArrayLike<number | boolean>,
  called: ArrayLike<boolean | number>,
  weights: ArrayLike<number>,
): Confusion {
  sameLength(truth, called, 'calls');
  sameLength(truth, weights, 'weights');
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < truth.length; i++) {
    const w = weights[i];
    if (called[i]) {
      if (truth[i]) tp += w;
      else fp += w;
    } else if (truth[i]) fn += w;
    else tn += w;
  }
  return { tp, fp, fn, tn };
}

/**
 * A figure with its 95 % percentile bootstrap interval: the statistic on each resample's weights,
 * then percentileBounds (order statistics, no interpolation) of the values. A resample on which
 * the statistic is undefined (null: no positive drawn for a sensitivity, one class for an AUC) is
 * left out, so that B counts the defined ones. All null when `value` is null; low and high null
 * when no resample is defined.
 */
export function bootstrapInterval(
  weights: readonly Int32Array[],
  statistic: (weights: Int32Array) => number | null,
  method: 'bootstrap' | 'bootstrap-patient',
  value: number | null,
): Interval {
  if (value === null) return { value: null, low: null, high: null, method };
  const resampled: number[] = [];
  for (const w of weights) {
    const v = statistic(w);
    if (v !== null) resampled.push(v);
  }
  const bounds = percentileBounds(resampled);
  return { value, low: bounds?.low ?? null, high: bounds?.high ?? null, method };
}

/**
 * A plan's resamples drawn one at a time, so that memory stays O(images) however many resamples:
 * each pass re-seeds the generator and yields the same weights in the same order, in one buffer
 * reused (copy it to keep it). The draws are clusterWeights' (imageWeights' when every image is
 * its own cluster): per resample, as many clusters as there are, with replacement.
 */
export class Resampler {
  private constructor(
    readonly plan: BootstrapPlan,
    /** Each image's cluster, numbered 0.. in order of first appearance. */
    private readonly clusterOf: Int32Array,
    private readonly clusters: number,
    /** A sub-view: the parent's image indexes it keeps, in order; null for the whole set. */
    private readonly picked: Int32Array | null = null,
  ) {}

  /** Clusters of images, by any key (a patient); images with the same key are drawn together. */
  static byCluster(keys: ReadonlyArray<string | number>, plan: BootstrapPlan): Resampler {
    checkResamples(plan);
    const index = new Map<string | number, number>();
    const clusterOf = Int32Array.from(keys, (key) => {
      let cluster = index.get(key);
      if (cluster === undefined) index.set(key, (cluster = index.size));
      return cluster;
    });
    return new Resampler(plan, clusterOf, index.size);
  }

  /** Every image its own cluster: the plain bootstrap. */
  static byImage(n: number, plan: BootstrapPlan): Resampler {
    checkResamples(plan);
    return new Resampler(
      plan,
      Int32Array.from({ length: n }, (_, i) => i),
      n,
    );
  }

  /** The images a statistic sees: all of them, or those of a sub-view. */
  get images(): number {
    return this.picked ? this.picked.length : this.clusterOf.length;
  }

  /** The same draws seen through a subset of the images (indexes into this view). */
  restrict(images: readonly number[]): Resampler {
    const picked = this.picked ? Int32Array.from(images, (i) => this.picked![i]) : Int32Array.from(images);
    return new Resampler(this.plan, this.clusterOf, this.clusters, picked);
  }

  *weights(): Generator<Int32Array> {
    const next = mulberry32(this.plan.seed);
    const drawn = new Int32Array(this.clusters);
    const all = new Int32Array(this.clusterOf.length);
    const view = this.picked ? new Int32Array(this.picked.length) : all;
    for (let b = 0; b < this.plan.resamples; b++) {
      drawn.fill(0);
      for (let j = 0; j < this.clusters; j++) drawn[Math.floor(next() * this.clusters)]++;
      if (this.picked) for (let j = 0; j < this.picked.length; j++) view[j] = drawn[this.clusterOf[this.picked[j]]];
      else for (let i = 0; i < all.length; i++) all[i] = drawn[this.clusterOf[i]];
      yield view;
    }
  }
}

/** The most resamples a plan may ask for (time, not memory, bounds them now). */
export const MAX_RESAMPLES = 100_000;

function checkResamples(plan: BootstrapPlan): void {
  if (!Number.isInteger(plan.resamples) || plan.resamples < 1 || plan.resamples > MAX_RESAMPLES)
    throw new TriageError('USAGE', `The bootstrap takes 1 to ${MAX_RESAMPLES} resamples, not ${plan.resamples}.`);
  if (!Number.isInteger(plan.seed)) throw new TriageError('USAGE', 'The bootstrap needs a whole seed.');
}

/**
 * Several figures' percentile intervals from one pass over the resamples (see bootstrapInterval
 * for the convention): each statistic sees every resample's weights once.
 */
export function bootstrapIntervals(
  resampler: Resampler,
  figures: ReadonlyArray<{ value: number | null; statistic: (weights: Int32Array) => number | null }>,
  method: 'bootstrap' | 'bootstrap-patient',
): Interval[] {
  const values = figures.map(() => [] as number[]);
  const live = figures.map((f) => f.value !== null);
  if (live.some(Boolean)) {
    for (const weights of resampler.weights()) {
      figures.forEach((figure, k) => {
        if (!live[k]) return;
        const v = figure.statistic(weights);
        if (v !== null) values[k].push(v);
      });
    }
  }
  return figures.map((figure, k) => {
    if (figure.value === null) return { value: null, low: null, high: null, method };
    const bounds = percentileBounds(values[k]);
    return { value: figure.value, low: bounds?.low ?? null, high: bounds?.high ?? null, method };
  });
}
