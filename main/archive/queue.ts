/**
 * The shared work queue of an archive scan, in the results database on a PostgreSQL server (the
 * tables work_items and work_contents: main/store/postgres-schema.ts).
 *
 * - Enqueue: one row per path and pack fingerprint, with the size and modification time the walk
 *   saw; enqueueing again re-queues only a path whose size or time changed.
 * - Claim: a worker takes pending rows (or rows whose lease expired) with a lease: a random token,
 *   its owner and an expiry, in one statement (FOR UPDATE SKIP LOCKED, so workers never wait on
 *   each other's rows). Each claim counts an attempt. A row claimed before and never finished (its
 *   worker died or stalled) is a suspect: suspects are claimed one at a time, so a file that kills
 *   workers takes no innocent files with it; after `maxAttempts` such attempts it is quarantined.
 * - Heartbeat: the owner extends its live leases every third of the lease.
 * - Fencing: a file's outcome is written in one transaction with its row's UPDATE to done, which
 *   matches only while the row still carries the worker's token. A worker whose lease passed to
 *   another worker (it stalled, or lost the server for longer than the lease) has its write
 *   refused and rolled back: each result is written once, by the worker that holds the file.
 * - Contents: before analysing, a worker takes the file's content hash (work_contents); a copy of
 *   that content under another path, met by another worker meanwhile, goes back to the queue for a
 *   moment and is then recorded as the duplicate it is, as a scan of one machine records it.
 */
import { randomUUID } from 'node:crypto';
import { TriageError } from '../errors/index.js';
import type { SqlDatabase } from '../store/index.js';

export interface QueueEntry {
  path: string;
  size: number | null;
  mtimeMs: number | null;
}

/** A file this worker holds: its row, the lease's token, and how many claims it has had. */
export interface WorkItem {
  id: number;
  path: string;
  token: string;
  attempts: number;
}

export interface QueueCounts {
  pending: number;
  /** Claimed by this worker. */
  mine: number;
  /** Claimed by other workers (their leases may have expired: they are claimable again). */
  elsewhere: number;
  done: number;
}

export interface QueueSettings {
  /** This worker's name in the queue: host, process and a random part. */
  owner: string;
  leaseSeconds: number;
  /** Files claimed at once. */
  batch: number;
}

/** Claims of a file that never finished before it is quarantined. */
export const MAX_ATTEMPTS = 3;
export const DEFAULT_LEASE_SECONDS = 60;
/** A file that waits for a copy of its content being analysed elsewhere comes back after this. */
const DEFER_SECONDS = 2;

const ENQUEUE_ROWS = 500;

export class WorkQueue {
  constructor(
    private readonly db: SqlDatabase,
    readonly fingerprint: string,
    readonly settings: QueueSettings,
  ) {
    if (db.dialect !== 'postgresql')
      throw new TriageError(
        'USAGE',
        `A shared scan keeps its queue on a database server: use --db postgresql://user@host/database, not ${db.path}. Without a server, split the scan with --shard i/N and merge the shards.`,
      );
  }

  /** Adds the paths (or re-queues those whose size or time changed); counts of each. */
  enqueue(entries: readonly QueueEntry[]): { added: number; requeued: number; unchanged: number } {
    const counts = { added: 0, requeued: 0, unchanged: 0 };
    for (let start = 0; start < entries.length; start += ENQUEUE_ROWS) {
      const rows = entries.slice(start, start + ENQUEUE_ROWS);
      const written = this.db.all<{ inserted: number }>(
        `INSERT INTO work_items (pack_fingerprint, path, size, mtime_ms, state, attempts, enqueued_at)
         VALUES ${rows.map(() => "(?, ?, ?, ?, 'pending', 0, now())").join(', ')}
         ON CONFLICT (pack_fingerprint, path) DO UPDATE SET
           size = excluded.size, mtime_ms = excluded.mtime_ms, state = 'pending', attempts = 0,
           lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL, not_before = NULL,
           finished_at = NULL, outcome = NULL, enqueued_at = excluded.enqueued_at
         WHERE work_items.size IS DISTINCT FROM excluded.size OR work_items.mtime_ms IS DISTINCT FROM excluded.mtime_ms
         RETURNING CASE WHEN xmax = 0 THEN 1 ELSE 0 END AS inserted`,
        rows.flatMap((row) => [this.fingerprint, row.path, row.size, row.mtimeMs]),
      );
      const added = written.filter((row) => Number(row.inserted) === 1).length;
      counts.added += added;
      counts.requeued += written.length - added;
      counts.unchanged += rows.length - written.length;
    }
    return counts;
  }

  /**
   * Of `paths`, the done files whose stored result is one of `codes` (failures that say nothing of
   * the file, such as the remote provider's server being away): pending again; how many.
   */
  requeueFailed(codes: readonly string[], paths: readonly string[]): number {
    if (codes.length === 0 || paths.length === 0) return 0;
    return this.db.run(
      `UPDATE work_items w SET state = 'pending', attempts = 0, finished_at = NULL, outcome = NULL
       FROM images i
       WHERE w.pack_fingerprint = ? AND w.state = 'done' AND i.path = w.path
         AND i.pack_fingerprint = w.pack_fingerprint
         AND i.error_code IN (${codes.map(() => '?').join(', ')})
         AND w.path IN (${paths.map(() => '?').join(', ')})`,
      [this.fingerprint, ...codes, ...paths],
    ).changes;
  }

  private claimRows(suspects: boolean, limit: number, token: string): WorkItem[] {
    const rows = this.db.all<{ id: number; path: string; attempts: number }>(
      `WITH picked AS (
         SELECT id FROM work_items
         WHERE pack_fingerprint = ? AND attempts ${suspects ? '>' : '='} 0
           AND ((state = 'pending' AND (not_before IS NULL OR not_before <= now()))
             OR (state = 'claimed' AND lease_expires_at < now()))
         ORDER BY id LIMIT ? FOR UPDATE SKIP LOCKED)
       UPDATE work_items w SET state = 'claimed', attempts = w.attempts + 1, lease_owner = ?, lease_token = ?,
         lease_expires_at = now() + make_interval(secs => ?), not_before = NULL
       FROM picked WHERE w.id = picked.id
       RETURNING w.id, w.path, w.attempts`,
      [this.fingerprint, limit, this.settings.owner, token, this.settings.leaseSeconds],
    );
    return rows
      .map((row) => ({ id: Number(row.id), path: row.path, token, attempts: Number(row.attempts) }))
      .sort((a, b) => a.id - b.id);
  }

  /**
   * The next files for this worker: with `suspects` (the worker holds nothing else), one suspect
   * alone if there is one; else up to a batch of files never claimed before.
   */
  claim(suspects: boolean): WorkItem[] {
    const token = randomUUID();
    const suspect = suspects ? this.claimRows(true, 1, token) : [];
    return suspect.length > 0 ? suspect : this.claimRows(false, this.settings.batch, token);
  }

  /** Extends every lease this worker still holds; how many. */
  heartbeat(): number {
    return this.db.run(
      // A row another session holds this moment (a completion, an enqueue) is skipped, not waited
      // on: a heartbeat must never stall the worker; the next one renews it.
      `UPDATE work_items SET lease_expires_at = now() + make_interval(secs => ?)
       WHERE id IN (SELECT id FROM work_items WHERE lease_owner = ? AND state = 'claimed'
                    FOR NO KEY UPDATE SKIP LOCKED)`,
      [this.settings.leaseSeconds, this.settings.owner],
    ).changes;
  }

  /**
   * Marks `item` done; called inside the transaction that writes its outcome. Throws LEASE_LOST
   * (rolling that transaction back) when the row no longer carries this worker's token.
   */
  complete(item: WorkItem, outcome: string): void {
    const done = this.db.run(
      `UPDATE work_items SET state = 'done', outcome = ?, finished_at = now(),
         lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL
       WHERE id = ? AND lease_token = ? AND state = 'claimed'`,
      [outcome, item.id, item.token],
    );
    if (done.changes === 0)
      throw new TriageError(
        'LEASE_LOST',
        `This worker's lease on ${item.path} expired and another worker took it over; this worker's outcome for it is dropped.`,
        { file: item.path },
      );
  }

  /** Marks `item` done on its own (nothing else to write). */
  finish(item: WorkItem, outcome: string): void {
    this.db.transaction(() => this.complete(item, outcome));
  }

  /**
   * Hands files back unfinished (the scan stopped; or, with `delaySeconds`, the file waits for a
   * copy of its content): pending again, this claim not counted as an attempt.
   */
  release(items: readonly WorkItem[], delaySeconds = 0): void {
    if (items.length === 0) return;
    this.db.transaction(() => {
      for (const item of items)
        this.db.run(
          `UPDATE work_items SET state = 'pending', attempts = greatest(attempts - 1, 0),
             lease_owner = NULL, lease_token = NULL, lease_expires_at = NULL,
             not_before = CASE WHEN ? > 0 THEN now() + make_interval(secs => ?) ELSE NULL END
           WHERE id = ? AND lease_token = ? AND state = 'claimed'`,
          [delaySeconds, delaySeconds, item.id, item.token],
        );
    });
  }

  /** Hands `item` back to wait for the copy of its content another worker is analysing. */
  defer(item: WorkItem): void {
    this.release([item], DEFER_SECONDS);
  }

  /**
   * Takes the content `key` (a SHA-256, or `sop:` and a SOP Instance UID) for `item`: true unless
   * another file with that key is being analysed now by a worker whose lease is live, or has been
   * analysed (its result is stored).
   */
  claimContent(item: WorkItem, key: string): boolean {
    const row = this.db.get<{ item_id: number }>(
      `INSERT INTO work_contents (pack_fingerprint, content_key, item_id, lease_token) VALUES (?, ?, ?, ?)
       ON CONFLICT (pack_fingerprint, content_key) DO UPDATE SET item_id = excluded.item_id, lease_token = excluded.lease_token
       WHERE work_contents.item_id = excluded.item_id OR NOT EXISTS (
         SELECT 1 FROM work_items w WHERE w.id = work_contents.item_id
           AND (w.state = 'done' OR (w.state = 'claimed' AND w.lease_token = work_contents.lease_token
             AND w.lease_expires_at > now())))
       RETURNING item_id`,
      [this.fingerprint, key, item.id, item.token],
    );
    return row !== undefined && Number(row.item_id) === item.id;
  }

  counts(): QueueCounts {
    const row = this.db.get<Record<keyof QueueCounts, number | null>>(
      `SELECT sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending,
              sum(CASE WHEN state = 'claimed' AND lease_owner = ? THEN 1 ELSE 0 END) AS mine,
              sum(CASE WHEN state = 'claimed' AND lease_owner IS DISTINCT FROM ? THEN 1 ELSE 0 END) AS elsewhere,
              sum(CASE WHEN state = 'done' THEN 1 ELSE 0 END) AS done
       FROM work_items WHERE pack_fingerprint = ?`,
      [this.settings.owner, this.settings.owner, this.fingerprint],
    );
    return {
      pending: Number(row?.pending ?? 0),
      mine: Number(row?.mine ?? 0),
      elsewhere: Number(row?.elsewhere ?? 0),
      done: Number(row?.done ?? 0),
    };
  }
}
