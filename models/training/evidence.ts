/**
 * The demonstration pack's figures, computed from the per-image outputs that evaluate.ts stores
 * with the pack (models/packs/demo/evidence/), with no I/O: so that the figures can be recomputed
 * from those files alone, here (test/training/evidence.conformance.test.ts) and independently by
 * recompute_evidence.py with scikit-learn.
 *
 * Every figure is computed on integer counts and ends in one division, so that any implementation
 * of the same definitions gets the same double: micro-F1 2tp / (2tp + fp + fn), AUC the
 * Mann-Whitney U (ties half) over P x N, the pointing game hits / total. The confidence intervals
 * come from a cluster bootstrap over patients (a patient's images are resampled together), drawn
 * with mulberry32 from a fixed seed (main/validation's clusterWeights), and are order statistics of the resampled values (no
 * interpolation).
 */
import {
  auc,
  clusterWeights,
  f1FromCounts,
  hierarchicalF1,
  microF1,
  percentileBounds,
  prepareScores,
  weightedAuc,
} from '../../main/validation/index.js';
import type { BootstrapPlan, F1, PreparedScores } from '../../main/validation/index.js';

/** One image of the validation split: enough to choose operating points. */
export interface ValidationRow {
  file: string;
  /** The phantom's patient ID (a patient's images form one study, resampled together). */
  patient: string;
  /** 0 or 1 per label, in `labels` order. */
  truth: number[];
  /** Each member's raw output (logit) per label, untrained heads included. */
  logits: Record<string, number[]>;
}

/** A finding that is ensemble-positive and truly present: did the heatmap peak fall in its mask? */
export interface PointingEntry {
  term: string;
  /** 1 when the peak of the ensemble's map lies inside the ground-truth mask (no tolerance). */
  ensemble: number;
  /** The same within one CAM cell of the mask (for reference). */
  withinCell: number;
  /** The members that voted for the finding (the engine draws maps only for them): their own maps. */
  members: Record<string, number>;
}

/** One image of the evidence split: its ground truth and everything the pack said about it. */
export interface EvidenceRow extends ValidationRow {
  /** Each member's vote at its shipped operating point (calibrated >= 0.5; untrained heads 0). */
  shippedCalls: Record<string, number[]>;
  /** The ensemble's decision (majority of the members' votes) as the Engine reported it. */
  ensembleCalls: number[];
  /**
   * The ensemble's score per label, for its AUC: the mean calibrated probability the Engine reports
   * (4 decimals); for a label no member trained, which the Engine does not report, the mean of the
   * members' sigmoid(logit), to 4 decimals.
   */
  ensembleScore: number[];
  pointing: PointingEntry[];
}

export interface OutputsHeader {
  split: string;
  seed: number;
  images: number;
  patients: number;
  generator: string;
  labels: string[];
  members: string[];
  /** Per member and label: whether the head ships trained (an untrained head never votes). */
  trained: Record<string, boolean[]>;
  note: string;
}

export interface ValidationOutputs extends OutputsHeader {
  rows: ValidationRow[];
}

export interface EvidenceOutputs extends OutputsHeader {
  /** Each member's shipped operating point per label (a probability; null: untrained). */
  shippedOperatingPoints: Record<string, Array<number | null>>;
  /** Each label's ancestors in the PadChest finding tree, as the product's taxonomy gives them. */
  ancestors: Record<string, string[]>;
  /** The tree's root, left out of the hierarchical F1. */
  root: string;
  rows: EvidenceRow[];
}

/** A figure, and its 95 % bootstrap interval. */
export interface Interval {
  value: number;
  low: number;
  high: number;
}

export type CountedInterval = Interval & Pick<F1, 'tp' | 'fp' | 'fn' | 'precision' | 'recall'>;
export type PointingInterval = Interval & { hits: number; total: number };

export interface ModelFigures {
  auc: Record<string, Interval>;
  meanAuc: Interval;
  pointing: { all: PointingInterval; withoutCardiomegaly: PointingInterval };
}

export interface CallFigures {
  microF1: CountedInterval;
  hierarchicalF1: CountedInterval;
}

export interface OperatingPoint {
  /** Positive when the logit is at least this (half-way between two validation logits); null: never. */
  threshold: number | null;
  /** On the validation split, where it was chosen (optimistic). */
  validationF1: number | null;
}

export interface Figures {
  bestF1OperatingPoints: Record<string, Record<string, OperatingPoint>>;
  ensemble: ModelFigures & CallFigures;
  members: Record<string, ModelFigures & { bestF1: CallFigures; shipped: CallFigures }>;
  /** Ensemble minus member, on the same resamples. */
  differences: Record<
    string,
    { microF1VsBestF1: Interval; microF1VsShipped: Interval; hierarchicalF1VsBestF1: Interval; meanAuc: Interval }
  >;
}

/**
 * The 95 % percentile interval: of the B sorted resample values, the order statistics
 * floor(25 B / 1000) and ceil(975 B / 1000) - 1 (0-based; for B = 2000 the 51st and the 1950th).
 */
export function percentileInterval(value: number, resampled: readonly number[]): Interval {
  const bounds = percentileBounds(resampled);
  if (bounds === null) throw new Error('no resampled value to take an interval from');
  return { value, ...bounds };
}

/** micro-F1 counts with each image weighted (an integer: how often the resample drew it). */
export function weightedCounts(
  truth: readonly number[][],
  called: readonly number[][],
  weights: ArrayLike<number>,
): { tp: number; fp: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  truth.forEach((row, i) => {
    const w = weights[i];
    if (w === 0) return;
    row.forEach((present, k) => {
      if (called[i][k] && present) tp += w;
      else if (called[i][k]) fp += w;
      else if (present) fn += w;
    });
  });
  return { tp, fp, fn };
}

/**
 * AUC with integer image weights, as on the data with each image repeated: main/validation's
 * weightedAuc on scores put in order once.
 */
export class WeightedAuc {
  private readonly prepared: PreparedScores;

  constructor(truth: readonly number[], scores: readonly number[]) {
    this.prepared = prepareScores(truth, scores);
  }

  value(weights: ArrayLike<number>): number | null {
    return weightedAuc(this.prepared, weights);
  }
}

/**
 * The operating point that maximises a member's F1 for one label on the validation split: among
 * the thresholds "logit >= v" for every distinct validation logit v, the best F1 (compared exactly,
 * the highest such v on a tie), placed half-way (in logit space) between v and the next lower
 * validation logit (v - 1 below the lowest), as train.py places the shipped Youden points.
 */
export function bestF1Threshold(truth: readonly number[], logits: readonly number[]): OperatingPoint {
  const order = logits.map((_, i) => i).sort((a, b) => logits[b] - logits[a]);
  const positives = truth.filter((t) => t > 0).length;
  let best: { tp: number; fp: number; value: number; next: number } | null = null;
  let tp = 0;
  let fp = 0;
  for (let j = 0; j < order.length; j++) {
    if (truth[order[j]] > 0) tp++;
    else fp++;
    const value = logits[order[j]];
    if (j + 1 < order.length && logits[order[j + 1]] === value) continue; // the whole tie group is called
    const fn = positives - tp;
    // 2tp / (2tp + fp + fn) > 2tb / (2tb + fpb + fnb), cross-multiplied: exact in integers.
    if (
      tp > 0 &&
      (best === null || tp * (2 * best.tp + best.fp + (positives - best.tp)) > best.tp * (2 * tp + fp + fn))
    ) {
      best = { tp, fp, value, next: j + 1 < order.length ? logits[order[j + 1]] : value - 1 };
    }
  }
  if (best === null) return { threshold: null, validationF1: null };
  return {
    threshold: (best.value + best.next) / 2,
    validationF1: f1FromCounts({ tp: best.tp, fp: best.fp, fn: positives - best.tp }).f1,
  };
}

/** The calls of a member at given logit thresholds (null: never positive). */
export function callsAt(rows: readonly ValidationRow[], member: string, thresholds: Array<number | null>): number[][] {
  return rows.map((row) =>
    row.logits[member].map((logit, k) => (thresholds[k] !== null && logit >= thresholds[k] ? 1 : 0)),
  );
}

export function computeFigures(validation: ValidationOutputs, evidence: EvidenceOutputs, plan: BootstrapPlan): Figures {
  const { labels, members, root } = evidence;
  if (validation.labels.join() !== labels.join() || validation.members.join() !== members.join())
    throw new Error('the validation and evidence outputs have different labels or members');
  const rows = evidence.rows;
  const truth = rows.map((row) => row.truth);
  const ancestors = (term: string) => (evidence.ancestors[term] ?? []).filter((a) => a !== root);
  const weightsOf = clusterWeights(
    rows.map((row) => row.patient),
    plan,
  );
  const ones = new Int32Array(rows.length).fill(1);

  // Operating points chosen on validation alone; untrained heads never vote, as shipped.
  const bestF1OperatingPoints: Figures['bestF1OperatingPoints'] = {};
  const bestCalls: Record<string, number[][]> = {};
  for (const member of members) {
    bestF1OperatingPoints[member] = {};
    const thresholds = labels.map((term, k) => {
      const point = evidence.trained[member][k]
        ? bestF1Threshold(
            validation.rows.map((row) => row.truth[k]),
            validation.rows.map((row) => row.logits[member][k]),
          )
        : { threshold: null, validationF1: null };
      bestF1OperatingPoints[member][term] = point;
      return point.threshold;
    });
    bestCalls[member] = callsAt(rows, member, thresholds);
  }

  // One call set -> micro-F1 and hierarchical F1 (without the root), on the data and per resample.
  const callFigures = (called: number[][]) => {
    const asBool = (m: number[][]) => m.map((row) => row.map((v) => v > 0));
    const micro = microF1(asBool(truth), asBool(called));
    const terms = (m: number[][]) => m.map((row) => labels.filter((_, k) => row[k] > 0));
    const hier = hierarchicalF1(terms(truth), terms(called), ancestors);
    const trueSets = truth.map((row) =>
      extend(
        labels.filter((_, k) => row[k] > 0),
        ancestors,
      ),
    );
    const calledSets = called.map((row) =>
      extend(
        labels.filter((_, k) => row[k] > 0),
        ancestors,
      ),
    );
    const resampledMicro = weightsOf.map((w) => f1FromCounts(weightedCounts(truth, called, w)).f1);
    const resampledHier = weightsOf.map((w) => f1FromCounts(weightedSetCounts(trueSets, calledSets, w)).f1);
    return {
      figures: {
        microF1: { ...percentileInterval(micro.f1, resampledMicro), ...counts(micro) },
        hierarchicalF1: { ...percentileInterval(hier.f1, resampledHier), ...counts(hier) },
      },
      resampledMicro,
      resampledHier,
    };
  };

  // One score set -> AUC per label and their mean over all labels; and the pointing game.
  const modelFigures = (scores: number[][], hit: (entry: PointingEntry) => number | undefined) => {
    const perLabel = labels.map((_, k) => {
      const column = scores.map((row) => row[k]);
      const weighted = new WeightedAuc(
        truth.map((row) => row[k]),
        column,
      );
      const value = auc(
        truth.map((row) => row[k]),
        column,
      );
      if (value === null) throw new Error(`${labels[k]}: one class only, no AUC`);
      return { value, resampled: weightsOf.map((w) => defined(weighted.value(w), labels[k])) };
    });
    const mean = (values: number[]) => values.reduce((sum, v) => sum + v, 0) / values.length;
    const meanValue = mean(perLabel.map((l) => l.value));
    const resampledMean = weightsOf.map((_, b) => mean(perLabel.map((l) => l.resampled[b])));
    const pointing = (withCardiomegaly: boolean) => {
      const entries = rows.flatMap((row, i) =>
        row.pointing
          .filter((e) => withCardiomegaly || e.term !== 'cardiomegaly')
          .map((e) => ({ i, hit: hit(e) }))
          .filter((e): e is { i: number; hit: number } => e.hit !== undefined),
      );
      const rate = (w: ArrayLike<number>) => {
        let hits = 0;
        let total = 0;
        for (const e of entries) {
          hits += w[e.i] * e.hit;
          total += w[e.i];
        }
        return { hits, total, rate: hits / total };
      };
      const all = rate(ones);
      return {
        ...percentileInterval(
          all.rate,
          weightsOf.map((w) => rate(w).rate),
        ),
        hits: all.hits,
        total: all.total,
      };
    };
    return {
      figures: {
        auc: Object.fromEntries(
          labels.map((term, k) => [term, percentileInterval(perLabel[k].value, perLabel[k].resampled)]),
        ),
        meanAuc: percentileInterval(meanValue, resampledMean),
        pointing: { all: pointing(true), withoutCardiomegaly: pointing(false) },
      },
      resampledMean,
    };
  };

  const ensembleCalls = callFigures(rows.map((row) => row.ensembleCalls));
  const ensembleModel = modelFigures(
    rows.map((row) => row.ensembleScore),
    (e) => e.ensemble,
  );
  const figures: Figures = {
    bestF1OperatingPoints,
    ensemble: { ...ensembleModel.figures, ...ensembleCalls.figures },
    members: {},
    differences: {},
  };
  const difference = (value: number, ours: number[], theirs: number[], theirValue: number) =>
    percentileInterval(
      value - theirValue,
      ours.map((v, b) => v - theirs[b]),
    );
  for (const member of members) {
    const best = callFigures(bestCalls[member]);
    const shipped = callFigures(rows.map((row) => row.shippedCalls[member]));
    const model = modelFigures(
      rows.map((row) => row.logits[member]),
      (e) => e.members[member],
    );
    figures.members[member] = { ...model.figures, bestF1: best.figures, shipped: shipped.figures };
    const e = figures.ensemble;
    figures.differences[member] = {
      microF1VsBestF1: difference(
        e.microF1.value,
        ensembleCalls.resampledMicro,
        best.resampledMicro,
        best.figures.microF1.value,
      ),
      microF1VsShipped: difference(
        e.microF1.value,
        ensembleCalls.resampledMicro,
        shipped.resampledMicro,
        shipped.figures.microF1.value,
      ),
      hierarchicalF1VsBestF1: difference(
        e.hierarchicalF1.value,
        ensembleCalls.resampledHier,
        best.resampledHier,
        best.figures.hierarchicalF1.value,
      ),
      meanAuc: difference(
        e.meanAuc.value,
        ensembleModel.resampledMean,
        model.resampledMean,
        model.figures.meanAuc.value,
      ),
    };
  }
  return figures;
}

function defined(value: number | null, what: string): number {
  if (value === null) throw new Error(`${what}: a resample has one class only, no AUC`);
  return value;
}

function counts(f1: F1): Pick<F1, 'tp' | 'fp' | 'fn' | 'precision' | 'recall'> {
  return { tp: f1.tp, fp: f1.fp, fn: f1.fn, precision: f1.precision, recall: f1.recall };
}

function extend(terms: string[], ancestors: (term: string) => readonly string[]): Set<string> {
  return new Set(terms.flatMap((term) => [term, ...ancestors(term)]));
}

/** hierarchicalF1's counts with integer image weights. */
function weightedSetCounts(
  truth: ReadonlyArray<Set<string>>,
  called: ReadonlyArray<Set<string>>,
  weights: ArrayLike<number>,
): { tp: number; fp: number; fn: number } {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  truth.forEach((t, i) => {
    const w = weights[i];
    if (w === 0) return;
    for (const term of called[i])
      if (t.has(term)) tp += w;
      else fp += w;
    for (const term of t) if (!called[i].has(term)) fn += w;
  });
  return { tp, fp, fn };
}
