/**
 * The scan's identification thread: reads each file once (into one kept buffer), hashes it,
 * sniffs its format and reads its UIDs, off the scan's own thread and at below-normal priority,
 * so that hashing a 10 MiB radiograph never takes CPU time from inference (see Identifier). It
 * also reads DICOMDIRs' references. It says which job it starts on before reading a byte, so
 * that if a file kills it, that file alone is blamed.
 */
import { parentPort } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import { ReadBuffer } from '../ingest/index.js';
import { lowerThreadPriority } from '../threads/index.js';
import { dicomdirReferences } from './dicomdir.js';
import { identify } from './identify.js';
import type { IdentifyJob, IdentifyRequest, IdentifyResponse } from './identifier.js';

const port = parentPort!;
lowerThreadPriority();
const buffer = new ReadBuffer();

async function answer(job: IdentifyJob): Promise<IdentifyResponse> {
  try {
    if (job.type === 'references')
      return { type: 'references', id: job.id, references: await dicomdirReferences(job.path) };
    return { type: 'identified', id: job.id, identified: await identify(job.path, job.stats, buffer) };
  } catch (thrown) {
    const error = toTriageError(thrown, job.path);
    return { type: 'failed', id: job.id, code: error.code, message: error.message };
  }
}

// Requests are handled one after another: the buffer is reused by the next one.
let chain = Promise.resolve();
port.on('message', (request: IdentifyRequest) => {
  if (request.type === 'close') {
    void chain.then(() => port.close());
    return;
  }
  chain = chain.then(async () => {
    port.postMessage({ type: 'started', id: request.id } satisfies IdentifyResponse);
    port.postMessage(await answer(request));
  });
});
