/**
 * Regression: jpeg-lossless-decoder-js 2.1.2 (our decoder before our own) returned 0 for the last
 * sample of JPEG lossless frames whose entropy-coded data ends in a flat run (as a collimated
 * corner does), because it took the end of the data for a marker one sample early. dcmtk (dcmcjpeg
 * +e1, SV1) writes such frames; each must decode bit-exactly, every sample including the last.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { readRadiograph } from '../../main/ingest/index.js';
import { scratchDir, tool } from '../support/tools.js';

const SV1 = '1.2.840.10008.1.2.4.70';

interface FlatCase {
  columns: number;
  rows: number;
  bitsStored: 12 | 16;
  /** Samples at the end of the frame that hold `flat`; the rest is noise around `base`. */
  flatCount: number;
  base: number;
  flat: number;
  seed: number;
}

const flatCase = (
  columns: number,
  rows: number,
  bitsStored: 12 | 16,
  flatCount: number,
  base: number,
  flat: number,
  k: number,
): FlatCase => ({
  columns,
  rows,
  bitsStored,
  flatCount,
  base,
  flat,
  seed: k * 7919 + 1,
});

// The first eight lost their last sample (decoded as 0) with jpeg-lossless-decoder-js 2.1.2, checked
// against that release when this test was written; the last two are 12- and 16-bit edge values.
const CASES: FlatCase[] = [
  flatCase(95, 64, 12, 393, 1000, 2000, 31),
  flatCase(93, 64, 12, 387, 1000, 2000, 29),
  flatCase(91, 64, 12, 381, 1000, 2000, 27),
  flatCase(81, 64, 12, 330, 1000, 2000, 2),
  flatCase(95, 64, 16, 393, 1000, 2000, 31),
  flatCase(71, 64, 16, 321, 30000, 52000, 7),
  flatCase(92, 64, 16, 384, 30000, 52000, 28),
  flatCase(101, 64, 16, 411, 30000, 52000, 37),
  flatCase(37, 23, 12, 37, 3000, 4095, 4),
  flatCase(70, 48, 16, 140, 1000, 65535, 6),
];

function values({ columns, rows, flatCount, base, flat, seed }: FlatCase): Uint16Array {
  const out = new Uint16Array(rows * columns);
  let state = seed;
  for (let i = 0; i < out.length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff;
    out[i] = i < out.length - flatCount ? base + (state % 50) : flat;
  }
  return out;
}

function dump(c: FlatCase, raw: string): string {
  // dcmdump syntax; `=file` makes dump2dcm read the OW value from a little-endian raw file.
  return [
    '(0002,0010) UI =LittleEndianExplicit',
    '(0008,0016) UI =DigitalXRayImageStorageForPresentation',
    '(0008,0018) UI [2.25.1]',
    '(0008,0060) CS [DX]',
    '(0028,0002) US 1',
    '(0028,0004) CS [MONOCHROME2]',
    `(0028,0010) US ${c.rows}`,
    `(0028,0011) US ${c.columns}`,
    '(0028,0100) US 16',
    `(0028,0101) US ${c.bitsStored}`,
    `(0028,0102) US ${c.bitsStored - 1}`,
    '(0028,0103) US 0',
    `(7fe0,0010) OW =${raw}`,
    '',
  ].join('\n');
}

test('JPEG lossless SV1 frames that end in a flat run decode bit-exactly, last sample included', async (t) => {
  const scratch = scratchDir('cxr-flat-run');
  t.after(() => scratch.remove());
  for (const c of CASES) {
    const name = `${c.columns}x${c.rows}-${c.bitsStored}bit`;
    const expected = values(c);
    const raw = join(scratch.path, `${name}.raw`);
    const source = join(scratch.path, `${name}.dcm`);
    const file = join(scratch.path, `${name}-jll.dcm`);
    writeFileSync(raw, new Uint8Array(expected.buffer));
    writeFileSync(join(scratch.path, `${name}.dump`), dump(c, raw));
    tool('dump2dcm', [join(scratch.path, `${name}.dump`), source]);
    tool('dcmcjpeg', ['+e1', source, file]);

    const radiograph = await readRadiograph(file);
    assert.equal(radiograph.transferSyntax?.uid, SV1, `${name}: transfer syntax`);
    assert.equal(radiograph.rows, c.rows, `${name}: rows`);
    assert.equal(radiograph.columns, c.columns, `${name}: columns`);
    const last = expected.length - 1;
    assert.equal(radiograph.pixels[last], c.flat, `${name}: last sample`);
    for (let i = 0; i < expected.length; i++) {
      if (radiograph.pixels[i] !== expected[i])
        assert.fail(`${name}: sample ${i} is ${radiograph.pixels[i]}, expected ${expected[i]}`);
    }
  }
});
