/**
 * Modules with no imports at all, so that every process can load them: the renderer's and the
 * preload's bundles, the Electron main process, workers and the engine. The lint refuses any
 * import here (.eslint/rules/architecture.js).
 */
export { PRIORITIES } from './priorities.js';
export type { Priority } from './priorities.js';
export { PROVIDERS } from './providers.js';
export type { Provider } from './providers.js';
export {
  ANALYSIS_STATUSES,
  OUT_OF_DISTRIBUTION_REASON,
  CHOOSER_KINDS,
  DIALOG_KINDS,
  IMAGE_STATUSES,
  SCAN_OUTCOMES,
  SOURCE_FORMATS,
  TREES,
  VERDICTS,
  WINDOW_SOURCES,
} from './vocabulary.js';
export type {
  AnalysisStatus,
  ChooserKind,
  DialogKind,
  ImageStatus,
  ScanOutcome,
  SourceFormat,
  Tree,
  Verdict,
  WindowSource,
} from './vocabulary.js';
export { colour, RAMP } from './colormap.js';
export { findingText, percentOf } from './finding-text.js';
export type { FindingCall } from './finding-text.js';
export { parseApiCallError, toApiCallError, unknownChannel, unwrapEnvelope } from './api-errors.js';
export type { CodedError } from './api-errors.js';
export { eventChannel, GRANT_PATH_CHANNEL, invokeChannel } from './ipc-channels.js';
export { ERROR_CODES } from './error-codes.js';
export type { ErrorCode } from './error-codes.js';
export {
  ageText,
  foldForSearch,
  identitySearchText,
  matchesIdentity,
  personName,
  sexAgeText,
  StudyIdentity,
  WITHHELD,
} from './identity.js';
export type { SearchableIdentity, StudyIdentityFields } from './identity.js';
export {
  confusionPoint,
  formatCount,
  formatInterval,
  formatNumber,
  formatSigned,
  MISSING,
  RELIABILITY_PLOT,
  reliabilityXY,
  ROC_PLOT,
  rocPolylinePoints,
  rocXY,
} from './figures.js';
export type { IntervalFigure } from './figures.js';
export { isDatabaseUrl } from './database-url.js';
