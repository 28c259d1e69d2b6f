/**
 * A local validation's figures as `triage eval` writes them (DIR/metrics.json) and the report and
 * the app's Validation view show them. Every figure can be recomputed from DIR/predictions.csv.
 */
import type { IndeterminateBand, ModelProvenance } from '../domain/index.js';
import type { Tree } from '../common/index.js';
import type { TaxonomyTree } from '../taxonomy/index.js';

/** How a 95 % interval was made. */
export type IntervalMethod =
  /** DeLong's variance of the Mann-Whitney AUC (or of a difference of two paired AUCs), normal, clipped to [0, 1]. */
  | 'delong'
  /** Wilson's score interval of a proportion. */
  | 'wilson'
  /** Percentile bootstrap over images (each image drawn with replacement). */
  | 'bootstrap'
  /** Percentile bootstrap over patients: a patient's images are drawn together. */
  | 'bootstrap-patient';

/**
 * A figure with its 95 % interval. `value` null: undefined on these data (no positives for a
 * sensitivity, one class only for an AUC); then low and high are null too. A value with null
 * bounds: the figure is defined but its interval is not (DeLong's with a single positive or a
 * single negative image, a bootstrap where no resample has both classes).
 */
export interface Interval {
  value: number | null;
  low: number | null;
  high: number | null;
  method: IntervalMethod;
}

/** Decisions against labels: true and false positives and negatives. */
export interface Confusion {
  tp: number;
  fp: number;
  fn: number;
  tn: number;
}

/** The figures of one scorer (the ensemble, or one member) on one finding at its operating point. */
export interface ScorerFigures {
  auc: Interval;
  sensitivity: Interval;
  specificity: Interval;
  ppv: Interval;
  npv: Interval;
  f1: Interval;
  confusion: Confusion;
}

/**
 * A point of a ROC curve: false positive rate, true positive rate, and the score threshold (>=).
 * The curve's first point, (0, 0), has the threshold +Infinity (scikit-learn's convention since
 * 1.3), which JSON writes as null.
 */
export interface RocPoint {
  fpr: number;
  tpr: number;
  threshold: number;
}

export interface MemberFigures extends ScorerFigures {
  model: string;
  version: string;
  /** Ensemble AUC minus this member's, paired on the same images. */
  aucDifference: Interval;
}

/** One assessed PadChest term with labels. */
export interface FindingMetrics extends ScorerFigures {
  term: string;
  tree: Tree;
  /** Images with a known label (1 or 0) for the term, among those analysed. */
  n: number;
  positives: number;
  prevalence: number;
  /** Images whose ensemble probability lies in the pack's indeterminate band. */
  indeterminate: number;
  /** The ensemble's ROC curve on its shown probability (sklearn's roc_curve, drop_intermediate=False). */
  roc: RocPoint[];
  /** The operating point on that curve: the call (ensemble probability >= 0.5). */
  operatingPoint: { fpr: number; tpr: number };
  members: MemberFigures[];
}

/**
 * One bin of the reliability diagram: predictions in (low, high], the first bin including 0, as
 * scikit-learn's calibration_curve(strategy='uniform') bins them (a prediction of 0.3 is in
 * (0.2, 0.3]). Empty bins are listed with null means.
 */
export interface ReliabilityBin {
  low: number;
  high: number;
  count: number;
  meanPredicted: number | null;
  observed: number | null;
}

export interface Calibration {
  /** Expected calibration error over equal-width bins (count-weighted |observed - mean predicted|). */
  ece: number;
  /** Mean squared difference of probability and label. */
  brier: number;
  bins: ReliabilityBin[];
}

export interface F1Figures {
  precision: Interval;
  recall: Interval;
  f1: Interval;
  tp: number;
  fp: number;
  fn: number;
}

export interface OverallMetrics {
  /** Every (image, finding) decision pooled. */
  microF1: F1Figures;
  /** The mean of the findings' F1 (findings with at least one positive label). */
  macroF1: Interval;
  /** Kiritchenko's hierarchical precision, recall and F1: ancestors added, the tree's root left out. */
  hierarchical: F1Figures;
  /** Over every (image, finding) pair: the ensemble probability against the label. */
  calibration: Calibration;
}

export type SubgroupAttribute = 'sex' | 'age' | 'view' | 'manufacturer';

export interface SubgroupFinding {
  term: string;
  tree: Tree;
  n: number;
  positives: number;
  auc: Interval;
  sensitivity: Interval;
  specificity: Interval;
}

export interface Subgroup {
  attribute: SubgroupAttribute;
  /** "M", "F", "O", an age band ("40-59"), a view ("PA"), a manufacturer; "unknown" when the header says nothing. */
  value: string;
  images: number;
  findings: SubgroupFinding[];
}

export interface EvaluationData {
  /** The labels file: path as given, SHA-256, rows, the term columns. */
  labels: { file: string; sha256: string; rows: number; terms: Array<{ term: string; tree: TaxonomyTree }> };
  paths: string[];
  /** Labelled images analysed (status ok): the figures are on these. */
  images: number;
  /** Distinct patients among them (null when none is known). */
  patients: number | null;
  /** Images the gates refused, by reason (these get no figures; a refusal is not a miss). */
  rejected: { total: number; byReason: Record<string, number> };
  /** Images that could not be read, by error code. */
  errors: { total: number; byCode: Record<string, number> };
  /** Labels rows with no image found under the paths. */
  missing: number;
  /**
   * Images read under the paths without a labels row (left out). Labels that name their files
   * have only those files read, so this counts files only a SOP Instance UID would have matched.
   */
  unlabelled: number;
  /** Labelled images that repeat another labelled image (same content or SOP Instance UID): judged once. */
  duplicates: number;
  /** Labelled terms the pack does not assess: prevalence only. */
  notAssessed: Array<{ term: string; tree: TaxonomyTree; n: number; positives: number }>;
  /** Results reused from the database (same content, same pack) rather than analysed again. */
  reused: number;
}

export interface Evaluation {
  format: 'cxr-triage-evaluation';
  formatVersion: 1;
  /** ISO date-time of the evaluation. */
  createdAt: string;
  software: string;
  pack: {
    id: string;
    version: string;
    fingerprint: string;
    rule: string;
    indeterminate: IndeterminateBand;
    demo: boolean;
    notForClinicalUse: boolean;
    models: ModelProvenance[];
    /** The pack's calibration provenance, when `triage calibrate` derived it. */
    calibration: unknown;
  };
  /** How the intervals were made: by patient when patients are known and some have several images. */
  intervals: { level: 0.95; bootstrap: { resamples: number; seed: number } | null; clustered: boolean };
  data: EvaluationData;
  findings: FindingMetrics[];
  overall: OverallMetrics;
  subgroups: Subgroup[];
}

/** One row of DIR/predictions.csv: an image and one assessed term with a known label. */
export interface PredictionRow {
  file: string;
  term: string;
  tree: Tree;
  /** The ensemble's shown probability (4 decimals). */
  probability: number;
  positive: boolean;
  label: 0 | 1;
  /** A patient's number in order of first appearance (never the ID itself); null when unknown. */
  cluster: number | null;
  /** Each member's calibrated probability, by model id. */
  members: Record<string, number>;
  /** The image's subgroups (the header's sex, age band, view and manufacturer; "unknown" when it says nothing). */
  attributes: Record<SubgroupAttribute, string>;
}
