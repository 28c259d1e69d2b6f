/**
 * A decode pool worker. Its main job: prepare one file at a time (read, decode, gate,
 * preprocess) and post the model inputs back, their buffers transferred. One file at a time is
 * the point: the pool bounds the full-size images in memory by bounding the jobs in its workers.
 * Its other job is the other full-size work: drawing a heatmap overlay at the image's size and
 * writing it as a PNG, so neither lands on the engine's thread.
 */
import { writeFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Heatmap } from '../explain/index.js';
import { overlayPng } from '../explain/index.js';
import { ReadBuffer } from '../ingest/index.js';
import { lowerThreadPriority } from '../threads/index.js';
import { prepareImage, transferables } from './prepare.js';
import type { PreparedImage, PreparePlan } from './prepare.js';

export type DecodeRequest =
  | { type: 'prepare'; id: number; file: string }
  | { type: 'overlay'; id: number; heatmap: Heatmap; path: string }
  | { type: 'close' };

export type DecodeResponse =
  | { type: 'ready' }
  | { type: 'prepared'; id: number; prepared: PreparedImage }
  | { type: 'written'; id: number; error: { code: ErrorCode; message: string } | null };

const port = parentPort!;
const plan = workerData as PreparePlan;

lowerThreadPriority();

/** Every file this worker prepares is read into this one buffer (see ReadBuffer). */
const readBuffer = new ReadBuffer();
let readBufferInUse = false;

async function prepare(id: number, file: string): Promise<void> {
  // The pool sends one job at a time; were two ever to overlap, the second reads on its own.
  const buffer = readBufferInUse ? undefined : readBuffer;
  if (buffer) readBufferInUse = true;
  const prepared = await prepareImage(file, plan, buffer)
    .catch((thrown): PreparedImage => {
      // prepareImage turns every failure into an outcome; this is for what it cannot foresee.
      const error = toTriageError(thrown, file);
      return {
        status: 'error',
        image: null,
        error: { code: error.code, message: error.message },
        timings: { decodeMs: 0, preprocessMs: 0 },
      };
    })
    .finally(() => {
      if (buffer) readBufferInUse = false;
    });
  port.postMessage({ type: 'prepared', id, prepared } satisfies DecodeResponse, transferables(prepared));
}

async function overlay(id: number, heatmap: Heatmap, path: string): Promise<void> {
  let error: { code: ErrorCode; message: string } | null = null;
  try {
    await writeFile(path, overlayPng(heatmap));
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException).code;
    error = code
      ? { code: 'OUTPUT_FAILED', message: `Cannot write the heatmap ${path} (${code}).` }
      : { code: toTriageError(thrown).code, message: toTriageError(thrown).message };
  }
  port.postMessage({ type: 'written', id, error } satisfies DecodeResponse);
}

port.on('message', (request: DecodeRequest) => {
  if (request.type === 'close') port.close();
  else if (request.type === 'prepare') void prepare(request.id, request.file);
  else void overlay(request.id, request.heatmap, request.path);
});

port.postMessage({ type: 'ready' } satisfies DecodeResponse);
