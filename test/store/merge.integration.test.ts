/**
 * Merging results databases (main/store/merge.ts, `triage merge`) where it refuses or decides
 * alone: an output that holds results (OUTPUT_EXISTS, left as it was), one path from two packs
 * (MERGE_CONFLICT), an input from a newer version (DATABASE_TOO_NEW), a failure half-way leaving
 * the output empty (one transaction) and `triage merge` removing an output it made; the same
 * path in two inputs of one pack (the later result kept); and a shard's database refusing scans
 * of another shard (SHARD_MISMATCH). The merge of real shards against a single scan:
 * test/scan/shard.integration.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import sqlite from 'node-sqlite3-wasm';
import { TriageError } from '../../main/errors/index.js';
import { mergeStores, packFingerprint, ResultStore } from '../../main/store/index.js';
import { triage } from '../support/cli.js';
import { scratchDir } from '../support/tools.js';
import { MODELS, result } from './results.js';

const scratch = scratchDir('store-merge');
after(() => scratch.remove());
let counter = 0;
const freshDb = () => {
  const dir = join(scratch.path, `db-${++counter}`);
  mkdirSync(dir, { recursive: true });
  return join(dir, 'results.sqlite');
};
const coded = (code: string) => (error: unknown) => error instanceof TriageError && error.code === code;

function withResult(file: string, version = '1.0.0'): string {
  const path = freshDb();
  const store = ResultStore.open(path);
  const analysed = result(file, { positives: ['nodule'] });
  store.recordResult({
    result: { ...analysed, pack: { ...analysed.pack, version } },
    file: { path: file, sha256: `sha-of-${file}-${version}`, size: 10 },
    format: 'png',
    priority: 'urgent',
    rulesFingerprint: 'rules',
    scanId: null,
  });
  store.close();
  return path;
}

function images(path: string): string[] {
  const store = ResultStore.open(path);
  try {
    return [...store.allResults()].map((r) => r.file);
  } finally {
    store.close();
  }
}

function merge(out: string, inputs: string[]) {
  const sources = inputs.map((input) => ResultStore.open(input));
  const destination = ResultStore.open(out);
  try {
    return mergeStores(sources, destination);
  } finally {
    for (const source of sources) source.close();
    destination.close();
  }
}

describe('merge refuses', () => {
  test('an output that holds results, leaving it as it was', () => {
    const out = withResult('/a/kept.png');
    assert.throws(() => merge(out, [withResult('/a/other.png')]), coded('OUTPUT_EXISTS'));
    assert.deepEqual(images(out), ['/a/kept.png']);
  });

  test('the same path from two different packs', () => {
    const out = freshDb();
    assert.throws(
      () => merge(out, [withResult('/a/x.png', '1.0.0'), withResult('/a/x.png', '2.0.0')]),
      coded('MERGE_CONFLICT'),
    );
    assert.deepEqual(images(out), []);
  });

  test('a failure half-way leaves the output empty: one transaction', () => {
    const input = withResult('/a/good.png');
    // A second image whose study is missing: its copy fails on the output's foreign key, after
    // the packs, scans, studies and the first image were written.
    const raw = new sqlite.Database(input);
    raw.all('PRAGMA locking_mode = EXCLUSIVE');
    raw.run('PRAGMA foreign_keys = OFF');
    const fingerprint = packFingerprint({ pack: result('x').pack, models: MODELS });
    raw.run(
      `INSERT INTO images (id, path, study_key, status, provider, pack_fingerprint, rules_fingerprint, not_for_clinical_use, scanned_at)
       VALUES (99, '/a/orphan.png', 'no-such-study', 'ok', 'cpu', ?, 'rules', 1, '2026-01-01')`,
      [fingerprint],
    );
    raw.close();
    const out = freshDb();
    assert.throws(() => merge(out, [input]), coded('DATABASE_FAILED'));
    const db = new sqlite.Database(out);
    db.all('PRAGMA locking_mode = EXCLUSIVE');
    for (const table of ['packs', 'pack_models', 'scans', 'studies', 'images', 'findings'])
      assert.equal(db.all(`SELECT count(*) AS n FROM ${table}`)[0].n, 0, table);
    db.close();
  });

  test('triage merge: an input from a newer version; the output it made is removed', () => {
    const input = withResult('/a/new.png');
    const raw = new sqlite.Database(input);
    raw.all('PRAGMA locking_mode = EXCLUSIVE');
    raw.run("INSERT INTO schema_version VALUES (999, 'future', '2099-01-01')");
    raw.close();
    const out = join(scratch.path, 'merged-too-new.sqlite');
    const run = triage(['merge', out, withResult('/a/old.png'), input]);
    assert.equal(run.status, 2);
    assert.equal((JSON.parse(run.stderr) as { error: { code: string } }).error.code, 'DATABASE_TOO_NEW');
    assert.ok(!existsSync(out), 'no output left behind');
    const taken = withResult('/a/taken.png');
    const refused = triage(['merge', taken, withResult('/a/more.png')]);
    assert.equal((JSON.parse(refused.stderr) as { error: { code: string } }).error.code, 'OUTPUT_EXISTS');
    assert.deepEqual(images(taken), ['/a/taken.png'], 'an existing output is left as it was');
    const usage = triage(['merge', out, taken, taken]);
    assert.equal((JSON.parse(usage.stderr) as { error: { code: string } }).error.code, 'USAGE');
  });
});

describe('merge decides', () => {
  test('the same path in two inputs of one pack: the later result', async () => {
    const first = withResult('/a/same.png');
    await sleep(5);
    const later = freshDb();
    const store = ResultStore.open(later);
    store.recordResult({
      result: result('/a/same.png', { positives: ['pneumothorax'] }),
      file: { path: '/a/same.png', sha256: 'changed', size: 11 },
      format: 'png',
      priority: 'critical',
      rulesFingerprint: 'rules',
      scanId: null,
    });
    store.close();
    const out = freshDb();
    // Given in either order, the later-scanned result wins.
    const summary = merge(out, [later, first]);
    assert.equal(summary.pathsInSeveralInputs, 1);
    const merged = ResultStore.open(out);
    const [image] = [...merged.allResults()];
    assert.equal(image.sha256, 'changed');
    assert.equal(image.priority, 'critical');
    assert.ok(image.findings.some((f) => f.term === 'pneumothorax' && f.positive));
    merged.close();
  });
});

describe("a shard's database", () => {
  test('takes scans of its shard only (SHARD_MISMATCH); a whole database takes whole scans only', () => {
    const start = (shard: { index: number; count: number } | null) => ({
      roots: ['/a'],
      provider: 'cpu' as const,
      provenance: { pack: result('x').pack, models: MODELS, notForClinicalUse: true },
      rulesFingerprint: 'rules',
      shard,
    });
    const store = ResultStore.open(freshDb());
    store.beginScan(start({ index: 1, count: 3 }));
    store.beginScan(start({ index: 1, count: 3 }));
    for (const other of [{ index: 0, count: 3 }, { index: 1, count: 4 }, null])
      assert.throws(() => store.beginScan(start(other)), coded('SHARD_MISMATCH'), JSON.stringify(other));
    store.close();
    const whole = ResultStore.open(freshDb());
    whole.beginScan(start(null));
    assert.throws(() => whole.beginScan(start({ index: 0, count: 1 })), coded('SHARD_MISMATCH'));
    whole.close();
  });
});
