/**
 * The decode pool: worker threads that turn files into model inputs while the engine's thread
 * batches, runs inference (in its own worker), votes, explains and stores; they also draw and
 * write heatmap overlays, render the viewer's image and decode for `triage decode`. Each worker
 * holds one job at a time, so at most `workers` full-size images are in memory however many
 * files are queued; queued files are paths only. Outcomes come back in whatever order the workers
 * finish; the engine puts them back in order.
 *
 * Every job runs within a budget: a deadline (a worker still busy when it passes is ended) and a
 * heap ceiling per worker (resourceLimits: a worker that reaches it is ended by V8, not the
 * process). A worker that dies, on either or on a crash, fails only the job it held, with a coded
 * error, and is replaced: one hostile file never stops a scan or another request.
 */
import type { Worker } from 'node:worker_threads';
import type { RenderedImage } from '../domain/index.js';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Heatmap } from '../explain/index.js';
import { log } from '../log/index.js';
import { detach, sibling, startWorker, stopWorker } from '../threads/index.js';
import type { DecodeRequest, DecodeResponse } from './decode-worker.js';
import type { PreparedImage, PreparePlan } from './prepare.js';
import type { DecodedFile, DecodeOutputs } from './render.js';

/** A job's wall-clock budget in its worker: far above a real radiograph's decode (under a second here). */
export const DECODE_DEADLINE_MS = 8000;
/**
 * A worker's JavaScript heap ceiling. Buffers (file bytes, pixels, a codec's WebAssembly memory)
 * are outside it: the ingest's budget bounds them, checked before each is allocated.
 */
export const WORKER_HEAP_MB = 256;

/** After a worker failed to start, how long new jobs are refused before a start is tried again. */
const RETRY_START_MS = 5000;

export interface DecodePoolOptions {
  deadlineMs?: number;
  heapMb?: number;
  /** The worker module (default: decode-worker beside this file). */
  worker?: URL;
}

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
  /** Files prepared since the pool started, and the workers' CPU time for them (ms of one core). */
  prepared: number;
  preparedCpuMs: number;
  /** Workers replaced after dying on a job (a crash, the deadline, the heap ceiling). */
  restarts: number;
}

type Job =
  | { type: 'prepare'; file: string; sha256: string | null }
  | { type: 'render'; file: string; sha256: string | null }
  | { type: 'decode'; file: string; outputs: DecodeOutputs }
  | { type: 'overlay'; heatmap: Heatmap; path: string };

type Settlement = Exclude<DecodeResponse, { type: 'ready' }> | { type: 'failed'; code: ErrorCode; message: string };

interface Pending {
  id: number;
  job: Job;
  /** Settles the job with the worker's response, or with a failure of the pool or the worker. */
  settle: (response: Settlement) => void;
}

type Ending = 'deadline' | 'memory' | 'crash';

interface Slot {
  worker: Worker;
  job: Pending | null;
  /** The job's deadline timer. */
  deadline: NodeJS.Timeout | null;
  /** Ends the worker and fails its job (the deadline passed, the heap ceiling, a crash). */
  end: (cause: Ending, reason: string) => void;
}

function failed(code: ErrorCode, message: string): PreparedImage {
  return { status: 'error', image: null, error: { code, message }, timings: { decodeMs: 0, preprocessMs: 0 } };
}

/** Starts one worker and waits for it to be ready (its modules loaded). */
async function spawn(module: URL, plan: PreparePlan | null, heapMb: number): Promise<Worker> {
  const worker = startWorker(module, {
    workerData: plan,
    // The young generation's share follows V8's own ratio; the old one is the ceiling that counts.
    resourceLimits: { maxOldGenerationSizeMb: heapMb, maxYoungGenerationSizeMb: Math.max(8, heapMb / 16) },
  });
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
    detach(worker);
    await worker.terminate();
    throw new TriageError('INTERNAL', `The decode worker could not start: ${error.message}`);
  });
  return worker;
}

/** What a job that lost its worker says, by job and by what ended the worker. */
function lost(job: Job, cause: Ending, reason: string, deadlineMs: number): Settlement {
  if (job.type === 'overlay') {
    return {
      type: 'failed',
      code: 'OUTPUT_FAILED',
      message: `Cannot write the heatmap ${job.path}: the worker drawing it stopped (${reason}).`,
    };
  }
  if (cause === 'deadline') {
    return {
      type: 'failed',
      code: 'DECODE_TIMEOUT',
      message: `Decoding this file took more than ${deadlineMs / 1000} s (a radiograph takes about one); it was stopped.`,
    };
  }
  if (cause === 'memory') {
    return {
      type: 'failed',
      code: 'DECODE_OUT_OF_MEMORY',
      message: 'Decoding this file needed more memory than a radiograph does; it was stopped.',
    };
  }
  return { type: 'failed', code: 'DECODE_FAILED', message: `The decoder stopped while reading this file (${reason}).` };
}

export class DecodePool {
  private readonly slots: Slot[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closing = false;
  /** Why the last worker start failed (null once one starts again). */
  private broken: string | null = null;
  /** Worker starts under way. */
  private spawning = 0;
  /** After a failed start, when to try again (a later job's arrival tries). */
  private retryAt = 0;
  private highWater = 0;
  private preparedCount = 0;
  private preparedCpuMs = 0;
  private restarts = 0;
  private readonly deadlineMs: number;
  private readonly heapMb: number;
  private readonly workerUrl: URL;

  private constructor(
    private readonly plan: PreparePlan | null,
    /** How many workers the pool keeps (see resize). */
    private size: number,
    options: DecodePoolOptions,
  ) {
    this.deadlineMs = options.deadlineMs ?? DECODE_DEADLINE_MS;
    this.heapMb = options.heapMb ?? WORKER_HEAP_MB;
    this.workerUrl = options.worker ?? sibling('./decode-worker', import.meta.url);
  }

  /** Starts `workers` workers; `plan` is the pack's inputs (null: a pool that renders and decodes only). */
  static async start(plan: PreparePlan | null, workers: number, options: DecodePoolOptions = {}): Promise<DecodePool> {
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`decode workers must be a whole number >= 1, not ${workers}`);
    const pool = new DecodePool(plan, workers, options);
    const started = await Promise.allSettled(
      Array.from({ length: workers }, () => spawn(pool.workerUrl, plan, pool.heapMb)),
    );
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
      preparedCpuMs: Math.round(this.preparedCpuMs * 10) / 10,
      restarts: this.restarts,
    };
  }

  /**
   * Queues a file; it goes to the first free worker, in the order given. With `sha256`, the file
   * must still have that content (FILE_CHANGED otherwise).
   */
  prepare(file: string, sha256: string | null = null): DecodeJob {
    let resolve!: (prepared: PreparedImage) => void;
    const outcome = new Promise<PreparedImage>((done) => (resolve = done));
    const id = this.nextId++;
    const settle: Pending['settle'] = (response) => {
      if (response.type === 'prepared') resolve(response.prepared);
      else if (response.type === 'failed') resolve(failed(response.code, response.message));
    };
    const refusal = this.refusal();
    if (refusal) resolve(failed('INTERNAL', refusal));
    else {
      this.queue.push({ id, job: { type: 'prepare', file, sha256 }, settle });
      this.dispatch();
    }
    return { id, file, outcome };
  }

  /**
   * The viewer's image of a file whose content must still be `sha256` (null: not checked), ahead
   * of every queued file: a reader waits for it.
   */
  render(file: string, sha256: string | null): Promise<RenderedImage> {
    return this.ahead({ type: 'render', file, sha256 }, (response) =>
      response.type === 'rendered' && response.rendered ? response.rendered : null,
    );
  }

  /** `triage decode`'s work on one file, ahead of every queued file. */
  decode(file: string, outputs: DecodeOutputs): Promise<DecodedFile> {
    return this.ahead({ type: 'decode', file, outputs }, (response) =>
      response.type === 'decoded' && response.decoded ? response.decoded : null,
    );
  }

  /**
   * Draws a heatmap overlay at its image's size and writes it as a PNG. Ahead of every queued
   * file: the engine waits for it before handing the image's result on.
   */
  async writeOverlay(heatmap: Heatmap, path: string): Promise<void> {
    await this.ahead({ type: 'overlay', heatmap, path }, (response) =>
      response.type === 'written' && !response.error ? true : null,
    ).catch((error: TriageError) => {
      throw error.code === 'OUTPUT_FAILED' || error.code === 'INTERNAL'
        ? new TriageError(error.code, error.message, { file: path })
        : new TriageError('OUTPUT_FAILED', `Cannot write the heatmap ${path}: ${error.message}`, { file: path });
    });
  }

  /**
   * Keeps `workers` workers from now on (the engine's thread layout changed): more start at once;
   * idle ones beyond the number stop now, busy ones once their job is answered.
   */
  resize(workers: number): void {
    if (!Number.isInteger(workers) || workers < 1)
      throw new RangeError(`decode workers must be a whole number >= 1, not ${workers}`);
    if (this.closing) return;
    this.size = workers;
    while (this.slots.length + this.spawning < this.size) this.start();
    this.retireIdle();
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

  /** Ends the workers; every job not answered yet, queued or running, settles as INTERNAL. */
  async close(): Promise<void> {
    this.closing = true;
    for (const pending of this.queue.splice(0))
      pending.settle({ type: 'failed', code: 'INTERNAL', message: 'The decode pool closed before this job ran.' });
    await Promise.all(
      this.slots.splice(0).map(async (slot) => {
        if (slot.deadline) clearTimeout(slot.deadline);
        detach(slot.worker);
        const running = slot.job;
        slot.job = null;
        if (!running) return stopWorker(slot.worker, { type: 'close' } satisfies DecodeRequest);
        // Its job is answered: nothing it still does is wanted (a hostile file goes no further).
        running.settle({ type: 'failed', code: 'INTERNAL', message: 'The decode pool closed while this job ran.' });
        await slot.worker.terminate();
      }),
    );
  }

  /**
   * Why a new job cannot be taken, or null: the pool is closed, or it has no worker, none is
   * starting and the last start failed less than RETRY_START_MS ago. Past that, a new job starts
   * the missing workers again (a start that failed for a passing reason is not final).
   */
  private refusal(): string | null {
    if (this.closing) return 'The decode pool is closed.';
    if (this.broken !== null && Date.now() >= this.retryAt) {
      while (this.slots.length + this.spawning < this.size) this.start();
    }
    if (this.broken !== null && this.slots.length === 0 && this.spawning === 0) return this.broken;
    return null;
  }

  /**
   * Queues a job ahead of the queued files and resolves to what `take` reads from its response;
   * a response with a coded error, or a job that lost its worker, rejects with that error.
   */
  private ahead<T>(job: Exclude<Job, { type: 'prepare' }>, take: (response: Settlement) => T | null): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const file = job.type === 'overlay' ? job.path : job.file;
      const settle: Pending['settle'] = (response) => {
        const value = take(response);
        if (value !== null) resolve(value);
        else if (response.type === 'failed') reject(new TriageError(response.code, response.message, { file }));
        else if ('error' in response && response.error) {
          reject(new TriageError(response.error.code, response.error.message, { file }));
        } else reject(new TriageError('INTERNAL', 'The decode worker gave no answer for this job.', { file }));
      };
      const refusal = this.refusal();
      if (refusal) {
        reject(new TriageError('INTERNAL', refusal, { file }));
        return;
      }
      this.queue.unshift({ id: this.nextId++, job, settle });
      this.dispatch();
    });
  }

  private adopt(worker: Worker): void {
    const slot: Slot = { worker, job: null, deadline: null, end: () => undefined };
    this.slots.push(slot);
    worker.on('message', (message: DecodeResponse) => {
      if (message.type === 'ready' || !slot.job || slot.job.id !== message.id) return;
      const job = slot.job;
      slot.job = null;
      if (slot.deadline) clearTimeout(slot.deadline);
      slot.deadline = null;
      if (message.type === 'prepared') {
        this.preparedCount++;
        this.preparedCpuMs += message.cpuMs;
      }
      job.settle(message);
      this.retireIdle();
      this.dispatch();
    });
    slot.end = (cause, reason) => {
      if (this.closing) return;
      const index = this.slots.indexOf(slot);
      if (index < 0) return;
      this.slots.splice(index, 1);
      if (slot.deadline) clearTimeout(slot.deadline);
      detach(worker);
      void worker.terminate();
      if (slot.job) {
        log('error', 'decode-worker-ended', { cause, reason, job: slot.job.job.type });
        slot.job.settle(lost(slot.job.job, cause, reason, this.deadlineMs));
      }
      this.replace();
    };
    worker.on('error', (error: NodeJS.ErrnoException) =>
      slot.end(error.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'memory' : 'crash', error.message),
    );
    worker.on('exit', (code) => slot.end('crash', `the worker exited with code ${code}`));
    this.dispatch();
  }

  private replace(): void {
    this.restarts++;
    if (this.slots.length + this.spawning < this.size) this.start();
  }

  /** Stops idle workers while the pool has more than it keeps. */
  private retireIdle(): void {
    while (this.slots.length + this.spawning > this.size) {
      const index = this.slots.findIndex((slot) => !slot.job);
      if (index < 0) return;
      const [slot] = this.slots.splice(index, 1);
      detach(slot.worker);
      void stopWorker(slot.worker, { type: 'close' } satisfies DecodeRequest);
    }
  }

  /** Starts one worker for the pool. */
  private start(): void {
    this.spawning++;
    spawn(this.workerUrl, this.plan, this.heapMb).then(
      (worker) => {
        this.spawning--;
        if (this.closing) {
          detach(worker);
          void worker.terminate();
          return;
        }
        this.broken = null;
        this.adopt(worker);
        this.retireIdle();
      },
      (error: TriageError) => {
        this.spawning--;
        // A worker cannot start (the installation is broken, or memory is short): with none left,
        // what waits fails, loudly, and so do later jobs until RETRY_START_MS has passed.
        log('error', 'decode-worker-restart-failed', { reason: error.message });
        this.broken = error.message;
        this.retryAt = Date.now() + RETRY_START_MS;
        if (this.slots.length === 0 && this.spawning === 0) {
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
      const id = pending.id;
      // A heatmap grid is copied, not transferred: the caller keeps it (the analysis returns it).
      slot.worker.postMessage(
        (job.type === 'overlay'
          ? { type: 'overlay', id, heatmap: job.heatmap, path: job.path }
          : job.type === 'decode'
            ? { type: 'decode', id, file: job.file, outputs: job.outputs }
            : { type: job.type, id, file: job.file, sha256: job.sha256 }) satisfies DecodeRequest,
      );
      slot.deadline = setTimeout(() => slot.end('deadline', `no answer within ${this.deadlineMs} ms`), this.deadlineMs);
    }
    const decoding = this.slots.filter((slot) => slot.job).length;
    if (decoding > this.highWater) this.highWater = decoding;
  }
}
