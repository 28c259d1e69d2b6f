/**
 * Archive scans on a real PostgreSQL server (a throwaway cluster on 127.0.0.1:
 * test/support/postgres.ts), through the real `triage` binary as separate processes: the server
 * store against SQLite, its export and worklist, two workers against one process (each content
 * analysed once, copies recorded as duplicates), and a new pack version. Each path must end with
 * exactly one whole result, equal to what a single-process scan into SQLite stores.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { openBackend } from '../../main/app/api/backend.js';
import { ResultStore } from '../../main/store/index.js';
import { triage } from '../support/cli.js';
import { CAM_PACK, writeImage, writeImages } from '../scan/fixtures.js';
import { assertSameAsReference, BIN, databaseOf, PACK, sharedScanHarness, stored, summaryOf } from './support.js';

const h = sharedScanHarness('shared-scan');
const { fresh, worker, finished, enqueue, workRows, reference } = h;

describe('the results store on PostgreSQL', () => {
  test('a scan into the server stores what the same scan stores into SQLite', { timeout: 300_000 }, async () => {
    const dir = fresh('store');
    writeImages(join(dir, 'in'), 12);
    copyFileSync(join(dir, 'in', '000.png'), join(dir, 'in', 'copy-of-000.png'));
    const url = await h.server.createDatabase();
    const scanned = triage(['scan', join(dir, 'in'), '--db', url, ...PACK]);
    assert.equal(scanned.status, 0, scanned.stderr);
    const summary = JSON.parse(scanned.stdout).summary as { database: string; duplicates: number };
    assert.equal(summary.database, url);
    assert.equal(summary.duplicates, 1);
    assertSameAsReference(stored(url), reference(join(dir, 'in')), 'server store');

    // The worklist reads the server as it reads a file.
    const listed = triage(['worklist', '--db', url, '--json']);
    assert.equal(listed.status, 0, listed.stderr);
    const studies = JSON.parse(listed.stdout) as Array<{ priority: string }>;
    assert.equal(studies.length, 12, 'one study per image, the copy not counted');
    assert.equal(studies.filter((s) => s.priority === 'urgent').length, 6);

    // Exported to a SQLite file: the same results and the same worklist, read without the server.
    const file = join(dir, 'export.sqlite');
    const exported = triage(['export', '--db', url, '--to', file]);
    assert.equal(exported.status, 0, exported.stderr);
    assert.equal((JSON.parse(exported.stdout) as { export: { images: number } }).export.images, 13);
    assertSameAsReference(stored(file), stored(url), 'export');
    const offline = triage(['worklist', '--db', file, '--json']);
    assert.equal(offline.stdout, listed.stdout, 'the worklist of the export is the server’s');
    const refused = triage(['export', '--db', url, '--to', file]);
    assert.equal(refused.status, 2);
    assert.match(refused.stderr, /OUTPUT_EXISTS/);

    // The app's engine side reads the same worklist from the server, and says where it is.
    const backend = await openBackend({
      packDir: CAM_PACK,
      databasePath: url,
      provider: 'cpu',
      threads: 1,
      emit: () => undefined,
      chooseFiles: async () => [],
    });
    try {
      const list = (await backend.invoke('worklist.list', {})) as unknown as {
        ok: boolean;
        value: { studies: Array<{ study: string }> };
      };
      assert.equal(list.ok, true, JSON.stringify(list).slice(0, 400));
      assert.deepEqual(
        list.value.studies.map((s) => s.study),
        (JSON.parse(listed.stdout) as Array<{ study: string }>).map((s) => s.study),
      );
      const status = (await backend.invoke('status.get', {})) as unknown as { value: { database: string } };
      assert.equal(status.value.database, url);
    } finally {
      await backend.close();
    }

    // Resumable as a file is: nothing is analysed twice.
    const again = triage(['scan', join(dir, 'in'), '--db', url, ...PACK]);
    assert.equal(again.status, 0, again.stderr);
    const second = JSON.parse(again.stdout).summary as { analysed: number; unchanged: number };
    assert.equal(second.analysed, 0);
    assert.equal(second.unchanged, 13);
  });

  test('a connection lost mid-transaction keeps nothing of it, and the next statement reconnects', async () => {
    const url = await h.server.createDatabase();
    const store = ResultStore.open(url);
    try {
      const db = store.connection;
      db.exec('CREATE TABLE t (n INTEGER)');
      const pid = Number(db.get<{ pid: number }>('SELECT pg_backend_pid() AS pid')!.pid);
      assert.throws(
        () =>
          db.transaction(() => {
            db.run('INSERT INTO t (n) VALUES (?)', [1]);
            // Another session ends this one's backend, as a server restart or failover would.
            const killer = spawnSync(process.execPath, [
              '-e',
              `const pg = require('pg'); const c = new pg.Client(${JSON.stringify(url)}); c.connect().then(() => c.query('SELECT pg_terminate_backend($1)', [${pid}])).then(() => c.end());`,
            ]);
            assert.equal(killer.status, 0, String(killer.stderr));
            db.run('INSERT INTO t (n) VALUES (?)', [2]);
          }),
        { code: 'DATABASE_UNREACHABLE' },
      );
      assert.deepEqual(db.all('SELECT n FROM t'), [], 'neither insert was kept');
      db.run('INSERT INTO t (n) VALUES (?)', [3]);
      assert.deepEqual(db.all('SELECT n FROM t'), [{ n: 3 }]);
    } finally {
      store.close();
    }
  });

  test('a server that is not there is a coded error naming it, without the password', () => {
    const result = triage(['worklist', '--db', 'postgresql://triage:secret@127.0.0.1:1/none']);
    assert.equal(result.status, 2);
    const error = JSON.parse(result.stderr.trim().split('\n').pop()!).error as { code: string; message: string };
    assert.equal(error.code, 'DATABASE_UNREACHABLE');
    assert.match(error.message, /postgresql:\/\/triage:\*\*\*@127\.0\.0\.1:1\/none/);
    assert.doesNotMatch(result.stderr, /secret/);
  });
});

describe('workers sharing a queue', () => {
  test('two workers share a folder: each file once, as one process scans it', { timeout: 300_000 }, async () => {
    const dir = fresh('two');
    writeImages(join(dir, 'in'), 40, 512);
    for (const name of ['003.png', '017.png', '028.png'])
      copyFileSync(join(dir, 'in', name), join(dir, 'in', `copy-${name}`));
    const url = await h.server.createDatabase();
    assert.deepEqual(enqueue(url, join(dir, 'in')), { added: 43, requeued: 0, unchanged: 0 });
    assert.deepEqual(enqueue(url, join(dir, 'in')), { added: 0, requeued: 0, unchanged: 43 }, 'walked again');
    const [a, b] = [worker(url, ['--batch', '4']), worker(url, ['--batch', '4'])];
    const [sa, sb] = [await finished(a), await finished(b)];
    assert.equal(sa.files + sb.files, 43, 'every queued file handled once between them');
    assert.ok(sa.work.claimed > 0 && sb.work.claimed > 0, 'both workers took a share');
    assert.equal(sa.analysed + sb.analysed, 40, 'each content analysed once');
    assert.equal(sa.duplicates + sb.duplicates, 3);
    assertSameAsReference(stored(url), reference(join(dir, 'in')), 'two workers');
    assert.ok((await workRows(url)).every((row) => row.state === 'done'));
    // Enqueued again once done: nothing to do; a file rewritten since is queued again.
    assert.deepEqual(enqueue(url, join(dir, 'in')), { added: 0, requeued: 0, unchanged: 43 });
    writeImage(join(dir, 'in', '005.png'), 'nodule', 60, 512);
    assert.deepEqual(enqueue(url, join(dir, 'in')), { added: 0, requeued: 1, unchanged: 42 });
  });
});

describe('pack versions', () => {
  test(
    'a new pack version analyses everything again; a server outage’s failures are queued again',
    { timeout: 300_000 },
    async () => {
      const dir = fresh('version');
      writeImages(join(dir, 'in'), 6);
      const url = await h.server.createDatabase();
      enqueue(url, join(dir, 'in'));
      assert.equal((await finished(worker(url))).analysed, 6);
      // A result the remote provider's outage left (REMOTE_FAILED): enqueueing again queues that
      // file again, and only it.
      await h.server.query(
        databaseOf(url),
        "UPDATE images SET status = 'error', error_code = 'REMOTE_FAILED' WHERE path LIKE '%/002.png'",
      );
      assert.deepEqual(enqueue(url, join(dir, 'in')), { added: 0, requeued: 1, unchanged: 5 });
      const retried = await finished(worker(url));
      assert.equal(retried.analysed, 1);
      assert.equal(stored(url).find((r) => r.file.endsWith('/002.png'))?.status, 'ok');
      const newer = join(dir, 'pack');
      cpSync(CAM_PACK, newer, { recursive: true });
      const manifest = JSON.parse(readFileSync(join(newer, 'ensemble.json'), 'utf8')) as { version: string };
      writeFileSync(join(newer, 'ensemble.json'), JSON.stringify({ ...manifest, version: `${manifest.version}-next` }));
      assert.equal(enqueue(url, join(dir, 'in'), newer).added, 6, 'a new fingerprint: its own queue');
      const child = spawn(process.execPath, [BIN, 'scan', '--worker', '--db', url, '--models', newer, '--ep', 'cpu'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
      const code = await new Promise((resolve) => child.on('exit', resolve));
      assert.equal(code, 0);
      assert.equal(summaryOf(out).analysed, 6);
      assert.ok(stored(url).every((r) => r.pack.version.endsWith('-next')));
    },
  );
});
