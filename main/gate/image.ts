/**
 * The image-based gate: after the metadata gate has let an image through and the models have run,
 * is the image like the ones the pack was trained on? A pack declares its checks and their
 * accepted ranges (chosen on its own validation data); an image outside any range is refused,
 * with the check, its score and the bound in the reason, and the members' findings are withheld.
 * The metadata gate cannot see a photograph saved as PNG, a rotated or inverted radiograph, or a
 * real radiograph shown to a pack that only knows phantoms; these checks can.
 */
import { OUT_OF_DISTRIBUTION_REASON } from '../common/index.js';
import type { GateCheck, ImageGate } from '../packs/index.js';

/** One check's outcome on one image. */
export interface CheckOutcome {
  /** energy, disagreement, reconstruction-ssim or reconstruction-rmse. */
  check: string;
  score: number;
  min: number | null;
  max: number | null;
  passed: boolean;
}

export interface ImageGateDecision {
  passed: boolean;
  checks: CheckOutcome[];
  /** Why the image was refused (every failed check), or null. */
  reason: string | null;
}

/** What the checks read: the members' logits and calibrated values, and the gate model's output. */
export interface GateEvidence {
  /** Per member: the logit of every trained label. */
  memberLogits: number[][];
  /** Per member: its calibrated probability per finding it covers. */
  memberCalibrated: Array<ReadonlyMap<string, number>>;
  /** The gate model's input and its reconstruction (same shape), when the gate model makes one. */
  reconstruction: { input: Float32Array; output: Float32Array; rows: number; columns: number; range: number } | null;
  /** The gate model's feature-space distance of the image, when it gives one. */
  distance: number | null;
}

/** log(1 + e^x) without overflow. */
function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

/**
 * The members' joint energy (Wang et al., "Can multi-label classification networks know what they
 * don't know?", 2021): per member, the sum over its trained labels of log(1 + e^logit); the mean
 * over members.
 */
export function jointEnergy(memberLogits: number[][]): number {
  let sum = 0;
  for (const logits of memberLogits) sum += logits.reduce((total, value) => total + softplus(value), 0);
  return sum / memberLogits.length;
}

/** The mean, over findings two or more members cover, of the spread (max - min) of their values. */
export function disagreement(memberCalibrated: Array<ReadonlyMap<string, number>>): number {
  const keys = new Set(memberCalibrated.flatMap((member) => [...member.keys()]));
  let total = 0;
  let count = 0;
  for (const key of keys) {
    const values = memberCalibrated.map((member) => member.get(key)).filter((v): v is number => v !== undefined);
    if (values.length < 2) continue;
    total += Math.max(...values) - Math.min(...values);
    count++;
  }
  return count === 0 ? 0 : total / count;
}

/** Root mean square difference of two equally long arrays. */
export function rmse(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] - b[i]) ** 2;
  return Math.sqrt(sum / a.length);
}

const SSIM_SIGMA = 1.5;
/** scipy's Gaussian filter reach (truncate 3.5 sigma): an 11 x 11 window. */
const SSIM_RADIUS = Math.floor(3.5 * SSIM_SIGMA + 0.5);

/**
 * Mean structural similarity of two images (Wang et al. 2004): Gaussian window of sigma 1.5,
 * K1 0.01, K2 0.03, population covariances, averaged over the pixels whose whole window lies
 * inside the image. The same as scikit-image's `structural_similarity(a, b, data_range=range,
 * gaussian_weights=True, sigma=1.5, use_sample_covariance=False)`.
 */
export function ssim(a: Float32Array, b: Float32Array, rows: number, columns: number, range: number): number {
  const r = SSIM_RADIUS;
  if (rows <= 2 * r || columns <= 2 * r) throw new RangeError(`SSIM needs images over ${2 * r + 1} pixels a side`);
  const kernel = Float64Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-0.5 * ((i - r) / SSIM_SIGMA) ** 2));
  const norm = kernel.reduce((s, w) => s + w, 0);
  for (let i = 0; i < kernel.length; i++) kernel[i] /= norm;
  const outRows = rows - 2 * r;
  const outColumns = columns - 2 * r;
  // Five filtered planes, valid region only: horizontal pass then vertical.
  const planes = [
    (i: number) => a[i],
    (i: number) => b[i],
    (i: number) => a[i] * a[i],
    (i: number) => b[i] * b[i],
    (i: number) => a[i] * b[i],
  ].map((value) => {
    const horizontal = new Float64Array(rows * outColumns);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < outColumns; x++) {
        let sum = 0;
        for (let k = 0; k < kernel.length; k++) sum += kernel[k] * value(y * columns + x + k);
        horizontal[y * outColumns + x] = sum;
      }
    }
    const filtered = new Float64Array(outRows * outColumns);
    for (let y = 0; y < outRows; y++) {
      for (let x = 0; x < outColumns; x++) {
        let sum = 0;
        for (let k = 0; k < kernel.length; k++) sum += kernel[k] * horizontal[(y + k) * outColumns + x];
        filtered[y * outColumns + x] = sum;
      }
    }
    return filtered;
  });
  const [ua, ub, uaa, ubb, uab] = planes;
  const c1 = (0.01 * range) ** 2;
  const c2 = (0.03 * range) ** 2;
  let total = 0;
  for (let i = 0; i < ua.length; i++) {
    const va = uaa[i] - ua[i] * ua[i];
    const vb = ubb[i] - ub[i] * ub[i];
    const cov = uab[i] - ua[i] * ub[i];
    total += ((2 * ua[i] * ub[i] + c1) * (2 * cov + c2)) / ((ua[i] * ua[i] + ub[i] * ub[i] + c1) * (va + vb + c2));
  }
  return total / ua.length;
}

/** The name a check goes by in results and reasons. */
export function checkName(check: Pick<GateCheck, 'kind'> & { metric?: string }): string {
  return check.kind === 'reconstruction' ? `reconstruction-${check.metric}` : check.kind;
}

const WORDING: Record<string, string> = {
  energy: "the members' joint energy",
  'feature-distance': 'its feature distance from the training images',
  disagreement: "the members' disagreement",
  'reconstruction-ssim': "the gate model's reconstruction SSIM",
  'reconstruction-rmse': "the gate model's reconstruction error (RMSE)",
};

/** One check's score on one image. */
export function score(check: GateCheck, evidence: GateEvidence): number {
  switch (check.kind) {
    case 'energy':
      return jointEnergy(evidence.memberLogits);
    case 'disagreement':
      return disagreement(evidence.memberCalibrated);
    case 'feature-distance':
      if (evidence.distance === null) throw new Error('a feature-distance check without the gate model output');
      return evidence.distance;
    case 'reconstruction': {
      const r = evidence.reconstruction;
      if (!r) throw new Error('a reconstruction check without the gate model output');
      return check.metric === 'ssim' ? ssim(r.input, r.output, r.rows, r.columns, r.range) : rmse(r.input, r.output);
    }
  }
}

function format(value: number): string {
  return Math.abs(value) >= 100 ? value.toFixed(1) : value.toPrecision(3);
}

/**
 * Every check of the pack's gate on one image. `enforce: false` measures only (choosing
 * thresholds, evaluating a gate): the outcomes are computed and nothing is refused.
 */
export function judgeImage(gate: ImageGate, evidence: GateEvidence, enforce = true): ImageGateDecision {
  const checks = gate.checks.map((check): CheckOutcome => {
    const value = score(check, evidence);
    const { min, max } = check.accepted;
    // NaN (a broken output) never passes.
    const passed = Number.isFinite(value) && (min === null || value >= min) && (max === null || value <= max);
    return { check: checkName(check), score: value, min, max, passed };
  });
  const failed = gate.checks.flatMap((check, i) => {
    const outcome = checks[i];
    if (outcome.passed) return [];
    if (!Number.isFinite(outcome.score)) return [`${WORDING[outcome.check]} could not be computed`];
    const bound =
      outcome.min !== null && !(outcome.score >= outcome.min)
        ? `below the accepted ${format(outcome.min)}`
        : `above the accepted ${format(outcome.max!)}`;
    return [`${WORDING[outcome.check]} is ${format(outcome.score)}, ${bound} (${check.chosen.rule})`];
  });
  if (!enforce || failed.length === 0) return { passed: failed.length === 0, checks, reason: null };
  return {
    passed: false,
    checks,
    reason: `${OUT_OF_DISTRIBUTION_REASON}, findings withheld: ${failed.join('; ')}`,
  };
}
