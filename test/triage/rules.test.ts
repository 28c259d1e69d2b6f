/**
 * Triage rules: defaults, rules on any node covering its descendants in the PadChest DAG, the most
 * specific rule winning, validation of rules files (zod and the taxonomy), and the order.
 */
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { TriageError } from '../../main/errors/index.js';
import { PRIORITIES } from '../../main/common/index.js';
import {
  compileRules,
  DEFAULT_RULES,
  defaultRules,
  higherPriority,
  loadRules,
  priorityRank,
} from '../../main/triage/index.js';
import { scratchDir } from '../support/tools.js';
import { finding, result } from '../store/results.js';

const scratch = scratchDir('triage');
after(() => scratch.remove());

const rules = defaultRules();
const priorityOf = (...terms: string[]) => rules.prioritize(result('/x', { positives: terms }));

describe('priority order', () => {
  test('critical > urgent > abnormal > needs review > normal', () => {
    assert.deepEqual([...PRIORITIES], ['critical', 'urgent', 'abnormal', 'needs review', 'normal']);
    assert.ok(
      priorityRank('needs review') < priorityRank('normal'),
      'an unassessed image is read before an AI-normal one',
    );
    assert.equal(higherPriority('normal', 'needs review'), 'needs review');
    assert.equal(higherPriority('critical', 'urgent'), 'critical');
  });
});

describe('default rules', () => {
  test('pneumothorax critical, mass and nodule urgent, other positives abnormal, none normal', () => {
    assert.equal(priorityOf('pneumothorax'), 'critical');
    assert.equal(priorityOf('nodule'), 'urgent');
    assert.equal(priorityOf('mass'), 'urgent');
    assert.equal(priorityOf('cardiomegaly'), 'abnormal');
    assert.equal(priorityOf(), 'normal');
  });

  test('a rule covers the descendants of its node', () => {
    assert.equal(priorityOf('hydropneumothorax'), 'critical', 'under pneumothorax (and pleural effusion)');
    assert.equal(priorityOf('breast mass'), 'urgent', 'under mass');
    assert.equal(priorityOf('multiple nodules'), 'urgent', 'under nodule');
  });

  test('diagnoses count as positive findings too', () => {
    const diagnosis = rules.prioritize(result('/x', { findings: [finding('pneumonia', { tree: 'diagnosis' })] }));
    assert.equal(diagnosis, 'abnormal');
  });

  test('the image takes its most urgent finding', () => {
    assert.equal(priorityOf('cardiomegaly', 'nodule'), 'urgent');
    assert.equal(priorityOf('cardiomegaly', 'nodule', 'pneumothorax'), 'critical');
  });

  test('negative findings and rolled-up parents do not decide', () => {
    const negative = rules.prioritize(result('/x', { findings: [finding('pneumothorax', { positive: false })] }));
    assert.equal(negative, 'normal');
    // "radiological finding" rolled up from cardiomegaly: only the direct call counts.
    const rolled = rules.prioritize(
      result('/x', { findings: [finding('cardiomegaly'), finding('radiological finding', { direct: false })] }),
    );
    assert.equal(rolled, 'abnormal');
  });

  test('rejected and broken images need review', () => {
    assert.equal(rules.prioritize(result('/x', { status: 'rejected', findings: [] })), 'needs review');
    assert.equal(rules.prioritize(result('/x', { status: 'error', findings: [] })), 'needs review');
  });
});

describe('configured rules', () => {
  test('the most specific rule wins: "mass" urgent but "breast mass" abnormal', () => {
    const custom = compileRules({
      ...DEFAULT_RULES,
      rules: [...DEFAULT_RULES.rules, { term: 'breast mass', priority: 'abnormal' }],
    });
    assert.equal(custom.prioritize(result('/x', { positives: ['breast mass'] })), 'abnormal');
    assert.equal(custom.prioritize(result('/x', { positives: ['pulmonary mass'] })), 'urgent');
    assert.equal(custom.prioritize(result('/x', { positives: ['mass'] })), 'urgent');
  });

  test('at equal distance through two parents, the higher priority', () => {
    const custom = compileRules({
      ...DEFAULT_RULES,
      rules: [
        { term: 'pleural effusion', priority: 'abnormal' },
        { term: 'pneumothorax', priority: 'critical' },
      ],
    });
    assert.equal(custom.ruleFor('hydropneumothorax', 'finding')?.priority, 'critical');
  });

  test('a rule at the root re-grades every finding under it', () => {
    const custom = compileRules({
      ...DEFAULT_RULES,
      rules: [
        { term: 'radiological finding', priority: 'urgent' },
        { term: 'pneumothorax', priority: 'critical' },
      ],
    });
    assert.equal(custom.prioritize(result('/x', { positives: ['cardiomegaly'] })), 'urgent');
    assert.equal(custom.prioritize(result('/x', { positives: ['pneumothorax'] })), 'critical');
  });

  test('statuses and the fall-backs are configurable; the fingerprint follows the rules', () => {
    const custom = compileRules({ ...DEFAULT_RULES, rejected: 'normal', otherPositive: 'urgent' });
    assert.equal(custom.prioritize(result('/x', { status: 'rejected', findings: [] })), 'normal');
    assert.equal(custom.prioritize(result('/x', { positives: ['cardiomegaly'] })), 'urgent');
    assert.notEqual(custom.fingerprint, rules.fingerprint);
    assert.equal(compileRules(DEFAULT_RULES).fingerprint, rules.fingerprint);
  });
});

describe('rules files (--rules)', () => {
  const file = (name: string, content: unknown) => {
    const path = join(scratch.path, name);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  };
  const code = (error: TriageError) => error.code === 'INVALID_RULES';

  test('a valid file; omitted fields take the defaults', () => {
    const loaded = loadRules(file('ok.json', { version: 1, rules: [{ term: 'Cardiomegaly', priority: 'urgent' }] }));
    assert.equal(loaded.prioritize(result('/x', { positives: ['cardiomegaly'] })), 'urgent');
    assert.equal(loaded.prioritize(result('/x', { positives: ['nodule'] })), 'abnormal', 'only the listed rules apply');
    assert.equal(loaded.prioritize(result('/x', { status: 'error', findings: [] })), 'needs review');
  });

  test('errors name the field, the unknown term and its nearest neighbour', () => {
    assert.throws(() => loadRules(join(scratch.path, 'missing.json')), code);
    assert.throws(() => loadRules(file('bad.json', '{not json')), code);
    assert.throws(
      () => loadRules(file('v.json', { version: 2 })),
      (e: TriageError) => code(e) && /version/.test(e.message),
    );
    assert.throws(
      () => loadRules(file('p.json', { version: 1, rules: [{ term: 'nodule', priority: 'asap' }] })),
      (e: TriageError) => code(e) && /rules\[0\]\.priority/.test(e.message),
    );
    assert.throws(
      () => loadRules(file('x.json', { version: 1, rules: [{ term: 'nodule', priority: 'urgent', colour: 'red' }] })),
      (e: TriageError) => code(e) && /colour/.test(e.message),
    );
    assert.throws(
      () => loadRules(file('t.json', { version: 1, rules: [{ term: 'pneumothoraks', priority: 'critical' }] })),
      (e: TriageError) => code(e) && /rules\[0\]\.term/.test(e.message) && /pneumothorax/.test(e.message),
    );
    assert.throws(
      () => loadRules(file('l.json', { version: 1, rules: [{ term: 'localization', priority: 'urgent' }] })),
      code,
    );
  });
});
