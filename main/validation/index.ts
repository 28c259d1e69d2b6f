/**
 * The validation stage: a pack measured on a site's own labelled images (`triage eval`), and its
 * operating points chosen on them (`triage calibrate`).
 */
export type * from './types.js';
export {
  CALIBRATION_JSON_LIMIT,
  confusionPoint,
  escapeHtml,
  formatCount,
  formatInterval,
  formatNumber,
  formatSigned,
  HASH_PREFIX,
  MISSING,
  NOT_FOR_CLINICAL_USE_BANNER,
  RELIABILITY_PLOT,
  reliabilitySvg,
  reliabilityXY,
  renderReport,
  ROC_PLOT,
  rocPolylinePoints,
  rocSvg,
  rocXY,
  SMALL_SUBGROUP_IMAGES,
  SMALL_SUBGROUP_POSITIVES,
  tooSmall,
} from './report.js';
