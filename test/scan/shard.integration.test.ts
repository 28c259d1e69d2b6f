/**
 * Shards without a database server, through the real binary: a folder of phantom DICOMs (with
 * their PNG masks) and copies placed so that duplicates land in other shards than their
 * originals (earlier and later in walk order, by content and by SOP Instance UID, DICOM and
 * PNG), and two images of one study in two shards, is scanned as 3 shards in separate
 * `triage scan --shard` processes (one SIGKILLed mid-scan and resumed, one through
 * JOB_COMPLETION_INDEX), merged with `triage merge`, and compared with a single scan of the same
 * folder: every table row for row, apart from ids, scan ids, timings and timestamps.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import sqlite from 'node-sqlite3-wasm';
import { shardOf } from '../../main/scan/index.js';
import { ResultStore } from '../../main/store/index.js';
import { triage } from '../support/cli.js';
import { scratchDir, tool } from '../support/tools.js';

const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));
const DEMO_PACK = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
// One image per batch, one thread: each image's arithmetic is the same in every run.
const OPTIONS = ['--models', DEMO_PACK, '--ep', 'cpu', '--threads', '1', '--concurrency', '1', '--batch', '1'];
const N = 3;

const scratch = scratchDir('shard-merge');
after(() => scratch.remove());
const env = { ...process.env };
delete env.JOB_COMPLETION_INDEX;

type Table = Array<Record<string, unknown>>;

/** Every table of a database, read directly (not through the store), as plain rows. */
function tables(path: string): Record<string, Table> {
  const db = new sqlite.Database(path);
  try {
    db.all('PRAGMA locking_mode = EXCLUSIVE');
    db.all('PRAGMA journal_mode = WAL');
    const names = db
      .all("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
      .map((r) => String(r.name));
    return Object.fromEntries(names.map((name) => [name, db.all(`SELECT * FROM ${name}`) as Table]));
  } finally {
    db.close();
  }
}

const TIMINGS = ['decode_ms', 'preprocess_ms', 'inference_ms', 'explain_ms'];
const without = (row: Record<string, unknown>, keys: string[]) =>
  Object.fromEntries(Object.entries(row).filter(([k]) => !keys.includes(k)));
const byKey = (rows: Table, key: (r: Record<string, unknown>) => string) =>
  Object.fromEntries(rows.map((r) => [key(r), r]));

/** What must be equal: ids as paths, no scan ids, timings or timestamps. */
function comparable(path: string) {
  const t = tables(path);
  const pathOf = new Map(t.images.map((i) => [i.id, String(i.path)]));
  return {
    images: byKey(
      t.images.map((i) => ({
        ...without(i, ['id', 'scan_id', 'seen_scan_id', 'scanned_at', ...TIMINGS]),
        duplicate_of: i.duplicate_of === null ? null : pathOf.get(i.duplicate_of),
      })),
      (r) => String(r.path),
    ),
    findings: byKey(
      t.findings.map((f) => ({ ...without(f, ['image_id']), image: pathOf.get(f.image_id) })),
      (r) => `${String(r.image)}#${String(r.position)}`,
    ),
    studies: byKey(
      t.studies.map((s) => without(s, ['first_seen_at', 'updated_at'])),
      (r) => String(r.key),
    ),
    packs: t.packs,
    pack_models: t.pack_models,
    scans: [
      ...new Set(
        t.scans.map((s) =>
          JSON.stringify([s.roots, s.provider, s.pack_fingerprint, s.rules_fingerprint, s.shard_index, s.shard_count]),
        ),
      ),
    ],
    feedback: t.feedback.map((f) => ({
      ...without(f, ['id', 'image_id', 'created_at']),
      image: pathOf.get(f.image_id),
    })),
    outbox: t.outbox.map((o) => without(o, ['id', 'created_at', 'next_attempt_at', 'sent_at'])),
    schema: t.schema_version.map((v) => v.version),
  };
}

const summaryOf = (stdout: string) => JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, never>;
const errorOf = (stderr: string) =>
  (JSON.parse(stderr.trim().split('\n').pop()!) as { error: { code: string } }).error.code;

/** A scan process, SIGKILLed once it has finished `files` files. */
async function killedAfter(args: string[], files: number): Promise<void> {
  const child = spawn(process.execPath, [BIN, 'scan', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env });
  let partial = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const progress = (JSON.parse(line) as { progress?: { done: number } }).progress;
      if (progress && progress.done >= files) child.kill('SIGKILL');
    }
  });
  assert.equal(await exited, null, `killed, not exited: ${stderr}`);
}

describe('shards killed and resumed, then merged', () => {
  test('equal to a single scan', { timeout: 600_000 }, async () => {
    const dir = scratch.path;
    const root = join(dir, 'archive');
    const made = triage([
      'phantom',
      '--count',
      '30',
      '--seed',
      '17',
      '--out',
      join(root, 'ph'),
      '--size',
      '384',
      '--jobs',
      '1',
    ]);
    assert.equal(made.status, 0, made.stderr);
    const shard = (path: string) => shardOf(relative(root, path), N);
    /** A name `prefix-K.ext` in `folder` whose shard is, or is not, `of`'s. */
    const placed = (folder: string, prefix: string, ext: string, of: string, same: boolean) => {
      for (let k = 0; ; k++) {
        const path = join(root, folder, `${prefix}-${k}.${ext}`);
        if ((shard(path) === shard(of)) === same) return path;
      }
    };
    const ph = (n: number) => join(root, 'ph', `phantom-${String(n).padStart(5, '0')}.dcm`);
    mkdirSync(join(root, 'a-copies'), { recursive: true });
    mkdirSync(join(root, 'z-copies'), { recursive: true });
    mkdirSync(join(root, 'study'), { recursive: true });
    // Earlier in walk order than its original, in another shard: the single scan analyses the copy.
    const early = placed('a-copies', 'early', 'dcm', ph(2), false);
    copyFileSync(ph(2), early);
    // Later, in another shard; later, in the same shard; a third copy in a third shard.
    const late = placed('z-copies', 'late', 'dcm', ph(4), false);
    copyFileSync(ph(4), late);
    const same = placed('z-copies', 'same', 'dcm', ph(5), true);
    copyFileSync(ph(5), same);
    let third = '';
    for (let k = 0; !third; k++) {
      const path = join(root, 'z-copies', `third-${k}.dcm`);
      if (shard(path) !== shard(early) && shard(path) !== shard(ph(2))) third = path;
    }
    copyFileSync(ph(2), third);
    // The same SOP Instance UID with other bytes, in another shard.
    const sop = placed('z-copies', 'sop', 'dcm', ph(6), false);
    const bytes = readFileSync(ph(6));
    bytes[bytes.length - 1] ^= 0x01;
    writeFileSync(sop, bytes);
    // A PNG mask's copy in another shard (its study is the image alone).
    const maskFolder = join(root, 'ph', 'masks', readdirSync(join(root, 'ph', 'masks')).sort()[0]);
    const mask = join(maskFolder, readdirSync(maskFolder).sort()[0]);
    const maskCopy = placed('z-copies', 'mask', 'png', mask, false);
    copyFileSync(mask, maskCopy);
    // Another image of phantom 8's study, in another shard, naming the patient otherwise.
    const studyUid = tool('dcmdump', ['-q', '+P', '0020,000d', ph(8)]).match(/\[([^\]]*)\]/)![1];
    const second = placed('study', 'b', 'dcm', ph(8), false);
    copyFileSync(ph(9), second);
    tool('dcmodify', [
      '-nb',
      '-m',
      `(0020,000d)=${studyUid}`,
      '-m',
      '(0008,0018)=2.25.4242',
      '-m',
      '(0010,0010)=PHANTOM^LATER',
      second,
    ]);

    // One machine.
    const single = join(dir, 'single.sqlite');
    const whole = triage(['scan', root, '--db', single, ...OPTIONS], { env });
    assert.equal(whole.status, 0, whole.stderr);

    // Three shards; shard 0 killed mid-scan and resumed; shard 2 as a Kubernetes Indexed Job's pod.
    const db = (i: number) => join(dir, `shard-${i}.sqlite`);
    await killedAfter([root, '--shard', `0/${N}`, '--db', db(0), ...OPTIONS], 4);
    for (const wrong of [['--shard', `1/${N}`], ['--shard', '0/2'], []]) {
      const refused = triage(['scan', root, '--db', db(0), ...wrong, ...OPTIONS], { env });
      assert.equal(refused.status, 2, refused.stderr);
      assert.equal(errorOf(refused.stderr), 'SHARD_MISMATCH', wrong.join(' '));
    }
    const resumed = triage(['scan', root, '--shard', `0/${N}`, '--db', db(0), ...OPTIONS], { env });
    assert.equal(resumed.status, 0, resumed.stderr);
    const again = summaryOf(resumed.stdout).summary as { unchanged: number; analysed: number; shard: unknown };
    assert.ok(again.unchanged > 0 && again.analysed > 0, `killed mid-scan: ${JSON.stringify(again)}`);
    assert.deepEqual(again.shard, { index: 0, count: N });
    const one = triage(['scan', root, '--shard', `1/${N}`, '--db', db(1), ...OPTIONS], { env });
    assert.equal(one.status, 0, one.stderr);
    const pod = triage(['scan', root, '--shard', `auto/${N}`, '--db', db(2), ...OPTIONS], {
      env: { ...env, JOB_COMPLETION_INDEX: '2' },
    });
    assert.equal(pod.status, 0, pod.stderr);
    assert.deepEqual((summaryOf(pod.stdout).summary as { shard: unknown }).shard, { index: 2, count: N });

    // A reader's verdicts and an outbox item, the same on one machine and on the shards.
    const annotate = (path: string, file: string, delivered: boolean) => {
      const store = ResultStore.open(path);
      try {
        store.addFeedback({ file, term: 'nodule', tree: 'radiological finding', verdict: 'agree', note: 'seen' });
        store.outbox.enqueue('PACS@host:104', [
          { file: `${file}.sr.dcm`, sopInstanceUID: '2.25.77', kind: 'sr', sourcePath: file },
        ]);
        if (delivered) store.outbox.markSent(store.outbox.recent(1).map((item) => item.id));
      } finally {
        store.close();
      }
    };
    // The same object pending on another shard: the delivered one is kept.
    let other = 3;
    while (shard(ph(other)) === shard(ph(2))) other++;
    annotate(single, ph(2), true);
    annotate(db(shard(ph(2))), ph(2), true);
    annotate(db(shard(ph(other))), ph(other), false);
    annotate(single, ph(other), false);

    const out = join(dir, 'merged.sqlite');
    const merged = triage(['merge', out, db(0), db(1), db(2)], { env });
    assert.equal(merged.status, 0, merged.stderr);
    const summary = summaryOf(merged.stdout).merge as Record<string, number>;
    assert.equal(summary.inputs, N);
    assert.ok(summary.duplicatesAcrossInputs >= 5, JSON.stringify(summary));

    const expected = comparable(single);
    const actual = comparable(out);
    // The single scan's one scan against the shards' runs, which carry no shard once merged.
    assert.equal(expected.scans.length, 1);
    assert.deepEqual(actual.scans, expected.scans);
    assert.deepEqual(actual.schema, expected.schema);
    assert.deepEqual(actual.packs, expected.packs);
    assert.deepEqual(actual.pack_models, expected.pack_models);
    assert.deepEqual(Object.keys(actual.images).sort(), Object.keys(expected.images).sort());
    for (const path of Object.keys(expected.images))
      assert.deepEqual(actual.images[path], expected.images[path], relative(root, path));
    assert.deepEqual(actual.studies, expected.studies);
    assert.deepEqual(actual.findings, expected.findings);
    assert.equal(expected.feedback.length, 2);
    assert.deepEqual(actual.feedback, expected.feedback);
    assert.equal(expected.outbox.length, 1);
    assert.equal(expected.outbox[0].state, 'sent');
    assert.deepEqual(actual.outbox, expected.outbox);

    // The cases placed above are as one scan has them.
    const images = expected.images;
    assert.equal(images[ph(2)].status, 'duplicate');
    assert.equal(images[ph(2)].duplicate_of, early);
    assert.equal(images[third].duplicate_of, early);
    assert.equal(images[late].duplicate_of, ph(4));
    assert.equal(images[same].duplicate_of, ph(5));
    assert.equal(images[sop].duplicate_of, ph(6));
    assert.match(String(images[sop].reason), /SOP Instance UID/);
    assert.equal(images[maskCopy].duplicate_of, mask);
    assert.equal(images[second].study_key, studyUid);
    assert.equal(expected.studies[studyUid].patient_name, 'PHANTOM^LATER');
    assert.equal(`file:${maskCopy}` in actual.studies, false);

    // A merged database is whole: scanned again without --shard, nothing is analysed again.
    const rescan = triage(['scan', root, '--db', out, ...OPTIONS], { env });
    assert.equal(rescan.status, 0, rescan.stderr);
    const rescanned = summaryOf(rescan.stdout).summary as { analysed: number; unchanged: number };
    assert.equal(rescanned.analysed, 0);
    assert.equal(rescanned.unchanged, Object.keys(expected.images).length);
  });
});
