/**
 * The scan's identification thread: reads each file once (into one kept buffer), hashes it,
 * sniffs its format and reads its UIDs, off the scan's own thread and at below-normal priority,
 * so that hashing a 10 MiB radiograph never takes CPU time from inference (see Identifier).
 */
import { parentPort } from 'node:worker_threads';
import { toTriageError } from '../errors/index.js';
import { ReadBuffer } from '../ingest/index.js';
import { lowerThreadPriority } from '../threads/index.js';
import { identify } from './identify.js';
import type { IdentifyRequest, IdentifyResponse } from './identifier.js';

const port = parentPort!;
lowerThreadPriority();
const buffer = new ReadBuffer();

// Requests are handled one after another: the buffer is reused by the next one.
let chain = Promise.resolve();
port.on('message', (request: IdentifyRequest) => {
  if (request.type === 'close') {
    void chain.then(() => port.close());
    return;
  }
  chain = chain.then(async () => {
    let response: IdentifyResponse;
    try {
      response = {
        type: 'identified',
        id: request.id,
        identified: await identify(request.path, request.stats, buffer),
      };
    } catch (thrown) {
      const error = toTriageError(thrown, request.path);
      response = { type: 'failed', id: request.id, code: error.code, message: error.message };
    }
    port.postMessage(response);
  });
});
