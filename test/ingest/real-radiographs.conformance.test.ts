/**
 * The 40 real chest radiographs in ../shared: every one loads; our PNG decoding matches netpbm's
 * bit for bit; wrapped into DICOM by gdcm (and transcoded losslessly by gdcm and dcmtk) they decode
 * to the same pixels.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { readRadiograph } from '../../main/ingest/index.js';
import { readPgm, sampleNames, SAMPLES_DIR, scratchDir, tool, toolBytes } from '../support/tools.js';

const samples = sampleNames();
const scratch = scratchDir('cxr-real');
after(() => scratch.remove());

function assertSamePixels(actual: Float32Array, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: pixel count`);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) assert.fail(`${what}: pixel ${i} is ${actual[i]}, expected ${expected[i]}`);
  }
}

before(() => assert.equal(samples.length, 40, 'the shared set holds 40 radiographs'));

test('all 40 real radiographs load with their PNG dimensions and netpbm-identical pixels', async () => {
  for (const name of samples) {
    const file = join(SAMPLES_DIR, name);
    const pgm = join(scratch.path, `${name}.pgm`);
    writeFileSync(pgm, toolBytes('pngtopnm', [file]));
    const reference = readPgm(pgm);
    const radiograph = await readRadiograph(file);
    assert.equal(radiograph.format, 'png');
    assert.equal(radiograph.columns, reference.width, `${name} width`);
    assert.equal(radiograph.rows, reference.height, `${name} height`);
    assert.equal(radiograph.bitsStored, 8);
    assertSamePixels(radiograph.pixels, reference.values, name);
    assert.ok(radiograph.range.max > radiograph.range.min, `${name} is not flat`);
  }
});

test('DICOM wrappings of real radiographs (gdcmimg, then gdcm JPEG 2000 and dcmtk JPEG lossless) decode to the same pixels', async () => {
  for (const name of samples.slice(0, 6)) {
    const file = join(SAMPLES_DIR, name);
    const base = join(scratch.path, name.replace('.png', ''));
    writeFileSync(`${base}.pgm`, toolBytes('pngtopnm', [file]));
    const reference = readPgm(`${base}.pgm`);
    tool('gdcmimg', [`${base}.pgm`, `${base}.dcm`]);
    tool('gdcmconv', ['--j2k', `${base}.dcm`, `${base}-j2k.dcm`]);
    tool('dcmcjpeg', ['+e1', `${base}.dcm`, `${base}-jll.dcm`]);
    for (const [variant, syntax] of [
      ['', '1.2.840.10008.1.2.1'],
      ['-j2k', '1.2.840.10008.1.2.4.90'],
      ['-jll', '1.2.840.10008.1.2.4.70'],
    ] as const) {
      const radiograph = await readRadiograph(`${base}${variant}.dcm`);
      assert.equal(radiograph.format, 'dicom');
      assert.equal(radiograph.transferSyntax?.uid, syntax, `${name}${variant} transfer syntax`);
      assert.equal(radiograph.rows, reference.height);
      assert.equal(radiograph.columns, reference.width);
      assertSamePixels(radiograph.pixels, reference.values, `${name}${variant}`);
    }
  }
});
