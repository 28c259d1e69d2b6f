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
import { bootstrapIntervals, Resampler, prepareScores, weightedAuc, weightedConfusion } from './bootstrap.js';
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

/**
 * How a set of images is resampled: by patient when images share patients and there are enough
 * of them to resample, else by image (then DeLong and Wilson where they apply), and why.
 */
interface Resampling {
  clustered: boolean;
  resampler: Resampler;
  /** Why images sharing patients are nevertheless treated as independent; null otherwise. */
  note: string | null;
}

/** Fewer patients than this make a patient bootstrap's interval unreliable (few distinct resamples). */
export const MIN_PATIENTS_TO_RESAMPLE = 30;

/** A batch of bootstrapped figures, computed together in one pass over the resamples. */
class FigureBatch {
  private readonly figures: Array<{ value: number | null; statistic: (w: Int32Array) => number | null }> = [];
  private results: Interval[] | null = null;

  constructor(
    private readonly resampler: Resampler,
    private readonly method: 'bootstrap' | 'bootstrap-patient',
  ) {}

  /** A figure to bootstrap; its interval is there once run() has run. */
  add(value: number | null, statistic: (w: Int32Array) => number | null): () => Interval {
    const k = this.figures.push({ value, statistic }) - 1;
    return () => this.results![k];
  }

  run(): void {
    this.results = bootstrapIntervals(this.resampler, this.figures, this.method);
  }
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

/** The figures of one scorer's probabilities and calls on one term, once its batch has run. */
function scorerFigures(
  truth: number[],
  probability: number[],
  called: boolean[],
  clustered: boolean,
  batch: FigureBatch,
): () => ScorerFigures {
  const c = confusion(truth, called);
  const byCounts = (of: (c: Confusion) => number | null) =>
    batch.add(of(c), (w) => of(weightedConfusion(truth, called, w)));
  const f1 = byCounts(f1Of);
  if (clustered) {
    const prepared = prepareScores(truth, probability);
    const auc = batch.add(aucOf(truth, probability), (w) => weightedAuc(prepared, w));
    const sensitivity = byCounts((k) => ratio(k.tp, k.tp + k.fn));
    const specificity = byCounts((k) => ratio(k.tn, k.tn + k.fp));
    const ppv = byCounts((k) => ratio(k.tp, k.tp + k.fp));
    const npv = byCounts((k) => ratio(k.tn, k.tn + k.fn));
    return () => ({
      auc: auc(),
      sensitivity: sensitivity(),
      specificity: specificity(),
      ppv: ppv(),
      npv: npv(),
      f1: f1(),
      confusion: c,
    });
  }
  return () => ({
    auc: delongInterval(truth, probability),
    sensitivity: wilson(c.tp, c.tp + c.fn),
    specificity: wilson(c.tn, c.tn + c.fp),
    ppv: wilson(c.tp, c.tp + c.fp),
    npv: wilson(c.tn, c.tn + c.fn),
    f1: f1(),
    confusion: c,
  });
}

const methodOf = (resampling: Resampling) => (resampling.clustered ? 'bootstrap-patient' : 'bootstrap');

function termFigures(data: TermData, resampling: Resampling, versions: Map<string, string>): FindingMetrics {
  const batch = new FigureBatch(resampling.resampler.restrict(data.images), methodOf(resampling));
  const ensemble = scorerFigures(data.truth, data.probability, data.called, resampling.clustered, batch);
  const positives = data.truth.reduce((sum, t) => sum + t, 0);
  const ensemblePrepared = prepareScores(data.truth, data.probability);
  const ensembleAuc = aucOf(data.truth, data.probability);
  const members = [...data.members].map(([model, probability]) => {
    const figures = scorerFigures(
      data.truth,
      probability,
      probability.map((p) => p >= 0.5),
      resampling.clustered,
      batch,
    );
    const memberAuc = aucOf(data.truth, probability);
    let aucDifference: () => Interval;
    if (resampling.clustered) {
      const memberPrepared = prepareScores(data.truth, probability);
      aucDifference = batch.add(ensembleAuc === null || memberAuc === null ? null : ensembleAuc - memberAuc, (w) => {
        const a = weightedAuc(ensemblePrepared, w);
        const b = weightedAuc(memberPrepared, w);
        return a === null || b === null ? null : a - b;
      });
    } else {
      const paired = delongDifference(data.truth, data.probability, probability);
      aucDifference = () => paired;
    }
    return (): MemberFigures => ({
      model,
      version: versions.get(model) ?? '',
      ...figures(),
      aucDifference: aucDifference(),
    });
  });
  batch.run();
  const figures = ensemble();
  const c = figures.confusion;
  return {
    term: data.term,
    tree: data.tree,
    n: data.truth.length,
    positives,
    prevalence: data.truth.length > 0 ? positives / data.truth.length : 0,
    indeterminate: data.indeterminate,
    ...figures,
    roc: rocCurve(data.truth, data.probability),
    operatingPoint: { fpr: ratio(c.fp, c.fp + c.tn) ?? 0, tpr: ratio(c.tp, c.tp + c.fn) ?? 0 },
    members: members.map((member) => member()),
  };
}

/** Per-image counts pooled by a weighted sum: micro and hierarchical F1 with their intervals. */
function pooledF1(perImage: Confusion[], batch: FigureBatch): () => F1Figures {
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
  const boot = (of: (c: { tp: number; fp: number; fn: number }) => number | null) =>
    batch.add(of(all), (w) => of(sum(w)));
  const precision = boot((c) => ratio(c.tp, c.tp + c.fp));
  const recall = boot((c) => ratio(c.tp, c.tp + c.fn));
  const f1 = boot(f1Of);
  return () => ({ precision: precision(), recall: recall(), f1: f1(), tp: all.tp, fp: all.fp, fn: all.fn });
}

/**
 * The mean F1 of the terms with a positive label among the images (the set fixed on the whole
 * data); in a resample that draws no positive and no call of a term, its F1 counts as 0, as
 * scikit-learn's f1_score(average='macro') counts an undefined one.
 */
function macroF1(terms: TermData[], batch: FigureBatch): () => Interval {
  const counted = terms.filter((term) => term.truth.some((t) => t === 1));
  const of = (w: ArrayLike<number> | null) => {
    if (counted.length === 0) return null;
    let total = 0;
    for (const term of counted) {
      const weights = w ? Int32Array.from(term.images, (i) => w[i]) : new Int32Array(term.images.length).fill(1);
      total += f1Of(weightedConfusion(term.truth, term.called, weights)) ?? 0;
    }
    return total / counted.length;
  };
  return batch.add(of(null), (w) => of(w));
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

/** How images of these patients (null: unknown, a patient of its own) are resampled. */
function resamplingOf(patients: ReadonlyArray<string | null>, plan: BootstrapPlan): Resampling {
  const keys = patients.map((patient, i) => (patient === null ? `image ${i}` : `patient ${patient}`));
  const distinct = new Set(keys).size;
  const shared = distinct < keys.length;
  if (shared && distinct >= MIN_PATIENTS_TO_RESAMPLE)
    return { clustered: true, resampler: Resampler.byCluster(keys, plan), note: null };
  return {
    clustered: false,
    resampler: Resampler.byImage(keys.length, plan),
    note: shared
      ? `${keys.length} images of only ${distinct} patients: too few patients to resample by patient, so the intervals treat images as independent and are too narrow where one patient's images agree`
      : null,
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
        const batch = new FigureBatch(resampling.resampler.restrict(local), methodOf(resampling));
        const pending = scorerFigures(truth, probability, called, resampling.clustered, batch);
        batch.run();
        const figures = pending();
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

/** Why no labelled image has figures, and what to do: the gates' refusals named when they are why. */
function nothingJudged(collected: CollectedImages): string {
  const { rejected, errors, missing } = collected;
  const counts = `${rejected.total} refused by the gates, ${errors.total} unreadable, ${missing} labels rows without an image`;
  if (rejected.total > 0 && rejected.total >= errors.total + missing) {
    const [reason] = Object.entries(rejected.byReason).sort((a, b) => b[1] - a[1]);
    return `No labelled image could be judged (${counts}): the pack refuses these images, most often as "${reason[0]}" (${reason[1]}). It cannot be validated on them; use a pack made for such images.`;
  }
  return `No labelled image was analysed (${counts}). Check that the paths hold the labelled images and that the labels file names them.`;
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
        ? nothingJudged(collected)
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
        indeterminate: finding.indeterminate,
        label: term.truth[j] as 0 | 1,
        cluster: clusterOf[i],
        members: { ...finding.perModel },
        attributes: image.attributes,
      });
    }
  });
  const patients = images.every((image) => image.patient === null) ? null : clusters.size;
  const batch = new FigureBatch(resampling.resampler, methodOf(resampling));
  const overallBatch = {
    microF1: pooledF1(micro, batch),
    macroF1: macroF1(terms, batch),
    hierarchical: pooledF1(hierarchicalCounts(images, terms, taxonomy), batch),
  };
  batch.run();
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
      note: resampling.note,
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
      microF1: overallBatch.microF1(),
      macroF1: overallBatch.macroF1(),
      hierarchical: overallBatch.hierarchical(),
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
