/**
 * Conformance: one chest-radiograph-like source encoded by dcmtk, gdcm and OpenJPH in every
 * supported transfer syntax (test/fixtures/dicom/make-fixtures.sh). Lossless encodings must decode
 * bit-exactly; lossy ones within the PSNR the manifest states and close to the encoding tool's own
 * decoder. Displays are checked against dcmtk's dcmj2pnm rendering of the same file.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { readRadiograph, renderDisplay } from '../../main/ingest/index.js';
import { DICOM_FIXTURES, fixtureManifest, luminance, maxAbsDifference, psnr, readRaw } from '../support/fixtures.js';
import type { FixtureEntry } from '../support/fixtures.js';
import { readPgm, scratchDir, tool } from '../support/tools.js';

const decodable = fixtureManifest.fixtures.filter((f) => f.expected !== null);

/**
 * Where our decoder is known to fall short of the encoding tool's own decoder. The JPEG extended
 * 12-bit decoder (Cornerstone's DICOM image loader, the only maintained JavaScript one) applies the
 * 8-bit level shift scaled to 12 bits, so its output sits 15 levels (of 4095) above dcmtk's:
 * measured 48.4 dB against the source where dcmtk reaches 60.5 dB. Stated here so that a fix
 * upstream shows up as a failing bound to tighten.
 */
const KNOWN_DECODER_LIMITS: Record<string, { minPsnrDb: number; maxDifference: number }> = {
  'jpeg-extended-12bit.dcm': { minPsnrDb: 48, maxDifference: 17 },
};
const scratch = scratchDir('conformance');
after(() => scratch.remove());

/** What the modality values must be: stored values (or their luminance) through the rescale. */
function expectedModality(fixture: FixtureEntry, values: ArrayLike<number>): ArrayLike<number> {
  const colour = (fixture.samplesPerPixel ?? 1) === 3;
  const base = colour ? luminance(values) : values;
  const slope = fixture.rescaleSlope ?? 1;
  const intercept = fixture.rescaleIntercept ?? 0;
  if (slope === 1 && intercept === 0) return base;
  return Float64Array.from(base as ArrayLike<number>, (v) => v * slope + intercept);
}

describe('every fixture decodes to its expected values', () => {
  for (const fixture of decodable) {
    test(`${fixture.file}${fixture.lossless ? ' (lossless: bit-exact)' : ' (lossy)'}`, async () => {
      const radiograph = await readRadiograph(join(DICOM_FIXTURES, fixture.file));
      assert.equal(radiograph.rows, fixture.rows);
      assert.equal(radiograph.columns, fixture.columns);
      assert.equal(radiograph.bitsStored, fixture.bitsStored);
      if (fixture.transferSyntaxUID) assert.equal(radiograph.transferSyntax?.uid, fixture.transferSyntaxUID);
      if (fixture.photometric) assert.equal(radiograph.photometric, fixture.photometric);
      const colour = (fixture.samplesPerPixel ?? 1) === 3;
      const expected = expectedModality(fixture, readRaw(fixture.expected!));
      const peak = 2 ** fixture.bitsStored - 1;

      if (fixture.lossless) {
        if (colour) {
          assert.ok(maxAbsDifference(radiograph.pixels, expected) < 1e-3, 'luminance of RGB within float rounding');
        } else {
          const first = Array.prototype.findIndex.call(expected, (v: number, i: number) => radiograph.pixels[i] !== v);
          assert.equal(
            first,
            -1,
            `first mismatch at pixel ${first}: ${radiograph.pixels[first]} vs ${expected[first]}`,
          );
        }
        return;
      }
      // Lossy: against the source, within the stated PSNR...
      const measured = psnr(radiograph.pixels, expected, peak);
      const known = KNOWN_DECODER_LIMITS[fixture.file];
      const minimum = known?.minPsnrDb ?? (colour ? fixture.minLumaPsnrDb! : fixture.minPsnrDb!);
      assert.ok(measured >= minimum, `PSNR ${measured.toFixed(2)} dB below the stated ${minimum} dB`);
      // ...and against the encoding tool's own decoder: the same codestream, another decoder.
      const reference = expectedModality(fixture, readRaw(fixture.lossyReference!));
      const difference = maxAbsDifference(radiograph.pixels, reference);
      const tolerance =
        known?.maxDifference ??
        (fixture.transferSyntaxUID?.endsWith('.4.91') || fixture.transferSyntaxUID?.endsWith('.4.81') ? 0 : 2);
      assert.ok(
        difference <= tolerance + 1e-3,
        `differs from ${fixture.lossyReference!.decoder} by up to ${difference} (allowed ${tolerance}: JPEG decoders' IDCTs may round differently)`,
      );
    });
  }
});

describe('pixel semantics', () => {
  test('MONOCHROME1 keeps its stored values and is displayed inverted', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'monochrome1.dcm'));
    assert.equal(radiograph.invert, true);
    const normal = await readRadiograph(join(DICOM_FIXTURES, 'explicit-le.dcm'));
    assert.equal(normal.invert, false);
    // Bone (bright in MONOCHROME2) must be bright in the MONOCHROME1 rendering too.
    const a = renderDisplay(radiograph).pixels;
    const b = renderDisplay(normal).pixels;
    assert.ok(maxAbsDifference(a, b) <= 1, 'the inverted storage renders like the original');
  });

  test('signed pixels with Rescale Slope 0.5 and Intercept -100', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'signed-rescale.dcm'));
    assert.equal(radiograph.signed, true);
    assert.deepEqual(radiograph.rescale, { slope: 0.5, intercept: -100 });
    const stored = readRaw({ raw: 'source/signed-rescale.raw', dtype: 'int16' });
    assert.ok(
      Array.prototype.some.call(stored, (v: number) => v < 0),
      'the fixture has negative stored values',
    );
    stored.forEach((v, i) => {
      if (radiograph.pixels[i] !== v * 0.5 - 100)
        assert.fail(`pixel ${i}: ${radiograph.pixels[i]} != ${v} * 0.5 - 100`);
    });
  });

  test('the first of several Window Center/Width values is used', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'explicit-le.dcm'));
    assert.deepEqual(radiograph.window, { center: 2048, width: 4096, source: 'dicom-window' });
  });

  test('VOI LUT Sequence is read and applied', async () => {
    const fixture = fixtureManifest.fixtures.find((f) => f.file === 'voi-lut.dcm')!;
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'voi-lut.dcm'));
    assert.equal(radiograph.window.source, 'voi-lut');
    const lut = radiograph.voiLut!;
    const [entries, first, bits] = fixture.voiLut!.descriptor;
    assert.equal(lut.data.length, entries);
    assert.equal(lut.firstMapped, first);
    assert.equal(lut.bitsPerEntry, bits);
    assert.deepEqual([...lut.data], [...readRaw(fixture.voiLut!.data)]);
    const display = renderDisplay(radiograph).pixels;
    const source = readRaw(fixture.expected!);
    source.forEach((v, i) => {
      const expected = Math.floor((lut.data[Math.min(entries - 1, Math.max(0, v - first))] / (2 ** bits - 1)) * 255);
      if (display[i] !== expected) assert.fail(`display pixel ${i}: ${display[i]} != LUT value ${expected}`);
    });
  });

  test('automatic window without window attributes: 0.5th to 99.5th percentile', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'no-window.dcm'));
    assert.equal(radiograph.window.source, 'automatic');
    const sorted = Float64Array.from(readRaw({ raw: 'source/source-12bit.raw', dtype: 'uint16' })).sort();
    const low = sorted[Math.floor(0.005 * sorted.length)];
    const high = sorted[Math.floor(0.995 * sorted.length)];
    const { center, width } = radiograph.window;
    assert.ok(
      Math.abs(center - width / 2 - low) <= 2,
      `window starts at ${center - width / 2}, the 0.5th percentile is ${low}`,
    );
    assert.ok(
      Math.abs(center + width / 2 - high) <= 2,
      `window ends at ${center + width / 2}, the 99.5th percentile is ${high}`,
    );
  });

  test('Pixel Padding Value is kept out of the range and shown black', async () => {
    const fixture = fixtureManifest.fixtures.find((f) => f.file === 'padding.dcm')!;
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'padding.dcm'));
    const border = fixture.paddingBorder!;
    const { rows, columns } = radiograph;
    const padding = radiograph.padding!;
    let inside = Infinity;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < columns; c++) {
        const edge = r < border || c < border || r >= rows - border || c >= columns - border;
        assert.equal(padding[r * columns + c], edge ? 1 : 0, `padding flag at ${r},${c}`);
        if (!edge) inside = Math.min(inside, radiograph.pixels[r * columns + c]);
      }
    }
    assert.equal(radiograph.range.min, inside, 'the padding value is not the minimum');
    const display = renderDisplay(radiograph).pixels;
    assert.equal(display[0], 0);
    assert.equal(display[rows * columns - 1], 0);
  });

  test('multi-frame objects give their first frame', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'multiframe.dcm'));
    assert.equal(radiograph.metadata.numberOfFrames, 2);
    const source = readRaw({ raw: 'source/source-12bit.raw', dtype: 'uint16' });
    assert.equal(maxAbsDifference(radiograph.pixels, source), 0);
  });

  test('metadata later stages need; no patient name or ID read', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'explicit-le.dcm'));
    const m = radiograph.metadata;
    assert.equal(m.modality, 'DX');
    assert.equal(m.bodyPartExamined, 'CHEST');
    assert.equal(m.viewPosition, 'PA');
    assert.ok(m.sopInstanceUID && m.studyInstanceUID && m.seriesInstanceUID);
    assert.ok(m.pixelSpacing && m.pixelSpacing[0] > 0);
    assert.ok(m.patientSex && m.patientAge);
    assert.doesNotMatch(JSON.stringify(radiograph.metadata), /FIXTURE|FIX-0001/);
  });

  test('JPEG 2000 and HTJ2K decode a lower resolution level on request', async () => {
    for (const file of ['j2k-lossless.dcm', 'htj2k-lossless.dcm']) {
      const radiograph = await readRadiograph(join(DICOM_FIXTURES, file), { minShortSide: 60 });
      assert.deepEqual(radiograph.resolution, { level: 2, fullRows: 240, fullColumns: 288 }, file);
      assert.equal(radiograph.rows, 60);
      assert.equal(radiograph.columns, 72);
      // Level 2 of a reversible 5/3 wavelet is a smoothed quarter-size image of the same anatomy.
      const full = readRaw({ raw: 'source/source-12bit.raw', dtype: 'uint16' });
      let sum = 0;
      for (let r = 0; r < 60; r++) {
        for (let c = 0; c < 72; c++) {
          let block = 0;
          for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) block += full[(r * 4 + dy) * 288 + c * 4 + dx];
          sum += Math.abs(radiograph.pixels[r * 72 + c] - block / 16);
        }
      }
      assert.ok(sum / (60 * 72) < 120, `${file}: mean difference from 4x4 block means ${sum / (60 * 72)}`);
    }
  });
});

describe('display rendering agrees with dcmtk (dcmj2pnm) within one grey level', () => {
  for (const [file, voi] of [
    ['explicit-le.dcm', '+Wi'],
    ['monochrome1.dcm', '+Wi'],
    ['signed-rescale.dcm', '+Wi'],
    ['padding.dcm', '+Wi'],
    ['voi-lut.dcm', '+Wl'],
    ['jpeg-lossless-sv1.dcm', '+Wi'],
  ] as const) {
    test(file, async () => {
      const pgm = join(scratch.path, `${file}.pgm`);
      tool('dcmj2pnm', [voi, '1', '+op', join(DICOM_FIXTURES, file), pgm]);
      const reference = readPgm(pgm);
      const display = renderDisplay(await readRadiograph(join(DICOM_FIXTURES, file)));
      assert.equal(reference.width, display.columns);
      assert.equal(reference.height, display.rows);
      assert.ok(maxAbsDifference(display.pixels, reference.values) <= 1);
    });
  }
});
