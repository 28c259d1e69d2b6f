/**
 * Workers of a shared scan that die, stall or meet copies, on a real PostgreSQL server, as real
 * `triage scan --worker` processes: killed with SIGKILL before a claim, mid-decode and between
 * their insert and their commit; stopped (SIGSTOP) past their lease and let go again; holding a
 * content another worker meets a copy of; and a file that kills every worker holding it. Each
 * path must end with exactly one whole result, equal to what one process scanning into SQLite
 * stores (the quarantined file aside).
 */
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'node:test';
import pg from 'pg';
import { writeImage, writeImages } from '../scan/fixtures.js';
import { tool } from '../support/tools.js';
import { assertSameAsReference, databaseOf, sharedScanHarness, stored, waitUntil } from './support.js';
import type { Worker } from './support.js';

const h = sharedScanHarness('shared-faults');
const { fresh, worker, finished, enqueue, workRows, reference } = h;

/** Holds one queue row (FOR NO KEY UPDATE: foreign-key checks still pass) until released. */
async function holdRow(url: string, pathEnd: string): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT id FROM work_items WHERE path LIKE $1 FOR NO KEY UPDATE', [`%${pathEnd}`]);
  return {
    async release() {
      await client.query('ROLLBACK');
      await client.end();
    },
  };
}

const claimedFirst = (url: string) => async () =>
  (await workRows(url)).some((row) => row.state === 'claimed') ? true : undefined;

describe('workers killed', () => {
  test('before a claim and mid-decode: their files go to the others', { timeout: 300_000 }, async () => {
    const dir = fresh('killed');
    writeImages(join(dir, 'in'), 24, 1024);
    const url = await h.server.createDatabase();
    enqueue(url, join(dir, 'in'));
    // Before a claim: killed as it starts.
    const early = worker(url, ['--lease-seconds', '2']);
    early.child.kill('SIGKILL');
    assert.equal(await early.exited, null);
    assert.ok((await workRows(url)).every((row) => row.state === 'pending' && row.attempts === 0));
    // Mid-work: killed while it holds files.
    const doomed = worker(url, ['--lease-seconds', '2', '--batch', '4']);
    await waitUntil(claimedFirst(url), 'the claim');
    doomed.child.kill('SIGKILL');
    assert.equal(await doomed.exited, null);
    const held = (await workRows(url)).filter((row) => row.state === 'claimed');
    assert.ok(held.length > 0, 'it died holding files');
    const survivor = await finished(worker(url, ['--lease-seconds', '2', '--batch', '4']));
    const rows = await workRows(url);
    assert.ok(rows.every((row) => row.state === 'done'));
    assert.ok(survivor.files >= held.length, 'the survivor did the killed worker’s files');
    for (const row of held)
      assert.equal(rows.find((r) => r.path === row.path)!.attempts, 2, `${row.path} claimed again`);
    assertSameAsReference(stored(url), reference(join(dir, 'in')), 'after the kills');
  });

  test('between its insert and its commit: nothing of that result is kept', { timeout: 300_000 }, async () => {
    const dir = fresh('commit');
    writeImage(join(dir, 'in', '000.png'), 'nodule', 0, 2048);
    for (const [i, name] of ['z1.png', 'z2.png', 'z3.png'].entries())
      writeImage(join(dir, 'in', name), i % 2 === 0 ? 'nodule' : 'normal', 10 + i);
    const url = await h.server.createDatabase();
    enqueue(url, join(dir, 'in'));
    const victim = worker(url, ['--lease-seconds', '2']);
    // Once the worker holds the first file, its row is held here: the worker analyses the file,
    // writes its result, and then waits on this lock to mark the row done, the last statement
    // before its commit.
    await waitUntil(claimedFirst(url), 'the claim');
    const lock = await holdRow(url, '/in/000.png');
    try {
      await waitUntil(async () => {
        const rows = await h.server.query<{ pid: number }>(
          databaseOf(url),
          "SELECT pid FROM pg_stat_activity WHERE application_name = 'cxr-triage' AND wait_event_type = 'Lock' AND query LIKE 'UPDATE work_items SET state%'",
        );
        return rows[0]?.pid;
      }, 'the worker waiting to commit');
      victim.child.kill('SIGKILL');
      assert.equal(await victim.exited, null);
    } finally {
      await lock.release();
    }
    // The server rolls the dead session back once it notices the closed socket.
    await waitUntil(async () => {
      const rows = await h.server.query(
        databaseOf(url),
        "SELECT 1 FROM pg_stat_activity WHERE application_name = 'cxr-triage'",
      );
      return rows.length === 0 ? true : undefined;
    }, 'the dead session to end');
    const kept = await h.server.query(databaseOf(url), "SELECT id FROM images WHERE path LIKE '%/in/000.png'");
    assert.equal(kept.length, 0, 'nothing of the interrupted transaction');
    await finished(worker(url, ['--lease-seconds', '2']));
    assertSameAsReference(stored(url), reference(join(dir, 'in')), 'after the kill in the commit');
  });
});

describe('a stalled worker', () => {
  test('its late results are refused, and every file has one result', { timeout: 300_000 }, async () => {
    const dir = fresh('stalled');
    writeImages(join(dir, 'in'), 24, 1024);
    const url = await h.server.createDatabase();
    enqueue(url, join(dir, 'in'));
    const stalled = worker(url, ['--lease-seconds', '2', '--batch', '4']);
    await waitUntil(claimedFirst(url), 'the claim');
    stalled.child.kill('SIGSTOP');
    const other = worker(url, ['--lease-seconds', '2', '--batch', '4']);
    try {
      // Past the stalled worker's lease, the other takes its files over.
      await waitUntil(async () => {
        const rows = await workRows(url);
        return rows.some((row) => row.attempts === 2 && row.state === 'done') ? true : undefined;
      }, 'a file taken over and finished');
    } finally {
      stalled.child.kill('SIGCONT');
    }
    const [late, prompt] = [await finished(stalled), await finished(other)];
    assert.ok(late.work.refused >= 1, `the stalled worker's late results were refused (${JSON.stringify(late.work)})`);
    assert.ok(prompt.files > 0);
    assert.ok((await workRows(url)).every((row) => row.state === 'done'));
    assertSameAsReference(stored(url), reference(join(dir, 'in')), 'after the stall');
  });
});

const PHANTOM = fileURLToPath(new URL('../../models/samples/phantoms/phantom-00001.dcm', import.meta.url));

/**
 * The copy `b` of `a` (made by `copy`) is enqueued while a first worker, its analysis of `a` done,
 * waits to commit (held by the test's lock on its row); a second worker meets `b`, hands it back
 * to wait, and records it as `a`'s duplicate once `a` is stored.
 */
async function copyWhileHeld(ext: string, original: (path: string) => void, copy: (from: string, to: string) => void) {
  const dir = fresh('copies');
  const [a, b] = [join(dir, 'in', `a.${ext}`), join(dir, 'in', `b.${ext}`)];
  original(a);
  const url = await h.server.createDatabase();
  enqueue(url, join(dir, 'in'));
  const first = worker(url);
  await waitUntil(claimedFirst(url), 'the claim');
  const lock = await holdRow(url, `/a.${ext}`);
  let second: Worker;
  try {
    copy(a, b);
    // The copy alone: a walk of the folder would wait on the held row.
    assert.equal(enqueue(url, b).added, 1);
    second = worker(url);
    await waitUntil(async () => {
      const rows = await h.server.query<{ n: number }>(
        databaseOf(url),
        `SELECT count(*)::int AS n FROM work_items WHERE path LIKE '%/b.${ext}' AND state = 'pending' AND not_before IS NOT NULL`,
      );
      return rows[0].n === 1 ? true : undefined;
    }, 'the copy handed back to wait');
  } finally {
    await lock.release();
  }
  const [s1, s2] = [await finished(first), await finished(second!)];
  assert.equal(s1.analysed, 1);
  assert.equal(s2.analysed, 0, 'analysed once');
  assert.ok(s2.work.deferred >= 1);
  assert.equal(s2.duplicates, 1);
  const results = stored(url);
  assert.deepEqual(
    results.map((r) => [r.file, r.status]),
    [
      [a, 'ok'],
      [b, 'duplicate'],
    ],
  );
  assert.equal(results[1].duplicateOf, a);
}

describe('copies met by two workers', () => {
  test('the same bytes under another path wait for the original, then are its duplicate', { timeout: 300_000 }, () =>
    copyWhileHeld(
      'png',
      (path) => writeImage(path, 'nodule', 5),
      (from, to) => copyFileSync(from, to),
    ),
  );

  test(
    'the same SOP Instance UID in other bytes waits for the original, then is its duplicate',
    {
      timeout: 300_000,
    },
    () =>
      copyWhileHeld(
        'dcm',
        (path) => {
          mkdirSync(dirname(path), { recursive: true });
          copyFileSync(PHANTOM, path);
        },
        (from, to) => {
          copyFileSync(from, to);
          // Another Image Comments: other bytes, other SHA-256, the same SOP Instance UID (dcmtk).
          tool('dcmodify', ['-nb', '-i', '(0020,4000)=re-sent copy', to]);
          assert.notEqual(readFileSync(from).toString('base64'), readFileSync(to).toString('base64'));
        },
      ),
  );
});

describe('a poison file', () => {
  test(
    'a file that kills every worker holding it is quarantined after 3 attempts, needing review',
    {
      timeout: 300_000,
    },
    async () => {
      const dir = fresh('poison');
      writeImages(join(dir, 'in'), 6);
      const poison = join(dir, 'in', '003.png');
      // Larger than the rest, so that it is held long enough for the test to see who holds it.
      writeImage(poison, 'nodule', 3, 2048);
      const url = await h.server.createDatabase();
      enqueue(url, join(dir, 'in'));
      let kills = 0;
      // Whichever worker holds the poison file dies, as if reading it crashed the process.
      for (let round = 0; round < 6; round++) {
        const w = worker(url, ['--lease-seconds', '1']);
        const outcome = await waitUntil(async () => {
          if (w.child.exitCode !== null) return 'exited' as const;
          const row = (await workRows(url)).find((r) => r.path === poison);
          const holds = row?.state === 'claimed' && row.lease_owner?.includes(`:${w.child.pid}:`) && row.attempts <= 3;
          return holds ? ('holds' as const) : undefined;
        }, 'the poison claimed or the worker done');
        if (outcome === 'exited') {
          assert.equal(await w.exited, 0, w.stderr());
          break;
        }
        w.child.kill('SIGKILL');
        await w.exited;
        kills++;
        await sleep(10);
      }
      assert.equal(kills, 3, 'three workers died holding it');
      const results = stored(url);
      assert.equal(results.length, 6);
      const quarantined = results.find((r) => r.file === poison)!;
      assert.equal(quarantined.status, 'error');
      assert.equal(quarantined.error?.code, 'QUARANTINED');
      assert.equal(quarantined.priority, 'needs review');
      assert.deepEqual(
        results.filter((r) => r.file !== poison).map((r) => r.status),
        Array(5).fill('ok'),
        'the files claimed beside it were analysed, none charged for it',
      );
    },
  );
});
