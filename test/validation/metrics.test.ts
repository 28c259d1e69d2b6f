// The validation's figures (main/validation) on small cases computed by hand: AUC and DeLong's
// variance, Wilson's interval, the confusion matrix, the ROC curve, the Brier score and the
// reliability bins, the operating points, the weighted statistics and the bootstrap interval.
// scikit-learn and scipy check the same functions on larger data: metrics.conformance.test.ts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TriageError } from '../../main/errors/index.js';
import {
  auc,
  bootstrapInterval,
  bootstrapIntervals,
  brierScore,
  chooseThreshold,
  clusterWeights,
  confusion,
  delong,
  delongDifference,
  delongInterval,
  expectedCalibrationError,
  imageWeights,
  macroF1,
  MAX_BOOTSTRAP_WEIGHTS,
  normalQuantile,
  parseCalibrationTarget,
  percentileBounds,
  prepareScores,
  reliability,
  Resampler,
  rocCurve,
  weightedAuc,
  weightedConfusion,
  wilson,
} from '../../main/validation/index.js';
import type { Interval } from '../../main/validation/index.js';

const Z = 1.959963984540054;

function close(actual: number | null, expected: number, what: string, tolerance = 1e-12): void {
  assert.ok(actual !== null && Math.abs(actual - expected) <= tolerance, `${what}: ${actual} is not ${expected}`);
}

function closeInterval(actual: Interval, expected: [number, number, number], method: string): void {
  assert.equal(actual.method, method);
  close(actual.value, expected[0], 'value');
  close(actual.low, expected[1], 'low');
  close(actual.high, expected[2], 'high');
}

const coded = (code: string) => (error: unknown) => error instanceof TriageError && error.code === code;

test('the normal quantile is 1.959963984540054 at 0.975, 0 at the middle, and symmetric in the tails', () => {
  // scipy.special.ndtri's values
  close(normalQuantile(0.975), Z, '0.975', 1e-15);
  assert.equal(normalQuantile(0.5), 0);
  close(normalQuantile(0.025), -Z, '0.025', 1e-15);
  close(normalQuantile(0.841344746068543), 1, 'one sigma', 1e-14);
  close(normalQuantile(1e-10), -6.361340902404056, 'tail', 1e-14);
  close(normalQuantile(1 - 1e-15), 7.941444487415979, 'far tail (r > 5)', 1e-13);
  assert.throws(() => normalQuantile(1), coded('INTERNAL'));
});

test("DeLong's structural components: V10 (1, 1/2) and V01 (1/2, 1) give AUC 3/4 with variance 1/8", () => {
  // positives 0.9, 0.4; negatives 0.5, 0.1. V10 = (2/2, 1/2), V01 = (1/2, 2/2).
  // S10 = S01 = ((1/4)^2 + (1/4)^2) / 1 = 1/8; var = S10 / 2 + S01 / 2 = 1/8.
  const truth = [1, 1, 0, 0];
  const a = [0.9, 0.4, 0.5, 0.1];
  const b = [0.9, 0.8, 0.2, 0.1]; // perfect: V10 = V01 = (1, 1), no variance, no covariance
  const result = delong(truth, [a, b])!;
  assert.deepEqual(result.aucs, [0.75, 1]);
  assert.deepEqual(result.covariance, [
    [0.125, 0],
    [0, 0],
  ]);
  const half = Z * Math.sqrt(0.125);
  closeInterval(delongInterval(truth, a), [0.75, 0.75 - half, 1], 'delong');
  assert.deepEqual(delongInterval(truth, b), { value: 1, low: 1, high: 1, method: 'delong' });
  // a - b: var = 1/8 + 0 - 2 x 0.
  closeInterval(delongDifference(truth, a, b), [-0.25, -0.25 - half, -0.25 + half], 'delong');
  // the same scorer twice: no difference, and no spread (not a hair below 0 either)
  assert.deepEqual(delongDifference(truth, a, a), { value: 0, low: 0, high: 0, method: 'delong' });
});

test('DeLong with ties counts them half, and a lone positive leaves the interval undefined', () => {
  // positives 0.5, 0.5, 0.2; negatives 0.5, 0.1. V10 = (3/4, 3/4, 1/2); V01 = (1/3, 1).
  // AUC = 2/3; S10 = (1/144 + 1/144 + 4/144) / 2 = 1/48; S01 = (1/9 + 1/9) / 1 = 2/9.
  const truth = [1, 1, 1, 0, 0];
  const scores = [0.5, 0.5, 0.2, 0.5, 0.1];
  const result = delong(truth, [scores])!;
  close(result.aucs[0], 2 / 3, 'auc');
  close(result.covariance[0][0], 1 / 48 / 3 + 2 / 9 / 2, 'variance');
  assert.equal(auc(truth, scores), result.aucs[0]);
  assert.deepEqual(delongInterval([1, 0, 0], [0.5, 0.5, 0.1]), {
    value: 0.75,
    low: null,
    high: null,
    method: 'delong',
  });
  assert.equal(delong([1, 1], [[0.1, 0.2]]), null);
  assert.deepEqual(delongInterval([0, 0], [0.1, 0.2]), { value: null, low: null, high: null, method: 'delong' });
  assert.deepEqual(delongDifference([1], [0.1], [0.2]), { value: null, low: null, high: null, method: 'delong' });
});

test("Wilson's interval: 8 of 10 is [0.4902, 0.9433], 0 of 10 starts at 0, and no trial is null", () => {
  const eight = wilson(8, 10);
  assert.equal(eight.value, 0.8);
  // centre (16 + z^2) / (2 (10 + z^2)), half-width z sqrt(z^2 + 4 x 8 x 2 / 10) / (2 (10 + z^2))
  const d = 2 * (10 + Z * Z);
  close(eight.low, (16 + Z * Z) / d - (Z * Math.sqrt(Z * Z + 6.4)) / d, 'low');
  close(eight.high, (16 + Z * Z) / d + (Z * Math.sqrt(Z * Z + 6.4)) / d, 'high');
  assert.equal(eight.low!.toFixed(4), '0.4902');
  assert.equal(eight.high!.toFixed(4), '0.9433');
  const none = wilson(0, 10);
  assert.equal(none.low, 0);
  assert.equal(none.high!.toFixed(4), '0.2775');
  assert.equal(wilson(10, 10).high, 1);
  assert.deepEqual(wilson(0, 0), { value: null, low: null, high: null, method: 'wilson' });
  assert.throws(() => wilson(3, 2), coded('INTERNAL'));
  assert.throws(() => wilson(1.5, 2), coded('INTERNAL'));
});

test('the confusion matrix counts calls against labels, booleans or 0/1 alike', () => {
  assert.deepEqual(confusion([1, 1, 0, 0, 1], [true, false, true, false, true]), { tp: 2, fp: 1, fn: 1, tn: 1 });
  assert.deepEqual(confusion([true, false], [0, 1]), { tp: 0, fp: 1, fn: 1, tn: 0 });
  assert.throws(() => confusion([1, 0], [1]), coded('INTERNAL'));
});

test('the ROC curve starts at (0, 0) at +Infinity and has one point per distinct score, descending', () => {
  assert.deepEqual(rocCurve([1, 0, 1, 0], [0.8, 0.1, 0.3, 0.8]), [
    { fpr: 0, tpr: 0, threshold: Infinity },
    { fpr: 0.5, tpr: 0.5, threshold: 0.8 },
    { fpr: 0.5, tpr: 1, threshold: 0.3 },
    { fpr: 1, tpr: 1, threshold: 0.1 },
  ]);
  assert.deepEqual(rocCurve([1, 1], [0.8, 0.1]), []);
  assert.throws(() => rocCurve([1, 0], [0.5, NaN]), coded('INTERNAL'));
});

test('the Brier score is the mean squared gap of probability and label', () => {
  close(brierScore([1, 0], [0.8, 0.3]), (0.2 ** 2 + 0.3 ** 2) / 2, 'brier');
  assert.equal(brierScore([1, 0], [1, 0]), 0);
  assert.equal(brierScore([], []), null);
  assert.throws(() => brierScore([1], [1.2]), coded('INTERNAL'));
});

test("reliability bins are scikit-learn's (k/10, (k+1)/10], the first with 0; empty bins are null", () => {
  const truth = [0, 1, 0, 1, 1, 0, 1, 0];
  const p = [0, 0.1, 0.1001, 0.3, 1, 0.95, 0.6, 0.7];
  const bins = reliability(truth, p);
  assert.equal(bins.length, 10);
  assert.deepEqual(
    bins.map((bin) => bin.count),
    [2, 1, 1, 0, 0, 1, 1, 0, 0, 2],
    '0.1 in the first bin, 0.3 in the third, 0.6 in the sixth, 0.7 in the seventh',
  );
  assert.deepEqual(bins[0], { low: 0, high: 0.1, count: 2, meanPredicted: 0.05, observed: 0.5 });
  assert.deepEqual(bins[3], { low: 0.3, high: 0.4, count: 0, meanPredicted: null, observed: null });
  assert.deepEqual(bins[9], { low: 0.9, high: 1, count: 2, meanPredicted: 0.975, observed: 0.5 });
  // ECE: (2 x 0.45 + 0.1001 + 0.7 + 0.4 + 0.7 + 2 x 0.475) / 8
  close(expectedCalibrationError(truth, p), (0.9 + 0.1001 + 0.7 + 0.4 + 0.7 + 0.95) / 8, 'ece');
  assert.deepEqual(
    reliability([1, 0], [0.5, 0.5], 2).map((bin) => bin.count),
    [2, 0],
  );
  assert.equal(expectedCalibrationError([], []), null);
  assert.throws(() => reliability([1], [0.5], 0), coded('INTERNAL'));
});

test('operating points: Youden, a sensitivity and a PPV, ties to the higher threshold, exactly', () => {
  const truth = [1, 1, 0, 1, 0, 0];
  const scores = [0.9, 0.8, 0.7, 0.6, 0.4, 0.2];
  // threshold: tp fp -> 0.9: 1 0, 0.8: 2 0, 0.7: 2 1, 0.6: 3 1, 0.4: 3 2, 0.2: 3 3 (P = N = 3)
  // Youden ties at 0.8 (2/3 - 0) and 0.6 (1 - 1/3), which differ in floating point; the higher wins.
  assert.deepEqual(chooseThreshold(truth, scores, { kind: 'youden' }), {
    threshold: 0.8,
    sensitivity: 2 / 3,
    specificity: 1,
    ppv: 1,
    tp: 2,
    fp: 0,
    fn: 1,
    tn: 3,
  });
  assert.equal(chooseThreshold(truth, scores, { kind: 'sensitivity', value: 0.9 })?.threshold, 0.6);
  assert.equal(chooseThreshold(truth, scores, { kind: 'sensitivity', value: 0.5 })?.threshold, 0.8);
  assert.equal(chooseThreshold(truth, scores, { kind: 'sensitivity', value: 1 / 3 })?.threshold, 0.9);
  assert.equal(chooseThreshold(truth, scores, { kind: 'ppv', value: 1 })?.threshold, 0.8);
  assert.equal(chooseThreshold(truth, scores, { kind: 'ppv', value: 0.75 })?.threshold, 0.6);
  // PPV >= 0.6 at 0.6 (3/4) and 0.4 (3/5), both with sensitivity 1: the higher threshold.
  const ppv = chooseThreshold(truth, scores, { kind: 'ppv', value: 0.6 });
  assert.deepEqual(ppv, { threshold: 0.6, sensitivity: 1, specificity: 2 / 3, ppv: 0.75, tp: 3, fp: 1, fn: 0, tn: 2 });
  // unreachable: the positive scores lowest, PPV never reaches 0.8
  assert.equal(chooseThreshold([0, 1], [0.9, 0.1], { kind: 'ppv', value: 0.8 }), null);
  assert.equal(chooseThreshold([1, 1], [0.9, 0.1], { kind: 'youden' }), null);
  // a tie group is called whole
  assert.deepEqual(chooseThreshold([1, 0, 0], [0.5, 0.5, 0.1], { kind: 'sensitivity', value: 1 })?.fp, 1);
});

test('a calibration target is youden, sensitivity=S or ppv=P with S, P in (0, 1]; else a USAGE error', () => {
  assert.deepEqual(parseCalibrationTarget('youden'), { kind: 'youden' });
  assert.deepEqual(parseCalibrationTarget('sensitivity=0.9'), { kind: 'sensitivity', value: 0.9 });
  assert.deepEqual(parseCalibrationTarget(' ppv=.8 '), { kind: 'ppv', value: 0.8 });
  assert.deepEqual(parseCalibrationTarget('ppv=1'), { kind: 'ppv', value: 1 });
  for (const wrong of ['', 'Youden', 'sensitivity', 'sensitivity=0', 'ppv=1.01', 'ppv=-0.5', 'npv=0.9', 'ppv=0.8x'])
    assert.throws(
      () => parseCalibrationTarget(wrong),
      (error: unknown) =>
        error instanceof TriageError && error.code === 'USAGE' && /sensitivity=0\.9/.test(error.message),
      wrong,
    );
  assert.throws(
    () => parseCalibrationTarget('x'.repeat(10_000)),
    (error: unknown) => error instanceof TriageError && error.message.length < 300,
  );
});

test("macro-F1 is the mean of the findings' F1 over findings with a positive label", () => {
  // F1 2/3, (no positive: left out), 2/3 -> 2/3
  close(
    macroF1([
      { tp: 1, fp: 1, fn: 0 },
      { tp: 0, fp: 2, fn: 0 },
      { tp: 1, fp: 0, fn: 1 },
    ]),
    2 / 3,
    'macro',
  );
  close(
    macroF1([
      { tp: 1, fp: 0, fn: 0 },
      { tp: 0, fp: 1, fn: 1 },
    ]),
    0.5,
    'macro',
  );
  assert.equal(macroF1([{ tp: 0, fp: 3, fn: 0 }]), null);
});

test('the weighted statistics equal the plain ones on the data with each image repeated', () => {
  const truth = [1, 0, 1, 0, 1, 0];
  const scores = [0.8, 0.8, 0.3, 0.2, 0.1, 0.9];
  const called = scores.map((s) => s >= 0.3);
  const weights = Int32Array.of(2, 1, 0, 3, 1, 1);
  const repeat = <T>(values: T[]) => values.flatMap((v, i) => Array<T>(weights[i]).fill(v));
  assert.equal(weightedAuc(prepareScores(truth, scores), weights), auc(repeat(truth), repeat(scores)));
  assert.deepEqual(weightedConfusion(truth, called, weights), confusion(repeat(truth), repeat(called)));
  assert.equal(weightedAuc(prepareScores(truth, scores), Int32Array.of(1, 0, 1, 0, 1, 0)), null);
});

test('the plain bootstrap draws n images per resample, the same for the same seed', () => {
  const resamples = imageWeights(7, { resamples: 30, seed: 5 });
  assert.equal(resamples.length, 30);
  for (const w of resamples)
    assert.equal(
      w.reduce((a, b) => a + b, 0),
      7,
    );
  assert.ok(
    resamples.some((w) => w.some((v) => v > 1)),
    'some image drawn twice',
  );
  assert.deepEqual(imageWeights(7, { resamples: 30, seed: 5 }), resamples);
  assert.notDeepEqual(imageWeights(7, { resamples: 30, seed: 6 }), resamples);
  // numeric patient keys: one weight per patient
  for (const w of clusterWeights([3, 3, 9], { resamples: 20, seed: 1 })) assert.equal(w[0], w[1]);
});

test('a bootstrap too large to hold is refused before it is drawn', () => {
  assert.throws(
    () => imageWeights(MAX_BOOTSTRAP_WEIGHTS / 1000 + 1, { resamples: 1000, seed: 1 }),
    (error: unknown) =>
      error instanceof TriageError && error.code === 'USAGE' && /at most 999 resamples/.test(error.message),
  );
  assert.throws(() => clusterWeights(['a'], { resamples: 0, seed: 1 }), coded('USAGE'));
});

test('the bootstrap interval takes order statistics of the defined resamples only', () => {
  // 400 resamples; the statistic is undefined on the odd ones: B = 200 values 0, 2, ..., 398.
  // floor(25 x 200 / 1000) = 5 -> 10; ceil(975 x 200 / 1000) - 1 = 194 -> 388.
  const weights = Array.from({ length: 400 }, (_, i) => Int32Array.of(i));
  const statistic = (w: Int32Array) => (w[0] % 2 ? null : w[0]);
  assert.deepEqual(bootstrapInterval(weights, statistic, 'bootstrap-patient', 200), {
    value: 200,
    low: 10,
    high: 388,
    method: 'bootstrap-patient',
  });
  assert.deepEqual(
    bootstrapInterval(weights, () => null, 'bootstrap', 0.5),
    {
      value: 0.5,
      low: null,
      high: null,
      method: 'bootstrap',
    },
  );
  assert.deepEqual(bootstrapInterval(weights, statistic, 'bootstrap', null), {
    value: null,
    low: null,
    high: null,
    method: 'bootstrap',
  });
  assert.equal(percentileBounds([]), null);
});

test('the streaming resampler draws what clusterWeights and imageWeights hold, restricted views included', () => {
  const patients = ['p', 'q', 'p', 'r', 's', 'q', 't'];
  const plan = { resamples: 40, seed: 11 };
  const held = clusterWeights(patients, plan);
  const streamed = [...Resampler.byCluster(patients, plan).weights()].length;
  assert.equal(streamed, 40);
  let b = 0;
  for (const w of Resampler.byCluster(patients, plan).weights()) assert.deepEqual([...w], [...held[b++]]);
  b = 0;
  const images = imageWeights(5, plan);
  for (const w of Resampler.byImage(5, plan).weights()) assert.deepEqual([...w], [...images[b++]]);
  b = 0;
  for (const w of Resampler.byCluster(patients, plan).restrict([1, 3, 6]).restrict([0, 2]).weights()) {
    assert.deepEqual([...w], [held[b][1], held[b][6]]);
    b++;
  }
  // One pass for several figures gives what one pass per figure gives.
  const resampler = Resampler.byCluster(patients, plan);
  const sum = (w: Int32Array) => w.reduce((s, x) => s + x, 0);
  const first = (w: Int32Array) => (w[0] > 0 ? w[0] : null);
  const together = bootstrapIntervals(
    resampler,
    [
      { value: 7, statistic: sum },
      { value: 1, statistic: first },
      { value: null, statistic: sum },
    ],
    'bootstrap-patient',
  );
  assert.deepEqual(together[0], bootstrapInterval(held, sum, 'bootstrap-patient', 7));
  assert.deepEqual(together[1], bootstrapInterval(held, first, 'bootstrap-patient', 1));
  assert.deepEqual(together[2], { value: null, low: null, high: null, method: 'bootstrap-patient' });
  assert.throws(() => Resampler.byImage(3, { resamples: 0, seed: 1 }), /1 to 100000 resamples/);
});
