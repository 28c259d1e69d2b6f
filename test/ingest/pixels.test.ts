/** Pixel semantics in isolation: masking, sign, rescale, windows, resolution levels, codestream headers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PixelDescription } from '../../main/ingest/dicom/attributes.js';
import { chooseLevel } from '../../main/ingest/codecs/jpeg2000.js';
import { readJ2kHeader, readJpegHeader } from '../../main/ingest/codecs/codestream.js';
import { storedValueReader, toModality } from '../../main/ingest/pixels/modality.js';
import { automaticWindow, linearWindow, lutWindow8 } from '../../main/ingest/pixels/window.js';

function description(overrides: Partial<PixelDescription>): PixelDescription {
  return {
    rows: 1,
    columns: 4,
    samplesPerPixel: 1,
    photometric: 'MONOCHROME2',
    planarConfiguration: 0,
    bitsAllocated: 16,
    bitsStored: 12,
    highBit: 11,
    signed: false,
    numberOfFrames: 1,
    rescaleSlope: 1,
    rescaleIntercept: 0,
    padding: null,
    ...overrides,
  };
}

test('bits above Bits Stored are masked off', () => {
  const read = storedValueReader(description({}));
  assert.equal(read(0xf123), 0x123);
  assert.equal(read(0x0fff), 4095);
});

test('High Bit above Bits Stored - 1 shifts the stored bits down', () => {
  const read = storedValueReader(description({ bitsStored: 12, highBit: 15 }));
  assert.equal(read(0xabc0), 0xabc);
});

test('signed values are sign-extended from Bits Stored', () => {
  const read12 = storedValueReader(description({ signed: true }));
  assert.equal(read12(0x0fff), -1);
  assert.equal(read12(0x0800), -2048);
  assert.equal(read12(0x07ff), 2047);
  assert.equal(read12(0xf7ff), 2047, 'garbage above bit 11 does not leak into the sign');
  const read16 = storedValueReader(description({ signed: true, bitsStored: 16, highBit: 15 }));
  assert.equal(read16(0x8000), -32768);
});

test('rescale, padding and range', () => {
  const image = toModality(
    {
      rows: 1,
      columns: 4,
      samples: new Uint16Array([0, 10, 20, 4095]),
      planar: false,
      convertedToRgb: false,
      level: 0,
    },
    description({ rescaleSlope: 0.5, rescaleIntercept: -100, padding: { from: 0, to: 0 } }),
  );
  assert.deepEqual([...image.pixels], [-100, -95, -90, 1947.5]);
  assert.deepEqual([...(image.padding ?? [])], [1, 0, 0, 0]);
  assert.deepEqual(image.range, { min: -95, max: 1947.5 }, 'padding is outside the range');
});

test('large padded images (table lookup per sample word) give what per-pixel reading gives', () => {
  const cases: Array<{ samples: Uint16Array | Int16Array | Uint8Array; d: Partial<PixelDescription> }> = [
    { samples: new Uint16Array(300 * 300), d: { bitsStored: 12, highBit: 11, padding: { from: 0, to: 3 } } },
    {
      samples: new Int16Array(300 * 300),
      d: {
        bitsStored: 14,
        highBit: 15,
        signed: true,
        rescaleSlope: 0.25,
        rescaleIntercept: -7,
        padding: { from: -8192, to: -8000 },
      },
    },
    {
      samples: new Uint8Array(300 * 300),
      d: { bitsAllocated: 8, bitsStored: 7, highBit: 6, padding: { from: 120, to: 127 } },
    },
  ];
  for (const [n, { samples, d }] of cases.entries()) {
    // Every word value, garbage above the stored bits included, in a scrambled order.
    for (let i = 0; i < samples.length; i++)
      samples[i] = (i * 40503) & (samples.BYTES_PER_ELEMENT === 1 ? 0xff : 0xffff);
    const desc = description({ rows: 300, columns: 300, ...d });
    const image = toModality(
      { rows: 300, columns: 300, samples, planar: false, convertedToRgb: false, level: 0 },
      desc,
    );
    const read = storedValueReader(desc);
    const mask = samples.BYTES_PER_ELEMENT === 1 ? 0xff : 0xffff;
    let min = Infinity;
    let max = -Infinity;
    for (let i = 0; i < samples.length; i++) {
      const value = read(samples[i] & mask);
      const modality = Math.fround(value * desc.rescaleSlope + desc.rescaleIntercept);
      assert.equal(image.pixels[i], modality, `case ${n}, pixel ${i}`);
      const padded = value >= desc.padding!.from && value <= desc.padding!.to;
      assert.equal(image.padding![i], padded ? 1 : 0, `case ${n}, padding at ${i}`);
      if (!padded) {
        min = Math.min(min, value * desc.rescaleSlope + desc.rescaleIntercept);
        max = Math.max(max, value * desc.rescaleSlope + desc.rescaleIntercept);
      }
    }
    assert.deepEqual(image.range, { min, max }, `case ${n}`);
  }
});

test('large grey images stay as sample words: the float32 values, the window and copies agree', () => {
  for (const padding of [null, { from: 0, to: 40 }]) {
    const samples = new Uint16Array(400 * 300);
    for (let i = 0; i < samples.length; i++) samples[i] = (i * 2654435761) >>> 20; // 12 bits, scrambled
    const desc = description({
      rows: 300,
      columns: 400,
      bitsStored: 12,
      highBit: 11,
      rescaleSlope: 0.5,
      rescaleIntercept: -3,
      padding,
    });
    const image = toModality(
      { rows: 300, columns: 400, samples, planar: false, convertedToRgb: false, level: 0 },
      desc,
    );
    assert.ok(image.indexed, 'a 16-bit grey image this large is indexed by word');
    assert.equal(image.indexed.words, samples, 'the codec words themselves, not a copy');
    const read = storedValueReader(desc);
    for (let i = 0; i < samples.length; i += 97)
      assert.equal(image.pixels[i], Math.fround(read(samples[i]) * 0.5 - 3), `pixel ${i}`);
    assert.deepEqual(
      automaticWindow(image.indexed, null, image.range),
      automaticWindow(image.pixels, image.padding, image.range),
    );
    assert.equal(image.padding === null, padding === null, 'a per-pixel mask exactly when some pixel is padding');
    const copy = { ...image };
    assert.equal('indexed' in copy, false, 'a copy (which may swap its pixels) does not carry the word table');
    assert.deepEqual(copy.pixels, image.pixels);
  }
});

test('colour reduces to Rec. 601 luminance, interleaved or planar', () => {
  const rgb = new Uint8Array([255, 0, 0, 0, 255, 0, 0, 0, 255, 10, 20, 30]);
  const colour = description({ samplesPerPixel: 3, photometric: 'RGB', bitsAllocated: 8, bitsStored: 8, highBit: 7 });
  const interleaved = toModality(
    { rows: 1, columns: 4, samples: rgb, planar: false, convertedToRgb: false, level: 0 },
    colour,
  );
  const expected = [0.299 * 255, 0.587 * 255, 0.114 * 255, 0.299 * 10 + 0.587 * 20 + 0.114 * 30];
  interleaved.pixels.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-3, `pixel ${i}`));
  const planarSamples = new Uint8Array([255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30]);
  const planar = toModality(
    { rows: 1, columns: 4, samples: planarSamples, planar: true, convertedToRgb: false, level: 0 },
    colour,
  );
  planar.pixels.forEach((value, i) => assert.ok(Math.abs(value - expected[i]) < 1e-3, `planar pixel ${i}`));
});

test('linear window follows PS3.3 C.11.2.1.2.1', () => {
  const window = { center: 2048, width: 4096, source: 'dicom-window' as const };
  assert.equal(linearWindow(0, window), 0);
  assert.equal(linearWindow(4095, window), 255);
  // Center maps to the middle: ((2048 - 2047.5) / 4095 + 0.5) * 255
  assert.ok(Math.abs(linearWindow(2048, window) - (0.5 / 4095 + 0.5) * 255) < 1e-9);
  assert.equal(linearWindow(100, { center: 40, width: 1, source: 'dicom-window' }), 255);
  assert.equal(linearWindow(39, { center: 40, width: 1, source: 'dicom-window' }), 0);
});

test('VOI LUT lookup clamps below the first and above the last entry', () => {
  const lut = { firstMapped: 100, bitsPerEntry: 12, data: new Uint16Array([0, 1000, 4095]), explanation: null };
  assert.equal(lutWindow8(50, lut), 0);
  assert.equal(lutWindow8(101, lut), (1000 / 4095) * 255);
  assert.equal(lutWindow8(5000, lut), 255);
});

test('automatic window ignores padding and outliers', () => {
  const pixels = new Float32Array(10_000);
  for (let i = 0; i < pixels.length; i++) pixels[i] = 1000 + (i % 1000);
  pixels[0] = 60_000; // a burned-in marker
  const padding = new Uint8Array(pixels.length);
  for (let i = 1; i < 2000; i++) {
    pixels[i] = -5000;
    padding[i] = 1;
  }
  const window = automaticWindow(pixels, padding, { min: 1000, max: 60_000 });
  assert.equal(window.source, 'automatic');
  assert.ok(
    window.center - window.width / 2 >= 990 && window.center - window.width / 2 < 1030,
    `low end ${window.center - window.width / 2}`,
  );
  assert.ok(
    window.center + window.width / 2 > 1950 && window.center + window.width / 2 < 2050,
    `high end ${window.center + window.width / 2}`,
  );
});

test('resolution level keeps the shorter side at or above the request', () => {
  assert.equal(chooseLevel(2500, 2048, 5, 512), 2); // 2048 -> 1024 -> 512
  assert.equal(chooseLevel(2500, 2048, 5, 224), 3); // 256 >= 224, 128 is not
  assert.equal(chooseLevel(2500, 2048, 1, 224), 1, 'never beyond the decompositions present');
  assert.equal(chooseLevel(2500, 2048, 5, undefined), 0);
  assert.equal(chooseLevel(300, 300, 5, 512), 0, 'never upsampled');
});

test('codestream headers: JPEG SOF and JPEG 2000 SIZ', () => {
  const jpeg = new Uint8Array([
    0xff, 0xd8, 0xff, 0xe0, 0x00, 0x04, 0x00, 0x00, 0xff, 0xc3, 0x00, 0x0b, 0x0c, 0x00, 0xf0, 0x01, 0x20, 0x01, 0, 0, 0,
  ]);
  assert.deepEqual(readJpegHeader(jpeg), { precision: 12, height: 240, width: 288, components: 1 });
  const siz = new Uint8Array(48);
  siz.set([0xff, 0x4f, 0xff, 0x51, 0x00, 0x29, 0x00, 0x00]);
  new DataView(siz.buffer).setUint32(8, 288);
  new DataView(siz.buffer).setUint32(12, 240);
  siz[40] = 0;
  siz[41] = 1;
  siz[42] = 11;
  assert.deepEqual(readJ2kHeader(siz), { width: 288, height: 240, components: 1, precision: 12 });
  assert.throws(() => readJpegHeader(new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00])), { code: 'TRUNCATED' });
});
