/**
 * A worker thread of writePhantomSet: generates and writes the phantoms whose index is
 * `first + k * step`, posting each one's entry back. The files do not depend on which thread
 * wrote them.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import { writePhantom } from './files.js';
import type { PhantomOptions } from './generate.js';

export interface WorkerJob {
  out: string;
  seed: number;
  count: number;
  first: number;
  step: number;
  options: PhantomOptions;
}

export type WorkerMessage =
  | { kind: 'entry'; entry: Awaited<ReturnType<typeof writePhantom>> }
  | { kind: 'error'; code: string; message: string; file: string | null }
  | { kind: 'done' };

async function run(job: WorkerJob): Promise<void> {
  const port = parentPort!;
  try {
    for (let index = job.first; index < job.count; index += job.step) {
      const entry = await writePhantom(job.out, job.seed, index, job.options);
      port.postMessage({ kind: 'entry', entry } satisfies WorkerMessage);
    }
    port.postMessage({ kind: 'done' } satisfies WorkerMessage);
  } catch (error) {
    const coded = toTriageError(error);
    port.postMessage({
      kind: 'error',
      code: coded.code,
      message: coded.message,
      file: coded.file ?? null,
    } satisfies WorkerMessage);
  }
}

if (parentPort) void run(workerData as WorkerJob);
