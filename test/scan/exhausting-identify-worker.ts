/**
 * The identification thread with two hostile readers added, for the Identifier's tests: a file
 * whose name ends in ".exhaust" is announced as started, then memory is taken until the thread's
 * heap ceiling stops it, whatever the ingest's parse budgets refuse by then; one ending in
 * ".stall" is announced and then never answered (the thread spins, as a parser caught in a loop
 * would). Every other request goes to the real thread's code, loaded below.
 */
import { parentPort } from 'node:worker_threads';
import type { IdentifyRequest, IdentifyResponse } from '../../main/scan/identifier.js';

const port = parentPort!;
port.on('message', (request: IdentifyRequest) => {
  if (request.type === 'close' || !/\.(exhaust|stall)$/.test(request.path)) return;
  port.postMessage({ type: 'started', id: request.id } satisfies IdentifyResponse);
  if (request.path.endsWith('.stall')) for (;;);
  const hoard: Array<{ index: number }> = [];
  for (;;) hoard.push({ index: hoard.length });
});

await import('../../main/scan/identify-worker.js');
