/**
 * The figures of an evaluation, from the labelled images the models judged: per finding the
 * ensemble's AUC, sensitivity, specificity, PPV, NPV and F1 at the pack's operating point with
 * 95 % intervals, and each member beside it; overall micro, macro and hierarchical F1 and the
 * calibration of the shown probability; the same by sex, age band, view and manufacturer. No I/O.
 *
 * Intervals: when every image names its patient and some patient has several images, images are
 * not independent, so every interval is a percentile bootstrap over patients. Otherwise an AUC
 * gets DeLong's interval (a difference of two AUCs the paired one), a proportion Wilson's, and an
 * F1 a percentile bootstrap over images.
 */
import { TriageError } from '../errors/index.js';
import type { Finding } from '../domain/index.js';
import type { Tree } from '../common/index.js';
import type { Taxonomy } from '../taxonomy/index.js';
import type { CollectedImages, LabelledImage } from './collect.js';
import { UNKNOWN } from './collect.js';
import type { Labels } from './labels.js';
import {
  bootstrapInterval,
  clusterWeights,
  imageWeights,
  prepareScores,
  weightedAuc,
  weightedConfusion,
} from './bootstrap.js';
import type { BootstrapPlan } from './bootstrap.js';
import { delongDifference, delongInterval, wilson } from './intervals.js';
import { auc as aucOf, brierScore, confusion, expectedCalibrationError, reliability, rocCurve } from './metrics.js';
import type {
  Confusion,
  Evaluation,
  EvaluationData,
  F1Figures,
  FindingMetrics,
  Interval,
  IntervalMethod,
  MemberFigures,
  PredictionRow,
  ScorerFigures,
  Subgroup,
  SubgroupAttribute,
  SubgroupFinding,
} from './types.js';

export const DEFAULT_BOOTSTRAP: BootstrapPlan = { resamples: 2000, seed: 20261207 };
export const SUBGROUP_ATTRIBUTES: readonly SubgroupAttribute[] = ['sex', 'age', 'view', 'manufacturer'];

export interface EvaluateOptions {
  labels: Labels;
  collected: CollectedImages;
  pack: Evaluation['pack'];
  taxonomy: Taxonomy;
  paths: string[];
  bootstrap?: BootstrapPlan;
  createdAt: string;
  software: string;
}

/** One assessed term: the images with a known label and the product's finding on each. */
export interface TermData {
  term: string;
  tree: Tree;
  /** Indexes into the images. */
  images: number[];
  truth: number[];
  probability: number[];
  called: boolean[];
  indeterminate: number;
  /** Member id -> its calibrated probability on each of `images` (members covering every one). */
  members: Map<string, number[]>;
}

/** How a set of images is resampled: by patient or by image, with the weights of every resample. */
interface Resampling {
  clustered: boolean;
  weights: Int32Array[];
}

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);

/** The finding of a term on an image when a model assessed it directly (it has a probability). */
function assessedFinding(image: LabelledImage, term: string, tree: string): Finding | undefined {
  return image.result.findings.find(
    (f) => f.term === term && f.tree === tree && f.assessed && f.direct && f.probability !== null,
  );
}

const f1Of = (c: Pick<Confusion, 'tp' | 'fp' | 'fn'>): number | null =>
  c.tp + c.fp + c.fn > 0 ? (2 * c.tp) / (2 * c.tp + c.fp + c.fn) : null;

/** The weights of a subset of images (indexes into the whole set), per resample. */
function restrict(resampling: Resampling, images: number[]): Int32Array[] {
  return resampling.weights.map((w) => Int32Array.from(images, (i) => w[i]));
}

/** The figures of one scorer's probabilities and calls on one term. */
function scorerFigures(
  truth: number[],
  probability: number[],
  called: boolean[],
  resampling: Resampling,
  weights: Int32Array[],
): ScorerFigures {
  const c = confusion(truth, called);
  const method: IntervalMethod = resampling.clustered ? 'bootstrap-patient' : 'bootstrap';
  const prepared = prepareScores(truth, probability);
  const boot = (value: number | null, statistic: (w: Int32Array) => number | null): Interval =>
    bootstrapInterval(weights, statistic, method, value);
  const byCounts = (value: number | null, of: (c: Confusion) => number | null): Interval =>
    boot(value, (w) => of(weightedConfusion(truth, called, w)));
  const f1 = byCounts(f1Of(c), f1Of);
  if (resampling.clustered) {
    return {
      auc: boot(aucOf(truth, probability), (w) => weightedAuc(prepared, w)),
      sensitivity: byCounts(ratio(c.tp, c.tp + c.fn), (k) => ratio(k.tp, k.tp + k.fn)),
      specificity: byCounts(ratio(c.tn, c.tn + c.fp), (k) => ratio(k.tn, k.tn + k.fp)),
      ppv: byCounts(ratio(c.tp, c.tp + c.fp), (k) => ratio(k.tp, k.tp + k.fp)),
      npv: byCounts(ratio(c.tn, c.tn + c.fn), (k) => ratio(k.tn, k.tn + k.fn)),
      f1,
      confusion: c,
    };
  }
  return {
    auc: delongInterval(truth, probability),
    sensitivity: wilson(c.tp, c.tp + c.fn),
    specificity: wilson(c.tn, c.tn + c.fp),
    ppv: wilson(c.tp, c.tp + c.fp),
    npv: wilson(c.tn, c.tn + c.fn),
    f1,
    confusion: c,
  };
}

function termFigures(data: TermData, resampling: Resampling, versions: Map<string, string>): FindingMetrics {
  const weights = restrict(resampling, data.images);
  const ensemble = scorerFigures(data.truth, data.probability, data.called, resampling, weights);
  const positives = data.truth.reduce((sum, t) => sum + t, 0);
  const ensemblePrepared = prepareScores(data.truth, data.probability);
  const members: MemberFigures[] = [...data.members].map(([model, probability]) => {
    const called = probability.map((p) => p >= 0.5);
    const figures = scorerFigures(data.truth, probability, called, resampling, weights);
    const memberPrepared = prepareScores(data.truth, probability);
    const ensembleAuc = aucOf(data.truth, data.probability);
    const memberAuc = aucOf(data.truth, probability);
    const aucDifference = resampling.clustered
      ? bootstrapInterval(
          weights,
          (w) => {
            const a = weightedAuc(ensemblePrepared, w);
            const b = weightedAuc(memberPrepared, w);
            return a === null || b === null ? null : a - b;
          },
          'bootstrap-patient',
          ensembleAuc === null || memberAuc === null ? null : ensembleAuc - memberAuc,
        )
      : delongDifference(data.truth, data.probability, probability);
    return { model, version: versions.get(model) ?? '', ...figures, aucDifference };
  });
  const c = ensemble.confusion;
  return {
    term: data.term,
    tree: data.tree,
    n: data.truth.length,
    positives,
    prevalence: data.truth.length > 0 ? positives / data.truth.length : 0,
    indeterminate: data.indeterminate,
    ...ensemble,
    roc: rocCurve(data.truth, data.probability),
    operatingPoint: { fpr: ratio(c.fp, c.fp + c.tn) ?? 0, tpr: ratio(c.tp, c.tp + c.fn) ?? 0 },
    members,
  };
}

/** Per-image counts pooled by a weighted sum: micro and hierarchical F1 with their intervals. */
function pooledF1(perImage: Confusion[], resampling: Resampling): F1Figures {
  const method: IntervalMethod = resampling.clustered ? 'bootstrap-patient' : 'bootstrap';
  const sum = (w: ArrayLike<number> | null) => {
    const c = { tp: 0, fp: 0, fn: 0 };
    perImage.forEach((k, i) => {
      const weight = w ? w[i] : 1;
      c.tp += weight * k.tp;
      c.fp += weight * k.fp;
      c.fn += weight * k.fn;
    });
    return c;
  };
  const all = sum(null);
  const boot = (value: number | null, of: (c: { tp: number; fp: number; fn: number }) => number | null) =>
    bootstrapInterval(resampling.weights, (w) => of(sum(w)), method, value);
  const precision = (c: { tp: number; fp: number }) => ratio(c.tp, c.tp + c.fp);
  const recall = (c: { tp: number; fn: number }) => ratio(c.tp, c.tp + c.fn);
  return {
    precision: boot(precision(all), precision),
    recall: boot(recall(all), recall),
    f1: boot(f1Of(all), f1Of),
    tp: all.tp,
    fp: all.fp,
    fn: all.fn,
  };
}

/** The mean of the terms' F1 over the terms with a positive label (in each resample, too). */
function macroF1(terms: TermData[], resampling: Resampling): Interval {
  const method: IntervalMethod = resampling.clustered ? 'bootstrap-patient' : 'bootstrap';
  const of = (w: ArrayLike<number> | null) => {
    let total = 0;
    let counted = 0;
    for (const term of terms) {
      const weights = w ? Int32Array.from(term.images, (i) => w[i]) : new Int32Array(term.images.length).fill(1);
      const c = weightedConfusion(term.truth, term.called, weights);
      if (c.tp + c.fn === 0) continue;
      total += f1Of(c) ?? 0;
      counted++;
    }
    return counted > 0 ? total / counted : null;
  };
  return bootstrapInterval(resampling.weights, (w) => of(w), method, of(null));
}

/** Each image's true and called assessed terms, extended with their ancestors (the roots left out). */
function hierarchicalCounts(images: LabelledImage[], terms: TermData[], taxonomy: Taxonomy): Confusion[] {
  const roots = new Set(taxonomy.roots.map((root) => `${root.tree}:${root.term}`));
  const ancestry = new Map<string, string[]>();
  const extend = (keys: Array<{ term: string; tree: Tree }>) => {
    const out = new Set<string>();
    for (const { term, tree } of keys) {
      const key = `${tree}:${term}`;
      let above = ancestry.get(key);
      if (!above) {
        above = [key, ...taxonomy.ancestors(term, tree).map((a) => `${tree}:${a}`)].filter((k) => !roots.has(k));
        ancestry.set(key, above);
      }
      for (const k of above) out.add(k);
    }
    return out;
  };
  const truthOf: Array<Array<{ term: string; tree: Tree }>> = images.map(() => []);
  const calledOf: Array<Array<{ term: string; tree: Tree }>> = images.map(() => []);
  for (const term of terms) {
    term.images.forEach((i, j) => {
      if (term.truth[j]) truthOf[i].push(term);
      if (term.called[j]) calledOf[i].push(term);
    });
  }
  return images.map((_, i) => {
    const t = extend(truthOf[i]);
    const p = extend(calledOf[i]);
    let tp = 0;
    for (const k of p) if (t.has(k)) tp++;
    return { tp, fp: p.size - tp, fn: t.size - tp, tn: 0 };
  });
}

function resamplingOf(patients: Array<string | null>, plan: BootstrapPlan): Resampling {
  const known = patients.every((p) => p !== null);
  const clustered = known && new Set(patients).size < patients.length;
  return {
    clustered,
    weights: clustered ? clusterWeights(patients as string[], plan) : imageWeights(patients.length, plan),
  };
}

function subgroups(images: LabelledImage[], terms: TermData[], plan: BootstrapPlan): Subgroup[] {
  const out: Subgroup[] = [];
  for (const attribute of SUBGROUP_ATTRIBUTES) {
    const groups = new Map<string, number[]>();
    images.forEach((image, i) => {
      const value = image.attributes[attribute];
      const group = groups.get(value);
      if (group) group.push(i);
      else groups.set(value, [i]);
    });
    if (groups.size === 1 && groups.has(UNKNOWN)) continue;
    const ordered = [...groups].sort(
      ([a, x], [b, y]) => Number(a === UNKNOWN) - Number(b === UNKNOWN) || y.length - x.length || a.localeCompare(b),
    );
    for (const [value, members] of ordered) {
      const inGroup = new Set(members);
      const resampling = resamplingOf(
        members.map((i) => images[i].patient),
        plan,
      );
      const position = new Map(members.map((i, j) => [i, j]));
      const findings: SubgroupFinding[] = terms.map((term) => {
        const picked = term.images.flatMap((i, j) => (inGroup.has(i) ? [j] : []));
        const truth = picked.map((j) => term.truth[j]);
        const probability = picked.map((j) => term.probability[j]);
        const called = picked.map((j) => term.called[j]);
        const local = picked.map((j) => position.get(term.images[j])!);
        const figures = scorerFigures(truth, probability, called, resampling, restrict(resampling, local));
        return {
          term: term.term,
          tree: term.tree,
          n: truth.length,
          positives: truth.reduce((s, t) => s + t, 0),
          auc: figures.auc,
          sensitivity: figures.sensitivity,
          specificity: figures.specificity,
        };
      });
      out.push({ attribute, value, images: members.length, findings });
    }
  }
  return out;
}

/**
 * The labelled terms a model of the pack assessed directly on the images, with each image's label,
 * ensemble probability, call and members' probabilities; the other labelled terms apart.
 */
export function assessedTerms(
  labels: Pick<Labels, 'terms'>,
  images: readonly LabelledImage[],
  memberIds: readonly string[],
): { terms: TermData[]; notAssessed: EvaluationData['notAssessed'] } {
  const terms: TermData[] = [];
  const notAssessed: EvaluationData['notAssessed'] = [];
  labels.terms.forEach(({ term, tree }, k) => {
    const data: TermData = {
      term,
      // Only finding and diagnosis terms can match a model's finding; others end as not assessed.
      tree: tree as Tree,
      images: [],
      truth: [],
      probability: [],
      called: [],
      indeterminate: 0,
      members: new Map(),
    };
    const memberValues = new Map(memberIds.map((id) => [id, [] as number[]]));
    let labelled = 0;
    let labelledPositives = 0;
    images.forEach((image, i) => {
      const label = image.labels[k];
      if (label === null) return;
      labelled++;
      labelledPositives += label;
      const finding = assessedFinding(image, term, tree);
      if (!finding) return;
      data.images.push(i);
      data.truth.push(label);
      data.probability.push(finding.probability!.ensemble);
      data.called.push(finding.positive);
      if (finding.indeterminate) data.indeterminate++;
      for (const id of memberIds) {
        const value = finding.perModel[id];
        if (value === undefined) memberValues.delete(id);
        else memberValues.get(id)?.push(value);
      }
    });
    if (data.images.length === 0) {
      notAssessed.push({ term, tree, n: labelled, positives: labelledPositives });
      return;
    }
    data.members = memberValues;
    terms.push(data);
  });
  return { terms, notAssessed };
}

export interface EvaluationOutcome {
  evaluation: Evaluation;
  predictions: PredictionRow[];
}

export function evaluate(options: EvaluateOptions): EvaluationOutcome {
  const { labels, collected, taxonomy } = options;
  const plan = options.bootstrap ?? DEFAULT_BOOTSTRAP;
  const images = collected.images;
  const memberIds = options.pack.models.map((m) => m.id);
  const versions = new Map(options.pack.models.map((m) => [m.id, m.version]));
  const { terms, notAssessed } = assessedTerms(labels, images, memberIds);
  const judged = terms.filter((t) => t.truth.some((v) => v === 1) && t.truth.some((v) => v === 0));
  if (images.length === 0 || judged.length === 0) {
    throw new TriageError(
      'NOTHING_TO_EVALUATE',
      images.length === 0
        ? `No labelled image was analysed (${collected.rejected.total} rejected, ${collected.errors.total} unreadable, ${collected.missing} labels rows without an image). Check that the paths hold the labelled images.`
        : `No term the pack assesses has both a positive and a negative label among the ${images.length} images; label at least one of ${[...new Set(images.flatMap((im) => im.result.findings.filter((f) => f.assessed && f.direct).map((f) => f.term)))].join(', ')}.`,
    );
  }
  const clusters = new Map<string, number>();
  const clusterOf = images.map((image) => {
    if (image.patient === null) return null;
    if (!clusters.has(image.patient)) clusters.set(image.patient, clusters.size + 1);
    return clusters.get(image.patient)!;
  });
  const resampling = resamplingOf(
    images.map((image) => image.patient),
    plan,
  );
  const findings = terms.map((term) => termFigures(term, resampling, versions));
  const micro = images.map(() => ({ tp: 0, fp: 0, fn: 0, tn: 0 }));
  for (const term of terms) {
    term.images.forEach((i, j) => {
      if (term.called[j] && term.truth[j]) micro[i].tp++;
      else if (term.called[j]) micro[i].fp++;
      else if (term.truth[j]) micro[i].fn++;
      else micro[i].tn++;
    });
  }
  const pooledTruth = terms.flatMap((t) => t.truth);
  const pooledProbability = terms.flatMap((t) => t.probability);
  const predictions: PredictionRow[] = [];
  const positions = terms.map((term) => new Map(term.images.map((i, j) => [i, j])));
  images.forEach((image, i) => {
    for (const [t, term] of terms.entries()) {
      const j = positions[t].get(i);
      if (j === undefined) continue;
      const finding = assessedFinding(image, term.term, term.tree)!;
      predictions.push({
        file: image.file,
        term: term.term,
        tree: term.tree,
        probability: term.probability[j],
        positive: term.called[j],
        label: term.truth[j] as 0 | 1,
        cluster: clusterOf[i],
        members: { ...finding.perModel },
        attributes: image.attributes,
      });
    }
  });
  const patients = images.every((image) => image.patient === null) ? null : clusters.size;
  const evaluation: Evaluation = {
    format: 'cxr-triage-evaluation',
    formatVersion: 1,
    createdAt: options.createdAt,
    software: options.software,
    pack: options.pack,
    intervals: {
      level: 0.95,
      bootstrap: { resamples: plan.resamples, seed: plan.seed },
      clustered: resampling.clustered,
    },
    data: {
      labels: {
        file: labels.file,
        sha256: labels.sha256,
        rows: labels.rows.length,
        terms: labels.terms.map(({ term, tree }) => ({ term, tree })),
      },
      paths: options.paths,
      images: images.length,
      patients,
      rejected: collected.rejected,
      errors: collected.errors,
      missing: collected.missing,
      unlabelled: collected.unlabelled,
      duplicates: collected.duplicates,
      notAssessed,
      reused: collected.reused,
    },
    findings,
    overall: {
      microF1: pooledF1(micro, resampling),
      macroF1: macroF1(terms, resampling),
      hierarchical: pooledF1(hierarchicalCounts(images, terms, taxonomy), resampling),
      calibration: {
        // Not null: at least one term has labelled images (checked above).
        ece: expectedCalibrationError(pooledTruth, pooledProbability)!,
        brier: brierScore(pooledTruth, pooledProbability)!,
        bins: reliability(pooledTruth, pooledProbability),
      },
    },
    subgroups: subgroups(images, terms, plan),
  };
  return { evaluation, predictions };
}
