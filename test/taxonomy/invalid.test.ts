/** The parser on crafted YAML: merging, and every way a tree file can be wrong. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTaxonomy, TaxonomyError } from '../../main/taxonomy/index.js';

/** The three status roots and the two roots a test does not care about, so documents stay short. */
const STATUS = 'label: normal\n---\nlabel: exclude\n---\nlabel: suboptimal study\n';
function withRoots(findings: string, extra = 'label: differential diagnosis\n---\nlabel: localization\n'): string {
  return `${STATUS}---\n${findings}---\n${extra}`;
}

const CYCLE = withRoots(`label: radiological finding
children:
- label: a
  children:
  - label: b
- label: b
  children:
  - label: c
    children:
    - label: A
`);

test('a cycle made by merging copies is detected and named', () => {
  assert.throws(
    () => parseTaxonomy(CYCLE, 'cycle.yaml'),
    (error: unknown) =>
      error instanceof TaxonomyError &&
      error.code === 'TAXONOMY_CYCLE' &&
      error.message === 'cycle.yaml: the finding tree has a cycle: "a" > "b" > "c" > "a".',
  );
});

test('a term listed under itself is a cycle', () => {
  const selfLoop = withRoots('label: radiological finding\nchildren:\n- label: a\n  children:\n  - label: a\n');
  assert.throws(() => parseTaxonomy(selfLoop), { code: 'TAXONOMY_CYCLE', message: /"a" > "a"/ });
});

test('a recursive YAML alias is a cycle, not a hang', () => {
  const alias = withRoots('label: radiological finding\nchildren:\n- &x\n  label: a\n  children:\n  - *x\n');
  assert.throws(() => parseTaxonomy(alias), { code: 'TAXONOMY_CYCLE' });
});

test('a root that appears below a node of its own tree is refused', () => {
  const rootAsChild = withRoots(
    'label: radiological finding\nchildren:\n- label: a\n',
    'label: differential diagnosis\n---\nlabel: localization\nchildren:\n- label: x\n  children:\n  - label: localization\n',
  );
  assert.throws(() => parseTaxonomy(rootAsChild), {
    code: 'TAXONOMY_CYCLE',
    message: /"localization" > "x" > "localization"/,
  });
});

test('repeated copies merge: union of children and parents, CUIs kept in order', () => {
  const taxonomy = parseTaxonomy(
    withRoots(`label: radiological finding
children:
- label: p
  children:
  - label: shared
    concept: (C0000001)  First name
    children:
    - label: x
- label: q
  children:
  - label: " Shared "
    concept: (C0000002) second name
    children:
    - label: y
    - label: x
  - label: shared
`),
  );
  const shared = taxonomy.require('SHARED', 'finding');
  assert.deepEqual(
    {
      term: shared.term,
      cui: shared.cui,
      altCuis: shared.altCuis,
      cuiName: shared.cuiName,
      parents: shared.parents,
      children: shared.children,
    },
    {
      term: 'shared',
      cui: 'C0000001',
      altCuis: ['C0000002'],
      cuiName: 'First name',
      parents: ['p', 'q'],
      children: ['x', 'y'],
    },
  );
  assert.deepEqual(taxonomy.require('q').children, ['shared']); // listed twice, one edge
  assert.deepEqual(taxonomy.pathsFromRoot('y'), [
    ['radiological finding', 'p', 'shared', 'y'],
    ['radiological finding', 'q', 'shared', 'y'],
  ]);
});

test('the same label in two trees is two terms; a tree-less lookup must then say which', () => {
  const taxonomy = parseTaxonomy(
    withRoots(
      'label: radiological finding\nchildren:\n- label: hilar\n',
      'label: differential diagnosis\n---\nlabel: localization\nchildren:\n- label: hilar\n',
    ),
  );
  assert.equal(taxonomy.require('hilar', 'localization').tree, 'localization');
  assert.throws(() => taxonomy.get('hilar'), { code: 'AMBIGUOUS_TERM', message: /finding, localization/ });
  assert.equal(taxonomy.has('hilar'), true);
});

test('malformed files are refused with a message saying where', () => {
  const cases: [string, RegExp][] = [
    [
      withRoots('label: radiological finding\nchildren:\n- label: a\n  concept: C0000001 no parentheses\n'),
      /"radiological finding" > "a" has concept "C0000001 no parentheses"/,
    ],
    [
      withRoots('label: radiological finding\nchildren:\n- label: a\n  concept: (C123) short\n'),
      /has concept "\(C123\) short"/,
    ],
    [withRoots('label: radiological finding\nchildren:\n- label: a\n  colour: red\n'), /unknown key "colour"/],
    [
      withRoots('label: radiological finding\nchildren:\n- concept: (C0000001) x\n'),
      /a node under "radiological finding" has no text label/,
    ],
    [withRoots('label: radiological finding\nchildren:\n- label: 42\n'), /has no text label/],
    [
      withRoots('label: radiological finding\nchildren:\n  label: a\n'),
      /"radiological finding" has children that are not a list/,
    ],
    [withRoots('label: radiological finding\nsingle_label: yes please\n'), /single_label "yes please"/],
    [
      withRoots('label: radiological finding\n---\nlabel: radiological finding\n'),
      /root "radiological finding" appears twice/,
    ],
    [`${STATUS}---\nlabel: differential diagnosis\n---\nlabel: localization\n`, /has no root "radiological finding"/],
    [
      `label: normal\n---\nlabel: exclude\nchildren:\n- label: Normal\n---\nlabel: suboptimal study\n---\nlabel: radiological finding\n---\nlabel: differential diagnosis\n---\nlabel: localization\n`,
      /root "normal" also appears as a child of "exclude"/,
    ],
    [withRoots('label: findings\n'), /document root "findings" is not one of/],
    [withRoots('label: radiological finding\nchildren: [a\n'), /is not valid YAML/],
  ];
  for (const [text, message] of cases) {
    assert.throws(() => parseTaxonomy(text, 'bad.yaml'), { code: 'INVALID_TAXONOMY', message }, String(message));
  }
});
