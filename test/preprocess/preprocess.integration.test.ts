/**
 * The preprocess stage renders and resizes row by row (the full-size plane is never made) and
 * the display rendering uses a lookup table for integer modality values. Both must give exactly
 * what the plain per-pixel, whole-plane implementation gives, value for value, since packs record
 * their results on it and the demonstration pack is trained on it. That implementation is kept
 * here as the reference; the inputs cover every photometric, window and padding case of the
 * phantoms, the DICOM fixtures, real radiographs and reduced-resolution decodes.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { before, describe, test } from 'node:test';
import { decodeRadiograph, readRadiograph, renderDisplay } from '../../main/ingest/index.js';
import type { DisplayWindow, Radiograph } from '../../main/ingest/index.js';
import { linearWindow, lutWindow8 } from '../../main/ingest/pixels/window.js';
import type { InputSpec } from '../../main/packs/manifest.js';
import { IMAGENET_NORMALIZATION, inputSpec } from '../support/input-specs.js';
import { encodePhantomDicom, generatePhantom } from '../../main/phantom/index.js';
import type { PhantomOptions } from '../../main/phantom/index.js';
import { cropRegion, preprocess } from '../../main/preprocess/index.js';
import { DICOM_FIXTURES } from '../support/fixtures.js';
import { sampleNames, SAMPLES_DIR } from '../support/tools.js';

// ---- The reference: the whole-plane, per-pixel implementation ----

function referenceDisplay(radiograph: Radiograph, window: DisplayWindow = radiograph.window): Uint8Array {
  const { rows, columns, pixels, padding, invert, voiLut } = radiograph;
  const out = new Uint8Array(rows * columns);
  const useLut = voiLut !== null && window.source === 'voi-lut';
  for (let i = 0; i < out.length; i++) {
    if (padding && padding[i]) continue;
    const level = useLut ? lutWindow8(pixels[i], voiLut) : linearWindow(pixels[i], window);
    out[i] = Math.min(255, Math.floor(invert ? 255 - level : level));
  }
  return out;
}

function referencePlane(
  radiograph: Radiograph,
  source: InputSpec['source'],
): { values: Float32Array; maxValue: number } {
  if (source === 'display') return { values: Float32Array.from(referenceDisplay(radiograph)), maxValue: 255 };
  const maxValue = 2 ** radiograph.bitsStored - 1;
  const { slope, intercept } = radiograph.rescale;
  const offset = radiograph.signed ? 2 ** (radiograph.bitsStored - 1) : 0;
  const values = new Float32Array(radiograph.pixels.length);
  for (let i = 0; i < values.length; i++) {
    if (radiograph.padding?.[i]) continue;
    const stored = Math.min(maxValue, Math.max(0, (radiograph.pixels[i] - intercept) / slope + offset));
    values[i] = radiograph.invert ? maxValue - stored : stored;
  }
  return { values, maxValue };
}

function areaAxis(
  source: Float32Array,
  lines: number,
  sourceLength: number,
  stride: number,
  start: number,
  length: number,
  target: number,
): Float32Array {
  const out = new Float32Array(lines * target);
  const scale = length / target;
  for (let t = 0; t < target; t++) {
    const from = start + t * scale;
    const to = from + scale;
    const first = Math.floor(from);
    const last = Math.min(sourceLength - 1, Math.ceil(to) - 1);
    // The first and last samples covered in part, those between wholly: their sum is added
    // between the two partial terms (the stage's documented order of additions).
    const weight = (s: number) => Math.min(to, s + 1) - Math.max(from, s);
    for (let line = 0; line < lines; line++) {
      const at = (s: number) => source[line * stride + s];
      let sum = weight(first) * at(first);
      if (last > first) {
        let whole = 0;
        for (let s = first + 1; s < last; s++) whole += at(s);
        sum = sum + whole + weight(last) * at(last);
      }
      out[line * target + t] = sum / scale;
    }
  }
  return out;
}

function referenceInput(radiograph: Radiograph, spec: InputSpec): Float32Array {
  const { rows, columns } = radiograph;
  const { values, maxValue } = referencePlane(radiograph, spec.source);
  const region = cropRegion(rows, columns, spec.crop);
  const horizontal = areaAxis(values, rows, columns, columns, region.x, region.width, spec.width);
  const transposed = new Float32Array(spec.width * rows);
  for (let r = 0; r < rows; r++)
    for (let c = 0; c < spec.width; c++) transposed[c * rows + r] = horizontal[r * spec.width + c];
  const vertical = areaAxis(transposed, spec.width, rows, rows, region.y, region.height, spec.height);
  const plane = spec.width * spec.height;
  const data = new Float32Array(spec.channels * plane);
  for (let channel = 0; channel < spec.channels; channel++) {
    for (let r = 0; r < spec.height; r++) {
      for (let c = 0; c < spec.width; c++) {
        const unit = vertical[c * spec.height + r] / maxValue;
        const n = spec.normalization;
        data[channel * plane + r * spec.width + c] =
          n.kind === 'xrv' ? (2 * unit - 1) * n.range : (unit - n.mean[channel]) / n.std[channel];
      }
    }
  }
  return data;
}

// ---- The inputs ----

async function phantoms(): Promise<Array<{ name: string; radiograph: Radiograph }>> {
  const cases = [
    { photometric: 'MONOCHROME1', window: 'lut', padding: true, bitsStored: 12 },
    { photometric: 'MONOCHROME2', window: 'lut', padding: false, bitsStored: 16 },
    { photometric: 'MONOCHROME2', window: 'single', padding: true, bitsStored: 10 },
    { photometric: 'MONOCHROME1', window: 'multiple', padding: false, bitsStored: 14 },
    { photometric: 'MONOCHROME2', window: 'none', padding: true, bitsStored: 13 },
  ] as const satisfies PhantomOptions[];
  const out = [];
  for (const [i, options] of cases.entries()) {
    const phantom = generatePhantom(7, i, { size: 517 + 64 * i, ...options });
    const radiograph = await decodeRadiograph(`phantom-${i}`, encodePhantomDicom(phantom));
    out.push({ name: `phantom ${JSON.stringify(options)}`, radiograph });
  }
  return out;
}

async function fixtures(): Promise<Array<{ name: string; radiograph: Radiograph }>> {
  const names = [
    'explicit-le.dcm',
    'monochrome1.dcm',
    'voi-lut.dcm',
    'padding.dcm',
    'signed-rescale.dcm',
    'no-window.dcm',
    'rgb.dcm',
    'ybr-jpeg-baseline.dcm',
    'highbits-garbage.dcm',
    'jpeg-extended-12bit.dcm',
  ];
  const out = [];
  for (const name of names) {
    out.push({ name, radiograph: await readRadiograph(join(DICOM_FIXTURES, name)) });
  }
  // A reduced-resolution decode: a JPEG 2000 level.
  out.push({
    name: 'j2k-lossless.dcm at 224',
    radiograph: await readRadiograph(join(DICOM_FIXTURES, 'j2k-lossless.dcm'), { minShortSide: 224 }),
  });
  for (const name of sampleNames().slice(0, 3)) {
    out.push({ name, radiograph: await readRadiograph(join(SAMPLES_DIR, name)) });
  }
  return out;
}

const SPECS: InputSpec[] = [
  inputSpec(),
  inputSpec({ channels: 3, height: 96, width: 128, crop: 'stretch', normalization: IMAGENET_NORMALIZATION }),
  inputSpec({ height: 320, width: 320, source: 'stored' }),
  // Larger than some of the images: area resampling enlarging them.
  inputSpec({ height: 1000, width: 700, source: 'stored', crop: 'stretch' }),
];

describe('preprocessing equals the whole-plane reference', () => {
  let inputs: Array<{ name: string; radiograph: Radiograph }>;
  before(async () => {
    inputs = [...(await phantoms()), ...(await fixtures())];
  });

  test('display renderings (lookup table or per pixel) equal per-pixel windowing', async () => {
    for (const { name, radiograph } of inputs) {
      assert.deepEqual(renderDisplay(radiograph).pixels, referenceDisplay(radiograph), name);
      // Another window than the file's: the table is built for the window asked for.
      const other: DisplayWindow = {
        center: (radiograph.range.min + radiograph.range.max) / 2 + 0.25,
        width: (radiograph.range.max - radiograph.range.min) / 3 + 1,
        source: 'automatic',
      };
      assert.deepEqual(
        renderDisplay(radiograph, other).pixels,
        referenceDisplay(radiograph, other),
        `${name}, another window`,
      );
    }
  });

  test('model inputs: every source, crop, size and normalisation, value for value', async () => {
    for (const { name, radiograph } of inputs) {
      const planes = new Map();
      for (const spec of SPECS) {
        const input = preprocess(radiograph, spec, planes);
        const expected = referenceInput(radiograph, spec);
        assert.equal(input.data.length, expected.length);
        assert.deepEqual(input.data, expected, `${name}: ${spec.source} ${spec.crop} ${spec.width} x ${spec.height}`);
      }
      // Shared work is reused, not recomputed differently: a second member with the first spec.
      assert.deepEqual(preprocess(radiograph, SPECS[0], planes).data, referenceInput(radiograph, SPECS[0]));
    }
  });

  test('bilinear resizes through the word tables equal those over the whole plane', async () => {
    const bilinear = SPECS.map((spec) => ({ ...spec, resize: 'bilinear' as const }));
    for (const { name, radiograph } of inputs) {
      // A copy has the per-pixel arrays but not the word tables (`indexed` is not enumerable).
      const plain: Radiograph = { ...radiograph };
      assert.equal(plain.indexed, undefined);
      for (const spec of bilinear) {
        const input = preprocess(radiograph, spec);
        assert.deepEqual(input.data, preprocess(plain, spec).data, `${name}: ${spec.source} ${spec.crop} bilinear`);
      }
    }
  });

  test('a fractional rescale (values not integers) takes the per-pixel path and still agrees', async () => {
    const radiograph = await readRadiograph(join(DICOM_FIXTURES, 'explicit-le.dcm'));
    const pixels = radiograph.pixels.map((v) => v * 0.37 + 0.125);
    let min = Infinity;
    let max = -Infinity;
    for (const v of pixels) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    const scaled: Radiograph = {
      ...radiograph,
      pixels,
      rescale: { slope: 0.37, intercept: 0.125 },
      range: { min, max },
      window: { center: (min + max) / 2, width: max - min, source: 'automatic' },
    };
    assert.deepEqual(renderDisplay(scaled).pixels, referenceDisplay(scaled));
    for (const spec of SPECS) assert.deepEqual(preprocess(scaled, spec).data, referenceInput(scaled, spec));
  });
});
