// How choose-gate.ts places a gate's bound (models/training/choose-gate.ts), on hand-checked cases.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkName } from '../../main/gate/index.js';
import { bound, plannedCheck, refusedCount, SITE_END } from '../../models/training/choose-gate.js';

test('a bound lies half-way between the k-th and the (k+1)-th most extreme score', () => {
  const scores = [0.9, 0.5, 0.7, 0.6, 0.95];
  // lowest 0.5, then 0.6; highest 0.95, 0.9, then 0.7
  assert.ok(Math.abs(bound(scores, 1, 'low')! - 0.55) < 1e-12);
  assert.ok(Math.abs(bound(scores, 2, 'high')! - 0.8) < 1e-12);
  assert.equal(bound(scores, 0, 'high'), null);
  assert.throws(() => bound(scores, 5, 'low'), /cannot refuse 5 of 5/);
  assert.deepEqual(scores, [0.9, 0.5, 0.7, 0.6, 0.95], 'the scores are left in their order');
});

test("the site rule refuses the share of the site's images rounded down, at least one", () => {
  assert.equal(refusedCount(500, 0.01), 5);
  assert.equal(refusedCount(100, 0.01), 1);
  assert.equal(refusedCount(199, 0.01), 1);
  assert.equal(refusedCount(5, 0.2), 1);
  assert.equal(refusedCount(100, 0.07), 7); // 0.07 x 100 is 7.000000000000001 in doubles
  assert.equal(refusedCount(100, 0.29), 29); // 0.29 x 100 is 28.999999999999996
  assert.throws(
    () => refusedCount(99, 0.01),
    /99 images cannot place a bound that refuses 1 % of them: give at least 100/,
  );
  assert.throws(
    () => refusedCount(14, 0.07),
    /14 images cannot place a bound that refuses 7 % of them: give at least 15/,
  );
  assert.throws(() => refusedCount(10, 0), /between 0 and 1/);
  assert.throws(() => refusedCount(10, 1), /between 0 and 1/);
  assert.throws(() => refusedCount(10, Number.NaN), /between 0 and 1/);
});

test('every check the pack format knows has a name and an unfavourable end', () => {
  assert.deepEqual(SITE_END, {
    'reconstruction-ssim': 'low',
    'reconstruction-rmse': 'high',
    'feature-distance': 'high',
    energy: 'low',
    disagreement: 'high',
  });
  for (const name of Object.keys(SITE_END)) assert.equal(checkName(plannedCheck(name, 'gate')), name);
  assert.deepEqual(plannedCheck('reconstruction-ssim', 'ae'), { kind: 'reconstruction', model: 'ae', metric: 'ssim' });
  assert.throws(() => plannedCheck('ssim', 'gate'), /unknown check "ssim"/);
});
