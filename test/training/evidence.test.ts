// The evidence's building blocks (models/training/evidence.ts) on hand-checked cases; the whole
// against scikit-learn is evidence.conformance.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { mulberry32 } from '../../main/phantom/index.js';
import { bestF1Threshold, percentileInterval, WeightedAuc } from '../../models/training/evidence.js';
import { auc, clusterWeights } from '../../main/validation/index.js';

test("mulberry32 draws what make-models.py's Python mulberry32 drew (torch-reference.json)", () => {
  const reference = JSON.parse(
    readFileSync(new URL('../fixtures/models/torch-reference.json', import.meta.url), 'utf8'),
  ) as { random: { seed: number; firstValues: number[] } };
  const next = mulberry32(reference.random.seed);
  const values = reference.random.firstValues.map(() => Math.fround((next() * 2 - 1) * 1024));
  assert.deepEqual(values, reference.random.firstValues);
});

test('the best-F1 threshold: the best "logit >= v" on validation, half-way to the next lower logit', () => {
  // v = 3: F1 2/4; 2: 4/5; 1.5: 4/6; 1: 6/7 (best); 0: 6/8. Half-way between 1 and 0.
  assert.deepEqual(bestF1Threshold([1, 1, 0, 1, 0], [3, 2, 1.5, 1, 0]), { threshold: 0.5, validationF1: 6 / 7 });
  // v = 4 and v = 1 tie at 2/3: the higher wins.
  assert.deepEqual(bestF1Threshold([1, 0, 0, 1], [4, 3, 2, 1]), { threshold: 3.5, validationF1: 2 / 3 });
  // A tie group is called whole (v = 2: 1 tp, 1 fp); below the lowest logit, v - 1.
  assert.deepEqual(bestF1Threshold([1, 0, 1], [2, 2, 1]), { threshold: 0.5, validationF1: 0.8 });
  assert.deepEqual(bestF1Threshold([0, 0], [1, 2]), { threshold: null, validationF1: null });
});

test('the weighted AUC is the AUC of the data with each image repeated as often as its weight', () => {
  const next = mulberry32(7);
  for (let trial = 0; trial < 20; trial++) {
    const n = 30;
    const truth = Array.from({ length: n }, () => (next() < 0.4 ? 1 : 0));
    truth[0] = 1;
    truth[1] = 0;
    const scores = Array.from({ length: n }, () => Math.floor(next() * 8) / 4); // many ties
    const weights = Array.from({ length: n }, () => Math.floor(next() * 3));
    weights[0] = weights[1] = 1;
    const repeatedTruth = truth.flatMap((t, i) => Array<number>(weights[i]).fill(t));
    const repeatedScores = scores.flatMap((s, i) => Array<number>(weights[i]).fill(s));
    assert.equal(new WeightedAuc(truth, scores).value(weights), auc(repeatedTruth, repeatedScores));
  }
  assert.equal(new WeightedAuc([1, 0], [0.2, 0.1]).value([0, 1]), null, 'no positive drawn');
});

test('the cluster bootstrap draws whole patients, as many as there are, the same for the same seed', () => {
  const patients = ['a', 'a', 'b', 'c', 'c', 'c', 'd'];
  const resamples = clusterWeights(patients, { resamples: 50, seed: 3 });
  assert.equal(resamples.length, 50);
  for (const weights of resamples) {
    const perPatient = new Map(patients.map((p, i) => [p, weights[i]]));
    patients.forEach((p, i) => assert.equal(weights[i], perPatient.get(p), 'one weight per patient'));
    assert.equal(
      [...perPatient.values()].reduce((a, b) => a + b, 0),
      4,
    );
  }
  assert.deepEqual(clusterWeights(patients, { resamples: 50, seed: 3 }), resamples);
  assert.notDeepEqual(clusterWeights(patients, { resamples: 50, seed: 4 }), resamples);
});

test('the interval is the 51st and 1950th of 2,000 sorted values', () => {
  const values = Array.from({ length: 2000 }, (_, i) => (i * 7919) % 2000); // 0..1999, shuffled
  assert.deepEqual(percentileInterval(0.5, values), { value: 0.5, low: 50, high: 1949 });
  assert.deepEqual(
    percentileInterval(
      1,
      [
        4, 3, 2, 1, 0, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29,
        30, 31, 32, 33, 34, 35, 36, 37, 38, 39,
      ],
    ),
    {
      value: 1,
      low: 1,
      high: 38,
    },
  );
});
