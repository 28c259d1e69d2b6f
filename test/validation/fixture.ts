/**
 * A realistic `Evaluation` for the report's tests, computed from a seeded simulation so that its
 * figures agree with each other: 1,500 labelled images, seven findings, three members whose
 * calibrated scores share a signal, the ensemble as their mean; ROC curves, operating points,
 * confusions, DeLong AUC intervals, Wilson proportions, bootstrapped F1, calibration bins and
 * subgroups all from the same simulated predictions. (Not the metrics code: a small independent
 * computation, enough to make figures a reader would meet.)
 */
import type {
  Confusion,
  Evaluation,
  FindingMetrics,
  Interval,
  MemberFigures,
  ReliabilityBin,
  RocPoint,
  Subgroup,
  SubgroupAttribute,
} from '../../main/validation/index.js';

const SEED = 20261207;
const IMAGES = 1500;
const RESAMPLES = 200;
const Z = 1.959964;

/** The findings: prevalence and the best member's separation (binormal d'). */
export const FIXTURE_FINDINGS = [
  { term: 'cardiomegaly', prevalence: 0.14, d: 2.2 },
  { term: 'pleural effusion', prevalence: 0.1, d: 2.4 },
  { term: 'pneumothorax', prevalence: 0.03, d: 1.9 },
  { term: 'nodule', prevalence: 0.05, d: 1.3 },
  { term: 'mass', prevalence: 0.025, d: 1.6 },
  { term: 'consolidation', prevalence: 0.06, d: 1.5 },
  { term: 'atelectasis', prevalence: 0.08, d: 1.4 },
] as const;

/** The members: id, version, and how much of the best separation each keeps. */
export const FIXTURE_MEMBERS = [
  { id: 'resnet', version: '2.1.0', strength: 1 },
  { id: 'densenet', version: '1.4.2', strength: 0.95 },
  { id: 'mobilenet', version: '3.0.1', strength: 0.85 },
] as const;

/** A small made-up hierarchy for the hierarchical F1 (the tree's root left out). */
const ANCESTORS: Record<string, string[]> = {
  nodule: ['pulmonary mass-like lesion'],
  mass: ['pulmonary mass-like lesion'],
  consolidation: ['alveolar pattern'],
  atelectasis: ['volume loss'],
};

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function normal(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

const round4 = (x: number) => Math.round(x * 10000) / 10000;
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

function wilson(successes: number, trials: number): Interval {
  if (trials === 0) return { value: null, low: null, high: null, method: 'wilson' };
  const p = successes / trials;
  const z2 = Z * Z;
  const centre = (p + z2 / (2 * trials)) / (1 + z2 / trials);
  const half = (Z * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))) / (1 + z2 / trials);
  return { value: p, low: Math.max(0, centre - half), high: Math.min(1, centre + half), method: 'wilson' };
}

/** DeLong's structural components of the AUC: one per positive, one per negative. */
function delong(scores: number[], labels: number[]): { auc: number; v10: number[]; v01: number[] } | null {
  const pos = scores.filter((_, i) => labels[i] === 1);
  const neg = scores.filter((_, i) => labels[i] === 0);
  if (pos.length === 0 || neg.length === 0) return null;
  const psi = (x: number, y: number) => (x > y ? 1 : x === y ? 0.5 : 0);
  const v10 = pos.map((x) => neg.reduce((s, y) => s + psi(x, y), 0) / neg.length);
  const v01 = neg.map((y) => pos.reduce((s, x) => s + psi(x, y), 0) / pos.length);
  return { auc: v10.reduce((s, v) => s + v, 0) / v10.length, v10, v01 };
}

function covariance(a: number[], b: number[]): number {
  if (a.length < 2) return 0;
  const ma = a.reduce((s, v) => s + v, 0) / a.length;
  const mb = b.reduce((s, v) => s + v, 0) / b.length;
  return a.reduce((s, v, i) => s + (v - ma) * (b[i] - mb), 0) / (a.length - 1);
}

function aucInterval(scores: number[], labels: number[]): Interval {
  const d = delong(scores, labels);
  if (!d) return { value: null, low: null, high: null, method: 'delong' };
  const variance = covariance(d.v10, d.v10) / d.v10.length + covariance(d.v01, d.v01) / d.v01.length;
  const half = Z * Math.sqrt(variance);
  return { value: d.auc, low: Math.max(0, d.auc - half), high: Math.min(1, d.auc + half), method: 'delong' };
}

function aucDifference(a: number[], b: number[], labels: number[]): Interval {
  const da = delong(a, labels);
  const db = delong(b, labels);
  if (!da || !db) return { value: null, low: null, high: null, method: 'delong' };
  const m = da.v10.length;
  const n = da.v01.length;
  const variance =
    (covariance(da.v10, da.v10) + covariance(db.v10, db.v10) - 2 * covariance(da.v10, db.v10)) / m +
    (covariance(da.v01, da.v01) + covariance(db.v01, db.v01) - 2 * covariance(da.v01, db.v01)) / n;
  const diff = da.auc - db.auc;
  const half = Z * Math.sqrt(Math.max(0, variance));
  return { value: diff, low: Math.max(-1, diff - half), high: Math.min(1, diff + half), method: 'delong' };
}

function confusionOf(scores: number[], labels: number[], threshold = 0.5): Confusion {
  const c = { tp: 0, fp: 0, fn: 0, tn: 0 };
  scores.forEach((s, i) => {
    const call = s >= threshold;
    if (labels[i] === 1) c[call ? 'tp' : 'fn']++;
    else c[call ? 'fp' : 'tn']++;
  });
  return c;
}

const f1Of = (c: { tp: number; fp: number; fn: number }) =>
  2 * c.tp + c.fp + c.fn === 0 ? null : (2 * c.tp) / (2 * c.tp + c.fp + c.fn);

function percentile(sorted: number[], q: number): number {
  const at = (sorted.length - 1) * q;
  const lo = Math.floor(at);
  const hi = Math.ceil(at);
  return sorted[lo] + (sorted[hi] - sorted[lo]) * (at - lo);
}

/** A percentile bootstrap over images of a statistic of the drawn image indices. */
function bootstrap(count: number, statistic: (indices: number[]) => number | null, seed: number): Interval {
  const value = statistic([...Array(count).keys()]);
  if (value === null) return { value: null, low: null, high: null, method: 'bootstrap' };
  const random = mulberry32(seed);
  const draws: number[] = [];
  for (let r = 0; r < RESAMPLES; r++) {
    const indices = Array.from({ length: count }, () => Math.floor(random() * count));
    const v = statistic(indices);
    if (v !== null) draws.push(v);
  }
  draws.sort((a, b) => a - b);
  return { value, low: percentile(draws, 0.025), high: percentile(draws, 0.975), method: 'bootstrap' };
}

/** sklearn's roc_curve(drop_intermediate=False): one point per distinct score, from (0, 0) at +inf. */
export function rocCurve(scores: number[], labels: number[]): RocPoint[] {
  const P = labels.filter((l) => l === 1).length;
  const N = labels.length - P;
  const order = scores.map((s, i) => [s, labels[i]] as const).sort((a, b) => b[0] - a[0]);
  const points: RocPoint[] = [{ fpr: 0, tpr: 0, threshold: Number.POSITIVE_INFINITY }];
  let tp = 0;
  let fp = 0;
  for (let i = 0; i < order.length; i++) {
    if (order[i][1] === 1) tp++;
    else fp++;
    if (i === order.length - 1 || order[i + 1][0] !== order[i][0])
      points.push({ fpr: N ? fp / N : 0, tpr: P ? tp / P : 0, threshold: order[i][0] });
  }
  return points;
}

interface Image {
  sex: string;
  age: string;
  view: string;
  manufacturer: string;
  /** Per finding: label (1, 0, or -1 unknown), each member's probability, the ensemble's. */
  labels: number[];
  members: number[][];
  ensemble: number[];
}

function pick<T>(random: () => number, choices: ReadonlyArray<readonly [T, number]>): T {
  let r = random() * choices.reduce((s, [, w]) => s + w, 0);
  for (const [value, weight] of choices) {
    r -= weight;
    if (r < 0) return value;
  }
  return choices[choices.length - 1][0];
}

function simulate(): Image[] {
  const random = mulberry32(SEED);
  const images: Image[] = [];
  for (let i = 0; i < IMAGES; i++) {
    const image: Image = {
      sex: pick(random, [
        ['F', 0.51],
        ['M', 0.48],
        ['unknown', 0.01],
      ]),
      age: pick(random, [
        ['18-39', 0.18],
        ['40-59', 0.3],
        ['60-79', 0.37],
        ['80+', 0.15],
      ]),
      view: pick(random, [
        ['PA', 0.62],
        ['AP', 0.3],
        ['L', 0.08],
      ]),
      manufacturer: pick(random, [
        ['Agfa', 0.46],
        ['Carestream', 0.38],
        ['Philips', 0.14],
        ['Fujifilm', 0.015],
        ['unknown', 0.005],
      ]),
      labels: [],
      members: [],
      ensemble: [],
    };
    FIXTURE_FINDINGS.forEach((finding) => {
      const label = random() < 0.02 ? -1 : random() < finding.prevalence ? 1 : 0;
      const common = normal(random);
      const probabilities = FIXTURE_MEMBERS.map((member) => {
        const d = finding.d * member.strength;
        const z = (label === 1 ? d : 0) + Math.SQRT1_2 * common + Math.SQRT1_2 * normal(random);
        const cut = Math.max(d - 0.9, d / 2);
        return round4(sigmoid(1.7 * (z - cut)));
      });
      image.labels.push(label);
      image.members.push(probabilities);
      image.ensemble.push(round4(probabilities.reduce((s, p) => s + p, 0) / probabilities.length));
    });
    images.push(image);
  }
  return images;
}

function scorerFigures(scores: number[], labels: number[], seed: number) {
  const confusion = confusionOf(scores, labels);
  return {
    auc: aucInterval(scores, labels),
    sensitivity: wilson(confusion.tp, confusion.tp + confusion.fn),
    specificity: wilson(confusion.tn, confusion.tn + confusion.fp),
    ppv: wilson(confusion.tp, confusion.tp + confusion.fp),
    npv: wilson(confusion.tn, confusion.tn + confusion.fn),
    f1: bootstrap(
      scores.length,
      (ix) =>
        f1Of(
          confusionOf(
            ix.map((i) => scores[i]),
            ix.map((i) => labels[i]),
          ),
        ),
      seed,
    ),
    confusion,
  };
}

const INDETERMINATE = { low: 0.35, high: 0.65 };

function findingMetrics(images: Image[], k: number): FindingMetrics {
  const known = images.filter((im) => im.labels[k] !== -1);
  const labels = known.map((im) => im.labels[k]);
  const ensemble = known.map((im) => im.ensemble[k]);
  const positives = labels.filter((l) => l === 1).length;
  const figures = scorerFigures(ensemble, labels, SEED + k);
  const members: MemberFigures[] = FIXTURE_MEMBERS.map((member, m) => {
    const scores = known.map((im) => im.members[k][m]);
    return {
      model: member.id,
      version: member.version,
      ...scorerFigures(scores, labels, SEED + 100 * (m + 1) + k),
      aucDifference: aucDifference(ensemble, scores, labels),
    };
  });
  const c = figures.confusion;
  return {
    term: FIXTURE_FINDINGS[k].term,
    tree: 'finding',
    n: known.length,
    positives,
    prevalence: positives / known.length,
    indeterminate: ensemble.filter((p) => p >= INDETERMINATE.low && p < INDETERMINATE.high).length,
    roc: rocCurve(ensemble, labels),
    operatingPoint: { fpr: c.fp / (c.fp + c.tn), tpr: c.tp / (c.tp + c.fn) },
    members,
    ...figures,
  };
}

function subgroups(images: Image[]): Subgroup[] {
  const attributes: SubgroupAttribute[] = ['sex', 'age', 'view', 'manufacturer'];
  const out: Subgroup[] = [];
  for (const attribute of attributes) {
    const values = [...new Set(images.map((im) => im[attribute]))].sort();
    for (const value of values) {
      const group = images.filter((im) => im[attribute] === value);
      out.push({
        attribute,
        value,
        images: group.length,
        findings: FIXTURE_FINDINGS.map((finding, k) => {
          const known = group.filter((im) => im.labels[k] !== -1);
          const labels = known.map((im) => im.labels[k]);
          const scores = known.map((im) => im.ensemble[k]);
          const c = confusionOf(scores, labels);
          return {
            term: finding.term,
            tree: 'finding' as const,
            n: known.length,
            positives: c.tp + c.fn,
            auc: aucInterval(scores, labels),
            sensitivity: wilson(c.tp, c.tp + c.fn),
            specificity: wilson(c.tn, c.tn + c.fp),
          };
        }),
      });
    }
  }
  return out;
}

function calibrationBins(images: Image[]): { ece: number; brier: number; bins: ReliabilityBin[] } {
  const pairs = images.flatMap((im) =>
    im.labels.flatMap((label, k) => (label === -1 ? [] : [[im.ensemble[k], label] as const])),
  );
  const bins: ReliabilityBin[] = Array.from({ length: 10 }, (_, b) => {
    const low = b / 10;
    const high = (b + 1) / 10;
    const inBin = pairs.filter(([p]) => p >= low && (p < high || (b === 9 && p <= 1)));
    const count = inBin.length;
    return {
      low,
      high,
      count,
      meanPredicted: count ? inBin.reduce((s, [p]) => s + p, 0) / count : null,
      observed: count ? inBin.reduce((s, [, y]) => s + y, 0) / count : null,
    };
  });
  const ece = bins.reduce(
    (s, b) =>
      s +
      (b.count && b.meanPredicted !== null ? (b.count / pairs.length) * Math.abs(b.observed! - b.meanPredicted) : 0),
    0,
  );
  const brier = pairs.reduce((s, [p, y]) => s + (p - y) ** 2, 0) / pairs.length;
  return { ece, brier, bins };
}

function overall(images: Image[], findings: FindingMetrics[]): Evaluation['overall'] {
  const pooled = (ix: number[]) => {
    const c = { tp: 0, fp: 0, fn: 0 };
    for (const i of ix)
      images[i].labels.forEach((label, k) => {
        if (label === -1) return;
        const call = images[i].ensemble[k] >= 0.5;
        if (call && label === 1) c.tp++;
        else if (call) c.fp++;
        else if (label === 1) c.fn++;
      });
    return c;
  };
  const hierarchical = (ix: number[]) => {
    const c = { tp: 0, fp: 0, fn: 0 };
    for (const i of ix) {
      const truth = new Set<string>();
      const called = new Set<string>();
      images[i].labels.forEach((label, k) => {
        if (label === -1) return;
        const term = FIXTURE_FINDINGS[k].term;
        const withAncestors = [term, ...(ANCESTORS[term] ?? [])];
        if (label === 1) withAncestors.forEach((t) => truth.add(t));
        if (images[i].ensemble[k] >= 0.5) withAncestors.forEach((t) => called.add(t));
      });
      for (const t of called) c[truth.has(t) ? 'tp' : 'fp']++;
      for (const t of truth) if (!called.has(t)) c.fn++;
    }
    return c;
  };
  const all = [...images.keys()];
  const f1Figures = (count: (ix: number[]) => { tp: number; fp: number; fn: number }, seed: number) => {
    const c = count(all);
    return {
      precision: wilson(c.tp, c.tp + c.fp),
      recall: wilson(c.tp, c.tp + c.fn),
      f1: bootstrap(images.length, (ix) => f1Of(count(ix)), seed),
      ...c,
    };
  };
  const perFinding = (ix: number[], k: number) => {
    const c = { tp: 0, fp: 0, fn: 0 };
    for (const i of ix) {
      const label = images[i].labels[k];
      if (label === -1) continue;
      const call = images[i].ensemble[k] >= 0.5;
      if (call && label === 1) c.tp++;
      else if (call) c.fp++;
      else if (label === 1) c.fn++;
    }
    return c;
  };
  const withPositives = findings.map((f, k) => (f.positives > 0 ? k : -1)).filter((k) => k >= 0);
  const macro = (ix: number[]) => {
    const values = withPositives.map((k) => f1Of(perFinding(ix, k))).filter((v): v is number => v !== null);
    return values.length ? values.reduce((s, v) => s + v, 0) / values.length : null;
  };
  return {
    microF1: f1Figures(pooled, SEED + 7),
    macroF1: bootstrap(images.length, macro, SEED + 9),
    hierarchical: f1Figures(hierarchical, SEED + 8),
    calibration: calibrationBins(images),
  };
}

let cached: Evaluation | null = null;

function build(): Evaluation {
  const images = simulate();
  const findings = FIXTURE_FINDINGS.map((_, k) => findingMetrics(images, k));
  return {
    format: 'cxr-triage-evaluation',
    formatVersion: 1,
    createdAt: '2026-12-07T09:30:00.000Z',
    software: 'cxr-triage 0.1.0',
    pack: {
      id: 'padchest-demo',
      version: '1.2.0',
      fingerprint: '9f2c4e7a1b3d5f6071829a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f',
      rule: 'mean of 3 members',
      indeterminate: INDETERMINATE,
      demo: true,
      notForClinicalUse: true,
      models: FIXTURE_MEMBERS.map((member, m) => ({
        id: member.id,
        version: member.version,
        sha256: `${(m + 10).toString(16)}${'0123456789abcdef'.repeat(4)}`.slice(0, 64),
        operatingPoints: Object.fromEntries(
          FIXTURE_FINDINGS.map((f, k) => [f.term, round4(0.3 + 0.05 * k + 0.02 * m)]),
        ),
      })),
      calibration: {
        method: 'youden',
        labels: 'site-labels-2026-11.csv',
        images: 1480,
        derivedAt: '2026-11-30T16:02:00.000Z',
        perTerm: { cardiomegaly: 0.41, nodule: 0.37 },
      },
    },
    intervals: { level: 0.95, bootstrap: { resamples: RESAMPLES, seed: SEED }, clustered: false, note: null },
    data: {
      labels: {
        file: 'labels/site-validation-2026-12.csv',
        sha256: '3b7e1f0c9d2a4b6e8f1a3c5d7e9f0b2d4f6a8c0e1b3d5f7a9c0e2b4d6f8a1c3e',
        rows: 1562,
        terms: FIXTURE_FINDINGS.map((f) => ({ term: f.term, tree: 'finding' as const })),
      },
      paths: ['/srv/validation/2026-12/dicom'],
      images: IMAGES,
      patients: IMAGES,
      rejected: {
        total: 31,
        byReason: { 'lateral view': 17, 'not a chest radiograph': 9, 'pixel spacing too coarse': 5 },
      },
      errors: { total: 4, byCode: { DICOM_TRUNCATED: 3, UNSUPPORTED_TRANSFER_SYNTAX: 1 } },
      missing: 27,
      unlabelled: 12,
      duplicates: 2,
      notAssessed: [{ term: 'hilar enlargement', tree: 'finding', n: 1500, positives: 22 }],
      reused: 318,
    },
    findings,
    overall: overall(images, findings),
    subgroups: subgroups(images),
  };
}

/** A fresh copy of the realistic evaluation (a test may change its copy). */
export function fixtureEvaluation(): Evaluation {
  cached ??= build();
  return structuredClone(cached);
}
