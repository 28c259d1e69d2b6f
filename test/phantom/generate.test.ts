/** The phantom generator: determinism, ground truth consistency, prevalence, findings that change the image. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { encodePhantom, generatePhantom, LABEL_COLUMNS, PHANTOM_TERMS, studyOf } from '../../main/phantom/index.js';
import type { Phantom, PhantomTerm } from '../../main/phantom/index.js';

const SEED = 20261126;

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('the same seed and index give the same values, ground truth and file bytes', () => {
  for (const format of ['dicom', 'png'] as const) {
    for (const index of [0, 3, 17]) {
      const a = generatePhantom(SEED, index, { format, size: 256 });
      generatePhantom(SEED + 1, index, { format, size: 256 }); // nothing is carried between calls
      const b = generatePhantom(SEED, index, { format, size: 256 });
      assert.ok(sameBytes(a.stored, b.stored), `${format} #${index}: stored values`);
      assert.ok(sameBytes(encodePhantom(a), encodePhantom(b)), `${format} #${index}: file bytes`);
      assert.deepEqual(a.labels, b.labels);
      assert.deepEqual(a.findings, b.findings);
      for (const term of PHANTOM_TERMS) {
        assert.equal(Boolean(a.masks[term]), Boolean(b.masks[term]));
        if (a.masks[term]) assert.ok(sameBytes(a.masks[term]!, b.masks[term]!), `${format} #${index}: ${term} mask`);
      }
    }
  }
  const other = generatePhantom(SEED + 1, 3, { size: 256 });
  const same = generatePhantom(SEED, 3, { size: 256 });
  assert.ok(!sameBytes(other.stored, same.stored) || other.rows !== same.rows, 'another seed gives another image');
});

function maskSum(mask: Uint8Array | undefined): number {
  let sum = 0;
  if (mask) for (const value of mask) sum += value;
  return sum;
}

test('labels and masks agree: a mask is non-empty exactly when its label is 1, normal when there is none', () => {
  for (let index = 0; index < 60; index++) {
    const phantom = generatePhantom(SEED, index, { size: 192 });
    assert.deepEqual(Object.keys(phantom.labels), [...LABEL_COLUMNS]);
    let any = false;
    for (const term of PHANTOM_TERMS) {
      const mask = phantom.masks[term];
      const label = phantom.labels[term];
      if (mask) {
        assert.equal(mask.length, phantom.rows * phantom.columns);
        assert.ok(
          mask.every((v) => v === 0 || v === 1),
          'masks hold 0 and 1',
        );
      }
      assert.equal(maskSum(mask) > 0, label === 1, `#${index} ${term}: label ${label}, mask pixels ${maskSum(mask)}`);
      assert.equal(
        phantom.findings.some((f) => f.term === term),
        label === 1,
        `#${index} ${term}: a finding record iff present`,
      );
      any ||= label === 1;
    }
    assert.equal(phantom.labels.normal, any ? 0 : 1);
    for (const record of phantom.findings) {
      assert.ok(record.centrePx.row >= 0 && record.centrePx.row < phantom.rows, 'centre row inside the image');
      assert.ok(
        record.centrePx.column >= 0 && record.centrePx.column < phantom.columns,
        'centre column inside the image',
      );
      assert.ok(record.radiusMm > 0 && record.radiusPx > 0);
    }
  }
});

test('the first eight images of every set cover normal and each finding', () => {
  for (const seed of [1, SEED]) {
    assert.equal(generatePhantom(seed, 0, { size: 160 }).labels.normal, 1);
    PHANTOM_TERMS.forEach((term, k) =>
      assert.equal(generatePhantom(seed, k + 1, { size: 160 }).labels[term], 1, `image ${k + 1} has ${term}`),
    );
  }
});

test('prevalence: each finding in 10 to 30 % of images, about 30 % normal, combinations present', () => {
  const counts = Object.fromEntries(LABEL_COLUMNS.map((c) => [c, 0])) as Record<string, number>;
  let combined = 0;
  const n = 300;
  for (let index = 8; index < 8 + n; index++) {
    const { labels } = generatePhantom(7, index, { size: 128 });
    for (const column of LABEL_COLUMNS) counts[column] += labels[column];
    if (PHANTOM_TERMS.filter((t) => labels[t]).length >= 2) combined++;
  }
  for (const term of PHANTOM_TERMS) {
    const p = counts[term] / n;
    assert.ok(p >= 0.1 && p <= 0.3, `${term}: ${(100 * p).toFixed(1)} %`);
  }
  const normal = counts.normal / n;
  assert.ok(normal >= 0.2 && normal <= 0.4, `normal: ${(100 * normal).toFixed(1)} %`);
  assert.ok(combined / n > 0.1, `combinations: ${combined}`);
});

/** Images (at most `limit`) of a seed that carry `term`: the guaranteed one, then the first others found. */
function carriers(term: PhantomTerm, limit: number): number[] {
  const found = [PHANTOM_TERMS.indexOf(term) + 1];
  for (let index = 8; found.length < limit && index < 200; index++) {
    if (generatePhantom(SEED, index, { size: 128 }).labels[term]) found.push(index);
  }
  return found;
}

/** Mean of (with - without) inside the mask, in units of the full stored range. */
function meanChange(withIt: Phantom, without: Phantom, mask: Uint8Array): number {
  const full = 2 ** withIt.bitsStored - 1;
  let sum = 0;
  let count = 0;
  for (let i = 0; i < mask.length; i++) {
    if (!mask[i]) continue;
    sum += withIt.stored[i] - without.stored[i];
    count++;
  }
  return sum / count / full;
}

test('every finding changes the image inside its mask, against the same phantom without it', () => {
  for (const term of PHANTOM_TERMS) {
    const changes: number[] = [];
    for (const index of carriers(term, 4)) {
      const options = { size: 320, photometric: 'MONOCHROME2' as const };
      const withIt = generatePhantom(SEED, index, options);
      const without = generatePhantom(SEED, index, { ...options, without: [term] });
      assert.equal(withIt.labels[term], 1);
      assert.equal(without.labels[term], 0);
      assert.equal(without.masks[term], undefined);
      // Nothing else about the phantom changes.
      assert.deepEqual(
        [without.rows, without.columns, without.bitsStored],
        [withIt.rows, withIt.columns, withIt.bitsStored],
      );
      for (const other of PHANTOM_TERMS) if (other !== term) assert.equal(without.labels[other], withIt.labels[other]);
      const change = meanChange(withIt, without, withIt.masks[term]!);
      // Opacities are brighter (MONOCHROME2: more attenuation, higher values); a pneumothorax darker.
      const signed = term === 'pneumothorax' ? -change : change;
      assert.ok(signed > 0, `${term} #${index}: mean change ${change}`);
      changes.push(signed);
    }
    const mean = changes.reduce((a, b) => a + b, 0) / changes.length;
    assert.ok(
      mean > 0.004,
      `${term}: mean change over ${changes.length} images is ${(100 * mean).toFixed(2)} % of the range`,
    );
  }
});

test('studies group 1 to 3 consecutive images of one patient', () => {
  const seen = new Map<number, number[]>();
  for (let index = 0; index < 40; index++) {
    const { study } = studyOf(SEED, index);
    seen.set(study, [...(seen.get(study) ?? []), index]);
  }
  const studies = [...seen.keys()];
  assert.deepEqual(
    studies,
    [...studies].sort((a, b) => a - b),
    'study numbers increase with the index',
  );
  assert.ok(studies.length > 40 / 3 && studies.length < 40, `${studies.length} studies`);
  for (const [, indices] of [...seen].slice(0, -1)) {
    assert.ok(indices.length >= 1 && indices.length <= 3);
    const phantoms = indices.map((i) => generatePhantom(SEED, i, { size: 128 }));
    const first = phantoms[0].study;
    assert.match(first.patientName, /^PHANTOM\^\d+$/);
    assert.match(first.patientID, /^PHANTOM-\d+$/);
    assert.match(first.studyInstanceUID, /^2\.25\.[1-9]\d{0,38}$/);
    for (const p of phantoms) {
      assert.equal(p.study.studyInstanceUID, first.studyInstanceUID);
      assert.equal(p.study.patientID, first.patientID);
      assert.equal(p.study.sex, first.sex);
      assert.equal(p.study.age, first.age);
    }
    assert.equal(new Set(phantoms.map((p) => p.study.sopInstanceUID)).size, phantoms.length);
  }
});

test('options are checked', () => {
  assert.throws(() => generatePhantom(-1, 0), RangeError);
  assert.throws(() => generatePhantom(1, 0.5), RangeError);
  assert.throws(() => generatePhantom(1, 0, { size: 64 }), RangeError);
  const p = generatePhantom(1, 2, { size: 400 });
  assert.equal(Math.max(p.rows, p.columns), 400);
  assert.ok(Math.min(p.rows, p.columns) >= 0.79 * 400 && Math.min(p.rows, p.columns) < 400, 'a non-square radiograph');
  const normal = generatePhantom(SEED, 0, { size: 200 });
  const forced = generatePhantom(SEED, 0, { size: 200, with: ['nodule', 'pleural effusion'] });
  assert.equal(normal.labels.normal, 1);
  assert.deepEqual([forced.labels.nodule, forced.labels['pleural effusion'], forced.labels.normal], [1, 1, 0]);
  assert.ok(maskSum(forced.masks.nodule) > 0 && maskSum(forced.masks['pleural effusion']) > 0);
});
