/**
 * The decode pool: worker threads that turn files into model inputs while the engine's thread
 * batches, runs inference (in its own worker), votes, explains and stores; they also draw and
 * write heatmap overlays. Each worker holds one job at a time, so at most `workers` full-size
 * images (a decoded file, or an overlay being drawn) are in memory however many files are
 * queued; queued files are paths only. Outcomes come back in whatever order the workers finish;
 * the engine puts them back in order.
 *
 * A worker that dies (a codec crashing its thread) fails only the file it held, with a coded
 * error, and is replaced: one broken file never stops a scan.
 */
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Heatmap } from '../explain/index.js';
import { log } from '../log/index.js';
import { sibling, startWorker, stopWorker } from '../threads/index.js';
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
  /** Jobs in the workers now (files, overlays): each is one full-size image in memory. */
  decoding: number;
  /** Jobs waiting for a worker (paths, or small heatmap grids). */
  queued: number;
  /** The most jobs ever in the workers at once: never above `workers`. */
  highWaterDecoding: number;
  /** Files prepared since the pool started. */
  prepared: number;
  /** Workers replaced after dying on a file. */
  restarts: number;
}

type Job = { type: 'prepare'; file: string } | { type: 'overlay'; heatmap: Heatmap; path: string };

interface Pending {
  id: number;
  job: Job;
  /** Settles the job with the worker's response, or with a failure of the pool itself. */
  settle: (response: DecodeResponse | { type: 'failed'; code: ErrorCode; message: string }) => void;
}

interface Slot {
  worker: Worker;
  job: Pending | null;
}

function failed(code: ErrorCode, message: string): PreparedImage {
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
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`decode workers must be a whole number >= 1, not ${workers}`);
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
    const settle: Pending['settle'] = (response) => {
      if (response.type === 'prepared') resolve(response.prepared);
      else if (response.type === 'failed') resolve(failed(response.code, response.message));
    };
    if (this.closing) resolve(failed('INTERNAL', 'The decode pool is closed.'));
    else {
      this.queue.push({ id, job: { type: 'prepare', file }, settle });
      this.dispatch();
    }
    return { id, file, outcome };
  }

  /**
   * Draws a heatmap overlay at its image's size and writes it as a PNG. Ahead of every queued
   * file: the engine waits for it before handing the image's result on.
   */
  writeOverlay(heatmap: Heatmap, path: string): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const settle: Pending['settle'] = (response) => {
        if (response.type === 'written' && !response.error) resolve();
        else if (response.type === 'written')
          reject(new TriageError(response.error!.code, response.error!.message, { file: path }));
        else if (response.type === 'failed')
          reject(
            new TriageError('OUTPUT_FAILED', `Cannot write the heatmap ${path}: ${response.message}`, { file: path }),
          );
      };
      if (this.closing) {
        reject(new TriageError('INTERNAL', 'The decode pool is closed.'));
        return;
      }
      this.queue.unshift({ id: this.nextId++, job: { type: 'overlay', heatmap, path }, settle });
      this.dispatch();
    });
  }

  /** Drops jobs no worker has started (the engine's consumer went away); started ones finish. */
  cancel(jobs: Iterable<DecodeJob>): void {
    const ids = new Set<number>();
    for (const job of jobs) ids.add(job.id);
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const pending = this.queue[i];
      if (!ids.has(pending.id)) continue;
      this.queue.splice(i, 1);
      pending.settle({ type: 'failed', code: 'INTERNAL', message: 'Cancelled before it was decoded.' });
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.queue.splice(0))
      pending.settle({ type: 'failed', code: 'INTERNAL', message: 'The decode pool closed before this job ran.' });
    await Promise.all(
      this.slots.splice(0).map(({ worker }) => {
        worker.removeAllListeners();
        return stopWorker(worker, { type: 'close' } satisfies DecodeRequest);
      }),
    );
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, job: null };
    this.slots.push(slot);
    worker.on('message', (message: DecodeResponse) => {
      if (message.type === 'ready' || !slot.job || slot.job.id !== message.id) return;
      const job = slot.job;
      slot.job = null;
      if (message.type === 'prepared') this.preparedCount++;
      job.settle(message);
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
        log('error', 'decode-worker-died', { reason, job: slot.job.job.type });
        slot.job.settle({
          type: 'failed',
          code: slot.job.job.type === 'prepare' ? 'DECODE_FAILED' : 'OUTPUT_FAILED',
          message:
            slot.job.job.type === 'prepare'
              ? `The decoder stopped while reading this file (${reason}).`
              : `the worker drawing it stopped (${reason})`,
        });
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
          for (const pending of this.queue.splice(0))
            pending.settle({ type: 'failed', code: 'INTERNAL', message: error.message });
        }
      },
    );
  }

  private dispatch(): void {
    for (const slot of this.slots) {
      if (slot.job || this.queue.length === 0) continue;
      const pending = this.queue.shift()!;
      slot.job = pending;
      const { job } = pending;
      // A heatmap grid is copied, not transferred: the caller keeps it (the analysis returns it).
      slot.worker.postMessage(
        (job.type === 'prepare'
          ? { type: 'prepare', id: pending.id, file: job.file }
          : { type: 'overlay', id: pending.id, heatmap: job.heatmap, path: job.path }) satisfies DecodeRequest,
      );
    }
    const decoding = this.slots.filter((slot) => slot.job).length;
    if (decoding > this.highWater) this.highWater = decoding;
  }
}
