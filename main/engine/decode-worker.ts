/**
 * A decode pool worker: prepares one file at a time (read, decode, gate, preprocess) and posts
 * the model inputs back, their buffers transferred. One file at a time is the point: the pool
 * bounds the full-size images in memory by bounding the files in its workers.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import { prepareImage, transferables } from './prepare.js';
import type { PreparedImage, PreparePlan } from './prepare.js';

export type DecodeRequest = { type: 'prepare'; id: number; file: string } | { type: 'close' };

export type DecodeResponse = { type: 'ready' } | { type: 'prepared'; id: number; prepared: PreparedImage };

const port = parentPort!;
const plan = workerData as PreparePlan;

port.on('message', (request: DecodeRequest) => {
  if (request.type === 'close') {
    port.close();
    return;
  }
  void prepareImage(request.file, plan)
    .catch((thrown): PreparedImage => {
      // prepareImage turns every failure into an outcome; this is for what it cannot foresee.
      const error = toTriageError(thrown, request.file);
      return { status: 'error', image: null, error: { code: error.code, message: error.message }, timings: { decodeMs: 0, preprocessMs: 0 } };
    })
    .then((prepared) => port.postMessage({ type: 'prepared', id: request.id, prepared } satisfies DecodeResponse, transferables(prepared)));
});

port.postMessage({ type: 'ready' } satisfies DecodeResponse);
