/**
 * Mutation fuzzing over the conformance fixtures: every damaged file must end in a decoded image
 * or a coded error; no uncaught exception, no hang, no runaway memory. FUZZ_SEED replays a run,
 * FUZZ_CASES sets its size (at least 2,000 by default).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { startWorker } from '../../main/threads/index.js';
import type { FuzzJob, FuzzReport } from './fuzz/worker.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/dicom/', import.meta.url));
const CASES = Number(process.env.FUZZ_CASES ?? 2400);
const SEED = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
/** A single small fixture decodes in milliseconds; a case silent this long is a hang. */
const HANG_MS = 15_000;
const RSS_LIMIT_MB = 1536;

test(
  `fuzz: ${CASES} mutated files end in an image or a coded error (seed ${SEED})`,
  { timeout: 15 * 60_000 },
  async () => {
    const files = readdirSync(FIXTURES)
      .filter((name) => /\.(dcm|png|jpg)$/.test(name))
      .map((name) => join(FIXTURES, name));
    assert.ok(files.length >= 15, `expected the conformance fixtures in ${FIXTURES}`);

    const outcomes = new Map<string, number>();
    const failures: string[] = [];
    let peakRss = 0;
    let seen = 0;
    const worker = startWorker(new URL('./fuzz/worker.ts', import.meta.url), {
      workerData: { files, seed: SEED, cases: CASES } satisfies FuzzJob,
    });

    await new Promise<void>((resolve, reject) => {
      let last = { index: -1, file: '', mutation: '' };
      let watchdog = setTimeout(hang, HANG_MS);
      function hang() {
        void worker.terminate();
        reject(
          new Error(
            `case ${last.index + 1} (after ${last.file} ${last.mutation}) ran over ${HANG_MS} ms: a hang; replay with FUZZ_SEED=${SEED}`,
          ),
        );
      }
      worker.on('message', (report: FuzzReport) => {
        clearTimeout(watchdog);
        watchdog = setTimeout(hang, HANG_MS);
        if (report.kind === 'done') {
          clearTimeout(watchdog);
          resolve();
          return;
        }
        seen++;
        last = report;
        if (report.kind === 'failure') {
          failures.push(`case ${report.index} (${report.file}, ${report.mutation}): ${report.detail}`);
          return;
        }
        outcomes.set(report.outcome, (outcomes.get(report.outcome) ?? 0) + 1);
        peakRss = Math.max(peakRss, report.rssMb);
        if (report.rssMb > RSS_LIMIT_MB) {
          clearTimeout(watchdog);
          void worker.terminate();
          reject(
            new Error(
              `memory ran away: ${report.rssMb.toFixed(0)} MB resident at case ${report.index}; replay with FUZZ_SEED=${SEED}`,
            ),
          );
        }
      });
      worker.on('error', (error) => {
        clearTimeout(watchdog);
        reject(
          new Error(
            `the fuzz worker died after case ${last.index} (${last.file} ${last.mutation}): ${error.message}; replay with FUZZ_SEED=${SEED}`,
          ),
        );
      });
    });

    const summary = [...outcomes.entries()]
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    console.log(`fuzz seed ${SEED}: ${seen} cases; ${summary}; peak RSS ${peakRss.toFixed(0)} MB`);
    assert.deepEqual(
      failures,
      [],
      `uncoded failures (replay with FUZZ_SEED=${SEED}):\n${failures.slice(0, 5).join('\n')}`,
    );
    assert.equal(seen, CASES);
    // Both outcomes must occur, or the mutations are not reaching the decoders.
    assert.ok((outcomes.get('decoded') ?? 0) > 0, 'some mutated files still decode');
    assert.ok(outcomes.size >= 4, `several distinct error codes occur (saw ${summary})`);
  },
);
