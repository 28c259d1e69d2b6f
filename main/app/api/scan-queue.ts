/**
 * The app's folder scans: one at a time, later requests queued behind the running one,
 * progress pushed to the window at most every PROGRESS_INTERVAL_MS, the latest state
 * always sent. A scan that fails ends with its coded error in `last`; the queue goes on.
 */
import type { Engine } from '../../engine/index.js';
import { ProgressThrottle } from './throttle.js';
import { TriageError, toTriageError } from '../../errors/index.js';
import { log } from '../../log/index.js';
import { Scanner } from '../../scan/index.js';
import type { Progress, ScanSummary } from '../../scan/index.js';
import type { ResultStore } from '../../store/index.js';
import type { TriageRules } from '../../triage/index.js';
import { SHOWN_ROOTS } from './contract.js';
import type { ScanProgressData } from './contract.js';
import { requireExisting } from './file-name.js';

/** Minimum interval between progress events, ms. */
export const PROGRESS_INTERVAL_MS = 200;

/** How many scans may wait behind the running one; one more is refused (SCAN_QUEUE_FULL). */
export const MAX_WAITING_SCANS = 32;

export interface ScanQueueOptions {
  engine: Engine;
  store: ResultStore;
  rules: TriageRules;
  /** Called with the scan's state whenever it should reach the window (throttled here). */
  onProgress: (state: ScanProgressData) => void;
  /** A file's result landed in the store (`now`: the scan ended, send at once). */
  onResults: (now: boolean) => void;
  progressIntervalMs?: number;
}

const idle = (): Progress => ({ done: 0, total: null, rate: 0, etaSeconds: null, analysed: 0 });

export class ScanQueue {
  private readonly waiting: string[][] = [];
  private running: { controller: AbortController; done: Promise<void> } | null = null;
  private progress: Progress = idle();
  /** The running scan's roots, or the last scan's when none runs. */
  private roots: string[] = [];
  /** The first of them, as events show them (one array per scan). */
  private shownRoots: string[] = [];
  private last: ScanProgressData['last'] = null;
  private readonly throttle: ProgressThrottle;

  constructor(private readonly options: ScanQueueOptions) {
    this.throttle = new ProgressThrottle(options.progressIntervalMs ?? PROGRESS_INTERVAL_MS, () =>
      options.onProgress(this.state()),
    );
  }

  /**
   * What the window shows of scans: the running one's progress, the queue, the last one's end.
   * Counts and the first few roots only, so an event stays small however long the queue.
   */
  state(): ScanProgressData {
    const queuedRoots: string[] = [];
    let queuedRootCount = 0;
    for (const roots of this.waiting) {
      queuedRootCount += roots.length;
      for (const root of roots) if (queuedRoots.length < SHOWN_ROOTS) queuedRoots.push(root);
    }
    return {
      running: this.running !== null,
      roots: this.shownRoots,
      rootCount: this.roots.length,
      queued: this.waiting.length,
      queuedRoots,
      queuedRootCount,
      done: this.progress.done,
      total: this.progress.total,
      rate: this.progress.rate,
      etaSeconds: this.progress.etaSeconds,
      analysed: this.progress.analysed,
      last: this.last,
    };
  }

  /**
   * Queues a scan of these paths (each must exist now: a mistake to report, not a result to
   * store) and starts it when nothing runs. Resolves to the roots accepted. At most
   * MAX_WAITING_SCANS wait; one more is refused before any path is looked at.
   */
  async start(paths: string[]): Promise<string[]> {
    this.refuseWhenFull();
    await requireExisting(paths);
    // Again: other requests may have queued while these paths were looked at.
    this.refuseWhenFull();
    const roots = [...new Set(paths)];
    this.waiting.push(roots);
    if (!this.running) this.runNext();
    else this.emitProgress(true);
    return roots;
  }

  private refuseWhenFull(): void {
    if (this.waiting.length < MAX_WAITING_SCANS) return;
    throw new TriageError(
      'SCAN_QUEUE_FULL',
      `${MAX_WAITING_SCANS} scans are already waiting; let them finish, or stop them, before adding another.`,
    );
  }

  /** Stops the running scan after its batch (everything done is kept) and drops the queue. */
  cancel(): boolean {
    const cancelled = this.running !== null || this.waiting.length > 0;
    this.waiting.length = 0;
    this.running?.controller.abort();
    this.emitProgress(true);
    return cancelled;
  }

  /** Cancels, then waits for the running scan to stop; no event is sent afterwards. */
  async close(): Promise<void> {
    this.waiting.length = 0;
    const current = this.running;
    current?.controller.abort();
    await current?.done;
    this.throttle.cancel();
  }

  private emitProgress(force = false): void {
    this.throttle.push(force);
  }

  private runNext(): void {
    const roots = this.waiting.shift();
    if (!roots) return;
    const { engine, store, rules } = this.options;
    const controller = new AbortController();
    this.progress = idle();
    this.roots = roots;
    this.shownRoots = roots.slice(0, SHOWN_ROOTS);
    const scanner = new Scanner({
      roots,
      engine,
      store,
      rules,
      signal: controller.signal,
      onProgress: (next) => {
        this.progress = next;
        this.emitProgress();
      },
      onFile: (file) => {
        if (file.outcome !== 'skipped') this.options.onResults(false);
      },
    });
    const started = performance.now();
    const done = scanner.run().then(
      (summary: ScanSummary) => {
        const { outcome, files, analysed, errors, rejected, seconds } = summary;
        this.last = { outcome, files, analysed, errors, rejected, seconds, error: null };
      },
      (thrown: unknown) => {
        const error = toTriageError(thrown);
        log('error', 'app-scan-failed', { code: error.code, message: error.message });
        this.last = {
          outcome: 'failed',
          files: this.progress.done,
          analysed: this.progress.analysed,
          errors: 0,
          rejected: 0,
          seconds: Math.round(performance.now() - started) / 1000,
          error: { code: error.code, message: error.message },
        };
      },
    );
    this.running = { controller, done };
    this.emitProgress(true);
    void done.then(() => {
      this.running = null;
      this.emitProgress(true);
      this.options.onResults(true);
      this.runNext();
    });
  }
}
