/**
 * ONNX inference in a worker thread (worker.ts, started by the service), on the chosen execution
 * provider with a fall-through to the CPU (providers.ts): the engine's one thread boundary for models.
 */
export { candidates, isProviderChoice, unavailableReason } from './providers.js';
export type { ProviderChoice } from './providers.js';
export { InferenceService } from './service.js';
export type { RunResult } from './service.js';
export type { ProviderAttempt, SessionSpec, TensorData } from './protocol.js';
