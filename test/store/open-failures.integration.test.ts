/**
 * Opening the results database where it cannot be written says what really failed, with what to
 * do. The read-only file system, the missing write permission and the full disk fail for real:
 * the store is opened by a child process inside a user namespace (util-linux's unshare), on a
 * read-only bind mount, as an unprivileged user in a folder of mode 0555, and on an 8 KiB tmpfs,
 * so the tests mean the same whether they run as root (whom mode bits do not stop) or not. A file
 * where a folder should be, and a folder where the database file should be, fail for anyone.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { TriageError } from '../../main/errors/index.js';
import { ResultStore } from '../../main/store/index.js';
import { scratchDir } from '../support/tools.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./open-child.ts', import.meta.url));
const scratch = scratchDir('store-open');
after(() => {
  chmodSync(scratch.path, 0o755);
  scratch.remove();
});

interface Outcome {
  ok: boolean;
  code?: string;
  message?: string;
}

/** Runs the child on `database` under `unshare ARGS`, after the shell commands in `setup`. */
function isolated(unshareArgs: string[], setup: string, database: string): Outcome {
  const run = spawnSync(
    'unshare',
    [...unshareArgs, 'sh', '-c', `${setup} exec "$0" --import tsx "$1" "$2"`, process.execPath, CHILD, database],
    { cwd: root, encoding: 'utf8', env: { ...process.env, TRIAGE_LOG: 'error' } },
  );
  assert.equal(run.status, 0, `the child ran (${run.stderr})`);
  return JSON.parse(run.stdout.trim().split('\n').pop()!) as Outcome;
}

before(() => {
  const probe = spawnSync('unshare', ['--user', '--map-root-user', '--mount', 'true'], { encoding: 'utf8' });
  assert.equal(
    probe.status,
    0,
    `these tests need util-linux's unshare with user namespaces (apt-get install util-linux; on kernels that restrict them: sysctl kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0; a chroot never has them, a container only if its seccomp policy allows them): ${probe.error?.message ?? probe.stderr}`,
  );
});

describe('opening the results database where it cannot be written', () => {
  test('on a read-only file system it says so, and what to do', () => {
    const folder = join(scratch.path, 'read-only');
    mkdirSync(folder);
    const database = join(folder, 'results.sqlite');
    const outcome = isolated(
      ['--user', '--map-root-user', '--mount'],
      `mount --bind "$2" "$2" && mount -o remount,bind,ro "$2" &&`.replaceAll('"$2"', `'${folder}'`),
      database,
    );
    assert.equal(outcome.code, 'DATABASE_FAILED', JSON.stringify(outcome));
    assert.match(outcome.message!, /read-only file system/);
    assert.ok(outcome.message!.includes(folder), outcome.message);
    assert.match(outcome.message!, /writable disk with --db FILE/);
    assert.doesNotMatch(outcome.message!, /create the results database's folder/);
  });

  test('without write permission it says permission denied, naming the folder', () => {
    const folder = join(scratch.path, 'no-write');
    mkdirSync(folder);
    chmodSync(folder, 0o555);
    const database = join(folder, 'results.sqlite');
    // Mapped to nobody, with no capability: mode 0555 stops it, as it stops any user but root.
    const outcome = isolated(['--user', '--map-user=65534', '--map-group=65534'], '', database);
    assert.equal(outcome.code, 'DATABASE_FAILED', JSON.stringify(outcome));
    assert.match(outcome.message!, /^Permission denied: this user may not write to /);
    assert.ok(outcome.message!.includes(folder), outcome.message);
    assert.match(outcome.message!, /write access to it, or choose another database with --db FILE/);
  });

  test('on a full disk it says the disk is full', () => {
    const folder = join(scratch.path, 'full');
    mkdirSync(folder);
    const database = join(folder, 'results.sqlite');
    const outcome = isolated(
      ['--user', '--map-root-user', '--mount'],
      `mount -t tmpfs -o size=8k tmpfs '${folder}' &&`,
      database,
    );
    assert.equal(outcome.code, 'DATABASE_FAILED', JSON.stringify(outcome));
    assert.match(outcome.message!, /^The disk holding the results database .* is full\. Free some space on it/);
  });

  test('a file where its folder should be is named', () => {
    const blocker = join(scratch.path, 'a-file');
    writeFileSync(blocker, 'not a folder');
    assert.throws(
      () => ResultStore.open(join(blocker, 'sub', 'results.sqlite')),
      (error: TriageError) =>
        error.code === 'DATABASE_FAILED' && error.message.startsWith(`${blocker} is a file, not a folder`),
    );
  });

  test('a folder where the database file should be is named', () => {
    const database = join(scratch.path, 'taken', 'results.sqlite');
    mkdirSync(database, { recursive: true });
    assert.throws(
      () => ResultStore.open(database),
      (error: TriageError) =>
        error.code === 'DATABASE_FAILED' && error.message.startsWith(`${database} is a folder, not a database file`),
    );
  });
});
