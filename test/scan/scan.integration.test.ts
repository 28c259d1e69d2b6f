/**
 * Folder scans in process, with the real cam-pack on the CPU: provenance on every result,
 * resuming (unchanged files skipped, changed ones and a new pack version re-analysed, new rules
 * re-grading without inference), duplicates by content and SOP Instance UID, broken and
 * unreadable paths recorded as coded errors, interruption at a batch boundary, and exports in
 * every format read back. DICOMDIRs made by dcmtk: dicomdir.conformance.test.ts.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, cpSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Engine } from '../../main/engine/index.js';
import { packFingerprint, ResultStore } from '../../main/store/index.js';
import type { StoredResult } from '../../main/domain/index.js';
import { exportRecord, exportResults } from '../../main/scan/export.js';
import { Scanner } from '../../main/scan/index.js';
import type { FileOutcome, ScanOptions } from '../../main/scan/index.js';
import { compileRules, DEFAULT_RULES, defaultRules } from '../../main/triage/index.js';
import { scratchDir } from '../support/tools.js';
import { csvRecords } from './csv.js';
import { CAM_PACK, copyFixture, writeImage, writeImages } from './fixtures.js';

const scratch = scratchDir('scan');
after(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => join(scratch.path, `${name}-${++counter}`);
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');

let engine: Engine;
before(async () => {
  engine = await Engine.create({ models: CAM_PACK, provider: 'cpu', threads: 1, batchSize: 4 });
});
after(() => engine?.close());

async function run(store: ResultStore, roots: string[], options: Partial<ScanOptions> = {}) {
  const files: FileOutcome[] = [];
  const scanner = new Scanner({
    roots,
    engine,
    store,
    rules: defaultRules(),
    onFile: (f) => files.push(f),
    ...options,
  });
  const summary = await scanner.run();
  return { summary, files, results: [...store.scanResults(summary.scanId)] };
}
const byFile = (results: StoredResult[]) => new Map(results.map((r) => [r.file, r]));

describe('a folder scan', () => {
  test('every image analysed and stamped: pack, models, hashes, operating points, provider, file hash', async () => {
    const dir = fresh('folder');
    const images = writeImages(join(dir, 'a'), 6);
    copyFixture('explicit-le.dcm', join(dir, 'b', 'frontal'));
    copyFixture('lateral.dcm', join(dir, 'b', 'side.bin'));
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [dir]);
    assert.equal(summary.outcome, 'completed');
    assert.equal(summary.analysed, 8);
    assert.equal(summary.ok, 7);
    assert.equal(summary.rejected, 1, 'the lateral view, found by content despite its extension');
    assert.deepEqual(summary.priorities, { critical: 0, urgent: 3, abnormal: 0, 'needs review': 1, normal: 4 });
    assert.equal(summary.provider, 'cpu');

    // The fingerprint the scan stamps is the one of the engine's own provenance.
    let engineResult;
    for await (const analysis of engine.analyze([images[0]])) engineResult = analysis.result;
    assert.equal(summary.pack.fingerprint, packFingerprint(engineResult!));

    const stored = byFile(results);
    for (const path of images) {
      const r = stored.get(path)!;
      assert.equal(r.sha256, sha256(path));
      assert.equal(r.executionProvider, 'cpu');
      assert.deepEqual(
        [r.pack.id, r.pack.version, r.pack.fingerprint],
        ['cam-pack', '1.0.0', summary.pack.fingerprint],
      );
      assert.deepEqual(r.models, engineResult!.models);
      assert.ok(r.models.every((m) => /^[0-9a-f]{64}$/.test(m.sha256) && Object.keys(m.operatingPoints).length > 0));
    }
    assert.equal(stored.get(images[0])!.priority, 'urgent');
    assert.equal(stored.get(images[0])!.findings.find((f) => f.term === 'nodule')!.votes.positive, 3);
    assert.equal(stored.get(images[1])!.priority, 'normal');
    const frontal = stored.get(join(dir, 'b', 'frontal'))!;
    const lateral = stored.get(join(dir, 'b', 'side.bin'))!;
    assert.equal(frontal.format, 'dicom');
    assert.equal(lateral.status, 'rejected');
    assert.equal(frontal.study, lateral.study, 'one study, two images');
    const study = store.worklist().find((s) => s.study === frontal.study)!;
    assert.equal(study.priority, 'needs review', 'the rejected lateral lifts its study above normal');
    store.close();
  });

  test('a rescan skips unchanged files; a changed file is analysed again; a new pack version analyses all', async () => {
    const dir = fresh('resume');
    const images = writeImages(join(dir, 'in'), 5);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const first = await run(store, [join(dir, 'in')]);
    assert.equal(first.summary.analysed, 5);

    const again = await run(store, [join(dir, 'in')]);
    assert.deepEqual([again.summary.analysed, again.summary.unchanged], [0, 5]);
    assert.equal(again.results.length, 5, 'unchanged files belong to the rescan and its export');

    writeImage(images[0], 'normal', 99); // was a nodule
    const changed = await run(store, [join(dir, 'in')]);
    assert.deepEqual([changed.summary.analysed, changed.summary.unchanged], [1, 4]);
    const result = byFile(changed.results).get(images[0])!;
    assert.equal(result.sha256, sha256(images[0]));
    assert.equal(result.priority, 'normal');
    assert.equal(
      store.worklist().find((s) => s.study === `file:${images[0]}`)!.priority,
      'urgent',
      'its study is never lowered',
    );
    assert.equal([...store.allResults()].length, 5, 'replaced, not added');

    const pack = join(dir, 'pack-1.0.1');
    cpSync(CAM_PACK, pack, { recursive: true });
    const ensemble = JSON.parse(readFileSync(join(pack, 'ensemble.json'), 'utf8'));
    writeFileSync(join(pack, 'ensemble.json'), JSON.stringify({ ...ensemble, version: '1.0.1' }));
    const newer = await Engine.create({ models: pack, provider: 'cpu', threads: 1, batchSize: 4 });
    try {
      const upgraded = await run(store, [join(dir, 'in')], { engine: newer });
      assert.deepEqual([upgraded.summary.analysed, upgraded.summary.unchanged], [5, 0]);
      assert.ok(upgraded.results.every((r) => r.pack.version === '1.0.1'));
    } finally {
      await newer.close();
    }
    store.close();
  });

  test('new rules re-grade stored findings without analysing again', async () => {
    const dir = fresh('rules');
    writeImages(join(dir, 'in'), 4);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    await run(store, [join(dir, 'in')]);
    const rules = compileRules({ ...DEFAULT_RULES, rules: [{ term: 'nodule', priority: 'critical' }] });
    const regraded = await run(store, [join(dir, 'in')], { rules });
    assert.deepEqual([regraded.summary.analysed, regraded.summary.unchanged], [0, 4]);
    assert.deepEqual(
      regraded.results.map((r) => r.priority),
      ['critical', 'normal', 'critical', 'normal'],
    );
    assert.deepEqual(
      store.worklist().map((s) => s.priority),
      ['critical', 'critical', 'normal', 'normal'],
    );
    store.close();
  });
});

describe('duplicates', () => {
  test('the same content at another path, or the same SOP Instance UID, is recorded and not analysed', async () => {
    const dir = fresh('dups');
    const images = writeImages(join(dir, 'in'), 2);
    cpSync(images[0], join(dir, 'in', 'copy-of-000.png'));
    copyFixture('explicit-le.dcm', join(dir, 'in', 'dicom', 'a.dcm'));
    // The same instance with other bytes (one pixel changed): same SOP Instance UID, other hash.
    const recoded = readFileSync(join(dir, 'in', 'dicom', 'a.dcm'));
    recoded[recoded.length - 1] ^= 0x01;
    writeFileSync(join(dir, 'in', 'dicom', 'b.dcm'), recoded);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const analysed: string[] = [];
    const { summary, results } = await run(store, [join(dir, 'in')], {
      onFile: (f) => f.outcome === 'analysed' && analysed.push(f.file),
    });
    assert.equal(summary.duplicates, 2);
    assert.equal(summary.analysed, 3);
    const stored = byFile(results);
    const copy = stored.get(join(dir, 'in', 'copy-of-000.png'))!;
    const sop = stored.get(join(dir, 'in', 'dicom', 'b.dcm'))!;
    // copy-of-000.png sorts before 000.png? No: "0" < "c", so 000.png is the original.
    assert.equal(copy.status, 'duplicate');
    assert.equal(copy.duplicateOf, images[0]);
    assert.match(copy.reason!, /identical content/);
    assert.equal(sop.status, 'duplicate');
    assert.equal(sop.duplicateOf, join(dir, 'in', 'dicom', 'a.dcm'));
    assert.match(sop.reason!, /SOP Instance UID/);
    assert.ok(!analysed.includes(copy.file) && !analysed.includes(sop.file));

    // A copy arriving in a later scan is recognised against the database.
    cpSync(images[1], join(dir, 'in', 'later-copy.png'));
    const later = await run(store, [join(dir, 'in')]);
    assert.deepEqual([later.summary.analysed, later.summary.duplicates, later.summary.unchanged], [0, 1, 5]);
    assert.equal(byFile(later.results).get(join(dir, 'in', 'later-copy.png'))!.duplicateOf, images[1]);
    store.close();
  });
});

describe('broken, unreadable and odd paths', () => {
  test('recorded as coded errors; the scan goes on to the last file', async () => {
    const dir = fresh('odd');
    const root = join(dir, 'in');
    copyFixture('truncated.dcm', join(root, '01-truncated.dcm'));
    copyFixture('bad-attribute.dcm', join(root, '02-bad-attribute'));
    copyFixture('not-dicom.bin', join(root, '03-notes.bin'));
    writeFileSync(join(root, '04-empty'), '');
    execFileSync('mkfifo', [join(root, '05-fifo')]);
    symlinkSync(join(root, 'missing.dcm'), join(root, '06-dangling'));
    mkdirSync(join(root, '07-sub'));
    symlinkSync(root, join(root, '07-sub', 'back-to-root'));
    symlinkSync('08-self', join(root, '08-self'));
    writeImage(join(root, '07-sub', 'locked.png'), 'normal', 1);
    chmodSync(join(root, '07-sub', 'locked.png'), 0o000);
    writeImage(join(root, '99-last.png'), 'nodule', 2);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { summary, results } = await run(store, [root]);
    const stored = byFile(results);
    const code = (name: string) => stored.get(join(root, name))?.error?.code;
    assert.equal(code('01-truncated.dcm'), 'TRUNCATED');
    assert.equal(stored.get(join(root, '02-bad-attribute'))!.status, 'error');
    assert.equal(stored.get(join(root, '03-notes.bin')), undefined, 'not an image by content: skipped, not an error');
    assert.equal(stored.get(join(root, '04-empty')), undefined);
    assert.equal(code('05-fifo'), 'UNREADABLE');
    assert.equal(code('06-dangling'), 'FILE_NOT_FOUND');
    assert.equal(code('07-sub/back-to-root'), 'SYMLINK_LOOP');
    assert.equal(code('08-self'), 'SYMLINK_LOOP');
    const locked = stored.get(join(root, '07-sub', 'locked.png'))!;
    if (process.getuid?.() === 0) assert.equal(locked.status, 'ok', 'root reads a mode-000 file');
    else assert.equal(locked.error?.code, 'UNREADABLE');
    assert.equal(stored.get(join(root, '99-last.png'))!.priority, 'urgent', 'the file after them all is analysed');
    assert.equal(summary.skipped, 2);
    assert.ok(summary.errors >= 6);
    assert.ok(
      store
        .worklist()
        .some((s) => s.priority === 'needs review' && s.images.some((i) => i.file.endsWith('01-truncated.dcm'))),
    );
    store.close();
  });

  test('a file named on the command line that is not an image is an error, not skipped', async () => {
    const dir = fresh('explicit');
    const path = copyFixture('not-dicom.bin', join(dir, 'notes.bin'));
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { results } = await run(store, [path]);
    assert.equal(results[0].error?.code, 'NOT_DICOM');
    store.close();
  });
});

describe('a file rewritten between identification and analysis', () => {
  test('is FILE_CHANGED, never stored with the findings of one content under the fingerprint of another', async () => {
    const dir = fresh('rewritten');
    const [target, other, third] = writeImages(join(dir, 'in'), 3);
    const identifiedHash = sha256(target);
    // The engine the scan drives, with the file rewritten as the scan hands it over: after the
    // scan identified (hashed) it, before the engine reads it.
    const rewriting: ScanOptions['engine'] = {
      pack: engine.pack,
      provider: engine.provider,
      analyze: (files, options) =>
        engine.analyze(
          (async function* () {
            for await (const file of files) {
              if (file === target) writeFileSync(target, readFileSync(other));
              yield file;
            }
          })(),
          options,
        ),
    };
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { results } = await run(store, [join(dir, 'in')], { engine: rewriting });
    const stored = byFile(results);
    assert.equal(stored.get(target)?.error?.code, 'FILE_CHANGED');
    assert.equal(stored.get(target)?.sha256, identifiedHash, 'recorded under what was identified, as an error');
    for (const path of [other, third]) assert.equal(stored.get(path)?.status, 'ok', path);
    store.close();
  });
});

describe('interruption', () => {
  test('an abort stops at a batch boundary; the next run finishes the rest, nothing twice', async () => {
    const dir = fresh('abort');
    writeImages(join(dir, 'in'), 12);
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const controller = new AbortController();
    let seen = 0;
    const first = await run(store, [join(dir, 'in')], {
      signal: controller.signal,
      onFile: () => {
        if (++seen === 3) controller.abort();
      },
    });
    assert.equal(first.summary.outcome, 'interrupted');
    assert.equal(first.summary.analysed, 4, 'the batch of 4 in progress is finished');
    assert.equal([...store.allResults()].length, 4);
    const second = await run(store, [join(dir, 'in')]);
    assert.equal(second.summary.outcome, 'completed');
    assert.deepEqual([second.summary.analysed, second.summary.unchanged], [8, 4]);
    assert.equal([...store.allResults()].length, 12);
    store.close();
  });
});

describe('bounded memory', () => {
  test('however many files, the decoded images in flight and the files held stay within their bounds', async () => {
    const bounded = await Engine.create({
      models: CAM_PACK,
      provider: 'cpu',
      threads: 1,
      batchSize: 4,
      decodeWorkers: 2,
    });
    try {
      const highWaters = [];
      for (const count of [12, 96]) {
        const dir = fresh(`bounded-${count}`);
        writeImages(join(dir, 'in'), count);
        const store = ResultStore.open(join(dir, 'db.sqlite'));
        const scanner = new Scanner({ roots: [join(dir, 'in')], engine: bounded, store, rules: defaultRules() });
        const summary = await scanner.run();
        assert.equal(summary.analysed, count);
        assert.equal([...store.scanResults(summary.scanId)].length, count, 'every image stored');
        const stats = bounded.stats;
        // Full-size images live only in the decode workers, one each.
        assert.ok(
          stats.decode.highWaterDecoding <= 2,
          `${stats.decode.highWaterDecoding} images decoding at once, 2 workers`,
        );
        assert.equal(summary.pipeline?.decodeWorkers, 2);
        assert.equal(summary.pipeline?.maxDecoding, stats.decode.highWaterDecoding);
        // Prepared model inputs held by the engine, and identified files queued ahead of it.
        assert.ok(
          stats.highWaterOutstanding <= stats.outstandingBound,
          `${stats.highWaterOutstanding} files held by the engine, bound ${stats.outstandingBound}`,
        );
        assert.ok(
          scanner.queued.highWater <= scanner.queued.capacity,
          `${scanner.queued.highWater} identified files queued, bound ${scanner.queued.capacity}`,
        );
        highWaters.push({ count, held: stats.highWaterOutstanding, queued: scanner.queued.highWater });
        store.close();
      }
      // Eight times the files, the same bounds: 96 files were never all taken in at once.
      const [, many] = highWaters;
      assert.ok(many.held + many.queued < many.count, JSON.stringify(highWaters));
    } finally {
      await bounded.close();
    }
  });
});

describe('exports', () => {
  test('NDJSON, JSON and CSV hold every result of the scan and read back', async () => {
    const dir = fresh('export');
    writeImages(join(dir, 'in'), 4);
    cpSync(join(dir, 'in', '000.png'), join(dir, 'in', 'dup.png'));
    copyFixture('truncated.dcm', join(dir, 'in', 'broken, "quoted".dcm'));
    const store = ResultStore.open(join(dir, 'db.sqlite'));
    const { results } = await run(store, [join(dir, 'in')]);
    assert.equal(results.length, 6);
    const expected = results.map(exportRecord);

    const ndjson = join(dir, 'out.ndjson');
    assert.equal(await exportResults(results, ndjson, 'ndjson'), 6);
    const lines = readFileSync(ndjson, 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(lines, expected);

    const json = join(dir, 'out.json');
    await exportResults(results, json, 'json');
    assert.deepEqual(JSON.parse(readFileSync(json, 'utf8')), expected);

    const csv = join(dir, 'out.csv');
    await exportResults(results, csv, 'csv');
    const rows = csvRecords(readFileSync(csv, 'utf8'));
    assert.equal(rows.length, 6);
    for (const [i, row] of rows.entries()) {
      const r = results[i];
      assert.equal(row.file, r.file);
      assert.equal(row.sha256, r.sha256 ?? '');
      assert.equal(row.status, r.status);
      assert.equal(row.priority, r.priority ?? '');
      assert.equal(row.error_code, r.error?.code ?? '');
      assert.equal(row.duplicate_of, r.duplicateOf ?? '');
      assert.equal(row.provider, 'cpu');
      assert.equal(row.pack_fingerprint, r.pack.fingerprint);
      assert.deepEqual(JSON.parse(row.models), r.models);
      assert.equal(row.positive_findings.includes('nodule (3/3'), r.priority === 'urgent');
    }
    assert.ok(
      rows.some((row) => row.file.endsWith('broken, "quoted".dcm')),
      'commas and quotes survive',
    );

    const empty = join(dir, 'empty.json');
    await exportResults([], empty, 'json');
    assert.deepEqual(JSON.parse(readFileSync(empty, 'utf8')), []);
    await assert.rejects(
      exportResults(results, join(dir, 'no', 'such', 'dir.csv'), 'csv'),
      (error: { code: string }) => error.code === 'OUTPUT_FAILED',
    );
    store.close();
  });
});
