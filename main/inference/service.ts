/**
 * The engine's side of the inference worker: starts it, chooses the provider (logging every
 * fallback and its reason), and turns requests into promises.
 */
import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import { log } from '../log/index.js';
import type { ProviderAttempt, SessionSpec, TensorData, WorkerRequest, WorkerResponse } from './protocol.js';
import type { Provider } from '../common/index.js';
import { kserveEndpoint } from './providers.js';
import type { ProviderChoice } from './providers.js';
import { sibling, startWorker } from '../threads/index.js';

export interface RunResult {
  outputs: Record<string, TensorData>;
  runMs: number;
}

export class InferenceService {
  readonly provider: Provider;
  readonly attempts: ProviderAttempt[];
  /** The KServe server's base URL when the models run there (the kserve provider), else null. */
  readonly endpoint: string | null;
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (result: RunResult) => void; reject: (error: Error) => void }
  >();
  private nextId = 1;
  private readonly threadChanges = new Map<number, { resolve: (ms: number) => void; reject: (error: Error) => void }>();

  private constructor(worker: Worker, provider: Provider, attempts: ProviderAttempt[], endpoint: string | null) {
    this.worker = worker;
    this.endpoint = endpoint;
    this.provider = provider;
    this.attempts = attempts;
    worker.on('message', (message: WorkerResponse) => this.receive(message));
    worker.on('error', (error) => this.failAll(error));
    worker.on('exit', (code) => this.failAll(new Error(`the inference worker exited (code ${code})`)));
  }

  static async start(
    sessions: SessionSpec[],
    choice: ProviderChoice,
    threads = availableParallelism(),
  ): Promise<InferenceService> {
    const worker = startWorker(sibling('./worker', import.meta.url));
    const loaded = await new Promise<WorkerResponse>((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('error', reject);
      worker.postMessage({ type: 'load', sessions, choice, threads } satisfies WorkerRequest);
    });
    if (loaded.type !== 'loaded') {
      await worker.terminate();
      if (loaded.type === 'load-failed' && loaded.code) throw new TriageError(loaded.code, loaded.message ?? '');
      const attempts = loaded.type === 'load-failed' ? loaded.attempts : [];
      const reasons = attempts.map((a) => `${a.provider}: ${a.reason}`).join('; ');
      const server = kserveEndpoint(choice);
      if (server) {
        throw new TriageError(
          'PROVIDER_UNAVAILABLE',
          `The KServe server ${new URL(server).host} cannot run the models (${attempts.map((a) => a.reason).join('; ')}).`,
        );
      }
      throw new TriageError(
        'PROVIDER_UNAVAILABLE',
        choice === 'auto'
          ? `No execution provider could load the models (${reasons}).`
          : `Execution provider ${choice} cannot run here (${reasons}). Use --ep auto to fall back to the CPU.`,
      );
    }
    for (const attempt of loaded.attempts) {
      log('warn', 'provider-fallback', {
        tried: attempt.provider,
        reason: attempt.reason,
        next: 'trying the next provider',
      });
    }
    const endpoint = kserveEndpoint(choice);
    // The server's host and port only: never a path that could say more.
    log('info', 'provider-selected', {
      provider: loaded.provider,
      ...(endpoint ? { server: new URL(endpoint).host } : { choice }),
    });
    return new InferenceService(worker, loaded.provider, loaded.attempts, endpoint);
  }

  run(memberId: string, input: TensorData): Promise<RunResult> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      // The input buffer is transferred, not copied: the caller must not reuse it.
      this.worker.postMessage({ type: 'run', id, memberId, input } satisfies WorkerRequest, [
        input.data.buffer as ArrayBuffer,
      ]);
    });
  }

  /**
   * Rebuilds the sessions with `threads` intra-op threads, after the runs already sent (the runs
   * sent after it use the new sessions). Resolves with the milliseconds the rebuild took.
   */
  setThreads(threads: number): Promise<number> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.threadChanges.set(id, { resolve, reject });
      this.worker.postMessage({ type: 'threads', id, threads } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => void this.worker.terminate().then(() => resolve()), 5000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  private receive(message: WorkerResponse): void {
    if (message.type === 'threads-set' || message.type === 'threads-failed') {
      const waiter = this.threadChanges.get(message.id);
      this.threadChanges.delete(message.id);
      if (message.type === 'threads-set') waiter?.resolve(message.ms);
      else waiter?.reject(new TriageError('INFERENCE_FAILED', `The models could not be reloaded: ${message.message}`));
      return;
    }
    if (message.type !== 'result' && message.type !== 'run-failed') return;
    const waiter = this.pending.get(message.id);
    if (!waiter) return;
    this.pending.delete(message.id);
    if (message.type === 'result') waiter.resolve({ outputs: message.outputs, runMs: message.runMs });
    else if (message.code) waiter.reject(new TriageError(message.code, message.message));
    else waiter.reject(new TriageError('INFERENCE_FAILED', `The model failed to run: ${message.message}`));
  }

  private failAll(error: Error): void {
    for (const waiter of [...this.pending.values(), ...this.threadChanges.values()])
      waiter.reject(new TriageError('INFERENCE_FAILED', error.message));
    this.pending.clear();
    this.threadChanges.clear();
  }
}
