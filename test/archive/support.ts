/**
 * The shared-scan tests' harness: a throwaway PostgreSQL server for the test file, workers as real
 * `triage scan --worker` processes, the queue's rows as the server holds them, and the reference
 * every outcome is compared with: the same folder scanned by one process into SQLite.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before } from 'node:test';
import { ResultStore } from '../../main/store/index.js';
import type { StoredResult } from '../../main/domain/index.js';
import { triage } from '../support/cli.js';
import { startPostgres } from '../support/postgres.js';
import type { TestPostgres } from '../support/postgres.js';
import { scratchDir } from '../support/tools.js';
import { CAM_PACK } from '../scan/fixtures.js';

export const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));
export const PACK = ['--models', CAM_PACK, '--ep', 'cpu'];

export interface Worker {
  child: ChildProcess;
  exited: Promise<number | null>;
  stdout: () => string;
  stderr: () => string;
}

export interface WorkerSummary {
  analysed: number;
  duplicates: number;
  files: number;
  work: { claimed: number; refused: number; deferred: number; quarantined: number };
}

export interface WorkRow {
  path: string;
  state: string;
  attempts: number;
  lease_owner: string | null;
}

export const summaryOf = (stdout: string) =>
  (JSON.parse(stdout.trim().split('\n').pop()!) as { summary: WorkerSummary }).summary;

/** A stored result without what differs from run to run (ids, times, the scan). */
export function comparable(result: StoredResult) {
  const { id: _id, timings: _timings, scannedAt: _at, scanId: _scan, ...rest } = result;
  return rest;
}

export function stored(database: string): StoredResult[] {
  const store = ResultStore.open(database);
  try {
    return [...store.allResults()];
  } finally {
    store.close();
  }
}

export const databaseOf = (url: string) => new URL(url).pathname.slice(1);

export function assertSameAsReference(actual: StoredResult[], expected: StoredResult[], what: string): void {
  assert.deepEqual(
    actual.map((r) => r.file),
    expected.map((r) => r.file),
    `${what}: each path exactly once`,
  );
  for (const [i, result] of actual.entries())
    assert.deepEqual(comparable(result), comparable(expected[i]), `${what}: ${result.file}`);
}

export async function waitUntil<T>(probe: () => Promise<T | undefined>, what: string, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** Registers the server's start and stop with the test file; the harness's functions after. */
export function sharedScanHarness(name: string) {
  const scratch = scratchDir(name);
  let server: TestPostgres | undefined;
  let counter = 0;
  before(async () => {
    server = await startPostgres();
  });
  after(async () => {
    await server?.stop();
    scratch.remove();
  });
  const fresh = (label: string) => join(scratch.path, `${label}-${++counter}`);
  const running = () => {
    if (!server) throw new Error('the server is not started');
    return server;
  };
  return {
    fresh,
    get server() {
      return running();
    },
    worker(url: string, extra: string[] = [], models = PACK): Worker {
      const child = spawn(process.execPath, [BIN, 'scan', '--worker', '--db', url, ...models, ...extra], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let out = '';
      let err = '';
      child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
      child.stderr!.on('data', (chunk: Buffer) => (err += chunk.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, exited, stdout: () => out, stderr: () => err };
    },
    async finished(w: Worker, ms = 120_000): Promise<WorkerSummary> {
      const code = await Promise.race([w.exited, sleep(ms, 'timeout' as const, { ref: false })]);
      if (code === 'timeout') {
        w.child.kill('SIGKILL');
        throw new Error(`worker did not finish in ${ms} ms: ${w.stderr().slice(-2000)}`);
      }
      assert.equal(code, 0, w.stderr().slice(-2000));
      return summaryOf(w.stdout());
    },
    enqueue(url: string, path: string, models = CAM_PACK) {
      const result = triage(['enqueue', path, '--db', url, '--models', models]);
      assert.equal(result.status, 0, result.stderr);
      const { added, requeued, unchanged } = (
        JSON.parse(result.stdout) as { enqueue: { added: number; requeued: number; unchanged: number } }
      ).enqueue;
      return { added, requeued, unchanged };
    },
    workRows(url: string): Promise<WorkRow[]> {
      return running().query<WorkRow>(
        databaseOf(url),
        'SELECT path, state, attempts::int AS attempts, lease_owner FROM work_items ORDER BY path',
      );
    },
    /** The single-process reference: the same folder scanned by one `triage scan` into SQLite. */
    reference(dir: string): StoredResult[] {
      const database = join(fresh('reference'), 'db.sqlite');
      const result = triage(['scan', dir, '--db', database, ...PACK]);
      assert.equal(result.status, 0, result.stderr);
      return stored(database);
    },
  };
}
