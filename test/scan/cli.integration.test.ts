/**
 * `triage scan` and `triage worklist` through the real binary, as separate processes: a scan
 * killed with SIGKILL mid-write and started again (nothing lost, nothing twice), Ctrl-C and
 * SIGTERM stopping after the batch, watch mode picking up files copied in later (one still being
 * written), the product's own outputs (--heatmaps, --out, the database) inside the scanned folder
 * never scanned, with and without --watch, the NDJSON progress contract, --out exports, the
 * worklist JSON contract, and usage errors.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, openSync, readdirSync, readFileSync, renameSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import { ResultStore } from '../../main/store/index.js';
import { PRIORITIES } from '../../main/common/index.js';
import { triage } from '../support/cli.js';
import { scratchDir } from '../support/tools.js';
import { csvRecords } from './csv.js';
import { CAM_PACK, copyFixture, writeImage, writeImages } from './fixtures.js';

const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));
const scratch = scratchDir('scan-cli');
after(() => scratch.remove());
let counter = 0;
const fresh = (name: string) => join(scratch.path, `${name}-${++counter}`);
const PACK = ['--models', CAM_PACK, '--ep', 'cpu'];
const DEMO_PACK = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const PHANTOMS = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));

interface Progress {
  done: number;
  total: number | null;
  rate: number;
  etaSeconds: number | null;
}

/** A scan child with its NDJSON progress events parsed as they come. */
function start(args: string[]): {
  child: ChildProcess;
  progress: Progress[];
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  waitFor(check: (p: Progress) => boolean, ms?: number): Promise<Progress>;
} {
  const child = spawn(process.execPath, [BIN, 'scan', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const progress: Progress[] = [];
  let out = '';
  let err = '';
  let partial = '';
  const waiters: Array<{ check: (p: Progress) => boolean; resolve: (p: Progress) => void }> = [];
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    partial += chunk.toString();
    const lines = partial.split('\n');
    partial = lines.pop()!;
    for (const line of lines) {
      const event = JSON.parse(line) as { progress?: Progress };
      if (!event.progress) continue;
      progress.push(event.progress);
      for (const waiter of [...waiters]) {
        if (waiter.check(event.progress)) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(event.progress);
        }
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return {
    child,
    progress,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(check, ms = 60_000) {
      const seen = progress.find(check);
      if (seen) return Promise.resolve(seen);
      return Promise.race([
        new Promise<Progress>((resolve) => waiters.push({ check, resolve })),
        exited.then(() => {
          throw new Error(`the scan exited before the awaited progress; stderr:\n${err}`);
        }),
        // Unreferenced: a deadline that is not needed any more must not keep the test process up.
        sleep(ms, undefined, { ref: false }).then(() => {
          throw new Error(`no such progress within ${ms} ms; stderr:\n${err}`);
        }),
      ]);
    },
  };
}

const summaryOf = (stdout: string) =>
  (
    JSON.parse(stdout.trim().split('\n').pop()!) as {
      summary: Record<string, unknown> & {
        analysed: number;
        unchanged: number;
        errors: number;
        outcome: string;
        duplicates: number;
      };
    }
  ).summary;

function storedRows(database: string) {
  const store = ResultStore.open(database);
  try {
    return { results: [...store.allResults()], integrity: store.integrityCheck() };
  } finally {
    store.close();
  }
}

describe('resuming after SIGKILL', () => {
  test('a scan killed mid-way and started again: no result lost, none duplicated', { timeout: 300_000 }, async () => {
    const dir = fresh('kill');
    const images = writeImages(join(dir, 'in'), 80, 1024);
    const database = join(dir, 'db.sqlite');
    const scan = start([join(dir, 'in'), '--db', database, ...PACK, '--batch', '4']);
    await scan.waitFor((p) => p.done >= 10);
    scan.child.kill('SIGKILL');
    assert.equal(await scan.exited, null, 'killed, not exited');

    const killed = storedRows(database);
    assert.deepEqual(killed.integrity, ['ok']);
    const committed = killed.results.length;
    assert.ok(committed >= 10 && committed < 80, `killed mid-scan (${committed} of 80 committed)`);
    assert.ok(
      killed.results.every((r) => r.status === 'ok' && r.findings.length > 0),
      'every committed result is whole',
    );

    const resumed = triage(['scan', join(dir, 'in'), '--db', database, ...PACK, '--batch', '4']);
    assert.equal(resumed.status, 0, resumed.stderr);
    const summary = summaryOf(resumed.stdout);
    assert.equal(summary.unchanged, committed, 'what was committed is not analysed again');
    assert.equal(summary.analysed, 80 - committed, 'the rest is analysed once');

    const final = storedRows(database);
    assert.deepEqual(final.integrity, ['ok']);
    assert.equal(final.results.length, 80);
    assert.deepEqual(
      final.results.map((r) => r.file),
      images,
      'each image exactly once',
    );
    for (const [i, r] of final.results.entries()) {
      assert.equal(r.status, 'ok');
      assert.equal(r.priority, i % 2 === 0 ? 'urgent' : 'normal', r.file);
      assert.equal(r.sha256, createHash('sha256').update(readFileSync(r.file)).digest('hex'));
    }
  });
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  describe(signal === 'SIGINT' ? 'Ctrl-C' : 'SIGTERM', () => {
    test(
      'stops after the current batch, keeps what is done, exits 130; a rerun finishes',
      { timeout: 300_000 },
      async () => {
        const dir = fresh(signal.toLowerCase());
        writeImages(join(dir, 'in'), 60, 1024);
        const database = join(dir, 'db.sqlite');
        const scan = start([join(dir, 'in'), '--db', database, ...PACK, '--batch', '4']);
        await scan.waitFor((p) => p.done >= 5);
        scan.child.kill(signal);
        assert.equal(await scan.exited, 130, scan.stderr());
        const summary = summaryOf(scan.stdout());
        assert.equal(summary.outcome, 'interrupted');
        assert.ok(summary.analysed < 60);
        assert.equal(summary.analysed % 4, 0, 'whole batches');
        const stored = storedRows(database);
        assert.deepEqual(stored.integrity, ['ok']);
        assert.equal(stored.results.length, summary.analysed, 'every analysed image was kept');
        const rerun = triage(['scan', join(dir, 'in'), '--db', database, ...PACK]);
        assert.equal(rerun.status, 0, rerun.stderr);
        assert.deepEqual(
          [summaryOf(rerun.stdout).analysed, summaryOf(rerun.stdout).unchanged],
          [60 - stored.results.length, stored.results.length],
        );
      },
    );
  });
}

describe('watch mode', () => {
  test(
    'files copied in later are analysed, one still being written only once it is complete',
    { timeout: 120_000 },
    async () => {
      const dir = fresh('watch');
      const watched = join(dir, 'in');
      writeImages(watched, 2);
      const database = join(dir, 'db.sqlite');
      const scan = start([watched, '--watch', '--poll', '100', '--settle', '600', '--db', database, ...PACK]);
      await scan.waitFor((p) => p.done >= 2);

      // A complete file moved in.
      writeImage(join(dir, 'staging.png'), 'normal', 7);
      renameSync(join(dir, 'staging.png'), join(watched, 'copied.png'));
      await scan.waitFor((p) => p.done >= 3, 30_000);
      // The worklist can be read while the scan is running.
      const live = triage(['worklist', '--db', database, '--json']);
      assert.equal(live.status, 0, live.stderr);
      assert.ok(
        JSON.parse(live.stdout).some((s: { images: Array<{ file: string }> }) =>
          s.images.some((i) => i.file === join(watched, 'copied.png')),
        ),
      );

      // A file written slowly, in pieces: never read half-written.
      writeImage(join(dir, 'slow-source.png'), 'nodule', 5, 512);
      const bytes = readFileSync(join(dir, 'slow-source.png'));
      const slow = join(watched, 'deeper', 'slow.png');
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(watched, 'deeper'));
      const fd = openSync(slow, 'w');
      const pieces = 8;
      for (let i = 0; i < pieces; i++) {
        writeSync(
          fd,
          bytes,
          Math.floor((i * bytes.length) / pieces),
          Math.floor(((i + 1) * bytes.length) / pieces) - Math.floor((i * bytes.length) / pieces),
        );
        await sleep(250);
      }
      closeSync(fd);
      await scan.waitFor((p) => p.done >= 4, 30_000);

      scan.child.kill('SIGINT');
      assert.equal(await scan.exited, 0, 'Ctrl-C is how watching ends');
      const summary = summaryOf(scan.stdout());
      assert.equal(summary.outcome, 'completed');
      assert.equal(summary.errors, 0, 'the slow file was never read while incomplete');
      assert.equal(summary.analysed, 4);
      const results = storedRows(database).results;
      const slowResult = results.find((r) => r.file === slow)!;
      assert.equal(slowResult.status, 'ok');
      assert.equal(slowResult.sha256, createHash('sha256').update(bytes).digest('hex'));
      assert.equal(slowResult.priority, 'urgent');
      assert.ok(results.find((r) => r.file === join(watched, 'copied.png')));
    },
  );
});

describe("the product's own outputs inside the scanned folder", () => {
  test('--heatmaps, --out and the database are never scanned: three runs find the same files', () => {
    const dir = fresh('outputs');
    const root = join(dir, 'in');
    writeImages(join(root, 'images'), 4);
    const args = [
      'scan',
      root,
      '--db',
      join(root, 'results.sqlite'),
      '--heatmaps',
      join(root, 'heatmaps'),
      '--out',
      join(root, 'results.csv'),
      ...PACK,
    ];
    const runs = [];
    for (let run = 0; run < 3; run++) {
      const result = triage(args);
      assert.equal(result.status, 0, result.stderr);
      const summary = summaryOf(result.stdout) as ReturnType<typeof summaryOf> & { files: number; skipped: number };
      runs.push({
        files: summary.files,
        skipped: summary.skipped,
        errors: summary.errors,
        analysed: summary.analysed,
        overlays: readdirSync(join(root, 'heatmaps')).length,
        exported: csvRecords(readFileSync(join(root, 'results.csv'), 'utf8')).length,
      });
    }
    const overlays = runs[0].overlays;
    assert.ok(overlays >= 2, `overlays written (${overlays})`);
    assert.deepEqual(runs, [
      { files: 4, skipped: 0, errors: 0, analysed: 4, overlays, exported: 4 },
      { files: 4, skipped: 0, errors: 0, analysed: 0, overlays, exported: 4 },
      { files: 4, skipped: 0, errors: 0, analysed: 0, overlays, exported: 4 },
    ]);
  });

  test(
    '--watch with --heatmaps inside the watched folder analyses the images, never the overlays',
    { timeout: 120_000 },
    async () => {
      const dir = fresh('watch-outputs');
      const watched = join(dir, 'in');
      writeImages(join(watched, 'images'), 4);
      const database = join(watched, 'results.sqlite');
      const heatmaps = join(watched, 'heatmaps');
      const scan = start([
        watched,
        '--watch',
        '--poll',
        '100',
        '--settle',
        '300',
        '--db',
        database,
        '--heatmaps',
        heatmaps,
        ...PACK,
      ]);
      await scan.waitFor((p) => p.done >= 4);
      // The overlays of the first pass are on the disk from here on. A file copied in later is
      // read only after it has stayed unchanged for the settle time, so by the time it is
      // analysed the overlays, older and as settled, would have been analysed too.
      writeImage(join(dir, 'staging.png'), 'nodule', 40);
      renameSync(join(dir, 'staging.png'), join(watched, 'later.png'));
      await scan.waitFor((p) => p.done >= 5, 60_000);
      scan.child.kill('SIGINT');
      assert.equal(await scan.exited, 0, scan.stderr());
      const summary = summaryOf(scan.stdout()) as ReturnType<typeof summaryOf> & { files: number };
      assert.deepEqual([summary.files, summary.analysed, summary.errors], [5, 5, 0]);
      const files = storedRows(database).results.map((r) => r.file);
      assert.ok(readdirSync(heatmaps).length >= 2, 'overlays were there to be seen');
      assert.deepEqual(
        files.filter((file) => !file.startsWith(join(watched, 'images'))),
        [join(watched, 'later.png')],
      );
    },
  );
});

describe('progress, exports and the worklist', () => {
  test('NDJSON progress on stderr, a summary on stdout, --out in each format', () => {
    const dir = fresh('out');
    writeImages(join(dir, 'in'), 3);
    copyFixture('truncated.dcm', join(dir, 'in', 'broken.dcm'));
    const database = join(dir, 'db.sqlite');
    for (const [out, format] of [
      ['r.csv', null],
      ['r.json', null],
      ['r.txt', 'ndjson'],
    ] as const) {
      const result = triage([
        'scan',
        join(dir, 'in'),
        '--db',
        database,
        ...PACK,
        '--out',
        join(dir, out),
        ...(format ? ['--format', format] : []),
      ]);
      assert.equal(result.status, 0, result.stderr);
      const events = result.stderr
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line));
      const progress = events.filter((e) => e.progress).map((e) => e.progress);
      assert.ok(progress.length >= 1);
      for (const p of progress) assert.deepEqual(Object.keys(p).sort(), ['done', 'etaSeconds', 'rate', 'total']);
      assert.deepEqual(progress.at(-1), { ...progress.at(-1), done: 4, total: 4 });
      const summary = summaryOf(result.stdout);
      assert.deepEqual(Object.keys(summary.priorities as object), [...PRIORITIES]);
      assert.equal(summary.provider, 'cpu');
    }
    const csv = csvRecords(readFileSync(join(dir, 'r.csv'), 'utf8'));
    assert.deepEqual(
      csv.map((r) => r.status),
      ['ok', 'ok', 'ok', 'error'],
    );
    assert.equal(csv[3].error_code, 'TRUNCATED');
    const json = JSON.parse(readFileSync(join(dir, 'r.json'), 'utf8'));
    assert.equal(json.length, 4);
    assert.equal(json[0].pack.id, 'cam-pack');
    const ndjson = readFileSync(join(dir, 'r.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.deepEqual(ndjson, json, 'the rescan exports the same results (unchanged files included)');
  });

  test('the worklist JSON contract: studies in priority order with images and positive findings', () => {
    const dir = fresh('worklist');
    writeImage(join(dir, 'in', 'a-nodule.png'), 'nodule', 1);
    writeImage(join(dir, 'in', 'b-normal.png'), 'normal', 2);
    copyFixture('explicit-le.dcm', join(dir, 'in', 'study', 'frontal.dcm'));
    copyFixture('lateral.dcm', join(dir, 'in', 'study', 'lateral.dcm'));
    copyFixture('truncated.dcm', join(dir, 'in', 'c-broken.dcm'));
    const database = join(dir, 'db.sqlite');
    assert.equal(triage(['scan', join(dir, 'in'), '--db', database, ...PACK]).status, 0);
    const result = triage(['worklist', '--db', database, '--json']);
    assert.equal(result.status, 0, result.stderr);
    const studies = JSON.parse(result.stdout) as Array<{
      priority: string;
      studyInstanceUID: string | null;
      images: Array<{
        file: string;
        sopInstanceUID: string | null;
        status: string;
        findings: Array<{
          term: string;
          votes: { positive: number; total: number };
          probability: number;
          indeterminate: boolean;
        }>;
        notAssessed: Array<{ term: string; tree: string }>;
      }>;
    }>;
    const ranks = studies.map((s) => PRIORITIES.indexOf(s.priority as (typeof PRIORITIES)[number]));
    assert.ok(
      ranks.every((rank, i) => rank >= 0 && (i === 0 || rank >= ranks[i - 1])),
      `ordered: ${studies.map((s) => s.priority)}`,
    );
    assert.deepEqual(
      studies.map((s) => s.priority),
      ['urgent', 'needs review', 'needs review', 'normal'],
    );
    const urgent = studies[0].images[0];
    assert.equal(urgent.file, join(dir, 'in', 'a-nodule.png'));
    assert.equal(urgent.status, 'ok');
    assert.equal(urgent.sopInstanceUID, null);
    assert.deepEqual(
      urgent.findings.map((f) => [f.term, f.votes]),
      [['nodule', { positive: 3, total: 3 }]],
    );
    assert.ok(urgent.findings[0].probability > 0.5);
    assert.equal(urgent.findings[0].indeterminate, urgent.findings[0].probability < 0.6, 'the default band');
    assert.deepEqual(urgent.notAssessed, [], 'every term of the test pack is trained somewhere');
    const study = studies.find((s) => s.studyInstanceUID !== null)!;
    assert.deepEqual(study.images.map((i) => i.status).sort(), ['ok', 'rejected']);
    assert.ok(study.images.every((i) => typeof i.sopInstanceUID === 'string'));

    assert.ok(
      studies.every((s) => s.images.every((i) => (i as { notForClinicalUse?: boolean }).notForClinicalUse === true)),
      'the test pack is a demo pack',
    );
    const text = triage(['worklist', '--db', database]);
    assert.match(text.stdout, /^NOT FOR CLINICAL USE: .*\n\nURGENT/);
    const [nodule] = urgent.findings;
    const percent = Math.floor(Math.round(nodule.probability * 10_000) / 100);
    assert.ok(
      text.stdout.includes(
        `- ${urgent.file}: nodule${nodule.indeterminate ? ': indeterminate' : ''} (3/3, ${percent}%)\n`,
      ),
      text.stdout,
    );
    const none = join(dir, 'none.sqlite');
    assert.deepEqual(JSON.parse(triage(['worklist', '--db', none, '--json']).stdout), []);
    assert.ok(!existsSync(none), 'reading an empty worklist creates nothing');
  });

  test('the demo pack: an indeterminate call and its not-assessed nodule, in the worklist text and the CSV', () => {
    // phantom-00000: the members' pleural effusion recorded when the pack was built, 2 of 3 positive.
    const recorded = JSON.parse(readFileSync(join(DEMO_PACK, 'selftest.json'), 'utf8'));
    const members = Object.values(
      recorded.samples['phantom-00000.dcm'].perModel['finding:pleural effusion'],
    ) as number[];
    const median = [...members].sort((a, b) => a - b)[1];
    assert.ok(median >= 0.5 && median < 0.6, `the recorded median ${median} lies in the default band, called`);
    const dir = fresh('demo');
    const database = join(dir, 'db.sqlite');
    const file = join(PHANTOMS, 'phantom-00000.dcm');
    const scan = triage(['scan', file, '--db', database, '--ep', 'cpu', '--out', join(dir, 'r.csv')]);
    assert.equal(scan.status, 0, scan.stderr);
    const text = triage(['worklist', '--db', database]).stdout;
    const percent = Math.floor(median * 100);
    assert.ok(
      text.includes(`- ${file}: pleural effusion: indeterminate (2/3, ${percent}%); nodule: not assessed\n`),
      text,
    );
    const [row] = csvRecords(readFileSync(join(dir, 'r.csv'), 'utf8'));
    assert.equal(row.positive_findings, `pleural effusion: indeterminate (2/3, ${median}); radiological finding (0/0)`);
    assert.equal(row.not_assessed_findings, 'nodule');
  });

  test('usage errors are coded', () => {
    const missing = triage(['scan']);
    assert.equal(missing.status, 2);
    assert.equal(JSON.parse(missing.stderr).error.code, 'USAGE');
    const nowhere = triage([
      'scan',
      join(scratch.path, 'does-not-exist'),
      '--db',
      join(scratch.path, 'x.sqlite'),
      ...PACK,
    ]);
    assert.equal(nowhere.status, 2);
    assert.equal(JSON.parse(nowhere.stderr).error.code, 'FILE_NOT_FOUND');
    const format = triage(['scan', scratch.path, '--out', 'x', '--format', 'xml']);
    assert.equal(JSON.parse(format.stderr).error.code, 'USAGE');
    const rules = triage([
      'scan',
      scratch.path,
      '--rules',
      join(scratch.path, 'nope.json'),
      '--db',
      join(scratch.path, 'y.sqlite'),
      ...PACK,
    ]);
    assert.equal(JSON.parse(rules.stderr).error.code, 'INVALID_RULES');
  });
});
