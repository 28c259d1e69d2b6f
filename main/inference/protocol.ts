/** Typed messages between the engine and its inference worker. */
import type { ErrorCode, Provider } from '../common/index.js';
import type { RemoteModel } from './kserve/client.js';
import type { ProviderChoice } from './providers.js';

export interface SessionSpec {
  memberId: string;
  onnxPath: string;
  inputName: string;
  outputNames: string[];
  /** The model as a KServe server serves it (remoteModelOf); needed by the kserve provider only. */
  remote?: RemoteModel;
}

export interface TensorData {
  data: Float32Array;
  dims: number[];
}

export type WorkerRequest =
  | { type: 'load'; sessions: SessionSpec[]; choice: ProviderChoice; threads: number }
  | { type: 'run'; id: number; memberId: string; input: TensorData }
  /** Rebuilds every session on the same provider with this many intra-op threads, after the runs sent before it. */
  | { type: 'threads'; id: number; threads: number }
  | { type: 'close' };

export interface ProviderAttempt {
  provider: Provider;
  reason: string;
}

export type WorkerResponse =
  | { type: 'loaded'; provider: Provider; attempts: ProviderAttempt[] }
  /** `code`: a coded refusal that is not the provider's absence (a served model that is not the pack's). */
  | { type: 'load-failed'; attempts: ProviderAttempt[]; code?: ErrorCode; message?: string }
  | { type: 'result'; id: number; outputs: Record<string, TensorData>; runMs: number }
  /** `code`: set when the failure has its own code (a remote server's); otherwise INFERENCE_FAILED. */
  | { type: 'run-failed'; id: number; message: string; code?: ErrorCode }
  | { type: 'threads-set'; id: number; ms: number }
  | { type: 'threads-failed'; id: number; message: string };
