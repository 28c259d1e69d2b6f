/**
 * The validation's intervals against what they promise: on seeded simulated data whose true value
 * is known, a 95 % interval must cover it in about 95 % of the data sets. Binormal scores
 * (negatives N(0, 1), positives N(d, 1)) have the true AUC Phi(d / sqrt(2)). Each assertion has a
 * lower bound that an interval too narrow fails and an upper bound that one too wide fails; the
 * patient bootstrap's also has a plain image bootstrap beside it, which on the same clustered data
 * covers too rarely.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mulberry32 } from '../../main/phantom/index.js';
import {
  auc,
  bootstrapInterval,
  clusterWeights,
  delongInterval,
  imageWeights,
  prepareScores,
  weightedAuc,
  wilson,
} from '../../main/validation/index.js';
import type { Interval } from '../../main/validation/index.js';
import { binormal, normals } from '../support/simulate.js';

const D = 1.2;
/** Phi(1.2 / sqrt(2)), scipy.stats.norm.cdf. */
const TRUE_AUC = 0.8019280454239629;

const covers = (interval: Interval, truth: number) =>
  interval.low !== null && interval.high !== null && interval.low <= truth && truth <= interval.high;

test("DeLong's 95 % interval covers the true AUC in 92 to 98 % of 1,000 data sets of 60 positives and 90 negatives", () => {
  const draw = normals(11);
  let covered = 0;
  for (let set = 0; set < 1000; set++) {
    const { truth, scores } = binormal(draw, 60, 90, D, (x) => x);
    if (covers(delongInterval(truth, scores), TRUE_AUC)) covered++;
  }
  // About 94 % (DeLong's normal interval is a little narrow at this size), give or take 0.75 %.
  const rate = covered / 1000;
  assert.ok(rate >= 0.92 && rate <= 0.98, `covered in ${covered} of 1000`);
});

test("Wilson's 95 % interval covers a sensitivity of 0.8 on 50 positives in 92 to 98 % of 2,000 data sets", () => {
  // The exact coverage at n = 50, p = 0.8 is 0.9507 (the binomial law summed over the k covered).
  const next = mulberry32(12);
  let covered = 0;
  for (let set = 0; set < 2000; set++) {
    let detected = 0;
    for (let i = 0; i < 50; i++) if (next() < 0.8) detected++;
    if (covers(wilson(detected, 50), 0.8)) covered++;
  }
  const rate = covered / 2000;
  assert.ok(rate >= 0.92 && rate <= 0.98, `covered in ${covered} of 2000`);
});

test('the patient bootstrap covers the true AUC of clustered images in 90 to 99 % of 200 data sets; the image bootstrap does not', () => {
  // 100 patients of 1 to 3 images; a patient's label is shared by their images, and their scores
  // share a patient effect: score = d x label + u + e, u ~ N(0, 0.8), e ~ N(0, 0.2). A positive
  // and a negative image come from different patients, so the true AUC stays Phi(d / sqrt(2)).
  // Resampling images as if they were independent understates the spread: about 83 % (152 to 172
  // of 200 over other seeds), the patient bootstrap about 93 %.
  const draw = normals(13);
  const next = mulberry32(14);
  let patientCovered = 0;
  let imageCovered = 0;
  for (let set = 0; set < 200; set++) {
    const truth: number[] = [];
    const scores: number[] = [];
    const patients: number[] = [];
    for (let patient = 0; patient < 100; patient++) {
      const label = next() < 0.4 ? 1 : 0;
      const effect = Math.sqrt(0.8) * draw();
      const images = 1 + Math.floor(next() * 3);
      for (let k = 0; k < images; k++) {
        truth.push(label);
        scores.push(D * label + effect + Math.sqrt(0.2) * draw());
        patients.push(patient);
      }
    }
    const value = auc(truth, scores);
    const prepared = prepareScores(truth, scores);
    const statistic = (w: Int32Array) => weightedAuc(prepared, w);
    const plan = { resamples: 300, seed: 1000 + set };
    const byPatient = bootstrapInterval(clusterWeights(patients, plan), statistic, 'bootstrap-patient', value);
    const byImage = bootstrapInterval(imageWeights(truth.length, plan), statistic, 'bootstrap', value);
    if (covers(byPatient, TRUE_AUC)) patientCovered++;
    if (covers(byImage, TRUE_AUC)) imageCovered++;
  }
  assert.ok(
    patientCovered >= 180 && patientCovered <= 198,
    `the patient bootstrap covered in ${patientCovered} of 200`,
  );
  assert.ok(imageCovered < 180, `the image bootstrap covered in ${imageCovered} of 200, as often as by patient`);
});
