/**
 * A scan worker's side of the shared queue: the Scanner's WorkSource (main/scan), handing out the
 * files this worker claims, keeping their leases alive, and fencing each outcome it writes.
 */
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { toTriageError, TriageError } from '../errors/index.js';
import type { Candidate, WorkSource, WorkSummary } from '../scan/index.js';
import type { Within } from '../store/index.js';
import { MAX_ATTEMPTS } from './queue.js';
import type { WorkItem, WorkQueue } from './queue.js';

/** A name for this worker in the queue: which machine and process holds a lease, for operators. */
export function workerName(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

export class QueueWorker implements WorkSource {
  private readonly held = new Map<string, WorkItem>();
  private heartbeat: NodeJS.Timeout | null = null;
  private readonly counts = { claimed: 0, refused: 0, deferred: 0, quarantined: 0 };
  /** How long to wait before looking again when other workers hold the rest of the files. */
  private readonly pollMs: number;

  constructor(private readonly queue: WorkQueue) {
    this.pollMs = Math.min(1000, (queue.settings.leaseSeconds * 1000) / 4);
  }

  async *candidates(signal?: AbortSignal): AsyncGenerator<Candidate> {
    this.startHeartbeat();
    for (;;) {
      if (signal?.aborted) return;
      // A suspect (claimed before by a worker that never finished it) is held alone: if it kills
      // this worker too, no other file is charged an attempt for it.
      const items = this.queue.claim(this.held.size === 0);
      if (items.length === 0) {
        const counts = this.queue.counts();
        // Done when nothing is pending and no other worker holds a file (whose lease may yet expire).
        if (counts.pending === 0 && counts.elsewhere === 0) return;
        try {
          await sleep(this.pollMs, undefined, { signal });
        } catch {
          return; // aborted
        }
        continue;
      }
      this.counts.claimed += items.length;
      for (const item of items) {
        this.held.set(item.path, item);
        yield await this.candidate(item);
      }
      const [first] = items;
      if (items.length === 1 && first.attempts > 1)
        while (this.held.has(first.path) && !signal?.aborted) {
          try {
            await sleep(20, undefined, { signal });
          } catch {
            return;
          }
        }
    }
  }

  private async candidate(item: WorkItem): Promise<Candidate> {
    if (item.attempts > MAX_ATTEMPTS) {
      this.counts.quarantined++;
      return {
        kind: 'error',
        path: item.path,
        error: new TriageError(
          'QUARANTINED',
          `${item.path} was claimed ${item.attempts - 1} times by workers that stopped before finishing it (killed, or out of memory); it is set aside and not read again. Open it alone with triage analyze, or remove it from the archive and enqueue again.`,
          { file: item.path },
        ),
      };
    }
    try {
      const stats = await stat(item.path);
      return { kind: 'file', path: item.path, explicit: false, stats };
    } catch (error) {
      return { kind: 'error', path: item.path, error: toTriageError(error, item.path) };
    }
  }

  private startHeartbeat(): void {
    if (this.heartbeat) return;
    this.heartbeat = setInterval(
      () => {
        try {
          if (this.held.size > 0) this.queue.heartbeat();
        } catch {
          // The server is away: the leases run on, and a late write is fenced if they pass on.
        }
      },
      (this.queue.settings.leaseSeconds * 1000) / 3,
    );
    this.heartbeat.unref();
  }

  claimContent(path: string, sha256: string, sopInstanceUID: string | null): boolean {
    const item = this.held.get(path);
    if (!item) return true;
    // The same content, or the same SOP Instance UID in other bytes: a scan of one machine
    // records either as a duplicate of the first it analysed.
    if (
      this.queue.claimContent(item, sha256) &&
      (!sopInstanceUID || this.queue.claimContent(item, `sop:${sopInstanceUID}`))
    )
      return true;
    this.queue.defer(item);
    this.held.delete(path);
    this.counts.deferred++;
    return false;
  }

  completion(path: string): Within {
    // Idempotent: a transaction run again (a deadlock) marks the same row done again.
    return () => {
      const item = this.held.get(path);
      if (!item)
        throw new TriageError('LEASE_LOST', `This worker holds no lease on ${path}; its outcome is dropped.`, {
          file: path,
        });
      try {
        this.queue.complete(item, item.attempts > MAX_ATTEMPTS ? 'quarantined' : 'recorded');
      } catch (error) {
        if (error instanceof TriageError && error.code === 'LEASE_LOST') this.counts.refused++;
        throw error;
      }
    };
  }

  settled(path: string): void {
    this.held.delete(path);
  }

  finish(path: string): void {
    const item = this.held.get(path);
    if (!item) return;
    this.held.delete(path);
    try {
      this.queue.finish(item, 'skipped');
    } catch (error) {
      if (error instanceof TriageError && error.code === 'LEASE_LOST') this.counts.refused++;
      throw error;
    }
  }

  release(): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = null;
    const items = [...this.held.values()];
    this.held.clear();
    try {
      this.queue.release(items);
    } catch {
      // The server is away: the leases expire and the files are claimed again.
    }
  }

  summary(): WorkSummary {
    return { owner: this.queue.settings.owner, ...this.counts, leaseSeconds: this.queue.settings.leaseSeconds };
  }
}
