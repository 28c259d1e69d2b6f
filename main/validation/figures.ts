/**
 * The evaluation's figures computed on a worker thread: tens of seconds of arithmetic for a large
 * labelled set, which must not stall the thread that serves the app's window, its scans and the
 * DICOM node. Stopping the signal ends the worker at once.
 */
import type { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import { detach, sibling, startWorker } from '../threads/index.js';
import type { EvaluateOptions, EvaluationOutcome } from './evaluate.js';

/** What the worker is given: everything evaluate() takes but the taxonomy, which it loads itself. */
export type FiguresRequest = Omit<EvaluateOptions, 'taxonomy'>;

/** The worker's one answer. */
export type FiguresAnswer =
  { ok: true; outcome: EvaluationOutcome } | { ok: false; error: { code: ErrorCode; message: string } };

/** The figures, or null when the signal stopped them first. */
export function computeFigures(request: FiguresRequest, signal?: AbortSignal): Promise<EvaluationOutcome | null> {
  if (signal?.aborted) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    let worker: Worker;
    try {
      worker = startWorker(sibling('./figures-worker', import.meta.url), { workerData: request });
    } catch (error) {
      reject(new TriageError('INTERNAL', `The figures could not be started: ${(error as Error).message}`));
      return;
    }
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', stop);
      detach(worker);
      void worker.terminate();
      finish();
    };
    const stop = () => settle(() => resolve(null));
    signal?.addEventListener('abort', stop, { once: true });
    worker.once('message', (answer: FiguresAnswer) =>
      settle(() =>
        answer.ok ? resolve(answer.outcome) : reject(new TriageError(answer.error.code, answer.error.message)),
      ),
    );
    worker.once('error', (error) =>
      settle(() => reject(new TriageError('INTERNAL', `Computing the figures failed: ${error.message}`))),
    );
    worker.once('exit', (code) =>
      settle(() => reject(new TriageError('INTERNAL', `Computing the figures stopped (exit code ${code}).`))),
    );
  });
}
