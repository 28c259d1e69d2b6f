import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTaxonomy, rollUp, TaxonomyError } from '../../main/taxonomy/index.js';
import type { Evidence, RolledUpNode, TaxonomyTree } from '../../main/taxonomy/index.js';
import { derivedEdges } from './derived-csv.js';

const taxonomy = loadTaxonomy();
const byTerm = (nodes: RolledUpNode[]) => new Map(nodes.map((node) => [`${node.tree}|${node.term}`, node]));

test('a positive term makes every ancestor positive, through every parent', () => {
  const result = rollUp(taxonomy, [{ term: 'Calcified Mediastinal Adenopathy', tree: 'finding', positive: true }]);
  assert.deepEqual(
    result.map((node) => [node.term, node.positive, node.direct]),
    [
      ['radiological finding', true, false],
      ['calcified densities', true, false],
      ['calcified adenopathy', true, false],
      ['calcified mediastinal adenopathy', true, true],
      ['adenopathy', true, false],
      ['hilar enlargement', true, false],
    ],
  );
  for (const node of result.filter((n) => !n.direct))
    assert.deepEqual(node.supportedBy, ['calcified mediastinal adenopathy']);
  assert.deepEqual(result[3].supportedBy, []);
  assert.equal(result[3].paths.length, 3);
  assert.deepEqual(result[3].evidence, [{ term: 'Calcified Mediastinal Adenopathy', tree: 'finding', positive: true }]);
});

test('both parents of calcified granuloma turn positive; a negative vote on one is overridden', () => {
  const result = byTerm(
    rollUp(taxonomy, [
      { term: 'calcified granuloma', tree: 'finding', positive: true },
      { term: 'granuloma', tree: 'finding', positive: false },
      { term: 'nodule', tree: 'finding', positive: true },
    ]),
  );
  const granuloma = result.get('finding|granuloma')!;
  assert.deepEqual([granuloma.positive, granuloma.direct, granuloma.overridden], [true, true, true]);
  assert.deepEqual(granuloma.supportedBy, ['calcified granuloma']);
  assert.equal(result.get('finding|calcified densities')!.positive, true);
  assert.deepEqual(result.get('finding|radiological finding')!.supportedBy, ['calcified granuloma', 'nodule']);
  assert.deepEqual(result.get('finding|calcified granuloma')!.paths, [
    ['radiological finding', 'calcified densities', 'calcified granuloma'],
    ['radiological finding', 'granuloma', 'calcified granuloma'],
  ]);
  assert.equal(result.size, 5);
});

test('negatives stay where they are: not pushed down, not pushed up', () => {
  const result = rollUp(taxonomy, [
    { term: 'pleural effusion', tree: 'finding', positive: false },
    { term: 'pneumonia', tree: 'diagnosis', positive: false },
  ]);
  assert.deepEqual(
    result.map((node) => [node.tree, node.term, node.positive, node.overridden]),
    [
      ['finding', 'pleural effusion', false, false],
      ['diagnosis', 'pneumonia', false, false],
    ],
  );
  assert.deepEqual(result[0].paths, [['radiological finding', 'pleural effusion']]);
});

test('evidence items are passed through, generic over the caller type', () => {
  interface Vote extends Evidence {
    tree: 'finding' | 'diagnosis';
    votes: { positive: number; total: number };
  }
  const votes: Vote[] = [
    { term: 'atypical pneumonia', tree: 'diagnosis', positive: true, votes: { positive: 2, total: 3 } },
    { term: 'pneumonia', tree: 'diagnosis', positive: true, votes: { positive: 3, total: 3 } },
  ];
  const result = rollUp(taxonomy, votes);
  const pneumonia = result.find((node) => node.term === 'pneumonia')!;
  assert.equal(pneumonia.evidence[0].votes.positive, 3);
  assert.deepEqual(pneumonia.supportedBy, ['atypical pneumonia']);
  assert.deepEqual(
    result.map((node) => node.term),
    ['differential diagnosis', 'pneumonia', 'atypical pneumonia'],
  );
  assert.equal(result[0].cui, null);
  assert.deepEqual(rollUp(taxonomy, []), []);
});

test('an unknown term throws before anything is computed, naming the term and the nearest tree', () => {
  assert.throws(
    () =>
      rollUp(taxonomy, [
        { term: 'nodule', tree: 'finding', positive: true },
        { term: 'emphysema', tree: 'finding', positive: true },
      ]),
    (error: unknown) =>
      error instanceof TaxonomyError &&
      error.code === 'UNKNOWN_TERM' &&
      error.term === 'emphysema' &&
      /"emphysema".*diagnosis tree/.test(error.message),
  );
  assert.throws(() => rollUp(taxonomy, [{ term: 'cardiomegally', tree: 'finding', positive: true }]), {
    message: 'Unknown PadChest finding term "cardiomegally"; the nearest is "cardiomegaly" in the finding tree.',
  });
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

test('property: over random evidence the result is consistent and matches an independent oracle', () => {
  // Oracle from the CSV edges (another parser's output), not from the code under test.
  const parentsOf = new Map<string, string[]>();
  for (const edge of derivedEdges()) {
    const key = `${edge.tree}|${edge.child}`;
    parentsOf.set(key, [...(parentsOf.get(key) ?? []), `${edge.tree}|${edge.parent}`]);
  }
  const ancestorsOf = (key: string, into = new Set<string>()): Set<string> => {
    for (const parent of parentsOf.get(key) ?? []) if (!into.has(parent)) ancestorsOf(parent, into.add(parent));
    return into;
  };
  const candidates = [...taxonomy.nodes('finding'), ...taxonomy.nodes('diagnosis')];

  for (let seed = 1; seed <= 400; seed++) {
    const next = random(seed);
    const evidence = Array.from({ length: 1 + Math.floor(next() * 12) }, () => {
      const node = candidates[Math.floor(next() * candidates.length)];
      const term = next() < 0.3 ? ` ${node.term.toUpperCase()} ` : node.term;
      return { term, tree: node.tree as TaxonomyTree, positive: next() < 0.4 };
    });
    const context = `seed ${seed}: ${JSON.stringify(evidence)}`;
    const result = byTerm(rollUp(taxonomy, evidence));

    const evidenced = new Map<string, boolean>();
    for (const item of evidence) {
      const key = `${item.tree}|${taxonomy.require(item.term, item.tree).term}`;
      evidenced.set(key, (evidenced.get(key) ?? false) || item.positive);
    }
    const expectedSupport = new Map<string, Set<string>>();
    for (const [key, positive] of evidenced) {
      if (!positive) continue;
      for (const ancestor of ancestorsOf(key))
        expectedSupport.set(ancestor, (expectedSupport.get(ancestor) ?? new Set()).add(key.split('|')[1]));
    }
    // Exactly the evidenced terms and the ancestors of positive ones.
    assert.deepEqual(new Set(result.keys()), new Set([...evidenced.keys(), ...expectedSupport.keys()]), context);

    for (const [key, node] of result) {
      const support = expectedSupport.get(key) ?? new Set<string>();
      assert.deepEqual(new Set(node.supportedBy), support, `${context} supportedBy of ${key}`);
      assert.equal(node.positive, evidenced.get(key) === true || support.size > 0, `${context} positive ${key}`);
      assert.equal(node.direct, evidenced.has(key), context);
      // Consistency: a positive node's parents are all present and positive...
      if (node.positive) {
        for (const parent of parentsOf.get(key) ?? [])
          assert.equal(result.get(parent)?.positive, true, `${context}: ${key} positive under ${parent}`);
      }
      // ...so no positive node sits anywhere below a negative one.
      if (!node.positive) {
        for (const [other, otherNode] of result) {
          if (otherNode.positive)
            assert.ok(!ancestorsOf(other).has(key), `${context}: positive ${other} under negative ${key}`);
        }
      }
      assert.ok(
        node.paths.every((path) => path.at(-1) === node.term && taxonomy.require(path[0], node.tree).isRoot),
        context,
      );
    }
  }
});
