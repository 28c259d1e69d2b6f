/**
 * The image gate's SSIM against scikit-image's `structural_similarity` (Wang et al.'s settings:
 * Gaussian weights, sigma 1.5, population covariances), on the same arrays.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { ssim } from '../../main/gate/index.js';
import { mulberry32 } from '../../main/phantom/index.js';
import { aptCommand, missingPythonModules, PYTHON } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';

const scratch = scratchDir('ssim');
after(() => scratch.remove());

interface Pair {
  name: string;
  rows: number;
  columns: number;
  range: number;
  a: Float32Array;
  b: Float32Array;
}

function pairs(): Pair[] {
  const next = mulberry32(1234);
  const make = (
    name: string,
    rows: number,
    columns: number,
    range: number,
    f: (y: number, x: number) => [number, number],
  ): Pair => {
    const a = new Float32Array(rows * columns);
    const b = new Float32Array(rows * columns);
    for (let y = 0; y < rows; y++) {
      for (let x = 0; x < columns; x++) [a[y * columns + x], b[y * columns + x]] = f(y, x);
    }
    return { name, rows, columns, range, a, b };
  };
  return [
    make('noise against noise', 40, 56, 2048, () => [next() * 2048 - 1024, next() * 2048 - 1024]),
    make('an image against itself plus noise', 112, 112, 2048, (y, x) => {
      const v = 800 * Math.sin(x / 9) * Math.cos(y / 13);
      return [v, v + (next() - 0.5) * 300];
    }),
    make('a blur-like copy', 64, 48, 2048, (y, x) => {
      const v = (x + y) % 16 < 8 ? 600 : -600;
      return [v, v * 0.6 + 40];
    }),
    make('identical images', 24, 30, 1, (y, x) => [(y * x) / 720, (y * x) / 720]),
  ];
}

test('SSIM equals scikit-image structural_similarity (gaussian, sigma 1.5, population covariance)', () => {
  const missing = missingPythonModules(['numpy', 'skimage'], (code) => spawnSync(PYTHON, ['-c', code]).status === 0);
  assert.deepEqual(
    missing,
    [],
    `${PYTHON} lacks ${missing.join(', ')}: ${aptCommand(['python3-skimage'])} (or npm run test:tools)`,
  );
  const cases = pairs();
  cases.forEach((pair, i) => {
    writeFileSync(join(scratch.path, `${i}-a.f32`), Buffer.from(pair.a.buffer));
    writeFileSync(join(scratch.path, `${i}-b.f32`), Buffer.from(pair.b.buffer));
  });
  const script = `
import json, sys, numpy as np
from skimage.metrics import structural_similarity
cases = json.loads(sys.argv[1])
out = []
for i, (rows, columns, rng) in enumerate(cases):
    a = np.fromfile(f"${scratch.path}/{i}-a.f32", dtype="<f4").reshape(rows, columns).astype(np.float64)
    b = np.fromfile(f"${scratch.path}/{i}-b.f32", dtype="<f4").reshape(rows, columns).astype(np.float64)
    out.append(structural_similarity(a, b, data_range=rng, gaussian_weights=True, sigma=1.5, use_sample_covariance=False))
print(json.dumps(out))
`;
  const run = spawnSync(PYTHON, ['-c', script, JSON.stringify(cases.map((c) => [c.rows, c.columns, c.range]))], {
    encoding: 'utf8',
  });
  assert.equal(run.status, 0, run.stderr);
  const expected = JSON.parse(run.stdout) as number[];
  cases.forEach((pair, i) => {
    const actual = ssim(pair.a, pair.b, pair.rows, pair.columns, pair.range);
    assert.ok(Math.abs(actual - expected[i]) < 1e-9, `${pair.name}: ${actual} against scikit-image's ${expected[i]}`);
  });
  // The cases span the scale, so that agreement is not agreement on a constant.
  assert.ok(Math.min(...expected) < 0.1 && Math.max(...expected) > 0.999, JSON.stringify(expected));
});

test('SSIM refuses images too small for its window', () => {
  assert.throws(() => ssim(new Float32Array(100), new Float32Array(100), 10, 10, 1), RangeError);
});
