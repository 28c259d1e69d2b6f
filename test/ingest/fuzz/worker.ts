/**
 * Runs fuzz cases off the test's thread, so that a hang is seen by the watchdog in the test
 * instead of freezing it. Posts one message per case.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TriageError } from '../../../main/errors/index.js';
import { decodeRadiograph } from '../../../main/ingest/index.js';
import { MUTATION_KINDS, mutate, random } from './mutations.js';

export interface FuzzJob {
  files: string[];
  seed: number;
  cases: number;
}

export type FuzzReport =
  | { kind: 'case'; index: number; file: string; mutation: string; outcome: string; rssMb: number }
  | { kind: 'failure'; index: number; file: string; mutation: string; detail: string }
  | { kind: 'done' };

const job = workerData as FuzzJob;
const sources = job.files.map((file) => ({ file, bytes: new Uint8Array(readFileSync(file)) }));
const post = (report: FuzzReport) => parentPort!.postMessage(report);

for (let index = 0; index < job.cases; index++) {
  // One generator per case: case N replays alone from (seed, N).
  const next = random(job.seed * 1_000_003 + index);
  const source = sources[Math.floor(next() * sources.length)];
  const mutation = MUTATION_KINDS[Math.floor(next() * MUTATION_KINDS.length)];
  const bytes = mutate(source.bytes, mutation, next);
  let outcome: string;
  try {
    const radiograph = await decodeRadiograph(`fuzz-${index}`, bytes, next() < 0.2 ? { minShortSide: 64 } : {});
    if (radiograph.pixels.length !== radiograph.rows * radiograph.columns)
      throw new Error('pixel count does not match the size');
    outcome = 'decoded';
  } catch (error) {
    if (!(error instanceof TriageError) || error.code === 'INTERNAL') {
      const detail = error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error);
      post({ kind: 'failure', index, file: source.file, mutation, detail });
      continue;
    }
    outcome = error.code;
  }
  post({ kind: 'case', index, file: source.file, mutation, outcome, rssMb: process.memoryUsage().rss / 2 ** 20 });
}
post({ kind: 'done' });
