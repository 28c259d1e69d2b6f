// The nodule conspicuity measure (models/training/nodule-conspicuity.ts) on a hand-computed image.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { conspicuity, filterHalfWidths, quantile } from '../../models/training/nodule-conspicuity.js';

const SIDE = 21;

/** Columns alternate 0 (even) and 1 (odd); a 3 x 3 block of `amplitude` added at (10, 10). */
function stripes(amplitude: number): Float64Array {
  const image = new Float64Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) for (let x = 0; x < SIDE; x++) image[y * SIDE + x] = x % 2;
  for (let y = 9; y <= 11; y++) for (let x = 9; x <= 11; x++) image[y * SIDE + x] += amplitude;
  return image;
}

/** Background may lie anywhere but rows and columns 7 to 13 (the nodule's footprint). */
function allowed(): Uint8Array {
  const mask = new Uint8Array(SIDE * SIDE).fill(1);
  for (let y = 7; y <= 13; y++) for (let x = 7; x <= 13; x++) mask[y * SIDE + x] = 0;
  return mask;
}

test('the filter is a square of about the disc area inside a square twice as wide', () => {
  assert.deepEqual(filterHalfWidths(1.2), { inner: 1, outer: 3 }); // 1.2 * sqrt(pi) / 2 = 1.06
  assert.deepEqual(filterHalfWidths(5), { inner: 4, outer: 9 }); // 4.43
  assert.deepEqual(filterHalfWidths(0.2), { inner: 1, outer: 3 });
});

test("a nodule's d' and percentile against the nodule-free background, by hand", () => {
  // Radius 1.2 px: inner 3 x 3, outer 7 x 7. On the stripes, a centre on an even column sees
  // inner mean 2/3 and ring (28 - 6) / 40 = 0.55: +7/60; on an odd column 1/3 and 18/40: -7/60.
  // Background centres (whole 7 x 7 footprint in the image and clear of rows/columns 7 to 13):
  // the border of the 15 x 15 square of centres 3 to 17, 56 of them, 14 on even columns and 42
  // on odd ones: mean -7/120; deviations 21/120 (14 times) and -7/120 (42 times).
  const mean = -7 / 120;
  const sd = Math.sqrt((14 * (21 / 120) ** 2 + 42 * (7 / 120) ** 2) / 55);
  const lesion = { row: 10, column: 10, radiusPx: 1.2 };

  const bright = conspicuity(stripes(9), SIDE, SIDE, lesion, allowed());
  assert.equal(bright.backgroundCount, 56);
  assert.ok(Math.abs(bright.response - (9 + 7 / 60)) < 1e-12, `response ${bright.response}`);
  assert.ok(Math.abs(bright.backgroundMean - mean) < 1e-12);
  assert.ok(Math.abs(bright.backgroundSd - sd) < 1e-12);
  assert.ok(Math.abs(bright.dPrime - (9 + 7 / 60 - mean) / sd) < 1e-9, `d' ${bright.dPrime}`);
  assert.equal(bright.percentile, 1);

  // No nodule at all: the centre's response is +7/60, tied with the 14 even columns and above the
  // 42 odd ones: (42 + 14 / 2) / 56.
  const none = conspicuity(stripes(0), SIDE, SIDE, lesion, allowed());
  assert.ok(Math.abs(none.response - 7 / 60) < 1e-12);
  assert.equal(none.percentile, 49 / 56);
});

test('quantiles interpolate between order statistics and skip non-finite values', () => {
  assert.equal(quantile([3, 1, 2, NaN], 0.5), 2);
  assert.equal(quantile([0, 10], 0.1), 1);
  assert.ok(Number.isNaN(quantile([], 0.5)));
});
