/**
 * A decode pool worker: the one place where a file's bytes are decoded. Its main job: prepare one
 * file at a time (read, decode, gate, preprocess) and post the model inputs back, their buffers
 * transferred. One file at a time is the point: the pool bounds the full-size images in memory by
 * bounding the jobs in its workers, and a hostile file that exhausts or hangs a worker (the pool
 * ends it) takes only its own job down. Its other jobs are the other full-size work on one file:
 * the viewer's image, `triage decode`'s outputs, and drawing a heatmap overlay at the image's size.
 */
import { writeFile } from 'node:fs/promises';
import { parentPort, workerData } from 'node:worker_threads';
import type { RenderedImage } from '../domain/index.js';
import { toTriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { Heatmap } from '../explain/index.js';
import { overlayPng } from '../explain/index.js';
import { ReadBuffer } from '../ingest/index.js';
import { lowerThreadPriority } from '../threads/index.js';
import { prepareImage, transferables } from './prepare.js';
import type { PreparedImage, PreparePlan } from './prepare.js';
import { decodeFile, renderImage } from './render.js';
import type { DecodedFile, DecodeOutputs } from './render.js';

export type DecodeRequest =
  | { type: 'prepare'; id: number; file: string; sha256: string | null }
  | { type: 'render'; id: number; file: string; sha256: string | null }
  | { type: 'decode'; id: number; file: string; outputs: DecodeOutputs }
  | { type: 'overlay'; id: number; heatmap: Heatmap; path: string }
  | { type: 'close' };

type Failure = { code: ErrorCode; message: string };

export type DecodeResponse =
  | { type: 'ready' }
  /** cpuMs: this thread's CPU time for the job (the engine's thread layout is chosen from it). */
  | { type: 'prepared'; id: number; prepared: PreparedImage; cpuMs: number }
  | { type: 'rendered'; id: number; rendered: RenderedImage | null; error: Failure | null }
  | { type: 'decoded'; id: number; decoded: DecodedFile | null; error: Failure | null }
  | { type: 'written'; id: number; error: Failure | null };

const port = parentPort!;
/** The pack's inputs, for prepare jobs; null in a pool that only renders or decodes. */
const plan = workerData as PreparePlan | null;

lowerThreadPriority();

/** Every file this worker reads goes into this one buffer (see ReadBuffer). */
const readBuffer = new ReadBuffer();
let readBufferInUse = false;

/** Runs `work` with the kept read buffer when it is free (the pool sends one job at a time). */
async function withBuffer<T>(work: (buffer: ReadBuffer | undefined) => Promise<T>): Promise<T> {
  const buffer = readBufferInUse ? undefined : readBuffer;
  if (buffer) readBufferInUse = true;
  try {
    return await work(buffer);
  } finally {
    if (buffer) readBufferInUse = false;
  }
}

const failure = (thrown: unknown, file?: string): Failure => {
  const error = toTriageError(thrown, file);
  return { code: error.code, message: error.message };
};

async function prepare(id: number, file: string, sha256: string | null): Promise<void> {
  const cpu = process.threadCpuUsage();
  const prepared = await withBuffer((buffer) => {
    if (!plan) throw new Error('this decode pool has no pack to prepare inputs for');
    return prepareImage(file, plan, buffer, sha256);
  }).catch(
    // prepareImage turns every failure into an outcome; this is for what it cannot foresee.
    (thrown): PreparedImage => ({
      status: 'error',
      image: null,
      error: failure(thrown, file),
      timings: { decodeMs: 0, preprocessMs: 0 },
    }),
  );
  const used = process.threadCpuUsage(cpu);
  const cpuMs = (used.user + used.system) / 1000;
  port.postMessage({ type: 'prepared', id, prepared, cpuMs } satisfies DecodeResponse, transferables(prepared));
}

async function render(id: number, file: string, sha256: string | null): Promise<void> {
  try {
    // Nothing of the image points into the read buffer: the stored values are a new array.
    const rendered = await withBuffer((buffer) => renderImage(file, sha256, buffer));
    const transfer = [rendered.pixels, ...(rendered.voiLut ? [rendered.voiLut.data] : [])];
    port.postMessage({ type: 'rendered', id, rendered, error: null } satisfies DecodeResponse, transfer);
  } catch (thrown) {
    port.postMessage({ type: 'rendered', id, rendered: null, error: failure(thrown, file) } satisfies DecodeResponse);
  }
}

async function decode(id: number, file: string, outputs: DecodeOutputs): Promise<void> {
  try {
    // Without the kept buffer: the modality values may point into what was read.
    const decoded = await decodeFile(file, outputs);
    const transfer = [decoded.modality, decoded.display].flatMap((bytes) =>
      bytes ? [bytes.buffer as ArrayBuffer] : [],
    );
    port.postMessage({ type: 'decoded', id, decoded, error: null } satisfies DecodeResponse, transfer);
  } catch (thrown) {
    port.postMessage({ type: 'decoded', id, decoded: null, error: failure(thrown, file) } satisfies DecodeResponse);
  }
}

async function overlay(id: number, heatmap: Heatmap, path: string): Promise<void> {
  let error: Failure | null = null;
  try {
    await writeFile(path, overlayPng(heatmap));
  } catch (thrown) {
    const code = (thrown as NodeJS.ErrnoException).code;
    error = code ? { code: 'OUTPUT_FAILED', message: `Cannot write the heatmap ${path} (${code}).` } : failure(thrown);
  }
  port.postMessage({ type: 'written', id, error } satisfies DecodeResponse);
}

port.on('message', (request: DecodeRequest) => {
  if (request.type === 'close') port.close();
  else if (request.type === 'prepare') void prepare(request.id, request.file, request.sha256);
  else if (request.type === 'render') void render(request.id, request.file, request.sha256);
  else if (request.type === 'decode') void decode(request.id, request.file, request.outputs);
  else void overlay(request.id, request.heatmap, request.path);
});

port.postMessage({ type: 'ready' } satisfies DecodeResponse);
