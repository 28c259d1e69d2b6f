/**
 * An uncompressed DICOM read a chunk of rows at a time (openDicomRows) straight into the area
 * resize (preprocessRows), as the decode worker prepares a file: it must give exactly what the
 * file read whole gives (readRadiograph + preprocess, which preprocess.integration.test.ts holds
 * to the whole-plane reference value for value), for every file it opens, and it must decline
 * every file it cannot read so (the whole-file read then gives that file's result or error).
 */
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { prepareImage } from '../../main/engine/prepare.js';
import { openDicomRows, readRadiograph } from '../../main/ingest/index.js';
import type { InputSpec } from '../../main/packs/manifest.js';
import { IMAGENET_NORMALIZATION, inputSpec } from '../support/input-specs.js';
import { encodePhantomDicom, generatePhantom } from '../../main/phantom/index.js';
import type { PhantomOptions } from '../../main/phantom/index.js';
import { preprocess, preprocessRows } from '../../main/preprocess/index.js';
import { DICOM_FIXTURES } from '../support/fixtures.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('preprocess-rows');
after(() => scratch.remove());

const SPECS: InputSpec[] = [
  inputSpec(),
  inputSpec({ channels: 3, height: 97, width: 131, crop: 'stretch', normalization: IMAGENET_NORMALIZATION }),
  inputSpec({ height: 320, width: 320, source: 'stored' }),
  // Larger than the images: area resampling enlarging them (output rows of one source row).
  inputSpec({ height: 1000, width: 700, source: 'stored', crop: 'stretch' }),
];

/** DICOM fixtures an uncompressed little-endian grey file with a window or LUT: read by rows. */
const STREAMED = [
  'explicit-le.dcm',
  'implicit-le.dcm',
  'highbits-garbage.dcm',
  'monochrome1.dcm',
  'voi-lut.dcm',
  'padding.dcm',
  'signed-rescale.dcm',
  'multiframe.dcm',
  'lateral.dcm',
];
/** And those it declines: compressed, big endian, deflated, no window, colour, broken. */
const DECLINED = [
  'deflated-le.dcm',
  'explicit-be.dcm',
  'j2k-lossless.dcm',
  'htj2k-lossless.dcm',
  'jpeg-lossless-sv1.dcm',
  'rle.dcm',
  'no-window.dcm',
  'rgb.dcm',
  'truncated.dcm',
  'bad-attribute.dcm',
  'ct-no-pixels.dcm',
  'sr.dcm',
  'huge-dims.dcm',
  'not-dicom.bin',
];

/** Phantoms of odd sizes (odd crops), every photometric, window, bit depth and padding case. */
const PHANTOMS: PhantomOptions[] = [
  { photometric: 'MONOCHROME1', window: 'lut', padding: true, bitsStored: 12, size: 517 },
  { photometric: 'MONOCHROME2', window: 'lut', padding: false, bitsStored: 16, size: 301 },
  { photometric: 'MONOCHROME2', window: 'single', padding: true, bitsStored: 10, size: 613 },
  { photometric: 'MONOCHROME1', window: 'multiple', padding: false, bitsStored: 14, size: 389 },
  { photometric: 'MONOCHROME1', window: 'single', padding: true, bitsStored: 16, size: 455 },
];

function assertSameInputs(file: string, fromRows: ReturnType<typeof preprocessRows>, whole: typeof fromRows): void {
  assert.ok(fromRows && whole);
  assert.equal(fromRows.length, whole.length);
  fromRows.forEach((input, i) => {
    assert.deepEqual(input.geometry, whole[i].geometry, `${file}: geometry of input ${i}`);
    assert.deepEqual(input.data, whole[i].data, `${file}: input ${i}`);
  });
}

describe('files read by rows give the inputs of the file read whole', () => {
  const phantomFiles: string[] = [];
  before(() => {
    PHANTOMS.forEach((options, i) => {
      const file = join(scratch.path, `phantom-${i}.dcm`);
      writeFileSync(file, encodePhantomDicom(generatePhantom(11, i, options)));
      phantomFiles.push(file);
    });
  });

  test('every source, crop, size and normalisation, value for value', async () => {
    for (const file of [...STREAMED.map((name) => join(DICOM_FIXTURES, name)), ...phantomFiles]) {
      const rows = openDicomRows(file);
      assert.ok(rows, `${file} is read by rows`);
      try {
        const radiograph = await readRadiograph(file);
        const { pixels: _p, padding: _q, range: _r, ...fields } = radiograph;
        assert.deepEqual(rows.radiograph, fields, `${file}: the same attributes`);
        const planes = new Map();
        assertSameInputs(
          file,
          preprocessRows(rows, SPECS),
          SPECS.map((spec) => preprocess(radiograph, spec, planes)),
        );
      } finally {
        rows.close();
      }
    }
  });

  test('prepareImage reads them by rows, with the same outcome as when it reads them whole', async () => {
    const plan = { inputs: SPECS.slice(0, 3), shortSide: 320 };
    for (const file of [...STREAMED.map((name) => join(DICOM_FIXTURES, name)), ...phantomFiles]) {
      // A known content hash makes prepareImage read the file whole (to check it).
      const sha256 = (await import('node:crypto')).createHash('sha256').update(readFileSync(file)).digest('hex');
      const [byRows, whole] = [await prepareImage(file, plan), await prepareImage(file, plan, undefined, sha256)];
      assert.equal(byRows.status, whole.status, file);
      assert.deepEqual(byRows.image, whole.image, file);
      if (byRows.status === 'ok' && whole.status === 'ok') {
        assert.deepEqual(byRows.notes, whole.notes, file);
        assertSameInputs(file, byRows.inputs, whole.inputs);
      } else {
        assert.deepEqual(byRows, { ...whole, timings: byRows.timings }, file);
      }
    }
  });

  test('files it cannot read so are declined, and prepared whole', async () => {
    for (const name of DECLINED) {
      const file = join(DICOM_FIXTURES, name);
      assert.equal(openDicomRows(file), null, name);
    }
    const plan = { inputs: SPECS.slice(0, 1), shortSide: 224 };
    const prepared = await prepareImage(join(DICOM_FIXTURES, 'no-window.dcm'), plan);
    assert.equal(prepared.status, 'ok');
    // A bilinear member reads the whole plane: the file is read whole.
    const bilinear = { inputs: [{ ...SPECS[0], resize: 'bilinear' as const }], shortSide: 224 };
    const rows = openDicomRows(join(DICOM_FIXTURES, 'explicit-le.dcm'))!;
    assert.equal(preprocessRows(rows, bilinear.inputs), null);
    rows.close();
    assert.equal((await prepareImage(join(DICOM_FIXTURES, 'explicit-le.dcm'), bilinear)).status, 'ok');
  });

  test('a file with anything after its Pixel Data, or too short, or padding only, is declined', async () => {
    const source = readFileSync(join(DICOM_FIXTURES, 'padding.dcm'));
    // Data set trailing padding (FFFC,FFFC) after the Pixel Data: the whole-file parse reads it.
    const trailer = Buffer.from([0xfc, 0xff, 0xfc, 0xff, 0x4f, 0x42, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0]);
    const trailing = join(scratch.path, 'trailing.dcm');
    writeFileSync(trailing, Buffer.concat([source, trailer]));
    assert.equal(openDicomRows(trailing), null);
    assert.equal((await readRadiograph(trailing)).rows, 240);

    const short = join(scratch.path, 'short.dcm');
    writeFileSync(short, source.subarray(0, source.length - 2));
    assert.equal(openDicomRows(short), null);

    // Every pixel the padding value: the whole-file read refuses the image.
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'padding.dcm'));
    const paddingWord = radiograph.indexed!.padding!.indexOf(1);
    const pixelsAt = source.length - 2 * radiograph.rows * radiograph.columns;
    const empty = Buffer.from(source);
    for (let at = pixelsAt; at < empty.length; at += 2) empty.writeUInt16LE(paddingWord, at);
    const emptyFile = join(scratch.path, 'empty.dcm');
    writeFileSync(emptyFile, empty);
    assert.equal(openDicomRows(emptyFile), null);
    await assert.rejects(readRadiograph(emptyFile), { code: 'INVALID_ATTRIBUTE' });
    const prepared = await prepareImage(emptyFile, { inputs: SPECS.slice(0, 1), shortSide: 224 });
    assert.equal(prepared.status, 'error');
  });

  test('rows are read within the image only', () => {
    const rows = openDicomRows(join(DICOM_FIXTURES, 'explicit-le.dcm'))!;
    try {
      const target = new Uint8Array(2 * rows.radiograph.columns * 2);
      assert.throws(() => rows.read(rows.radiograph.rows - 1, 2, target), RangeError);
      assert.throws(() => rows.read(0, 3, target), RangeError);
      rows.read(rows.radiograph.rows - 2, 2, target);
    } finally {
      rows.close();
    }
  });
});
