/**
 * ONNX inference in a worker thread (worker.ts, started by the service), on the chosen execution
 * provider with a fall-through to the CPU (providers.ts): the engine's one thread boundary for models.
 * The kserve provider runs them on a KServe v2 server instead (kserve/: the protocol, the client,
 * the Triton model repository a pack becomes).
 */
export {
  candidates,
  endpointProblem,
  isProviderChoice,
  kserveEndpoint,
  PROVIDER_CHOICES,
  PROVIDER_SYNOPSIS,
  providerChoiceProblem,
  unavailableReason,
} from './providers.js';
export { KServeClient } from './kserve/client.js';
export type { ClientOptions, RemoteModel } from './kserve/client.js';
export { remoteModelOf, tritonModelName, writeModelRepository } from './kserve/repository.js';
export type { RepositoryModel } from './kserve/repository.js';
export type { ProviderChoice } from './providers.js';
export { InferenceService } from './service.js';
export type { RunResult } from './service.js';
export type { ProviderAttempt, SessionSpec, TensorData } from './protocol.js';
