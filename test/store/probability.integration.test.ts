/**
 * The ensemble probability, the indeterminate band and the findings no model assessed in the
 * results store: written and read back whole, listed by the worklist, exported unchanged, kept out
 * of a pack's fingerprint when the band is the one results had before bands were recorded, and
 * backfilled by schema 3's migration from a schema 2 database's stored member values.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import sqlite from 'node-sqlite3-wasm';
import { exportRecord, exportResults } from '../../main/scan/export.js';
import { packFingerprint, ResultStore, SCHEMA_VERSION } from '../../main/store/index.js';
import { MIGRATIONS } from '../../main/store/schema.js';
import { csvRecords } from '../scan/csv.js';
import { scratchDir } from '../support/tools.js';
import { finding, MODELS, result, unassessed } from './results.js';

const scratch = scratchDir('store-probability');
after(() => scratch.remove());
let counter = 0;
const freshDb = () => join(scratch.path, `db-${++counter}`, 'results.sqlite');

/** A result with an indeterminate positive, a clear positive, a negative and a term not assessed. */
function mixed(file: string) {
  return result(file, {
    pack: { id: 'narrow', version: '2.0.0', rule: 'majority', indeterminate: { low: 0.45, high: 0.55 }, demo: false },
    findings: [
      finding('pleural effusion', { p: 0.57, indeterminate: true }),
      finding('mass'),
      finding('cardiomegaly', { positive: false }),
      unassessed('nodule'),
    ],
  });
}

function record(store: ResultStore, file: string, analysis = mixed(file)): number {
  return store.recordResult({
    result: analysis,
    file: { path: file, sha256: file.padEnd(64, '0').slice(0, 64), size: 10 },
    format: 'dicom',
    priority: 'abnormal',
    rulesFingerprint: 'rules-1',
    scanId: null,
  });
}

describe('the new fields in the store', () => {
  test('the ensemble probability, indeterminate, assessed and the pack band read back as written', () => {
    const store = ResultStore.open(freshDb());
    try {
      const written = mixed('/p/1.dcm');
      const back = store.result(record(store, '/p/1.dcm', written))!;
      assert.deepEqual(back.findings, written.findings);
      assert.deepEqual(back.pack.indeterminate, { low: 0.45, high: 0.55 });
      const effusion = back.findings.find((f) => f.term === 'pleural effusion')!;
      assert.equal(effusion.probability!.ensemble, 0.57 - 0.05, 'the lower member value, not the mean 0.57');
      assert.equal(effusion.indeterminate, true);
      const nodule = back.findings.find((f) => f.term === 'nodule')!;
      assert.deepEqual(
        [nodule.assessed, nodule.positive, nodule.probability, nodule.votes],
        [false, false, null, { positive: 0, total: 0 }],
      );
    } finally {
      store.close();
    }
  });

  test('the worklist lists the positive findings with their ensemble probability and band, and the terms not assessed', () => {
    const store = ResultStore.open(freshDb());
    try {
      record(store, '/p/2.dcm');
      const [image] = store.worklist()[0].images;
      assert.deepEqual(image.findings, [
        {
          term: 'pleural effusion',
          tree: 'finding',
          votes: { positive: 2, total: 2 },
          probability: 0.57 - 0.05,
          indeterminate: true,
        },
        {
          term: 'mass',
          tree: 'finding',
          votes: { positive: 2, total: 2 },
          probability: 0.9 - 0.05,
          indeterminate: false,
        },
      ]);
      assert.deepEqual(image.notAssessed, [{ term: 'nodule', tree: 'finding' }]);
    } finally {
      store.close();
    }
  });

  test('NDJSON and JSON exports carry the new fields unchanged; CSV words them', async () => {
    const store = ResultStore.open(freshDb());
    try {
      record(store, '/p/3.dcm');
      const stored = [...store.allResults()];
      for (const format of ['ndjson', 'json'] as const) {
        const out = join(scratch.path, `export-${counter}.${format}`);
        await exportResults(stored, out, format);
        const text = readFileSync(out, 'utf8');
        const records =
          format === 'json'
            ? JSON.parse(text)
            : text
                .trim()
                .split('\n')
                .map((line) => JSON.parse(line));
        assert.deepEqual(records, stored.map(exportRecord), format);
        assert.deepEqual(records[0].pack.indeterminate, { low: 0.45, high: 0.55 });
        const nodule = (records[0].findings as Array<{ term: string; assessed: boolean }>).find(
          (f) => f.term === 'nodule',
        );
        assert.equal(nodule?.assessed, false);
      }
      const csv = join(scratch.path, `export-${counter}.csv`);
      await exportResults(stored, csv, 'csv');
      const [row] = csvRecords(readFileSync(csv, 'utf8'));
      assert.equal(
        row.positive_findings,
        `pleural effusion: indeterminate (2/2, ${0.57 - 0.05}); mass (2/2, ${0.9 - 0.05})`,
      );
      assert.equal(row.not_assessed_findings, 'nodule');
    } finally {
      store.close();
    }
  });

  test('the band [0.4, 0.6) leaves the fingerprint as it was before bands; another band changes it', () => {
    // The canonical form before schema 3, written out here: pack id, version, rule, demo; the models.
    const before = createHash('sha256')
      .update(JSON.stringify({ pack: { id: 'p', version: '1', rule: 'majority', demo: true }, models: [] }))
      .digest('hex');
    const pack = { id: 'p', version: '1', rule: 'majority', indeterminate: { low: 0.4, high: 0.6 }, demo: true };
    assert.equal(packFingerprint({ pack, models: [] }), before);
    assert.notEqual(
      packFingerprint({ pack: { ...pack, indeterminate: { low: 0.4, high: 0.65 } }, models: [] }),
      before,
    );
    assert.notEqual(
      packFingerprint({ pack: { ...pack, indeterminate: { low: 0.45, high: 0.6 } }, models: [] }),
      before,
    );
    assert.notEqual(packFingerprint({ pack, models: MODELS }), before, 'the models still count');
  });
});

describe('schema 3 migration', () => {
  /** A schema 2 database as the previous version wrote it, with raw rows. */
  function schema2(path: string, fill: (raw: sqlite.Database) => void): void {
    mkdirSync(join(path, '..'), { recursive: true });
    const raw = new sqlite.Database(path);
    raw.all('PRAGMA locking_mode = EXCLUSIVE');
    raw.all('PRAGMA journal_mode = WAL');
    raw.exec(
      'CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at TEXT NOT NULL)',
    );
    for (const migration of MIGRATIONS.filter((m) => m.version <= 2)) {
      raw.exec(migration.sql);
      raw.run('INSERT INTO schema_version VALUES (?, ?, ?)', [migration.version, migration.description, '2026-01-01']);
    }
    fill(raw);
    raw.close();
  }

  /** Pack, study and image rows for one image per rule; findings are added by `finding`. */
  function image(raw: sqlite.Database, id: number, rule: string): void {
    raw.run('INSERT INTO packs VALUES (?, ?, ?, ?, 1, 1)', [`fp-${rule}`, `pack-${rule}`, '1', rule]);
    raw.run("INSERT INTO studies VALUES (?, NULL, 'abnormal', 2, '2026-01-01', '2026-01-01')", [`file:/m/${rule}.dcm`]);
    raw.run(
      `INSERT INTO images (id, path, study_key, status, provider, pack_fingerprint, rules_fingerprint, priority, priority_rank, not_for_clinical_use, scanned_at)
       VALUES (?, ?, ?, 'ok', 'cpu', ?, 'r', 'abnormal', 2, 1, '2026-01-01')`,
      [id, `/m/${rule}.dcm`, `file:/m/${rule}.dcm`, `fp-${rule}`],
    );
  }

  /** A schema 2 finding row: the members' values (rounded to 4 decimals as stored), votes, mean/min/max. */
  function storedFinding(
    raw: sqlite.Database,
    imageId: number,
    position: number,
    term: string,
    perModel: Record<string, number>,
    positiveVotes: number,
    positive: boolean,
  ): void {
    const values = Object.values(perModel);
    const direct = values.length > 0;
    raw.run(
      `INSERT INTO findings (image_id, position, term, tree, cui, positive, direct, votes_positive, votes_total,
         probability_mean, probability_min, probability_max, per_model, supported_by, paths)
       VALUES (?, ?, ?, 'finding', NULL, ?, ?, ?, ?, ?, ?, ?, ?, '[]', '[]')`,
      [
        imageId,
        position,
        term,
        positive ? 1 : 0,
        direct ? 1 : 0,
        positiveVotes,
        values.length,
        direct ? values.reduce((a, b) => a + b, 0) / values.length : null,
        direct ? Math.min(...values) : null,
        direct ? Math.max(...values) : null,
        JSON.stringify(perModel),
      ],
    );
  }

  test('the ensemble probability is replayed per rule, held below 0.5 where the vote was negative, and banded at [0.4, 0.6)', () => {
    const path = freshDb();
    schema2(path, (raw) => {
      image(raw, 1, 'majority');
      // The demo pack's pleural effusion on phantom-00000: 2 of 3, median 0.5294 (mean 0.3787).
      storedFinding(raw, 1, 0, 'pleural effusion', { resnet: 0.0687, densenet: 0.5294, mobilenet: 0.5381 }, 2, true);
      storedFinding(raw, 1, 1, 'mass', { resnet: 0.9207, densenet: 0.9566, mobilenet: 0.0883 }, 2, true);
      // Two members read 0.5, but the votes say one of them was below (0.49996 rounded).
      storedFinding(raw, 1, 2, 'cardiomegaly', { resnet: 0.5, densenet: 0.5, mobilenet: 0.2 }, 1, false);
      storedFinding(raw, 1, 3, 'atelectasis', { resnet: 0.45, densenet: 0.2, mobilenet: 0.3 }, 0, false);
      // Two members: 1 of 2 is no majority, the lower value stands.
      storedFinding(raw, 1, 4, 'pneumothorax', { resnet: 0.9, densenet: 0.35 }, 1, false);
      // A parent positive by roll-up: no probability.
      storedFinding(raw, 1, 5, 'radiological finding', {}, 0, true);
      image(raw, 2, 'any');
      storedFinding(raw, 2, 0, 'mass', { a: 0.3, b: 0.55, c: 0.1 }, 1, true);
      image(raw, 3, 'all');
      storedFinding(raw, 3, 0, 'mass', { a: 0.3, b: 0.55, c: 0.7 }, 2, false);
      storedFinding(raw, 3, 1, 'atelectasis', { a: 0.5, b: 0.7 }, 1, false);
      storedFinding(raw, 3, 2, 'cardiomegaly', { a: 0.65, b: 0.7 }, 2, true);
      image(raw, 4, 'soft-mean');
      storedFinding(raw, 4, 0, 'mass', { a: 0.3, b: 0.9 }, 1, true);
    });
    const store = ResultStore.open(path);
    try {
      assert.equal(store.schemaVersion(), SCHEMA_VERSION);
      const called = (id: number) =>
        Object.fromEntries(
          store
            .result(id)!
            .findings.map((f) => [f.term, [f.probability?.ensemble ?? null, f.indeterminate, f.assessed]]),
        );
      assert.deepEqual(called(1), {
        'pleural effusion': [0.5294, true, true],
        mass: [0.9207, false, true],
        cardiomegaly: [0.4999, true, true],
        atelectasis: [0.3, false, true],
        pneumothorax: [0.35, false, true],
        'radiological finding': [null, false, true],
      });
      assert.deepEqual(called(2), { mass: [0.55, true, true] });
      assert.deepEqual(called(3), {
        mass: [0.3, false, true],
        atelectasis: [0.4999, true, true],
        cardiomegaly: [0.65, false, true],
      });
      // Soft-mean's threshold was never stored: no number can be stated.
      assert.deepEqual(called(4), { mass: [null, false, true] });
      const majority = store.result(1)!;
      assert.deepEqual(majority.findings[0].probability, {
        ensemble: 0.5294,
        mean: (0.0687 + 0.5294 + 0.5381) / 3,
        min: 0.0687,
        max: 0.5381,
      });
      assert.deepEqual(majority.pack.indeterminate, { low: 0.4, high: 0.6 });
      const worklist = store.worklist().flatMap((s) => s.images);
      assert.deepEqual(
        worklist
          .find((i) => i.file === '/m/majority.dcm')!
          .findings.map((f) => [f.term, f.probability, f.indeterminate]),
        [
          ['pleural effusion', 0.5294, true],
          ['mass', 0.9207, false],
        ],
      );
      assert.ok(
        worklist.every((i) => i.notAssessed.length === 0),
        'no stored finding was unassessed',
      );
      assert.deepEqual(store.integrityCheck(), ['ok']);
    } finally {
      store.close();
    }
  });
});
