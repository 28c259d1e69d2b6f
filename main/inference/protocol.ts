/** Typed messages between the engine and its inference worker. */
import type { Provider } from '../common/index.js';
import type { ProviderChoice } from './providers.js';

export interface SessionSpec {
  memberId: string;
  onnxPath: string;
  inputName: string;
  outputNames: string[];
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
  | { type: 'load-failed'; attempts: ProviderAttempt[] }
  | { type: 'result'; id: number; outputs: Record<string, TensorData>; runMs: number }
  | { type: 'run-failed'; id: number; message: string }
  | { type: 'threads-set'; id: number; ms: number }
  | { type: 'threads-failed'; id: number; message: string };
