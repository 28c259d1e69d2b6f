/**
 * Runs fuzz cases off the test's thread, so that a hang is seen by the watchdog in the test
 * instead of freezing it. Posts one message per case.
 */
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { TriageError } from '../../../main/errors/index.js';
import { decodeRadiograph } from '../../../main/ingest/index.js';
import { encapsulatedImage } from '../../support/hostile.js';
import { CODESTREAM_MUTATIONS, MUTATION_KINDS, mutate, mutateCodestream, random } from './mutations.js';

/** A JPEG codestream and the image it belongs in, fuzzed as a codestream and wrapped into DICOM. */
export interface FuzzCodestream {
  name: string;
  transferSyntax: string;
  image: { rows: number; columns: number; samplesPerPixel: 1 | 3; bitsStored: number };
  codestream: Uint8Array;
}

/** Files mutated whole, or (with `codestreams`) codestreams mutated inside an intact DICOM file. */
export interface FuzzJob {
  files: string[];
  seed: number;
  cases: number;
  codestreams?: FuzzCodestream[];
}

export type FuzzReport =
  | { kind: 'case'; index: number; file: string; mutation: string; outcome: string; rssMb: number }
  | { kind: 'failure'; index: number; file: string; mutation: string; detail: string }
  | { kind: 'done' };

const job = workerData as FuzzJob;
const sources = job.codestreams
  ? job.codestreams.map((c) => ({ file: c.name, bytes: c.codestream, wrap: c }))
  : job.files.map((file) => ({ file, bytes: new Uint8Array(readFileSync(file)), wrap: null }));
const post = (report: FuzzReport) => parentPort!.postMessage(report);

for (let index = 0; index < job.cases; index++) {
  // One generator per case: case N replays alone from (seed, N).
  const next = random(job.seed * 1_000_003 + index);
  const source = sources[Math.floor(next() * sources.length)];
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)];
  let mutation: string;
  let bytes: Uint8Array;
  if (source.wrap) {
    const kind = pick(CODESTREAM_MUTATIONS);
    const { transferSyntax, image } = source.wrap;
    mutation = kind;
    bytes = new Uint8Array(encapsulatedImage(transferSyntax, image, mutateCodestream(source.bytes, kind, next)));
  } else {
    const kind = pick(MUTATION_KINDS);
    mutation = kind;
    bytes = mutate(source.bytes, kind, next);
  }
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
