/**
 * A local validation's figures as `triage eval` writes them (DIR/metrics.json) and the report and
 * the app's Validation view show them. Every figure can be recomputed from DIR/predictions.csv.
 * Declared once as zod schemas in main/domain (evaluation.ts, with every field's meaning); these
 * are their derived types under the names this stage uses.
 */
import type { z } from 'zod';
import type {
  CalibrationSchema,
  ConfusionSchema,
  EvaluationDataSchema,
  EvaluationSchema,
  F1FiguresSchema,
  FindingMetricsSchema,
  IntervalMethodSchema,
  IntervalSchema,
  MemberFiguresSchema,
  OverallMetricsSchema,
  PredictionRowSchema,
  ReliabilityBinSchema,
  RocPointSchema,
  ScorerFiguresSchema,
  SubgroupAttributeSchema,
  SubgroupFindingSchema,
  SubgroupSchema,
} from '../domain/index.js';

/** How a 95 % interval was made: delong, wilson, bootstrap (over images), bootstrap-patient. */
export type IntervalMethod = z.output<typeof IntervalMethodSchema>;

/**
 * A figure with its 95 % interval. `value` null: undefined on these data (no positives for a
 * sensitivity, one class only for an AUC); then low and high are null too. A value with null
 * bounds: the figure is defined but its interval is not (DeLong's with a single positive or a
 * single negative image, a bootstrap where no resample has both classes).
 */
export type Interval = z.output<typeof IntervalSchema>;

/** Decisions against labels: true and false positives and negatives. */
export type Confusion = z.output<typeof ConfusionSchema>;

/** The figures of one scorer (the ensemble, or one member) on one finding at its operating point. */
export type ScorerFigures = z.output<typeof ScorerFiguresSchema>;

/**
 * A point of a ROC curve: false positive rate, true positive rate, and the score threshold (>=).
 * The curve's first point, (0, 0), has the threshold +Infinity (scikit-learn's convention since
 * 1.3), which JSON writes as null.
 */
export type RocPoint = z.output<typeof RocPointSchema>;

/** One member's figures, with the ensemble's AUC minus its own, paired on the same images. */
export type MemberFigures = z.output<typeof MemberFiguresSchema>;

/** One assessed PadChest term with labels. */
export type FindingMetrics = z.output<typeof FindingMetricsSchema>;

/**
 * One bin of the reliability diagram: predictions in (low, high], the first bin including 0, as
 * scikit-learn's calibration_curve(strategy='uniform') bins them (a prediction of 0.3 is in
 * (0.2, 0.3]). Empty bins are listed with null means.
 */
export type ReliabilityBin = z.output<typeof ReliabilityBinSchema>;

/** Expected calibration error, Brier score and the reliability diagram's bins. */
export type Calibration = z.output<typeof CalibrationSchema>;

/** Precision, recall and F1 with their intervals, and the counts they come from. */
export type F1Figures = z.output<typeof F1FiguresSchema>;

/** Micro, macro and hierarchical F1 and the calibration, over every (image, finding) pair. */
export type OverallMetrics = z.output<typeof OverallMetricsSchema>;

export type SubgroupAttribute = z.output<typeof SubgroupAttributeSchema>;

export type SubgroupFinding = z.output<typeof SubgroupFindingSchema>;

/** An attribute's value ("M", an age band, a view, a manufacturer, "unknown") and its findings' figures. */
export type Subgroup = z.output<typeof SubgroupSchema>;

/** What was evaluated: the labels file, images analysed, refused, unreadable, missing, reused. */
export type EvaluationData = z.output<typeof EvaluationDataSchema>;

/** One evaluation: the pack, the data, the findings' figures, overall, subgroups (metrics.json). */
export type Evaluation = z.output<typeof EvaluationSchema>;

/** One row of DIR/predictions.csv: an image and one assessed term with a known label. */
export type PredictionRow = z.output<typeof PredictionRowSchema>;
