/**
 * A local validation (main/validation's runEvaluation) in the desktop app: run in the engine
 * process on the app's engine, one at a time, with its progress pushed to the window at most every
 * PROGRESS_INTERVAL_MS (the latest state always sent). Each validation writes its metrics.json,
 * predictions.csv and report.html to a folder of its own, `<data dir>/validations/<date-time>/`;
 * the images' results go to the validations' own database, `<data dir>/validations/results.sqlite`,
 * shared between validations (the same content under the same pack is not analysed again) and
 * never the worklist's: labelled test images do not become studies to read.
 *
 * What it reports to the window is counts, a coded error's message and the report's path; what it
 * logs is counts and codes only: a labels file's rows and the images' headers may name patients.
 */
import { existsSync } from 'node:fs';
import { ProgressThrottle } from './throttle.js';
import { join } from 'node:path';
import type { Engine } from '../../engine/index.js';
import type { ScanProgress } from '../../domain/index.js';
import { toTriageError, TriageError } from '../../errors/index.js';
import { log } from '../../log/index.js';
import { ResultStore } from '../../store/index.js';
import { runEvaluation, validationDatabasePath, VALIDATIONS_FOLDER } from '../../validation/index.js';
import type { Evaluation } from '../../validation/index.js';
import type { ApiEmit, ValidationProgressData, ValidationStateData } from './contract.js';
import { requireExisting } from './file-name.js';
import { PROGRESS_INTERVAL_MS } from './scan-queue.js';

/** A date-time as a folder name on every file system: the ISO form with `-` for `:` (Windows forbids `:`). */
export function validationFolderName(at: Date): string {
  return at.toISOString().replace(/:/g, '-');
}

export interface ValidationControlOptions {
  engine: Engine;
  emit: ApiEmit;
  /** The app's data folder (the worklist database's folder): validations go under VALIDATIONS_FOLDER in it. */
  dataDir: string;
  progressIntervalMs?: number;
  /** The clock of the validations' dates and folder names. */
  now?: () => Date;
}

const idleProgress = (): ScanProgress => ({ done: 0, total: null, rate: 0, etaSeconds: null, analysed: 0 });

export class ValidationControl {
  private phase: ValidationStateData['state'] = 'idle';
  private progress: ScanProgress = idleProgress();
  private error: ValidationStateData['error'] = null;
  private evaluation: Evaluation | null = null;
  private reportPath: string | null = null;
  private running: { controller: AbortController; done: Promise<void> } | null = null;
  /** The validations' database, opened by the first validation and kept for the next. */
  private store: ResultStore | null = null;
  private closed = false;
  private readonly throttle: ProgressThrottle;

  constructor(private readonly options: ValidationControlOptions) {
    this.throttle = new ProgressThrottle(options.progressIntervalMs ?? PROGRESS_INTERVAL_MS, () =>
      options.emit('validation.changed', this.summary()),
    );
  }

  get folder(): string {
    return join(this.options.dataDir, VALIDATIONS_FOLDER);
  }

  /** What every event carries: the phase, counts, the coded error, the report's path. */
  summary(): ValidationProgressData {
    return { state: this.phase, progress: { ...this.progress }, error: this.error, reportPath: this.reportPath };
  }

  /** The same with the last completed validation's figures. */
  state(): ValidationStateData {
    return { ...this.summary(), evaluation: this.evaluation };
  }

  /**
   * Starts a validation of the images under these folders (or files) against the labels file; it
   * runs in the background (validation.changed, then validation.get). Every path must exist now.
   */
  async start(images: string[], labels: string): Promise<ValidationStateData> {
    this.refuseWhenRunning();
    if (this.closed) throw new TriageError('ENGINE_STOPPED', 'The application is closing; no validation starts.');
    await requireExisting([...images, labels]);
    // Again: another start may have come in while the paths were looked at.
    this.refuseWhenRunning();
    const paths = [...new Set(images)];
    const controller = new AbortController();
    this.phase = 'running';
    this.progress = idleProgress();
    this.error = null;
    this.evaluation = null;
    this.reportPath = null;
    log('info', 'validation-started', { folders: paths.length });
    const done = this.run(paths, labels, controller.signal).then(
      (ended) => {
        this.phase = ended;
        log('info', 'validation-ended', { outcome: ended, images: this.evaluation?.data.images ?? 0 });
      },
      (thrown: unknown) => {
        const error = toTriageError(thrown);
        this.phase = 'failed';
        this.error = { code: error.code, message: error.message };
        // The code only: a labels file's cells and paths can name patients.
        log('warn', 'validation-failed', { code: error.code });
      },
    );
    this.running = { controller, done };
    this.emitProgress(true);
    void done.then(() => {
      this.running = null;
      this.emitProgress(true);
    });
    return this.state();
  }

  private async run(paths: string[], labels: string, signal: AbortSignal): Promise<'completed' | 'interrupted'> {
    this.store ??= ResultStore.open(validationDatabasePath(this.options.dataDir));
    const now = this.options.now?.() ?? new Date();
    let out = join(this.folder, validationFolderName(now));
    for (let n = 2; existsSync(out); n++) out = join(this.folder, `${validationFolderName(now)}-${n}`);
    const run = await runEvaluation({
      paths,
      labels,
      out,
      engine: this.options.engine,
      store: this.store,
      signal,
      now,
      onProgress: (progress) => {
        this.progress = { ...progress };
        this.emitProgress();
      },
    });
    if (run.outcome === 'interrupted') return 'interrupted';
    this.evaluation = run.evaluation;
    this.reportPath = run.files.report;
    return 'completed';
  }

  private refuseWhenRunning(): void {
    if (!this.running) return;
    throw new TriageError(
      'VALIDATION_RUNNING',
      'A validation is running; wait for it to finish, or cancel it, before starting another.',
    );
  }

  /** Stops the running validation after the images under way; it ends interrupted. */
  cancel(): boolean {
    if (!this.running) return false;
    this.running.controller.abort();
    return true;
  }

  /** Cancels and waits for the running validation, then closes the validations' database. */
  async close(): Promise<void> {
    this.closed = true;
    const current = this.running;
    current?.controller.abort();
    await current?.done;
    this.throttle.cancel();
    this.store?.close();
    this.store = null;
  }

  private emitProgress(force = false): void {
    if (this.closed && !force) return;
    this.throttle.push(force);
  }
}
