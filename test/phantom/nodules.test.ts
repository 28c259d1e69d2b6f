/** The generator's visible nodules (`--nodules visible`): what changes and what does not. */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { visibleNodules } from '../../main/phantom/findings.js';
import type { Lesion } from '../../main/phantom/findings.js';
import { encodePhantom, generatePhantom, writePhantomSet } from '../../main/phantom/index.js';

const SEED = 20261126;

function sameBytes(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

test('standard nodules are the default: naming them changes no byte of the file', () => {
  for (const index of [0, 4, 9]) {
    const plain = generatePhantom(SEED, index, { size: 200 });
    const named = generatePhantom(SEED, index, { size: 200, nodules: 'standard' });
    assert.ok(sameBytes(encodePhantom(plain), encodePhantom(named)), `#${index}`);
  }
  assert.throws(() => generatePhantom(SEED, 0, { nodules: 'bold' as never }), /nodules must be standard or visible/);
});

test('visible nodules keep their rank within floors: solid 0.85 to 1, subsolid 0.45 to 0.85', () => {
  const lesion = (density: number, solid: boolean): Lesion => ({
    side: 'right',
    u: -60,
    v: 120,
    radius: 6,
    density,
    lobes: [{ amp: 0.05, freq: 3, phase: 1 }],
    margin: solid ? 1 : 2,
    solid,
  });
  const drawn = [
    lesion(0.28, true),
    lesion(0.615, true),
    lesion(0.95, true),
    lesion(0.12, false),
    lesion(0.235, false),
    lesion(0.35, false),
  ];
  const visible = visibleNodules(drawn);
  // By hand: floor + (top - floor) * (density - low) / (high - low), solid drawn 0.28 to 0.95, subsolid 0.12 to 0.35.
  const expected = [0.85, 0.925, 1, 0.45, 0.65, 0.85];
  for (const [k, lesionAfter] of visible.entries()) {
    assert.ok(Math.abs(lesionAfter.density - expected[k]) < 1e-12, `#${k}: ${lesionAfter.density} != ${expected[k]}`);
    assert.deepEqual({ ...lesionAfter, density: 0 }, { ...drawn[k], density: 0 }, 'only the density changes');
  }
  assert.equal(drawn[0].density, 0.28, 'the drawn lesions are left as they were');
});

test('visible nodules: the same phantom, findings and masks; nodules denser, masses untouched', () => {
  for (let index = 0; index < 12; index++) {
    const standard = generatePhantom(SEED, index, { size: 200, with: ['nodule'] });
    const visible = generatePhantom(SEED, index, { size: 200, with: ['nodule'], nodules: 'visible' });
    assert.deepEqual(
      [visible.rows, visible.columns, visible.photometric],
      [standard.rows, standard.columns, standard.photometric],
    );
    assert.deepEqual(visible.labels, standard.labels);
    assert.deepEqual(Object.keys(visible.masks), Object.keys(standard.masks));
    for (const [term, mask] of Object.entries(standard.masks))
      assert.ok(sameBytes(mask, visible.masks[term as keyof typeof visible.masks]!), `#${index} ${term} mask`);
    assert.equal(visible.findings.length, standard.findings.length);
    for (const [k, before] of standard.findings.entries()) {
      const after = visible.findings[k];
      const { density, contrast, ...geometry } = before;
      assert.deepEqual({ ...after, density, contrast }, { ...geometry, density, contrast }, `#${index} ${before.term}`);
      if (before.term === 'nodule') {
        assert.ok(
          after.density! >= 0.45 && after.density! >= before.density!,
          `#${index}: nodule density ${after.density}`,
        );
        assert.ok(
          after.contrast! > before.contrast!,
          `#${index}: nodule contrast ${before.contrast} -> ${after.contrast}`,
        );
      } else {
        assert.equal(after.density, density, `#${index} ${before.term} density`);
      }
    }
  }
});

test('without dynamic range compression, visible nodules change pixels only in the lungs and the blur around them', () => {
  let checked = 0;
  for (let index = 0; checked < 3 && index < 60; index++) {
    const standard = generatePhantom(SEED, index, { size: 200, with: ['nodule'] });
    if (standard.acquisition.compression !== 0) continue;
    const visible = generatePhantom(SEED, index, { size: 200, with: ['nodule'], nodules: 'visible' });
    const { rows, columns } = standard;
    // The lungs grown by the detector blur's reach (4 sigma, and a pixel for the sampling).
    const reach = Math.ceil(4 * standard.acquisition.blur) + 1;
    let inLungs = 0;
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) {
        const i = y * columns + x;
        if (standard.stored[i] === visible.stored[i]) continue;
        let near = false;
        for (let dy = -reach; dy <= reach && !near; dy++)
          for (let dx = -reach; dx <= reach && !near; dx++) {
            const yy = y + dy;
            const xx = x + dx;
            near = yy >= 0 && xx >= 0 && yy < rows && xx < columns && standard.lungs[yy * columns + xx] > 0;
          }
        assert.ok(near, `#${index}: pixel (${y}, ${x}) changed outside the lungs`);
        inLungs++;
      }
    }
    assert.ok(inLungs > 0, `#${index}: the option changed nothing`);
    checked++;
  }
  assert.equal(checked, 3, 'three phantoms without range compression among the first 60');
});

test('phantoms.json records visible nodules, and standard sets keep the manifest they had', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'nodules-'));
  try {
    const standard = await writePhantomSet({ out: join(dir, 'standard'), count: 2, seed: SEED, size: 160, jobs: 1 });
    const visible = await writePhantomSet({
      out: join(dir, 'visible'),
      count: 2,
      seed: SEED,
      size: 160,
      jobs: 1,
      nodules: 'visible',
    });
    assert.equal(standard.nodules, 'standard');
    assert.equal(visible.nodules, 'visible');
    const read = async (name: string): Promise<Record<string, unknown>> =>
      JSON.parse(await readFile(join(dir, name, 'phantoms.json'), 'utf8')) as Record<string, unknown>;
    const standardJson = await read('standard');
    const visibleJson = await read('visible');
    assert.equal('nodules' in standardJson, false);
    assert.equal(visibleJson.nodules, 'visible');
    assert.deepEqual(
      Object.keys(visibleJson).filter((key) => key !== 'nodules'),
      Object.keys(standardJson),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
