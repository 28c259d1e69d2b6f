/**
 * The decode pool: worker threads that turn files into model inputs while the engine's thread
 * batches, runs inference (in its own worker), votes, explains and stores. Each worker holds one
 * file at a time, so at most `workers` full-size images are decoded at once however many files
 * are queued; queued files are paths only. Outcomes come back in whatever order the workers
 * finish; the engine puts them back in order.
 *
 * A worker that dies (a codec crashing its thread) fails only the file it held, with a coded
 * error, and is replaced: one broken file never stops a scan.
 */
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import { log } from '../log/index.js';
import { sibling, startWorker } from '../threads/index.js';
import type { DecodeRequest, DecodeResponse } from './decode-worker.js';
import type { PreparedImage, PreparePlan } from './prepare.js';

export interface DecodeJob {
  readonly id: number;
  readonly file: string;
  /** Settles with the outcome (never rejects); a cancelled job settles as an error. */
  readonly outcome: Promise<PreparedImage>;
}

export interface DecodePoolStats {
  workers: number;
  /** Files in the workers now: each is one full-size image in memory. */
  decoding: number;
  /** Files waiting for a worker (paths only). */
  queued: number;
  /** The most files ever in the workers at once: never above `workers`. */
  highWaterDecoding: number;
  /** Files prepared since the pool started. */
  prepared: number;
  /** Workers replaced after dying on a file. */
  restarts: number;
}

interface Pending {
  id: number;
  file: string;
  resolve: (prepared: PreparedImage) => void;
}

interface Slot {
  worker: Worker;
  job: Pending | null;
}

function failed(code: TriageError['code'], message: string): PreparedImage {
  return { status: 'error', image: null, error: { code, message }, timings: { decodeMs: 0, preprocessMs: 0 } };
}

/** Starts one worker and waits for it to be ready (its modules loaded). */
async function spawn(plan: PreparePlan): Promise<Worker> {
  const worker = startWorker(sibling('./decode-worker', import.meta.url), { workerData: plan });
  await new Promise<void>((resolve, reject) => {
    const onMessage = (message: DecodeResponse) => {
      if (message.type !== 'ready') return;
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onExit = (code: number) => {
      cleanup();
      reject(new Error(`the decode worker exited on start (code ${code})`));
    };
    const cleanup = () => {
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
    };
    worker.on('message', onMessage);
    worker.once('error', onError);
    worker.once('exit', onExit);
  }).catch(async (error: Error) => {
    await worker.terminate();
    throw new TriageError('INTERNAL', `The decode worker could not start: ${error.message}`);
  });
  return worker;
}

export class DecodePool {
  private readonly plan: PreparePlan;
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing = false;
  private highWater = 0;
  private preparedCount = 0;
  private restarts = 0;

  private constructor(plan: PreparePlan) {
    this.plan = plan;
  }

  static async start(plan: PreparePlan, workers: number): Promise<DecodePool> {
    if (!Number.isInteger(workers) || workers < 1) throw new RangeError(`decode workers must be a whole number >= 1, not ${workers}`);
    const pool = new DecodePool(plan);
    const started = await Promise.allSettled(Array.from({ length: workers }, () => spawn(plan)));
    for (const outcome of started) if (outcome.status === 'fulfilled') pool.adopt(outcome.value);
    const failure = started.find((outcome) => outcome.status === 'rejected');
    if (failure) {
      await pool.close();
      throw (failure as PromiseRejectedResult).reason;
    }
    return pool;
  }

  get stats(): DecodePoolStats {
    return {
      workers: this.slots.length,
      decoding: this.slots.filter((slot) => slot.job).length,
      queued: this.queue.length,
      highWaterDecoding: this.highWater,
      prepared: this.preparedCount,
      restarts: this.restarts,
    };
  }

  /** Queues a file; it goes to the first free worker, in the order given. */
  prepare(file: string): DecodeJob {
    let resolve!: (prepared: PreparedImage) => void;
    const outcome = new Promise<PreparedImage>((done) => (resolve = done));
    const id = this.nextId++;
    if (this.closing) resolve(failed('INTERNAL', 'The decode pool is closed.'));
    else {
      this.queue.push({ id, file, resolve });
      this.dispatch();
    }
    return { id, file, outcome };
  }

  /** Drops jobs no worker has started (the engine's consumer went away); started ones finish. */
  cancel(jobs: Iterable<DecodeJob>): void {
    const ids = new Set<number>();
    for (const job of jobs) ids.add(job.id);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const pending = this.queue[i];
      if (!ids.has(pending.id)) continue;
      this.queue.splice(i, 1);
      pending.resolve(failed('INTERNAL', 'Cancelled before it was decoded.'));
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.queue.splice(0)) pending.resolve(failed('INTERNAL', 'The decode pool closed before this file was decoded.'));
    await Promise.all(
      this.slots.splice(0).map(async ({ worker }) => {
        worker.removeAllListeners();
        worker.postMessage({ type: 'close' } satisfies DecodeRequest);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => void worker.terminate().then(() => resolve()), 5000);
          worker.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
      }),
    );
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, job: null };
    this.slots.push(slot);
    worker.on('message', (message: DecodeResponse) => {
      if (message.type !== 'prepared' || !slot.job || slot.job.id !== message.id) return;
      const job = slot.job;
      slot.job = null;
      this.preparedCount++;
      job.resolve(message.prepared);
      this.dispatch();
    });
    const died = (reason: string) => {
      if (this.closing) return;
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      worker.removeAllListeners();
      void worker.terminate();
      if (slot.job) {
        log('error', 'decode-worker-died', { reason });
        slot.job.resolve(failed('DECODE_FAILED', `The decoder stopped while reading this file (${reason}).`));
      }
      this.replace();
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`the worker exited with code ${code}`));
    this.dispatch();
  }

  private replace(): void {
    this.restarts++;
    spawn(this.plan).then(
      (worker) => {
        if (this.closing) void worker.terminate();
        else this.adopt(worker);
      },
      (error: TriageError) => {
        // No worker can start any more (the installation is broken): fail what waits, loudly.
        log('error', 'decode-worker-restart-failed', { reason: error.message });
        if (this.slots.length === 0) {
          for (const pending of this.queue.splice(0)) pending.resolve(failed('INTERNAL', error.message));
        }
      },
    );
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.worker.postMessage({ type: 'prepare', id: job.id, file: job.file } satisfies DecodeRequest);
    }
    const decoding = this.slots.filter((slot) => slot.job).length;
    if (decoding > this.highWater) this.highWater = decoding;
  }
}
