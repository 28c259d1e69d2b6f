/** Calibration at the operating point and the voting rules, ties and partial coverage included. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate, decide, vote } from '../../main/ensemble/index.js';
import type { MemberScores } from '../../main/ensemble/index.js';

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
