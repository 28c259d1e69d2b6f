/**
 * Identification off the scan's thread: a worker thread (identify-worker) reads, hashes and sniffs
 * the files the scan meets, at below-normal priority. On the CPU provider inference is the stage
 * that sets a scan's pace, and the SHA-256 of every file (6 to 10 ms for a 10 MiB radiograph)
 * taken on the scan's own thread competed with it for the cores; in a low-priority thread it
 * takes only the time inference leaves. A worker that dies fails only the files it was
 * identifying (each with its coded error) and is replaced for the next ones.
 */
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import { log } from '../log/index.js';
import { sibling, startWorker, stopWorker } from '../threads/index.js';
import type { Identified } from './identify.js';

export type IdentifyRequest =
  { type: 'identify'; id: number; path: string; stats: { size: number; mtimeMs: number } } | { type: 'close' };

export type IdentifyResponse =
  | { type: 'identified'; id: number; identified: Identified }
  | { type: 'failed'; id: number; code: ErrorCode; message: string };

interface Pending {
  path: string;
  resolve: (identified: Identified) => void;
  reject: (error: TriageError) => void;
}

export class Identifier {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;

  /** Reads, hashes and sniffs one file; failures are coded TriageErrors (rejected). */
  identify(path: string, stats: { size: number; mtimeMs: number }): Promise<Identified> {
    if (this.closed)
      return Promise.reject(new TriageError('INTERNAL', 'The scan has stopped identifying files.', { file: path }));
    const id = this.nextId++;
    return new Promise<Identified>((resolve, reject) => {
      this.pending.set(id, { path, resolve, reject });
      this.started().postMessage({ type: 'identify', id, path, stats } satisfies IdentifyRequest);
    });
  }

  /** Ends the worker once the files asked for are identified. */
  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    this.worker = null;
    if (worker) await stopWorker(worker, { type: 'close' } satisfies IdentifyRequest);
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(sibling('./identify-worker', import.meta.url));
    worker.on('message', (response: IdentifyResponse) => {
      const pending = this.pending.get(response.id);
      if (!pending) return;
      this.pending.delete(response.id);
      if (response.type === 'identified') pending.resolve(response.identified);
      else pending.reject(new TriageError(response.code, response.message, { file: pending.path }));
    });
    const died = (reason: string) => {
      if (this.worker !== worker) return;
      this.worker = null;
      worker.removeAllListeners();
      void worker.terminate();
      if (this.closed && this.pending.size === 0) return;
      log('error', 'identify-worker-died', { reason, files: this.pending.size });
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.reject(
          new TriageError('UNREADABLE', `The file could not be identified: the reading thread stopped (${reason}).`, {
            file: pending.path,
          }),
        );
      }
    };
    worker.on('error', (error) => died(error.message));
    worker.on('exit', (code) => died(`exit code ${code}`));
    this.worker = worker;
    return worker;
  }
}
