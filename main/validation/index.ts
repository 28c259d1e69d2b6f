/**
 * The validation stage: a pack measured on a site's own labelled images (`triage eval`), and its
 * operating points chosen on them (`triage calibrate`). The figures' functions are free of I/O.
 */
export type * from './types.js';
export {
  auc,
  brierScore,
  chooseThreshold,
  confusion,
  expectedCalibrationError,
  f1FromCounts,
  hierarchicalF1,
  macroF1,
  microF1,
  parseCalibrationTarget,
  reliability,
  rocCurve,
} from './metrics.js';
export type { CalibrationTarget, Counts, F1, ThresholdChoice } from './metrics.js';
export { delong, delongDifference, delongInterval, normalQuantile, wilson } from './intervals.js';
export {
  bootstrapInterval,
  bootstrapIntervals,
  checkBootstrapPlan,
  clusterWeights,
  imageWeights,
  MAX_BOOTSTRAP_WEIGHTS,
  MAX_RESAMPLES,
  percentileBounds,
  prepareScores,
  Resampler,
  weightedAuc,
  weightedConfusion,
} from './bootstrap.js';
export type { BootstrapPlan, PreparedScores } from './bootstrap.js';
export {
  CALIBRATION_JSON_LIMIT,
  escapeHtml,
  HASH_PREFIX,
  NOT_FOR_CLINICAL_USE_BANNER,
  REPORT_CSP,
  reliabilitySvg,
  renderReport,
  rocSvg,
  SMALL_SUBGROUP_IMAGES,
  SMALL_SUBGROUP_POSITIVES,
  tooSmall,
} from './report.js';
export { CALIBRATION_METHOD, runCalibration, thresholdFor, uncalibrate } from './calibrate.js';
export type { CalibrationRequest, CalibrationRun } from './calibrate.js';
export { ageBand, collectImages, reasonKind, scanRoots } from './collect.js';
export type { CollectedImages, LabelledImage } from './collect.js';
export { assessedTerms, DEFAULT_BOOTSTRAP, evaluate, SUBGROUP_ATTRIBUTES } from './evaluate.js';
export type { EvaluateOptions, EvaluationOutcome } from './evaluate.js';
export { MAX_LABELS_BYTES, parseCsv, parseLabels, readLabels } from './labels.js';
export type { LabelRow, Labels, LabelTerm } from './labels.js';
export { EVALUATION_FILES, predictionsCsv, writeEvaluation } from './outputs.js';
export {
  judgeLabelledImages,
  packRecord,
  runEvaluation,
  SOFTWARE,
  validationDatabasePath,
  VALIDATIONS_DATABASE,
  VALIDATIONS_FOLDER,
} from './run.js';
export type { EvaluationRequest, EvaluationRun } from './run.js';
export { computeFigures } from './figures.js';
export type { FiguresRequest } from './figures.js';
