/**
 * The outbox: what the node must deliver, kept in the results database so that a restart loses
 * nothing. Each (destination, SOP Instance UID) is one row, delivered once; a failed attempt
 * sets the next one by exponential backoff (RETRY_BASE_MS doubling, capped at RETRY_MAX_MS), and
 * a refusal the peer will repeat (a failure status for the object itself) ends it as failed.
 */
import type { SqlDatabase } from './connection.js';

export const RETRY_BASE_MS = 5_000;
export const RETRY_MAX_MS = 10 * 60_000;

export type OutboxState = 'pending' | 'sent' | 'failed';

export interface OutboxItem {
  id: number;
  destination: string;
  file: string;
  sopInstanceUID: string;
  kind: string;
  sourcePath: string;
  state: OutboxState;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  sentAt: string | null;
}

export interface OutboxCounts {
  destination: string;
  pending: number;
  sent: number;
  failed: number;
  /** The latest error of a pending or failed item, if any. */
  lastError: string | null;
}

type OutboxRow = {
  id: number;
  destination: string;
  file: string;
  sop_instance_uid: string;
  kind: string;
  source_path: string;
  state: OutboxState;
  attempts: number;
  next_attempt_at: string;
  last_error: string | null;
  created_at: string;
  sent_at: string | null;
};

function item(row: OutboxRow): OutboxItem {
  return {
    id: Number(row.id),
    destination: row.destination,
    file: row.file,
    sopInstanceUID: row.sop_instance_uid,
    kind: row.kind,
    sourcePath: row.source_path,
    state: row.state,
    attempts: Number(row.attempts),
    nextAttemptAt: row.next_attempt_at,
    lastError: row.last_error,
    createdAt: row.created_at,
    sentAt: row.sent_at,
  };
}

/** The wait before attempt n + 1 after n failed ones. */
export function retryDelayMs(attempts: number): number {
  return Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** Math.max(0, attempts - 1));
}

export class OutboxStore {
  constructor(private readonly db: SqlDatabase) {}

  /** Adds objects for a destination; an object already there (the same SOP Instance UID) is left as it is. */
  enqueue(
    destination: string,
    objects: readonly { file: string; sopInstanceUID: string; kind: string; sourcePath: string }[],
    at = new Date(),
  ): number {
    return this.db.transaction(() => {
      let added = 0;
      for (const object of objects) {
        added += this.db.run(
          `INSERT INTO outbox (destination, file, sop_instance_uid, kind, source_path, state, next_attempt_at, created_at)
           VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (destination, sop_instance_uid) DO NOTHING`,
          [
            destination,
            object.file,
            object.sopInstanceUID,
            object.kind,
            object.sourcePath,
            at.toISOString(),
            at.toISOString(),
          ],
        ).changes;
      }
      return added;
    });
  }

  /** Pending items of these destinations whose next attempt is due, oldest first. */
  due(destinations: readonly string[], at = new Date(), limit = 100): OutboxItem[] {
    if (destinations.length === 0) return [];
    return this.db
      .all<OutboxRow>(
        `SELECT * FROM outbox WHERE state = 'pending' AND next_attempt_at <= ?
           AND destination IN (${destinations.map(() => '?').join(', ')})
         ORDER BY next_attempt_at, id LIMIT ?`,
        [at.toISOString(), ...destinations, limit],
      )
      .map(item);
  }

  /** When the next pending item of these destinations falls due (null: none pending). */
  nextDue(destinations: readonly string[]): Date | null {
    if (destinations.length === 0) return null;
    const row = this.db.get<{ at: string | null }>(
      `SELECT min(next_attempt_at) AS at FROM outbox WHERE state = 'pending'
         AND destination IN (${destinations.map(() => '?').join(', ')})`,
      [...destinations],
    );
    return row?.at ? new Date(row.at) : null;
  }

  markSent(ids: readonly number[], at = new Date()): void {
    this.db.transaction(() => {
      for (const id of ids) {
        this.db.run(
          `UPDATE outbox SET state = 'sent', sent_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?`,
          [at.toISOString(), id],
        );
      }
    });
  }

  /** A failed attempt: retried after the backoff, or ended as failed when `final`. */
  markFailed(ids: readonly number[], error: string, final: boolean, at = new Date()): void {
    this.db.transaction(() => {
      for (const id of ids) {
        const row = this.db.get<{ attempts: number }>('SELECT attempts FROM outbox WHERE id = ?', [id]);
        const attempts = Number(row?.attempts ?? 0) + 1;
        const next = new Date(at.getTime() + retryDelayMs(attempts)).toISOString();
        this.db.run('UPDATE outbox SET state = ?, attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?', [
          final ? 'failed' : 'pending',
          attempts,
          next,
          error.slice(0, 500),
          id,
        ]);
      }
    });
  }

  /** Puts failed items of a destination (or all) back to pending, due now: a person decided to retry. */
  retryFailed(destination?: string, at = new Date()): number {
    return this.db.run(
      `UPDATE outbox SET state = 'pending', next_attempt_at = ? WHERE state = 'failed' AND (CAST(? AS TEXT) IS NULL OR destination = ?)`,
      [at.toISOString(), destination ?? null, destination ?? null],
    ).changes;
  }

  counts(): OutboxCounts[] {
    return this.db
      .all<{ destination: string; pending: number; sent: number; failed: number }>(
        `SELECT destination,
                sum(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS pending, sum(CASE WHEN state = 'sent' THEN 1 ELSE 0 END) AS sent, sum(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS failed
         FROM outbox GROUP BY destination ORDER BY destination`,
      )
      .map((row) => ({
        destination: row.destination,
        pending: Number(row.pending),
        sent: Number(row.sent),
        failed: Number(row.failed),
        lastError:
          this.db.get<{ e: string | null }>(
            `SELECT last_error AS e FROM outbox WHERE destination = ? AND state != 'sent' AND last_error IS NOT NULL
             ORDER BY id DESC LIMIT 1`,
            [row.destination],
          )?.e ?? null,
      }));
  }

  /** The latest items (for the app's outbox list), newest first. */
  recent(limit = 50): OutboxItem[] {
    return this.db.all<OutboxRow>('SELECT * FROM outbox ORDER BY id DESC LIMIT ?', [limit]).map(item);
  }

  /** Whether the product made an object with this SOP Instance UID (the node's loop guard). */
  produced(sopInstanceUID: string): boolean {
    return (
      this.db.get('SELECT 1 AS one FROM outbox WHERE sop_instance_uid = ? LIMIT 1', [sopInstanceUID]) !== undefined
    );
  }
}
