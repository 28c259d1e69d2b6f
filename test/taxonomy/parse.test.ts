/**
 * The parser checked against the bundled tree and the derived CSVs (an independent parse of the
 * same file with Python's yaml.safe_load_all).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTaxonomy, TaxonomyError } from '../../main/taxonomy/index.js';
import type { TaxonomyTree } from '../../main/taxonomy/index.js';
import { derivedEdges, derivedNodes, list } from './derived-csv.js';

const taxonomy = loadTaxonomy();
const csvNodes = derivedNodes();
const csvEdges = derivedEdges();

test('node counts below the roots: 170 findings, 19 diagnoses, 104 locations, as in the CSV', () => {
  const expected: Record<TaxonomyTree, number> = { finding: 170, diagnosis: 19, localization: 104, status: 0 };
  for (const [tree, count] of Object.entries(expected) as [TaxonomyTree, number][]) {
    const parsed = taxonomy.nodes(tree).filter((node) => !node.isRoot).length;
    const csv = csvNodes.filter((row) => row.tree === tree && row.is_root === '0').length;
    assert.equal(parsed, count, `${tree} parsed`);
    assert.equal(csv, count, `${tree} csv`);
  }
  assert.equal(taxonomy.nodes().length, csvNodes.length);
  assert.equal(csvNodes.length, 299);
});

test('roots keep their semantic labels and trees', () => {
  assert.deepEqual(
    taxonomy.roots.map((node) => [node.term, node.tree]),
    [
      ['normal', 'status'],
      ['exclude', 'status'],
      ['suboptimal study', 'status'],
      ['radiological finding', 'finding'],
      ['differential diagnosis', 'diagnosis'],
      ['localization', 'localization'],
    ],
  );
  assert.equal(taxonomy.get('radiological finding', 'finding')?.cui, 'C0436485');
  assert.deepEqual(
    taxonomy
      .nodes()
      .filter((node) => node.singleLabel)
      .map((node) => node.term),
    ['normal', 'exclude'],
  );
});

test('every CSV edge is in the parsed DAG and there is no other', () => {
  const parsed = new Set(
    taxonomy.nodes().flatMap((node) => node.children.map((child) => `${node.tree}|${node.term}|${child}`)),
  );
  const csv = new Set(csvEdges.map((row) => `${row.tree}|${row.parent}|${row.child}`));
  assert.equal(csv.size, 321);
  assert.deepEqual(
    [...csv].filter((edge) => !parsed.has(edge)),
    [],
  );
  assert.deepEqual(
    [...parsed].filter((edge) => !csv.has(edge)),
    [],
  );
  // Parent lists are the mirror of child lists.
  const fromParents = new Set(
    taxonomy.nodes().flatMap((node) => node.parents.map((parent) => `${node.tree}|${parent}|${node.term}`)),
  );
  assert.deepEqual(fromParents, parsed);
});

test('every node matches its CSV row: CUI, alternative CUIs, name, parents and children in order', () => {
  for (const row of csvNodes) {
    const node = taxonomy.get(row.label, row.tree as TaxonomyTree);
    assert.ok(node, `${row.tree} ${row.label} missing`);
    assert.equal(node.term, row.label);
    assert.equal(node.cui, row.cui || null, `${row.label} cui`);
    assert.equal(node.cuiName, row.cui_name_as_given || null, `${row.label} cui name`);
    assert.deepEqual(
      node.altCuis,
      list(row.alt_cuis).map((alt) => alt.split('=')[0]),
      `${row.label} alt cuis`,
    );
    assert.deepEqual(node.parents, list(row.parents), `${row.label} parents`);
    assert.deepEqual(node.children, list(row.children), `${row.label} children`);
    assert.equal(node.isRoot, row.is_root === '1');
    assert.equal(node.singleLabel, row.single_label === 'Y');
  }
  assert.equal(taxonomy.nodes().filter((node) => node.cui !== null).length, 245);
});

test('adenopathy carries both of its CUIs', () => {
  const node = taxonomy.require('adenopathy', 'finding');
  assert.equal(node.cui, 'C0478664');
  assert.deepEqual(node.altCuis, ['C0149711']);
  assert.deepEqual(node.parents, ['radiological finding', 'hilar enlargement']);
});

test('multi-parent nodes have every path from the root, in source order', () => {
  assert.deepEqual(taxonomy.pathsFromRoot('calcified granuloma', 'finding'), [
    ['radiological finding', 'calcified densities', 'calcified granuloma'],
    ['radiological finding', 'granuloma', 'calcified granuloma'],
  ]);
  assert.deepEqual(taxonomy.pathsFromRoot('end on vessel', 'finding'), [
    ['radiological finding', 'end on vessel'],
    ['radiological finding', 'pseudonodule', 'end on vessel'],
  ]);
  // The copy of "adenopathy" under "hilar enlargement" lists no children; merging gives it some.
  assert.deepEqual(taxonomy.pathsFromRoot('calcified mediastinal adenopathy', 'finding'), [
    ['radiological finding', 'calcified densities', 'calcified adenopathy', 'calcified mediastinal adenopathy'],
    ['radiological finding', 'adenopathy', 'calcified adenopathy', 'calcified mediastinal adenopathy'],
    [
      'radiological finding',
      'hilar enlargement',
      'adenopathy',
      'calcified adenopathy',
      'calcified mediastinal adenopathy',
    ],
  ]);
  assert.deepEqual(taxonomy.pathsFromRoot('bronchi', 'localization'), [
    ['localization', 'bronchi'],
    ['localization', 'lung field', 'bronchi'],
    ['localization', 'airways', 'bronchi'],
  ]);
  assert.deepEqual(taxonomy.pathsFromRoot('radiological finding'), [['radiological finding']]);
});

test('every path is a chain of real edges from a root, and every parent is reached by some path', () => {
  for (const node of taxonomy.nodes()) {
    const paths = taxonomy.pathsFromRoot(node.term, node.tree);
    assert.ok(paths.length >= 1);
    assert.equal(new Set(paths.map((path) => path.join('>'))).size, paths.length, `${node.term}: duplicate paths`);
    for (const path of paths) {
      assert.ok(taxonomy.require(path[0], node.tree).isRoot);
      assert.equal(path.at(-1), node.term);
      for (let i = 1; i < path.length; i++)
        assert.ok(taxonomy.require(path[i], node.tree).parents.includes(path[i - 1]));
    }
    assert.deepEqual(
      new Set(paths.filter((path) => path.length > 1).map((path) => path.at(-2))),
      new Set(node.parents),
    );
  }
});

test('merging adds paths never written in the source, for exactly five terms', () => {
  // The CSV depths count each place a term is written; the merged DAG also links copies, so a
  // term under one copy of "upper lobe" is now under both. These five are the only ones.
  const changed = csvNodes
    .filter((row) => {
      const depths = taxonomy.pathsFromRoot(row.label, row.tree as TaxonomyTree).map((path) => path.length - 1);
      return Math.min(...depths) !== Number(row.min_depth) || Math.max(...depths) !== Number(row.max_depth);
    })
    .map((row) => row.label);
  assert.deepEqual(changed, [
    'calcified adenopathy',
    'calcified mediastinal adenopathy',
    'lingula',
    'apical',
    'suprahilar',
  ]);
});

test('ancestors and descendants follow every parent and child', () => {
  assert.deepEqual(taxonomy.ancestors('calcified mediastinal adenopathy'), [
    'radiological finding',
    'calcified densities',
    'calcified adenopathy',
    'adenopathy',
    'hilar enlargement',
  ]);
  assert.deepEqual(taxonomy.descendants('adenopathy', 'finding'), [
    'calcified adenopathy',
    'calcified mediastinal adenopathy',
  ]);
  assert.deepEqual(taxonomy.descendants('pulmonary hypertension', 'diagnosis'), [
    'pulmonary artery hypertension',
    'pulmonary venous hypertension',
  ]);
  assert.deepEqual(taxonomy.ancestors('localization', 'localization'), []);
  assert.equal(taxonomy.descendants('radiological finding').length, 170);
  assert.equal(taxonomy.descendants('differential diagnosis').length, 19);
  assert.equal(taxonomy.descendants('localization', 'localization').length, 104);
});

test('lookup is case-insensitive and trimmed, within a tree', () => {
  assert.equal(taxonomy.get('  CHILAIDITI   sign ', 'finding')?.term, 'Chilaiditi sign');
  assert.equal(taxonomy.get('lower lobe', 'localization')?.term, 'lower lobe'); // written "lower lobe " once
  assert.equal(taxonomy.get('pneumonia', 'finding'), undefined);
  assert.equal(taxonomy.get('Pneumonia')?.tree, 'diagnosis');
  assert.equal(taxonomy.has('nodule', 'finding'), true);
  assert.equal(taxonomy.has('nodule', 'diagnosis'), false);
  // Shaped like the packs stage's TermCheck: usable detached from the object.
  const { has } = taxonomy;
  assert.equal(has('cardiomegaly', 'finding'), true);
});

test('an unknown term names the term and the nearest tree', () => {
  assert.throws(
    () => taxonomy.require('pneumonia', 'finding'),
    (error: unknown) =>
      error instanceof TaxonomyError &&
      error.code === 'UNKNOWN_TERM' &&
      error.message === 'Unknown PadChest finding term "pneumonia"; it is in the diagnosis tree.' &&
      error.nearest?.tree === 'diagnosis',
  );
  assert.throws(() => taxonomy.pathsFromRoot('pleural efusion', 'finding'), {
    code: 'UNKNOWN_TERM',
    message: 'Unknown PadChest finding term "pleural efusion"; the nearest is "pleural effusion" in the finding tree.',
  });
});

test('nodes are frozen and the loaded taxonomy is cached', () => {
  const node = taxonomy.require('nodule', 'finding');
  assert.throws(() => (node.children as string[]).push('x'), TypeError);
  assert.equal(loadTaxonomy(), taxonomy);
  // Returned paths are copies: mutating one does not reach the cache.
  taxonomy.pathsFromRoot('nodule')[0].push('x');
  assert.deepEqual(taxonomy.pathsFromRoot('nodule'), [['radiological finding', 'nodule']]);
});

test('a missing file is a clear error', () => {
  assert.throws(() => loadTaxonomy('/nonexistent/trees_code.txt'), {
    code: 'TAXONOMY_NOT_FOUND',
    message: /nonexistent\/trees_code\.txt/,
  });
});
