/**
 * Shared-scan benchmark (not a test): the same folder of phantom DICOMs triaged
 * - by one `triage scan` process into a SQLite file (the peer: the product as it was);
 * - by one `triage scan` process into a PostgreSQL database (the server store's own cost);
 * - by `triage enqueue` then two `triage scan --worker` processes started together on the same
 *   PostgreSQL database (the shared queue: claims, leases, fencing, one transaction per image).
 * PostgreSQL is a throwaway cluster on 127.0.0.1 (test/support/postgres.ts); each round uses
 * fresh databases, in rotated order; wall time from the first process's start to the last one's
 * exit (the enqueue included). Prints medians over rounds, with the machine.
 *
 * The physical limit is the machine's cores: the workers here share them with each other and
 * with the server, so two workers on one machine can at best match one process that already uses
 * every core; the queue's gain is across machines, which this benchmark cannot show.
 *
 *   npm run bench:shared-scan
 *     BENCH_IMAGES=120 BENCH_ROUNDS=3 BENCH_SIZE=2500 BENCH_MODELS=DIR (default: the demo pack)
 *     BENCH_DIR=$TMPDIR/cxr-triage-bench-shared (kept: the phantoms are reused)
 */
import { spawn } from 'node:child_process';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DEFAULT_PACK } from '../../main/packs/index.js';
import { projectRoot } from '../../main/resources/index.js';
import { startPostgres } from '../support/postgres.js';
import { fmt, load, machine, median, phantomFolder } from './measure.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 120);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const SIZE = Number(process.env.BENCH_SIZE ?? 2500);
const MODELS = process.env.BENCH_MODELS ?? DEFAULT_PACK;
const WORK = process.env.BENCH_DIR ?? join(tmpdir(), 'cxr-triage-bench-shared');
const SEED = 20261208;
const BIN = join(projectRoot(), 'bin/triage.js');

function triage(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

function ok(run: { code: number | null; stderr: string }, what: string): void {
  if (run.code !== 0) throw new Error(`${what} failed (${run.code}): ${run.stderr.slice(-1500)}`);
}

const analysedOf = (stdout: string) =>
  (JSON.parse(stdout.trim().split('\n').pop()!) as { summary: { analysed: number } }).summary.analysed;

type Mode = 'one process, SQLite' | 'one process, PostgreSQL' | 'two workers, PostgreSQL';
const MODES: Mode[] = ['one process, SQLite', 'one process, PostgreSQL', 'two workers, PostgreSQL'];

const images = dirname(
  (await phantomFolder({ work: join(WORK, String(SIZE)), count: IMAGES, size: SIZE, seed: SEED }))[0],
);
const server = await startPostgres();
const seconds = new Map<Mode, number[]>(MODES.map((m) => [m, []]));
const loads: string[] = [];
try {
  console.log(`machine: ${machine()}; ${new Date().toISOString()}; load average ${load()}`);
  console.log(`images: ${IMAGES} phantom DICOMs, ${SIZE} px; pack ${MODELS}; CPU provider, default layout`);
  for (let round = 0; round < ROUNDS; round++) {
    const order = MODES.map((_, i) => MODES[(i + round) % MODES.length]);
    for (const mode of order) {
      loads.push(load());
      const started = performance.now();
      let analysed = 0;
      if (mode === 'one process, SQLite') {
        const database = join(WORK, `round-${round}.sqlite`);
        rmSync(database, { force: true });
        const run = await triage(['scan', images, '--db', database, '--models', MODELS, '--ep', 'cpu']);
        ok(run, mode);
        analysed = analysedOf(run.stdout);
        rmSync(database, { force: true });
      } else {
        const url = await server.createDatabase(`bench_${round}_${mode.startsWith('one') ? 'one' : 'two'}`);
        if (mode === 'one process, PostgreSQL') {
          const run = await triage(['scan', images, '--db', url, '--models', MODELS, '--ep', 'cpu']);
          ok(run, mode);
          analysed = analysedOf(run.stdout);
        } else {
          ok(await triage(['enqueue', images, '--db', url, '--models', MODELS]), 'enqueue');
          const worker = () => triage(['scan', '--worker', '--db', url, '--models', MODELS, '--ep', 'cpu']);
          const runs = await Promise.all([worker(), worker()]);
          runs.forEach((run) => ok(run, mode));
          analysed = runs.reduce((sum, run) => sum + analysedOf(run.stdout), 0);
        }
      }
      const s = (performance.now() - started) / 1000;
      if (analysed !== IMAGES) throw new Error(`${mode}: ${analysed} of ${IMAGES} analysed`);
      seconds.get(mode)!.push(s);
      console.log(`  round ${round + 1}: ${mode}: ${fmt(s)} s, ${fmt(IMAGES / s)} images/s`);
    }
  }
  const peer = median(seconds.get('one process, SQLite')!);
  console.log(`\nmedians over ${ROUNDS} rounds (load average before each run: ${loads.join(' | ')}):`);
  for (const mode of MODES) {
    const s = median(seconds.get(mode)!);
    console.log(
      `  ${mode.padEnd(26)} ${fmt(s)} s  ${fmt(IMAGES / s)} images/s  ${fmt(peer / s)} x one process into SQLite`,
    );
  }
} finally {
  await server.stop();
}
