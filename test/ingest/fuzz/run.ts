/**
 * Runs a fuzz job in a worker (fuzz/worker.ts) under a watchdog: a case silent for `hangMs` is a
 * hang, a resident size above `rssLimitMb` is runaway memory; either rejects, naming the seed that
 * replays it. Resolves with the outcomes counted by error code ('decoded' for an image).
 */
import { startWorker } from '../../../main/threads/index.js';
import type { FuzzJob, FuzzReport } from './worker.js';

export interface FuzzResult {
  seen: number;
  outcomes: Map<string, number>;
  failures: string[];
  peakRss: number;
  /** The outcomes, most frequent first: "decoded 120, MALFORMED 80, ...". */
  summary: string;
}

export async function runFuzz(job: FuzzJob, hangMs: number, rssLimitMb: number): Promise<FuzzResult> {
  const outcomes = new Map<string, number>();
  const failures: string[] = [];
  let peakRss = 0;
  let seen = 0;
  const worker = startWorker(new URL('./worker.ts', import.meta.url), { workerData: job });

  await new Promise<void>((resolve, reject) => {
    let last = { index: -1, file: '', mutation: '' };
    let watchdog = setTimeout(hang, hangMs);
    function hang() {
      void worker.terminate();
      reject(
        new Error(
          `case ${last.index + 1} (after ${last.file} ${last.mutation}) ran over ${hangMs} ms: a hang; replay with FUZZ_SEED=${job.seed}`,
        ),
      );
    }
    worker.on('message', (report: FuzzReport) => {
      clearTimeout(watchdog);
      watchdog = setTimeout(hang, hangMs);
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
      if (report.rssMb > rssLimitMb) {
        clearTimeout(watchdog);
        void worker.terminate();
        reject(
          new Error(
            `memory ran away: ${report.rssMb.toFixed(0)} MB resident at case ${report.index}; replay with FUZZ_SEED=${job.seed}`,
          ),
        );
      }
    });
    worker.on('error', (error) => {
      clearTimeout(watchdog);
      reject(
        new Error(
          `the fuzz worker died after case ${last.index} (${last.file} ${last.mutation}): ${error.message}; replay with FUZZ_SEED=${job.seed}`,
        ),
      );
    });
  });

  const summary = [...outcomes.entries()]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return { seen, outcomes, failures, peakRss, summary };
}
