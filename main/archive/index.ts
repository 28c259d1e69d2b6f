/**
 * Archive scans shared by many machines: a work queue in the results database on a PostgreSQL
 * server (queue.ts says how claims, leases, fencing, quarantine and shared contents work), loaded
 * once by `triage enqueue` and drained by any number of `triage scan --worker` processes
 * (worker.ts). Each file is read by one worker; the results land in the same store as any scan's.
 */
import { RETRIED_ERRORS, walk } from '../scan/index.js';
import type { ResultStore, PackProvenance } from '../store/index.js';
import { packFingerprint } from '../store/index.js';
import { DEFAULT_LEASE_SECONDS, WorkQueue } from './queue.js';
import type { QueueCounts, QueueEntry, QueueSettings } from './queue.js';
import { QueueWorker, workerName } from './worker.js';

export { DEFAULT_LEASE_SECONDS, MAX_ATTEMPTS, WorkQueue } from './queue.js';
export type { QueueCounts, QueueEntry, QueueSettings, WorkItem } from './queue.js';
export { QueueWorker, workerName } from './worker.js';

export interface EnqueueSummary {
  database: string;
  roots: string[];
  pack: { id: string; version: string; fingerprint: string };
  /** Files found by the walk. */
  files: number;
  added: number;
  /**
   * Paths queued before whose size or modification time changed, or whose result was a failure of
   * the remote provider's server (REMOTE_FAILED): to analyse again.
   */
  requeued: number;
  /** Paths queued before, unchanged: left as they are (done, or still to do). */
  unchanged: number;
  /** Paths the walk could not read (symbolic-link loops, unreadable folders), by code; not queued. */
  walkErrors: Record<string, number>;
  queue: QueueCounts;
  seconds: number;
}

/** Walks `roots` once and loads every file into the shared queue for `provenance`'s pack. */
export async function enqueue(options: {
  store: ResultStore;
  provenance: PackProvenance;
  roots: string[];
  exclude?: string[];
}): Promise<EnqueueSummary> {
  const started = performance.now();
  const { store, provenance, roots } = options;
  const fingerprint = store.registerPack(provenance);
  const queue = new WorkQueue(store.connection, fingerprint, { owner: 'enqueue', leaseSeconds: 1, batch: 1 });
  const totals = { files: 0, added: 0, requeued: 0, unchanged: 0 };
  const walkErrors: Record<string, number> = {};
  let batch: QueueEntry[] = [];
  const flush = () => {
    const counts = queue.enqueue(batch);
    // Files whose result was a failure of the server, not of the file, are done again.
    const failed = queue.requeueFailed(
      [...RETRIED_ERRORS],
      batch.map((entry) => entry.path),
    );
    totals.added += counts.added;
    totals.requeued += counts.requeued + failed;
    totals.unchanged += counts.unchanged - failed;
    batch = [];
  };
  for await (const candidate of walk(roots, { dicomdir: false, exclude: options.exclude ?? [] })) {
    if (candidate.kind === 'error') {
      walkErrors[candidate.error.code] = (walkErrors[candidate.error.code] ?? 0) + 1;
      continue;
    }
    totals.files++;
    batch.push({ path: candidate.path, size: candidate.stats.size, mtimeMs: candidate.stats.mtimeMs });
    if (batch.length >= 500) flush();
  }
  flush();
  return {
    database: store.path,
    roots,
    pack: { id: provenance.pack.id, version: provenance.pack.version, fingerprint },
    ...totals,
    walkErrors,
    queue: queue.counts(),
    seconds: Math.round(performance.now() - started) / 1000,
  };
}

/** The work source of one `triage scan --worker` process for `provenance`'s pack. */
export function queueWorker(
  store: ResultStore,
  provenance: PackProvenance,
  settings: Partial<QueueSettings> = {},
): QueueWorker {
  const queue = new WorkQueue(store.connection, packFingerprint(provenance), {
    owner: settings.owner ?? workerName(),
    leaseSeconds: settings.leaseSeconds ?? DEFAULT_LEASE_SECONDS,
    batch: settings.batch ?? 16,
  });
  return new QueueWorker(queue);
}
