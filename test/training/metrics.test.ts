// The evaluation metrics (main/validation's, and models/training/metrics.ts's pointing test) on
// hand-checked cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auc, hierarchicalF1, microF1 } from '../../main/validation/index.js';
import { pointInMask } from '../../models/training/metrics.js';

test('AUC is the Mann-Whitney statistic with ties counted half', () => {
  assert.equal(auc([0, 0, 1, 1], [0.1, 0.2, 0.3, 0.4]), 1);
  assert.equal(auc([1, 1, 0, 0], [0.1, 0.2, 0.3, 0.4]), 0);
  assert.equal(auc([0, 1], [0.5, 0.5]), 0.5);
  // pairs (pos, neg): (0.8, 0.1) 1, (0.8, 0.8) 0.5, (0.3, 0.1) 1, (0.3, 0.8) 0 -> 2.5 / 4
  assert.equal(auc([1, 0, 1, 0], [0.8, 0.1, 0.3, 0.8]), 0.625);
  assert.equal(auc([1, 1], [0.2, 0.3]), null);
});

test('micro-F1 pools every decision', () => {
  const truth = [
    [true, false],
    [false, true],
  ];
  const called = [
    [true, true],
    [false, false],
  ];
  const f1 = microF1(truth, called);
  assert.deepEqual({ tp: f1.tp, fp: f1.fp, fn: f1.fn }, { tp: 1, fp: 1, fn: 1 });
  assert.equal(f1.f1, 0.5);
  assert.equal(microF1([[false]], [[false]]).f1, 1);
});

test('hierarchical F1 extends both sets with ancestors', () => {
  const parents: Record<string, string[]> = { a: ['root'], b: ['root'], c: ['x', 'root'], x: ['root'] };
  const ancestors = (term: string) => parents[term] ?? [];
  // truth {c, x, root}, predicted {a, root}: overlap {root} -> P 1/2, R 1/3
  const f = hierarchicalF1([['c']], [['a']], ancestors);
  assert.deepEqual({ tp: f.tp, fp: f.fp, fn: f.fn }, { tp: 1, fp: 1, fn: 2 });
  assert.equal(f.precision, 0.5);
  assert.ok(Math.abs(f.recall - 1 / 3) < 1e-12);
  // normal images (empty sets) add nothing
  assert.deepEqual(hierarchicalF1([[]], [[]], ancestors).tp, 0);
});

test('pointing: inside, outside, within a tolerance, scaled masks', () => {
  const data = new Uint8Array(100);
  data[5 * 10 + 5] = 255; // one pixel at (5, 5) of a 10 x 10 mask
  const mask = { width: 10, height: 10, data };
  assert.equal(pointInMask(mask, 5.5, 5.9, 10, 10), true);
  assert.equal(pointInMask(mask, 7.5, 5.5, 10, 10), false);
  assert.equal(pointInMask(mask, 7.5, 5.5, 10, 10, 2), true);
  assert.equal(pointInMask(mask, 7.5, 7.5, 10, 10, 2), false); // sqrt(8) > 2
  // a 10 x 10 mask of a 100 x 100 image
  assert.equal(pointInMask(mask, 55, 59, 100, 100), true);
  assert.equal(pointInMask(mask, 65, 55, 100, 100), false);
});
