/**
 * A local validation's figures as `triage eval` writes them (DIR/metrics.json) and the report and
 * the app's Validation view show them (the API contract sends them to the window, validated in
 * both processes). Every figure can be recomputed from DIR/predictions.csv. Declared once here;
 * main/validation/types.ts re-exports the derived types under their names.
 */
import { z } from 'zod';
import { IndeterminateBandSchema, ModelProvenanceSchema, TreeSchema } from './schemas.js';

const Count = z.number().int().nonnegative();

/** The PadChest taxonomy's trees (main/taxonomy's TaxonomyTree): a labels file may name any of them. */
export const TaxonomyTreeSchema = z.enum(['finding', 'diagnosis', 'localization', 'status']);

/**
 * How a 95 % interval was made.
 * - `delong`: DeLong's variance of the Mann-Whitney AUC (or of a difference of two paired AUCs),
 *   normal, clipped to [0, 1].
 * - `wilson`: Wilson's score interval of a proportion.
 * - `bootstrap`: percentile bootstrap over images (each image drawn with replacement).
 * - `bootstrap-patient`: percentile bootstrap over patients: a patient's images are drawn together.
 */
export const IntervalMethodSchema = z.enum(['delong', 'wilson', 'bootstrap', 'bootstrap-patient']);

/**
 * A figure with its 95 % interval. `value` null: undefined on these data (no positives for a
 * sensitivity, one class only for an AUC); then low and high are null too. A value with null
 * bounds: the figure is defined but its interval is not (DeLong's with a single positive or a
 * single negative image, a bootstrap where no resample has both classes).
 */
export const IntervalSchema = z.object({
  value: z.number().nullable(),
  low: z.number().nullable(),
  high: z.number().nullable(),
  method: IntervalMethodSchema,
});

/** Decisions against labels: true and false positives and negatives. */
export const ConfusionSchema = z.object({ tp: Count, fp: Count, fn: Count, tn: Count });

/** The figures of one scorer (the ensemble, or one member) on one finding at its operating point. */
export const ScorerFiguresSchema = z.object({
  auc: IntervalSchema,
  sensitivity: IntervalSchema,
  specificity: IntervalSchema,
  ppv: IntervalSchema,
  npv: IntervalSchema,
  f1: IntervalSchema,
  confusion: ConfusionSchema,
});

/**
 * A point of a ROC curve: false positive rate, true positive rate, and the score threshold (>=).
 * The curve's first point, (0, 0), has the threshold +Infinity (scikit-learn's convention since
 * 1.3), which JSON writes as null: both are accepted.
 */
export const RocPointSchema = z.object({
  fpr: z.number(),
  tpr: z.number(),
  threshold: z.union([z.number(), z.literal(Infinity)]).nullable(),
});

export const MemberFiguresSchema = ScorerFiguresSchema.extend({
  model: z.string(),
  version: z.string(),
  /** Ensemble AUC minus this member's, paired on the same images. */
  aucDifference: IntervalSchema,
});

/** One assessed PadChest term with labels. */
export const FindingMetricsSchema = ScorerFiguresSchema.extend({
  term: z.string(),
  tree: TreeSchema,
  /** Images with a known label (1 or 0) for the term, among those analysed. */
  n: Count,
  positives: Count,
  prevalence: z.number(),
  /** Images whose ensemble probability lies in the pack's indeterminate band. */
  indeterminate: Count,
  /** The ensemble's ROC curve on its shown probability (sklearn's roc_curve, drop_intermediate=False). */
  roc: z.array(RocPointSchema),
  /** The operating point on that curve: the call (ensemble probability >= 0.5). */
  operatingPoint: z.object({ fpr: z.number(), tpr: z.number() }),
  members: z.array(MemberFiguresSchema),
});

/**
 * One bin of the reliability diagram: predictions in (low, high], the first bin including 0, as
 * scikit-learn's calibration_curve(strategy='uniform') bins them (a prediction of 0.3 is in
 * (0.2, 0.3]). Empty bins are listed with null means.
 */
export const ReliabilityBinSchema = z.object({
  low: z.number(),
  high: z.number(),
  count: Count,
  meanPredicted: z.number().nullable(),
  observed: z.number().nullable(),
});

export const CalibrationSchema = z.object({
  /** Expected calibration error over equal-width bins (count-weighted |observed - mean predicted|). */
  ece: z.number(),
  /** Mean squared difference of probability and label. */
  brier: z.number(),
  bins: z.array(ReliabilityBinSchema),
});

export const F1FiguresSchema = z.object({
  precision: IntervalSchema,
  recall: IntervalSchema,
  f1: IntervalSchema,
  tp: Count,
  fp: Count,
  fn: Count,
});

export const OverallMetricsSchema = z.object({
  /** Every (image, finding) decision pooled. */
  microF1: F1FiguresSchema,
  /** The mean of the findings' F1 (findings with at least one positive label). */
  macroF1: IntervalSchema,
  /** Kiritchenko's hierarchical precision, recall and F1: ancestors added, the tree's root left out. */
  hierarchical: F1FiguresSchema,
  /** Over every (image, finding) pair: the ensemble probability against the label. */
  calibration: CalibrationSchema,
});

export const SubgroupAttributeSchema = z.enum(['sex', 'age', 'view', 'manufacturer']);

export const SubgroupFindingSchema = z.object({
  term: z.string(),
  tree: TreeSchema,
  n: Count,
  positives: Count,
  auc: IntervalSchema,
  sensitivity: IntervalSchema,
  specificity: IntervalSchema,
});

export const SubgroupSchema = z.object({
  attribute: SubgroupAttributeSchema,
  /** "M", "F", "O", an age band ("40-59"), a view ("PA"), a manufacturer; "unknown" when the header says nothing. */
  value: z.string(),
  images: Count,
  findings: z.array(SubgroupFindingSchema),
});

const TermCountSchema = z.object({ term: z.string(), tree: TaxonomyTreeSchema });

export const EvaluationDataSchema = z.object({
  /** The labels file: path as given, SHA-256, rows, the term columns. */
  labels: z.object({ file: z.string(), sha256: z.string(), rows: Count, terms: z.array(TermCountSchema) }),
  paths: z.array(z.string()),
  /** Labelled images analysed (status ok): the figures are on these. */
  images: Count,
  /** Distinct patients among them (null when none is known). */
  patients: Count.nullable(),
  /** Images the gates refused, by reason (these get no figures; a refusal is not a miss). */
  rejected: z.object({ total: Count, byReason: z.record(z.string(), Count) }),
  /** Images that could not be read, by error code. */
  errors: z.object({ total: Count, byCode: z.record(z.string(), Count) }),
  /** Labels rows with no image found under the paths. */
  missing: Count,
  /**
   * Images read under the paths without a labels row (left out). Labels that name their files
   * have only those files read, so this counts files only a SOP Instance UID would have matched.
   */
  unlabelled: Count,
  /** Labelled images that repeat another labelled image (same content or SOP Instance UID): judged once. */
  duplicates: Count,
  /** Labelled terms the pack does not assess: prevalence only. */
  notAssessed: z.array(TermCountSchema.extend({ n: Count, positives: Count })),
  /** Results reused from the database (same content, same pack) rather than analysed again. */
  reused: Count,
});

export const EvaluationSchema = z.object({
  format: z.literal('cxr-triage-evaluation'),
  formatVersion: z.literal(1),
  /** ISO date-time of the evaluation. */
  createdAt: z.string(),
  software: z.string(),
  pack: z.object({
    id: z.string(),
    version: z.string(),
    fingerprint: z.string(),
    rule: z.string(),
    indeterminate: IndeterminateBandSchema,
    demo: z.boolean(),
    notForClinicalUse: z.boolean(),
    models: z.array(ModelProvenanceSchema),
    /** The pack's calibration provenance, when `triage calibrate` derived it. */
    calibration: z.unknown(),
  }),
  /**
   * How the intervals were made: by patient when images share patients (an unknown patient is
   * one of its own) and there are at least 30 patients; else by image, with `note` saying why
   * when images do share patients.
   */
  intervals: z.object({
    level: z.literal(0.95),
    bootstrap: z.object({ resamples: Count, seed: z.number().int() }).nullable(),
    clustered: z.boolean(),
    note: z.string().nullable(),
  }),
  data: EvaluationDataSchema,
  findings: z.array(FindingMetricsSchema),
  overall: OverallMetricsSchema,
  subgroups: z.array(SubgroupSchema),
});

/** One row of DIR/predictions.csv: an image and one assessed term with a known label. */
export const PredictionRowSchema = z.object({
  file: z.string(),
  term: z.string(),
  tree: TreeSchema,
  /** The ensemble's shown probability (4 decimals). */
  probability: z.number(),
  positive: z.boolean(),
  /** The probability lies in the pack's indeterminate band (the call stands, shown as indeterminate). */
  indeterminate: z.boolean(),
  label: z.union([z.literal(0), z.literal(1)]),
  /** A patient's number in order of first appearance (never the ID itself); null when unknown. */
  cluster: Count.nullable(),
  /** Each member's calibrated probability, by model id. */
  members: z.record(z.string(), z.number()),
  /** The image's subgroups (the header's sex, age band, view and manufacturer; "unknown" when it says nothing). */
  attributes: z.record(SubgroupAttributeSchema, z.string()),
});
