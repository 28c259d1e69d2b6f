import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultTaxonomyPath } from '../../main/taxonomy/index.js';
import { FIXTURES } from './derived-csv.js';

const bundled = readFileSync(new URL('../../models/taxonomy/padchest/trees_code.txt', import.meta.url));
const provenance = readFileSync(new URL('../../models/taxonomy/padchest/PROVENANCE.md', import.meta.url), 'utf8');

test('the bundled tree file is the upstream file byte for byte', () => {
  assert.equal(bundled.length, 23610);
  assert.equal(
    createHash('sha256').update(bundled).digest('hex'),
    'ae030251d8219d80456604eea81f2ffc7cddf5ec0cd94950a81b40fb6e444787',
  );
  // The git blob id ties it to the exact object in BIMCV-CSUSP/BIMCV-COVID-19.
  const blob = createHash('sha1').update(`blob ${bundled.length}\0`).update(bundled).digest('hex');
  assert.equal(blob, '88b6c90d0b3acdc248c6028808f0872237ccb36d');
});

test('PROVENANCE.md records source, hashes, licence caveat and citation', () => {
  for (const fact of [
    'BIMCV-CSUSP/BIMCV-COVID-19',
    'f1900c838e5ce3cbbc45c479fe30776e737b680f',
    'padchest-covid/trees_code.txt',
    '88b6c90d0b3acdc248c6028808f0872237ccb36d',
    'ae030251d8219d80456604eea81f2ffc7cddf5ec0cd94950a81b40fb6e444787',
    'MIT',
    'UMLS',
    'Medical Image Analysis 2020;66:101797',
    'arXiv:1901.07441',
  ]) {
    assert.ok(provenance.includes(fact), `PROVENANCE.md lacks ${fact}`);
  }
});

test('the default path finds the bundled file from the package root', () => {
  assert.ok(defaultTaxonomyPath().endsWith(join('models', 'taxonomy', 'padchest', 'trees_code.txt')));
  assert.deepEqual(readFileSync(defaultTaxonomyPath()), bundled);
});

const shared = new URL('../../../shared/data/padchest/', import.meta.url);
test('the CSV fixtures are the shared derived CSVs, and the shared tree file matches', () => {
  assert.ok(
    existsSync(shared),
    `${fileURLToPath(shared)} is missing: the tests read ../shared beside the checkout (as CI provides it)`,
  );
  for (const name of ['padchest_taxonomy_nodes.csv', 'padchest_taxonomy_edges.csv']) {
    assert.deepEqual(readFileSync(new URL(name, FIXTURES)), readFileSync(new URL(`derived/${name}`, shared)), name);
  }
  assert.deepEqual(readFileSync(new URL('BIMCV-CSUSP__BIMCV-COVID-19/padchest-covid/trees_code.txt', shared)), bundled);
});
