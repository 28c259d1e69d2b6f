/**
 * Modules with no imports at all, so that every process can load them: the renderer's and the
 * preload's bundles, the Electron main process, workers and the engine. The lint refuses any
 * import here (.eslint/rules/architecture.js).
 */
export { PRIORITIES } from './priorities.js';
export type { Priority } from './priorities.js';
export { PROVIDERS } from './providers.js';
export type { Provider } from './providers.js';
export { ANALYSIS_STATUSES, IMAGE_STATUSES, TREES, VERDICTS } from './vocabulary.js';
export type { AnalysisStatus, ImageStatus, Tree, Verdict } from './vocabulary.js';
export { colour, RAMP } from './colormap.js';
export { parseApiCallError, toApiCallError, unknownChannel, unwrapEnvelope } from './api-errors.js';
export type { CodedError } from './api-errors.js';
export { eventChannel, invokeChannel } from './ipc-channels.js';
