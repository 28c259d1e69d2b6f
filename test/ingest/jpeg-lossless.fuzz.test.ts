/**
 * Mutation fuzzing of the JPEG lossless decoder: codestreams damaged as codestreams (cut short,
 * bits flipped, marker segments' bytes set to extremes, stray markers and 0xFF bytes in the
 * entropy-coded data, blocks repeated or dropped), each inside an intact DICOM file so that the
 * damage reaches the codec, read by decodeRadiograph. Every case must end in an image or a coded
 * error: no uncaught exception, no hang, no runaway memory. The codestreams: dcmtk's two fixtures
 * and the tests' encoder's restart intervals, colour planes, point transform, 8 and 16 bits and
 * long codes. FUZZ_SEED replays a run, FUZZ_CASES sets its size (1,500 by default).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { readPixelDescription } from '../../main/ingest/dicom/attributes.js';
import { firstEncapsulatedFrame, pixelDataElement } from '../../main/ingest/dicom/frames.js';
import { parseDataSet } from '../../main/ingest/dicom/parse.js';
import { findTransferSyntax } from '../../main/ingest/dicom/transfer-syntax.js';
import { mulberry32 } from '../../main/phantom/index.js';
import { encodeJpegLossless, LONG_CODE_LENGTHS } from '../support/jpeg-lossless-encoder.js';
import type { LosslessEncoding } from '../support/jpeg-lossless-encoder.js';
import { runFuzz } from './fuzz/run.js';
import type { FuzzCodestream } from './fuzz/worker.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const CASES = Number(process.env.FUZZ_CASES ?? 1500);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
/** A small frame decodes in milliseconds; a case silent this long is a hang. */
const HANG_MS = 15_000;
const RSS_LIMIT_MB = 1536;
const PROCESS_14 = '1.2.840.10008.1.2.4.57';

/** The codestream of a conformance fixture (dcmtk's encoding), with its image's attributes. */
async function fixture(name: string): Promise<FuzzCodestream> {
  const dataSet = await parseDataSet(new Uint8Array(readFileSync(join(FIXTURES, name))));
  const description = readPixelDescription(dataSet);
  const uid = dataSet.string('x00020010')!.replace(/\0/g, '').trim();
  const frame = firstEncapsulatedFrame(dataSet, pixelDataElement(dataSet), findTransferSyntax(uid)!, description);
  const { rows, columns, samplesPerPixel, bitsStored } = description;
  return {
    name,
    transferSyntax: uid,
    image: { rows, columns, samplesPerPixel, bitsStored },
    codestream: frame.slice(),
  };
}

/** A codestream of the tests' encoder over a smooth noisy image. */
function encoded(name: string, options: Omit<LosslessEncoding, 'rows' | 'columns'>): FuzzCodestream {
  const rows = 40;
  const columns = 96;
  const next = mulberry32(name.length);
  const max = 2 ** options.precision - 1;
  const values = Uint16Array.from({ length: rows * columns * options.components }, (_, i) =>
    Math.min(max, Math.round(max * (0.5 + 0.3 * Math.sin(i / 50)) + next() * max * 0.05)),
  );
  const samplesPerPixel = options.components === 3 ? 3 : 1;
  return {
    name,
    transferSyntax: PROCESS_14,
    image: { rows, columns, samplesPerPixel, bitsStored: options.precision },
    codestream: encodeJpegLossless(values, { rows, columns, ...options }),
  };
}

test(
  `fuzz: ${CASES} damaged JPEG lossless codestreams end in an image or a coded error (seed ${SEED})`,
  { timeout: 15 * 60_000 },
  async () => {
    const codestreams = [
      await fixture('jpeg-lossless-sv1.dcm'),
      await fixture('jpeg-lossless-p14.dcm'),
      encoded('restart-sv5', { components: 1, precision: 12, predictor: 5, restartInterval: 3 * 96 }),
      encoded('rgb-planes', { components: 3, precision: 8, predictor: 7, interleaved: false }),
      encoded('rgb-pt1-restart', { components: 3, precision: 8, predictor: 6, pointTransform: 1, restartInterval: 96 }),
      encoded('long-codes-16', { components: 1, precision: 16, predictor: 4, codeLengths: LONG_CODE_LENGTHS }),
      encoded('grey8-sv2', { components: 1, precision: 8, predictor: 2 }),
    ];
    const { seen, outcomes, failures, peakRss, summary } = await runFuzz(
      { files: [], seed: SEED, cases: CASES, codestreams },
      HANG_MS,
      RSS_LIMIT_MB,
    );
    console.log(`jpeg lossless fuzz seed ${SEED}: ${seen} cases; ${summary}; peak RSS ${peakRss.toFixed(0)} MB`);
    assert.deepEqual(
      failures,
      [],
      `uncoded failures (replay with FUZZ_SEED=${SEED}):\n${failures.slice(0, 5).join('\n')}`,
    );
    assert.equal(seen, CASES);
    // The mutations reach the decoder: some damage still decodes, and it refuses the rest in several ways.
    assert.ok((outcomes.get('decoded') ?? 0) > 0, 'some damaged codestreams still decode');
    for (const code of ['TRUNCATED', 'MALFORMED']) assert.ok(outcomes.has(code), `${code} occurs (saw ${summary})`);
  },
);
