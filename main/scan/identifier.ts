/**
 * Identification off the scan's thread: a worker thread (identify-worker) reads, hashes and sniffs
 * the files the scan meets, and reads DICOMDIRs' references, at below-normal priority. On the CPU
 * provider inference is the stage that sets a scan's pace, and the SHA-256 of every file (6 to
 * 10 ms for a 10 MiB radiograph) taken on the scan's own thread competed with it for the cores;
 * in a low-priority thread it takes only the time inference leaves.
 *
 * The thread also parses every DICOM header, and a hostile header can make a parser allocate
 * without bound. So it runs under a heap ceiling (IDENTIFY_HEAP_MB): a file that exhausts it
 * kills the thread, not the process. The thread says which file it starts on; when it dies, that
 * file alone fails (DECODE_FAILED, or INVALID_DICOMDIR for a DICOMDIR's references), and the
 * files queued behind it go to a fresh thread and are identified as if nothing had happened.
 * A file the thread is on for longer than its deadline (identifyDeadlineMs) is handled the same
 * way, as DECODE_TIMEOUT: a stall on one file never holds up a scan.
 */
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import { log } from '../log/index.js';
import { detach, sibling, startWorker, stopWorker } from '../threads/index.js';
import type { DicomdirReferences } from './dicomdir.js';
import { StudyIdentity } from '../common/index.js';
import type { Identified, IdentifiedMessage } from './identify.js';

/**
 * The identification thread's heap (V8's old generation), MB. File bytes are not on it (a
 * buffer's memory is outside the heap); identifying a 10 MiB radiograph takes a few MB of it.
 */
export const IDENTIFY_HEAP_MB = 256;

/**
 * How long the thread may take over one file: a fixed part for opening and parsing, and a part
 * for reading and hashing the bytes at 1 MiB/s, a floor no local disk or working share comes
 * near (10 MiB radiographs are hashed in 6 to 10 ms here). A DICOMDIR's references get the
 * fixed part: the DICOMDIR's size is bounded by the ingest's budget and not known beforehand.
 */
export const IDENTIFY_DEADLINE_MS = 30_000;
const MS_PER_MIB = 1000;

export function identifyDeadlineMs(job: IdentifyJob, baseMs = IDENTIFY_DEADLINE_MS): number {
  return baseMs + (job.type === 'identify' ? Math.ceil(job.stats.size / 2 ** 20) * MS_PER_MIB : 0);
}

export type IdentifyJob =
  | { type: 'identify'; id: number; path: string; stats: { size: number; mtimeMs: number } }
  | { type: 'references'; id: number; path: string };

export type IdentifyRequest = IdentifyJob | { type: 'close' };

export type IdentifyResponse =
  /** The thread starts on this job (sent before it reads a byte). */
  | { type: 'started'; id: number }
  | { type: 'identified'; id: number; identified: IdentifiedMessage }
  | { type: 'references'; id: number; references: DicomdirReferences }
  | { type: 'failed'; id: number; code: ErrorCode; message: string };

interface Pending {
  job: IdentifyJob;
  answer: (response: IdentifyResponse) => void;
  reject: (error: TriageError) => void;
}

export interface IdentifierOptions {
  /** The worker module (default: identify-worker beside this file). */
  worker?: URL;
  /** The fixed part of each file's deadline (default IDENTIFY_DEADLINE_MS; tests shorten it). */
  deadlineMs?: number;
}

/** Deaths of a fresh thread before it starts on any file, in a row, after which waiting jobs fail. */
const MAX_IDLE_DEATHS = 2;

export class Identifier {
  private worker: Worker | null = null;
  private readonly pending = new Map<number, Pending>();
  /** The job the thread said it started on and has not answered yet. */
  private current: number | null = null;
  /** Stops the thread when the current job outlives its deadline. */
  private deadline: NodeJS.Timeout | null = null;
  private idleDeaths = 0;
  private nextId = 1;
  private closed = false;
  private readonly workerUrl: URL;
  private readonly deadlineMs: number;

  constructor(options: IdentifierOptions = {}) {
    this.workerUrl = options.worker ?? sibling('./identify-worker', import.meta.url);
    this.deadlineMs = options.deadlineMs ?? IDENTIFY_DEADLINE_MS;
  }

  /** Reads, hashes and sniffs one file; failures are coded TriageErrors (rejected). */
  identify(path: string, stats: { size: number; mtimeMs: number }): Promise<Identified> {
    return this.ask<Identified>({ type: 'identify', id: this.nextId++, path, stats }, (response) =>
      response.type === 'identified'
        ? { ...response.identified, identity: StudyIdentity.from(response.identified.identity) }
        : null,
    );
  }

  /** The files a DICOMDIR references (see dicomdirReferences); failures are INVALID_DICOMDIR (rejected). */
  references(path: string): Promise<DicomdirReferences> {
    return this.ask<DicomdirReferences>({ type: 'references', id: this.nextId++, path }, (response) =>
      response.type === 'references' ? response.references : null,
    );
  }

  /** Ends the worker once the files asked for are identified. */
  async close(): Promise<void> {
    this.closed = true;
    this.clearDeadline();
    const worker = this.worker;
    this.worker = null;
    if (worker) await stopWorker(worker, { type: 'close' } satisfies IdentifyRequest);
  }

  private ask<T>(job: IdentifyJob, value: (response: IdentifyResponse) => T | null): Promise<T> {
    if (this.closed)
      return Promise.reject(new TriageError('INTERNAL', 'The scan has stopped identifying files.', { file: job.path }));
    return new Promise<T>((resolve, reject) => {
      const answer = (response: IdentifyResponse) => {
        if (response.type === 'failed') {
          reject(new TriageError(response.code, response.message, { file: job.path }));
          return;
        }
        const answered = value(response);
        if (answered === null)
          reject(
            new TriageError('INTERNAL', `The identification thread answered ${response.type}.`, { file: job.path }),
          );
        else resolve(answered);
      };
      this.pending.set(job.id, { job, answer, reject });
      this.started().postMessage(job satisfies IdentifyRequest);
    });
  }

  private started(): Worker {
    if (this.worker) return this.worker;
    const worker = startWorker(this.workerUrl, { resourceLimits: { maxOldGenerationSizeMb: IDENTIFY_HEAP_MB } });
    worker.on('message', (response: IdentifyResponse) => {
      if (response.type === 'started') {
        this.current = response.id;
        this.watch(worker, response.id);
        return;
      }
      if (this.current === response.id) {
        this.current = null;
        this.clearDeadline();
      }
      this.idleDeaths = 0;
      const pending = this.pending.get(response.id);
      if (!pending) return;
      this.pending.delete(response.id);
      pending.answer(response);
    });
    // Acted on at 'exit', which comes after 'error' and after every message the thread sent
    // (its 'started' among them) has been handled.
    let failure: Stop | undefined;
    worker.on('error', (error) => {
      failure =
        (error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { kind: 'memory' }
          : { kind: 'exit', detail: error.message };
    });
    worker.on('exit', (code) =>
      this.died(worker, failure === undefined ? { kind: 'exit', detail: `exit code ${code}` } : failure),
    );
    this.worker = worker;
    this.current = null;
    return worker;
  }

  private watch(worker: Worker, id: number): void {
    this.clearDeadline();
    const pending = this.pending.get(id);
    if (!pending) return;
    const ms = identifyDeadlineMs(pending.job, this.deadlineMs);
    this.deadline = setTimeout(() => {
      this.deadline = null;
      if (this.worker === worker && this.current === id) this.died(worker, { kind: 'deadline', ms });
    }, ms);
  }

  private clearDeadline(): void {
    if (this.deadline) clearTimeout(this.deadline);
    this.deadline = null;
  }

  /**
   * The thread stopped, or is stopped here because its file outlived the deadline. The job it was
   * on fails; the others go to a fresh thread, unless fresh threads keep dying before starting on any.
   */
  private died(worker: Worker, stop: Stop): void {
    if (this.worker !== worker) return;
    this.worker = null;
    this.clearDeadline();
    detach(worker);
    void worker.terminate();
    if (this.closed && this.pending.size === 0) return;
    const what =
      stop.kind === 'memory'
        ? `it ran out of its ${IDENTIFY_HEAP_MB} MB of memory`
        : stop.kind === 'deadline'
          ? `it took longer than ${Math.round(stop.ms / 1000)} s`
          : stop.detail;
    const culprit = this.current === null ? undefined : this.pending.get(this.current);
    this.current = null;
    log('error', 'identify-worker-died', {
      reason: stop.kind === 'exit' ? stop.detail : stop.kind === 'memory' ? 'out of memory' : 'deadline',
      file: culprit?.job.path ?? null,
      waiting: this.pending.size - (culprit ? 1 : 0),
    });
    if (culprit) {
      this.idleDeaths = 0;
      this.pending.delete(culprit.job.id);
      culprit.reject(culpritError(culprit.job, stop, what));
    } else {
      this.idleDeaths++;
    }
    if (this.pending.size === 0) return;
    if (this.closed || this.idleDeaths >= MAX_IDLE_DEATHS) {
      for (const [id, pending] of this.pending) {
        this.pending.delete(id);
        pending.reject(
          new TriageError('INTERNAL', `The identification thread cannot run (${what}).`, { file: pending.job.path }),
        );
      }
      return;
    }
    // In the order they were asked: a fresh thread reads them one after another, as the old one would have.
    const fresh = this.started();
    for (const pending of [...this.pending.values()].sort((a, b) => a.job.id - b.job.id))
      fresh.postMessage(pending.job);
  }
}

/** Why the thread stopped: its heap ceiling, its file's deadline, or an exit of its own. */
type Stop = { kind: 'memory' } | { kind: 'deadline'; ms: number } | { kind: 'exit'; detail: string };

function culpritError(job: IdentifyJob, stop: Stop, what: string): TriageError {
  const { path } = job;
  if (job.type === 'references')
    return new TriageError(
      'INVALID_DICOMDIR',
      `The DICOMDIR cannot be read: reading it stopped the identification thread (${what}).`,
      { file: path },
    );
  if (stop.kind === 'deadline')
    return new TriageError(
      'DECODE_TIMEOUT',
      `Reading this file took longer than ${Math.round(stop.ms / 1000)} s and was stopped; if it is on a slow share, copy it to a local disk and scan it again.`,
      { file: path },
    );
  return new TriageError(
    'DECODE_FAILED',
    `Reading this file stopped the identification thread (${what}); no radiograph does that.`,
    { file: path },
  );
}
