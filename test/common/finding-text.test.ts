/** How a finding's call reads: the wording shared by the CLI, the CSV export and the window. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { findingText, percentOf } from '../../main/common/index.js';

test('percentages are whole and rounded down, and below 0.5 never read 50%', () => {
  assert.equal(percentOf(0.5294), '52%');
  assert.equal(percentOf(0.29), '29%', 'not 28%: 0.29 * 100 is 28.999999999999996 in floating point');
  assert.equal(percentOf(0.5), '50%');
  assert.equal(percentOf(0.4999), '49%');
  assert.equal(percentOf(0.49996), '49%', 'an unrounded value just below 0.5');
  assert.equal(percentOf(0.5999), '59%', 'inside a band ending at 60%');
  assert.equal(percentOf(0.6), '60%');
  assert.equal(percentOf(0.9999), '99%');
  assert.equal(percentOf(1), '100%');
  assert.equal(percentOf(0), '0%');
});

test('a call reads with its votes and ensemble probability, indeterminate or not assessed as such', () => {
  const votes = { positive: 2, total: 3 };
  assert.equal(findingText({ term: 'mass', votes, probability: 0.6552, indeterminate: false }), 'mass (2/3, 65%)');
  assert.equal(
    findingText({ term: 'pleural effusion', votes, probability: 0.5294, indeterminate: true }),
    'pleural effusion: indeterminate (2/3, 52%)',
  );
  assert.equal(
    findingText({ term: 'pleural effusion', votes, probability: 0.5294, indeterminate: true }, String),
    'pleural effusion: indeterminate (2/3, 0.5294)',
    'the CSV writes the number itself',
  );
  assert.equal(
    findingText({
      term: 'radiological finding',
      votes: { positive: 0, total: 0 },
      probability: null,
      indeterminate: false,
    }),
    'radiological finding (0/0)',
  );
  assert.equal(
    findingText({
      term: 'nodule',
      votes: { positive: 0, total: 0 },
      probability: null,
      indeterminate: false,
      assessed: false,
    }),
    'nodule: not assessed',
  );
});
