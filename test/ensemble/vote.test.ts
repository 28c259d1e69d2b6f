/**
 * Calibration at the operating point, the voting rules (ties and partial coverage included), and
 * the ensemble's probability, which is >= 0.5 exactly when the rule calls the finding.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  calibrate,
  decide,
  ensembleProbability,
  isIndeterminate,
  reportedProbability,
  vote,
} from '../../main/ensemble/index.js';
import type { MemberScores } from '../../main/ensemble/index.js';
import type { VotingRule } from '../../main/packs/index.js';

function member(id: string, values: Record<string, number>): MemberScores {
  return {
    memberId: id,
    version: '1.0.0',
    calibrated: new Map(Object.entries(values)),
    labelIndex: new Map(Object.keys(values).map((key, index) => [key, index])),
  };
}

test('calibration sends the operating point to 0.5 and keeps 0 and 1', () => {
  assert.equal(calibrate(0.2, 0.2), 0.5);
  assert.equal(calibrate(0, 0.2), 0);
  assert.equal(calibrate(1, 0.2), 1);
  assert.equal(calibrate(0.1, 0.2), 0.25);
  assert.equal(calibrate(0.6, 0.2), 0.75);
  // Monotone: order of probabilities is kept.
  let previous = -1;
  for (let p = 0; p <= 1; p += 0.01) {
    const c = calibrate(p, 0.07);
    assert.ok(c >= previous);
    previous = c;
  }
});

test('majority is strict: 2 of 4 is a tie and not positive, 2 of 3 is', () => {
  assert.equal(decide({ kind: 'majority' }, 2, 4, 0.6), false);
  assert.equal(decide({ kind: 'majority' }, 3, 4, 0.6), true);
  assert.equal(decide({ kind: 'majority' }, 2, 3, 0.4), true);
  assert.equal(decide({ kind: 'majority' }, 1, 2, 0.9), false);
  assert.equal(decide({ kind: 'majority' }, 1, 1, 0.9), true);
});

test('any, all and soft mean', () => {
  assert.equal(decide({ kind: 'any' }, 1, 5, 0.1), true);
  assert.equal(decide({ kind: 'any' }, 0, 5, 0.49), false);
  assert.equal(decide({ kind: 'all' }, 4, 5, 0.9), false);
  assert.equal(decide({ kind: 'all' }, 5, 5, 0.5), true);
  assert.equal(decide({ kind: 'soft-mean', threshold: 0.5 }, 0, 3, 0.5), true);
  assert.equal(decide({ kind: 'soft-mean', threshold: 0.5 }, 3, 3, 0.49), false);
});

test('votes count only the members that cover a finding, with their values and spread', () => {
  const members = [
    member('a', { 'finding:nodule': 0.9, 'finding:cardiomegaly': 0.7 }),
    member('b', { 'finding:nodule': 0.6, 'finding:cardiomegaly': 0.3 }),
    member('c', { 'finding:nodule': 0.2 }), // c does not cover cardiomegaly (untrained head)
  ];
  const votes = vote(members, { kind: 'majority' });
  const nodule = votes.find((v) => v.term === 'nodule')!;
  assert.deepEqual(nodule.votes, { positive: 2, total: 3 });
  assert.equal(nodule.positive, true);
  assert.deepEqual(nodule.perModel, { a: 0.9, b: 0.6, c: 0.2 });
  assert.ok(Math.abs(nodule.probability.mean - (0.9 + 0.6 + 0.2) / 3) < 1e-12);
  assert.equal(nodule.probability.ensemble, 0.6, 'majority of 3: the median');
  assert.equal(nodule.probability.min, 0.2);
  assert.equal(nodule.probability.max, 0.9);
  assert.deepEqual(nodule.positiveMembers, ['a', 'b']);
  const cardiomegaly = votes.find((v) => v.term === 'cardiomegaly')!;
  assert.deepEqual(cardiomegaly.votes, { positive: 1, total: 2 }, 'c is not counted');
  assert.equal(cardiomegaly.positive, false, '1 of 2 is a tie');
  assert.equal(vote(members, { kind: 'any' }).find((v) => v.term === 'cardiomegaly')!.positive, true);
  assert.equal(vote(members, { kind: 'all' }).find((v) => v.term === 'nodule')!.positive, false);
  assert.equal(vote(members, { kind: 'soft-mean', threshold: 0.5 }).find((v) => v.term === 'nodule')!.positive, true);
});

test('the ensemble probability per rule, by hand', () => {
  const majority: VotingRule = { kind: 'majority' };
  // The demo pack's pleural effusion on phantom-00000: 2 of 3 positive, mean 0.3787, median 0.5294.
  assert.equal(ensembleProbability(majority, [0.0687, 0.5294, 0.5381], 0.3787), 0.5294);
  assert.equal(ensembleProbability(majority, [0.7], 0.7), 0.7, 'one member: its value');
  // Even counts: the lower median, (n/2 + 1)-th largest. 1 of 2 and 2 of 4 are ties, below 0.5.
  assert.equal(ensembleProbability(majority, [0.9, 0.3], 0.6), 0.3);
  assert.equal(ensembleProbability(majority, [0.2, 0.9, 0.6, 0.3], 0.5), 0.3);
  assert.equal(ensembleProbability(majority, [0.2, 0.9, 0.6, 0.55], 0.5625), 0.55);
  assert.equal(ensembleProbability(majority, [0.1, 0.8, 0.5, 0.45, 0.7], 0.51), 0.5, '5 members: the 3rd largest');
  assert.equal(ensembleProbability({ kind: 'any' }, [0.1, 0.8, 0.3], 0.4), 0.8);
  assert.equal(ensembleProbability({ kind: 'all' }, [0.1, 0.8, 0.3], 0.4), 0.1);
  // Soft mean at t = 0.25: the mean 0.125 maps to 0.125 / 0.5, the mean 0.625 to 1 - 0.375 / 1.5;
  // t itself to 0.5.
  const soft: VotingRule = { kind: 'soft-mean', threshold: 0.25 };
  assert.equal(ensembleProbability(soft, [0, 0.25], 0.125), 0.25);
  assert.equal(ensembleProbability(soft, [0.5, 0.75], 0.625), 0.75);
  assert.equal(ensembleProbability(soft, [0, 0.5], 0.25), 0.5);
});

/** Mulberry32: a seeded generator so a failing case can be replayed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The next double above (step 1) or below (step -1) a positive number. */
function adjacent(value: number, step: 1 | -1): number {
  const float = new Float64Array([value]);
  new BigInt64Array(float.buffer)[0] += BigInt(step);
  return float[0];
}

test('property: for every rule, positive exactly when the ensemble probability is >= 0.5', () => {
  const HALF_BELOW = adjacent(0.5, -1);
  const HALF_ABOVE = adjacent(0.5, 1);
  let positives = 0;
  let negatives = 0;
  for (let seed = 1; seed <= 4000; seed++) {
    const next = random(seed);
    const n = 1 + Math.floor(next() * 7);
    const values: number[] = [];
    for (let i = 0; i < n; i++) {
      const pick = next();
      // The edges matter most: 0.5 itself, one ulp either side, 0, 1, and ties with a value drawn.
      values.push(
        pick < 0.15
          ? 0.5
          : pick < 0.25
            ? HALF_BELOW
            : pick < 0.35
              ? HALF_ABOVE
              : pick < 0.4
                ? Math.round(next())
                : pick < 0.55 && i > 0
                  ? values[Math.floor(next() * i)]
                  : next(),
      );
    }
    const members = values.map((value, i) => member(`m${i}`, { 'finding:nodule': value }));
    let sum = 0;
    for (const value of values) sum += value;
    const mean = sum / n;
    const thresholdPick = next();
    const threshold = Math.min(
      adjacent(1, -1),
      Math.max(
        Number.MIN_VALUE,
        thresholdPick < 0.3
          ? mean
          : thresholdPick < 0.45
            ? adjacent(mean || 0.5, thresholdPick < 0.375 ? 1 : -1)
            : next(),
      ),
    );
    const rules: VotingRule[] = [
      { kind: 'majority' },
      { kind: 'any' },
      { kind: 'all' },
      { kind: 'soft-mean', threshold },
    ];
    // The rules restated from the member values alone, not from the code under test.
    const voting = values.filter((value) => value >= 0.5).length;
    const called: Record<VotingRule['kind'], boolean> = {
      majority: voting > n / 2,
      any: voting >= 1,
      all: voting === n,
      'soft-mean': mean >= threshold,
    };
    for (const rule of rules) {
      const [result] = vote(members, rule);
      const context = `seed ${seed}, ${JSON.stringify(rule)}, values ${JSON.stringify(values)}`;
      assert.equal(result.positive, called[rule.kind], `the call: ${context}`);
      assert.equal(
        result.probability.ensemble >= 0.5,
        result.positive,
        `ensemble ${result.probability.ensemble}: ${context}`,
      );
      if (rule.kind !== 'soft-mean') {
        assert.ok(values.includes(result.probability.ensemble), `one of the members' values: ${context}`);
        assert.ok(result.probability.ensemble >= result.probability.min, context);
        assert.ok(result.probability.ensemble <= result.probability.max, context);
      }
      if (result.positive) positives++;
      else negatives++;
    }
  }
  assert.ok(
    positives > 2000 && negatives > 2000,
    `both calls are exercised (${positives} positive, ${negatives} negative)`,
  );
});

test('reported values have 4 decimals and are never rounded up to 0.5', () => {
  assert.equal(reportedProbability(0.123456), 0.1235);
  assert.equal(reportedProbability(0.99996), 1);
  assert.equal(reportedProbability(0.5), 0.5);
  assert.equal(reportedProbability(0.50004), 0.5);
  assert.equal(reportedProbability(0.49996), 0.4999, 'not 0.5: below the operating point stays below');
  assert.equal(reportedProbability(adjacent(0.5, -1)), 0.4999);
  assert.equal(reportedProbability(0.49994), 0.4999);
  for (let seed = 1; seed <= 2000; seed++) {
    const next = random(seed);
    const value = next() < 0.5 ? 0.5 + (next() - 0.5) * 1e-3 : next();
    assert.equal(reportedProbability(value) >= 0.5, value >= 0.5, `${value}`);
  }
});

test('the indeterminate band holds its low end and not its high end', () => {
  const band = { low: 0.4, high: 0.6 };
  assert.equal(isIndeterminate(0.3999, band), false);
  assert.equal(isIndeterminate(0.4, band), true);
  assert.equal(isIndeterminate(0.5294, band), true);
  assert.equal(isIndeterminate(0.5999, band), true);
  assert.equal(isIndeterminate(0.6, band), false);
  assert.equal(isIndeterminate(0.5, { low: 0.5, high: 0.5 }), false, 'an empty band marks nothing');
});
