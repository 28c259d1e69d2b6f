/** The image-based gate's scores and decisions, against values computed by hand. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { logit } from '../../main/ensemble/index.js';
import { disagreement, jointEnergy, judgeImage, rmse } from '../../main/gate/index.js';
import type { GateEvidence } from '../../main/gate/index.js';
import type { GateCheck, ImageGate } from '../../main/packs/index.js';

const chosen = {
  split: 'validation',
  seed: 1,
  images: 100,
  rule: 'refuses the lowest of 100 validation phantoms',
  rejected: 1,
  chosenBy: 'a test',
};

function gateOf(...checks: GateCheck[]): ImageGate {
  return { description: 'test gate', checks };
}

function evidence(partial: Partial<GateEvidence>): GateEvidence {
  return { memberLogits: [[0]], memberCalibrated: [new Map()], reconstruction: null, distance: null, ...partial };
}

test('joint energy is the mean over members of the sum of log(1 + e^logit)', () => {
  // Member 1: log 2 + log(1 + e^2) ; member 2: log(1 + e^-3) + log(1 + e^50) (50 + log(1 + e^-50)).
  const expected = (Math.log(2) + Math.log(1 + Math.exp(2)) + Math.log(1 + Math.exp(-3)) + 50) / 2;
  assert.ok(
    Math.abs(
      jointEnergy([
        [0, 2],
        [-3, 50],
      ]) - expected,
    ) < 1e-12,
  );
  // No overflow where e^x would be infinite.
  assert.equal(jointEnergy([[1000]]), 1000);
});

test('disagreement is the mean spread over findings two members cover', () => {
  const a = new Map([
    ['finding:mass', 0.9],
    ['finding:nodule', 0.2],
    ['finding:only-a', 0.99],
  ]);
  const b = new Map([
    ['finding:mass', 0.1],
    ['finding:nodule', 0.3],
  ]);
  const c = new Map([['finding:mass', 0.5]]);
  // mass: 0.9 - 0.1; nodule: 0.3 - 0.2; only-a is covered once and does not count.
  assert.ok(Math.abs(disagreement([a, b, c]) - (0.8 + 0.1) / 2) < 1e-12);
  assert.equal(disagreement([a]), 0);
});

test('rmse and logit', () => {
  assert.equal(rmse([1, 2, 3, 4], [1, 2, 3, 8]), 2);
  assert.ok(Math.abs(logit(0.75) - Math.log(3)) < 1e-12);
  assert.ok(Number.isFinite(logit(0)) && Number.isFinite(logit(1)));
});

test('an image outside a range is refused with the check, its score and the bound in the reason', () => {
  const gate = gateOf(
    { kind: 'energy', accepted: { min: 1, max: 5 }, chosen },
    { kind: 'disagreement', accepted: { min: null, max: 0.3 }, chosen },
  );
  const calibrated = [new Map([['finding:mass', 0.9]]), new Map([['finding:mass', 0.2]])];
  // Energy: log 2 + log 2 over one member each = log 2 ~ 0.693 < 1; disagreement 0.7 > 0.3.
  const decision = judgeImage(gate, evidence({ memberLogits: [[0], [0]], memberCalibrated: calibrated }));
  assert.equal(decision.passed, false);
  assert.deepEqual(
    decision.checks.map((c) => [c.check, c.passed]),
    [
      ['energy', false],
      ['disagreement', false],
    ],
  );
  assert.match(decision.reason!, /joint energy is 0\.693, below the accepted 1\.00/);
  assert.match(decision.reason!, /disagreement is 0\.700, above the accepted 0\.300/);
  assert.match(decision.reason!, /refuses the lowest of 100 validation phantoms/);
  assert.match(decision.reason!, /findings withheld/);
});

test('an image inside every range passes; measuring never refuses', () => {
  const gate = gateOf({ kind: 'energy', accepted: { min: 0.5, max: null }, chosen });
  const inside = judgeImage(gate, evidence({ memberLogits: [[0]] }));
  assert.deepEqual([inside.passed, inside.reason], [true, null]);
  const outside = judgeImage(gateOf({ kind: 'energy', accepted: { min: 5, max: null }, chosen }), evidence({}), false);
  assert.deepEqual([outside.passed, outside.reason], [false, null]);
});

test('a reconstruction check reads the gate model output; a broken (NaN) score never passes', () => {
  const gate = gateOf({
    kind: 'reconstruction',
    model: 'gate',
    metric: 'rmse',
    accepted: { min: null, max: 10 },
    chosen,
  });
  const input = new Float32Array(16).fill(100);
  const close = judgeImage(
    gate,
    evidence({ reconstruction: { input, output: new Float32Array(16).fill(95), rows: 4, columns: 4, range: 2048 } }),
  );
  assert.equal(close.passed, true);
  assert.equal(close.checks[0].score, 5);
  const broken = judgeImage(
    gate,
    evidence({ reconstruction: { input, output: new Float32Array(16).fill(NaN), rows: 4, columns: 4, range: 2048 } }),
  );
  assert.equal(broken.passed, false);
  assert.match(broken.reason!, /reconstruction error \(RMSE\) could not be computed/);
  assert.throws(() => judgeImage(gate, evidence({})), /gate model output/);
});
