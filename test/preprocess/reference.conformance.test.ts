/**
 * Model inputs against an independent reference: pydicom reads each file and numpy makes the
 * input as the DICOM standard and the manifest define it (reference-inputs.py: window or VOI LUT,
 * MONOCHROME1, padding, the stored source, the crop, the area resize as matrices of overlaps, the
 * bilinear resize, the normalisation), in float64. Both of the engine's paths are held to it: a file read a chunk of
 * rows at a time (preprocessRows, uncompressed DICOM) and a radiograph decoded whole (preprocess),
 * the latter for files of every lossless codec too, whose reference samples are those their
 * encoders were given (the fixtures' manifest).
 *
 * The tolerance: at most 1e-6 of the normalised input's range per unit of the source (0 to its
 * maximum), i.e. 0.002 in xrv units (range 1024), 1e-6 / std for mean-std. The engine rounds its
 * horizontal pass and its output to float32 (about 6e-8 relative each); a sample read from the
 * wrong place or weighed wrongly differs by orders of magnitude more.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDicomRows, readRadiograph } from '../../main/ingest/index.js';
import type { InputSpec } from '../../main/packs/manifest.js';
import { IMAGENET_NORMALIZATION, inputSpec } from '../support/input-specs.js';
import { encodePhantomDicom, generatePhantom } from '../../main/phantom/index.js';
import type { PhantomOptions } from '../../main/phantom/index.js';
import { preprocess, preprocessRows } from '../../main/preprocess/index.js';
import { DICOM_FIXTURES, fixtureManifest } from '../support/fixtures.js';
import { aptCommand, missingPythonModules, PYTHON } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';

const SCRIPT = fileURLToPath(new URL('./reference-inputs.py', import.meta.url));
const scratch = scratchDir('preprocess-reference');
after(() => scratch.remove());

const SPECS: InputSpec[] = [
  inputSpec(),
  inputSpec({ channels: 3, height: 61, width: 83, crop: 'stretch', normalization: IMAGENET_NORMALIZATION }),
  inputSpec({ height: 97, width: 97, source: 'stored' }),
  // Bilinear (a pack's member may resize so): the whole plane, decoded whole only.
  inputSpec({ height: 150, width: 113, resize: 'bilinear' }),
  inputSpec({ height: 77, width: 91, source: 'stored', crop: 'stretch', resize: 'bilinear' }),
  // Larger than some of the images: output samples within one source sample.
  inputSpec({ height: 512, width: 331, source: 'stored', crop: 'stretch' }),
];

/** Uncompressed files (read by rows and whole). */
const UNCOMPRESSED = [
  'explicit-le.dcm',
  'implicit-le.dcm',
  'highbits-garbage.dcm',
  'monochrome1.dcm',
  'voi-lut.dcm',
  'padding.dcm',
  'signed-rescale.dcm',
];
/** Lossless encodings, decoded whole, against the samples their encoders were given. */
const LOSSLESS = ['j2k-lossless.dcm', 'htj2k-lossless.dcm', 'jpeg-lossless-sv1.dcm', 'jpegls-lossless.dcm', 'rle.dcm'];
const PHANTOMS: PhantomOptions[] = [
  { photometric: 'MONOCHROME1', window: 'lut', padding: true, bitsStored: 12, size: 517 },
  { photometric: 'MONOCHROME2', window: 'lut', padding: false, bitsStored: 16, size: 301 },
  { photometric: 'MONOCHROME2', window: 'single', padding: true, bitsStored: 10, size: 613 },
  { photometric: 'MONOCHROME1', window: 'multiple', padding: false, bitsStored: 14, size: 389 },
];

/** The largest difference allowed in `spec`'s channel (see the file's comment). */
function tolerance(spec: InputSpec, channel: number): number {
  const n = spec.normalization;
  return n.kind === 'xrv' ? 1e-6 * 2 * n.range : 1e-6 / n.std[channel];
}

function assertClose(actual: Float32Array, expected: Float32Array, spec: InputSpec, what: string): void {
  assert.equal(actual.length, expected.length, what);
  const plane = spec.width * spec.height;
  let worst = 0;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    const allowed = tolerance(spec, Math.floor(i / plane));
    worst = Math.max(worst, difference / allowed);
    if (!(difference <= allowed))
      assert.fail(`${what}: value ${i} is ${actual[i]}, the reference ${expected[i]} (allowed ${allowed})`);
  }
  assert.ok(worst <= 1, what);
  worstSeen = Math.max(worstSeen, worst);
}

/** The largest difference met, as a share of the tolerance (printed: how close the engine is). */
let worstSeen = 0;

test('model inputs equal the pydicom and numpy reference, by rows and whole', async () => {
  const missing = missingPythonModules(['numpy', 'pydicom'], (code) => spawnSync(PYTHON, ['-c', code]).status === 0);
  assert.deepEqual(
    missing,
    [],
    `${PYTHON} lacks ${missing.join(', ')}: ${aptCommand(['python3-numpy', 'python3-pydicom'])} (or npm run test:tools)`,
  );
  const eightBit = join(scratch.path, 'eight-bit.dcm');
  const made = spawnSync(PYTHON, [SCRIPT, '--make-8bit', eightBit], { encoding: 'utf8' });
  assert.equal(made.status, 0, made.stderr);

  const phantoms = PHANTOMS.map((options, i) => {
    const file = join(scratch.path, `phantom-${i}.dcm`);
    writeFileSync(file, encodePhantomDicom(generatePhantom(23, i, options)));
    return file;
  });
  /** The samples a lossless fixture's encoder was given (the manifest says which). */
  const rawOf = (name: string): { path: string; dtype: string } => {
    const expected = fixtureManifest.fixtures.find((entry) => entry.file === name)?.expected;
    assert.ok(expected, `${name}: the manifest names its source samples`);
    return { path: join(DICOM_FIXTURES, expected.raw), dtype: expected.dtype };
  };
  const cases = [
    ...[...UNCOMPRESSED.map((name) => join(DICOM_FIXTURES, name)), eightBit, ...phantoms].map((file) => ({
      file,
      raw: null as { path: string; dtype: string } | null,
      rows: true,
    })),
    ...LOSSLESS.map((name) => ({ file: join(DICOM_FIXTURES, name), raw: rawOf(name), rows: false })),
  ].map((entry, i) => ({ ...entry, out: join(scratch.path, `case-${i}`), specs: SPECS }));
  const casesFile = join(scratch.path, 'cases.json');
  writeFileSync(casesFile, JSON.stringify({ cases }));
  const run = spawnSync(PYTHON, [SCRIPT, casesFile], { encoding: 'utf8' });
  assert.equal(run.status, 0, run.stderr);

  for (const entry of cases) {
    const expected = SPECS.map(
      (_, i) => new Float32Array(new Uint8Array(readFileSync(`${entry.out}-${i}.f32`)).buffer),
    );
    const radiograph = await readRadiograph(entry.file);
    SPECS.forEach((spec, i) =>
      assertClose(preprocess(radiograph, spec).data, expected[i], spec, `${entry.file} whole, ${i}`),
    );
    if (!entry.rows) continue;
    const rows = openDicomRows(entry.file);
    assert.ok(rows, `${entry.file} is read by rows`);
    try {
      const area = SPECS.filter((spec) => spec.resize === 'area');
      const inputs = preprocessRows(rows, area);
      assert.ok(inputs);
      area.forEach((spec, i) =>
        assertClose(inputs[i].data, expected[SPECS.indexOf(spec)], spec, `${entry.file} by rows, ${i}`),
      );
    } finally {
      rows.close();
    }
  }
  console.log(`largest difference from the reference: ${worstSeen.toFixed(4)} of the tolerance`);
});
