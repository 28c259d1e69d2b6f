// The labels file of triage eval and triage calibrate: CSV as RFC 4180 writes it, PadChest terms
// checked against the bundled taxonomy, every refusal coded and naming its place.
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { TriageError } from '../../main/errors/index.js';
import { LABEL_COLUMNS } from '../../main/phantom/terms.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import { MAX_LABELS_BYTES, parseCsv, parseLabels, readLabels } from '../../main/validation/index.js';

const taxonomy = await loadTaxonomy();
const parse = (text: string) => parseLabels(text, taxonomy, 'labels.csv', '/data');

function refused(text: string, code: string, ...fragments: string[]): void {
  assert.throws(
    () => parse(text),
    (error: unknown) => {
      assert.ok(error instanceof TriageError, String(error));
      assert.equal(error.code, code, error.message);
      for (const fragment of fragments)
        assert.ok(error.message.includes(fragment), `${error.message} lacks ${fragment}`);
      return true;
    },
  );
}

test('quoted fields keep commas, quotes and line breaks; a BOM, CRLF and blank lines are tolerated', () => {
  const text = '\ufefffile,nodule\r\n"a, ""b""\nc.dcm",1\r\n\r\nplain.dcm,0\r\n';
  assert.deepEqual(parseCsv(text, 'x'), [
    ['file', 'nodule'],
    ['a, "b"\nc.dcm', '1'],
    ['plain.dcm', '0'],
  ]);
  const labels = parse(text);
  assert.deepEqual(
    labels.rows.map((r) => r.key),
    ['/data/a, "b"\nc.dcm', '/data/plain.dcm'],
  );
});

test("the phantom generator's header is a labels file: every column a PadChest term, normal in the status tree", () => {
  const labels = parse(`file,${LABEL_COLUMNS.join(',')}\nphantom-00000.dcm,0,1,0,0,0,0,0,0\n`);
  assert.deepEqual(
    labels.terms.map((t) => `${t.tree}:${t.term}`),
    [...LABEL_COLUMNS.slice(0, -1).map((t) => `finding:${t}`), 'status:normal'],
  );
  assert.deepEqual(labels.rows[0].values, [0, 1, 0, 0, 0, 0, 0, 0]);
  assert.equal(labels.rows[0].patient, null);
});

test('empty cells are unknown; a patient column groups images; sopInstanceUID keys are kept as written', () => {
  const labels = parse('sopInstanceUID,patient,finding:nodule,cardiomegaly\n1.2.3,P1,,1\n1.2.4,,0,\n');
  assert.equal(labels.keyColumn, 'sopInstanceUID');
  assert.deepEqual(
    labels.rows.map((r) => [r.key, r.patient, r.values]),
    [
      ['1.2.3', 'P1', [null, 1]],
      ['1.2.4', null, [0, null]],
    ],
  );
});

test('a column that is not a PadChest term is refused with its name', () => {
  refused('file,nodule,pneumonitis-ish\na.dcm,1,0\n', 'UNKNOWN_TERM', 'column "pneumonitis-ish"');
});

test('values other than 1, 0 or empty are refused with row and column; -1 gets advice', () => {
  refused('file,nodule\na.dcm,2\n', 'INVALID_LABELS', 'row 2', 'column "nodule"', '"2"');
  refused('file,nodule\na.dcm,-1\n', 'INVALID_LABELS', 'uncertain');
  refused('file,nodule\na.dcm,yes\n', 'INVALID_LABELS', '"yes"');
});

test('malformed files are refused: no key column, ragged rows, repeated keys, unclosed quotes, no terms', () => {
  refused('image,nodule\na.dcm,1\n', 'INVALID_LABELS', 'first column');
  refused('file,nodule\na.dcm,1,0\n', 'INVALID_LABELS', 'row 2 has 3 fields');
  refused('file,nodule\na.dcm,1\n./a.dcm,0\n', 'INVALID_LABELS', 'repeats');
  refused('file,nodule\n"a.dcm,1\n', 'INVALID_LABELS', 'never closes');
  refused('file\na.dcm\n', 'INVALID_LABELS', 'no term column');
  refused('file,nodule,nodule\na.dcm,1,1\n', 'INVALID_LABELS', 'name the same term');
  refused('', 'INVALID_LABELS', 'empty');
});

test('a file past the byte budget is refused before it is read; a missing one is coded too', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'labels-'));
  const big = join(dir, 'big.csv');
  writeFileSync(big, '');
  const { truncateSync } = await import('node:fs');
  truncateSync(big, MAX_LABELS_BYTES + 1);
  await assert.rejects(
    readLabels(big, taxonomy),
    (e: TriageError) => e.code === 'INVALID_LABELS' && /bytes/.test(e.message),
  );
  await assert.rejects(readLabels(join(dir, 'none.csv'), taxonomy), (e: TriageError) => e.code === 'FILE_NOT_FOUND');
  const latin1 = join(dir, 'latin1.csv');
  writeFileSync(latin1, Buffer.from('file,nodule\nf\xe9.dcm,1\n', 'latin1'));
  await assert.rejects(readLabels(latin1, taxonomy), (e: TriageError) => /UTF-8/.test(e.message));
  const good = join(dir, 'good.csv');
  writeFileSync(good, 'file,nodule\nsub/a.dcm,1\n');
  const labels = await readLabels(good, taxonomy);
  assert.equal(labels.rows[0].key, join(dir, 'sub/a.dcm'));
  assert.match(labels.sha256, /^[0-9a-f]{64}$/);
});
