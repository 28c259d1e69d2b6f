/**
 * The results store: the single source of truth for the worklist. An embedded SQLite database
 * (sqlite.ts says why this driver, and how it stays durable), or a PostgreSQL server shared by
 * many machines (postgres.ts), behind one connection interface (connection.ts) and a narrow typed
 * API: the reads (reads.ts) and the writes (writes.ts). Code that only reads takes a ResultReader.
 */
import { defaultDatabasePath } from './paths.js';
import { migrate } from './migrate.js';
import { isDatabaseUrl } from './connection.js';
import type { SqlDatabase } from './connection.js';
import { Postgres } from './postgres.js';
import { Sqlite } from './sqlite.js';
import { OutboxStore } from './outbox.js';
import { ResultWriter } from './writes.js';

export { isDatabaseUrl, redactUrl } from './connection.js';
export type { Dialect, Params, Row, SqlDatabase, SqlValue } from './connection.js';
export { DATABASE_FILE, defaultDataDir, defaultDatabasePath } from './paths.js';
export { packFingerprint, packProvenance } from './fingerprint.js';
export { databaseFiles } from './lock.js';
export type { PackProvenance } from './fingerprint.js';
export { OutboxStore, retryDelayMs, RETRY_BASE_MS, RETRY_MAX_MS } from './outbox.js';
export type { OutboxCounts, OutboxItem, OutboxState } from './outbox.js';
export { copyResults, mergeStores } from './merge.js';
export type { Connection, MergeSummary } from './merge.js';
export { ResultReader } from './reads.js';
export type { StoredImage } from './reads.js';
export { ResultWriter, studyKey } from './writes.js';
export type { Within } from './writes.js';
export { SCHEMA_VERSION } from './schema.js';
export type { Feedback, FileIdentity, ImageKey, ScanStart, StoredStudy } from './types.js';

export class ResultStore extends ResultWriter {
  readonly path: string;

  private constructor(db: SqlDatabase) {
    super(db);
    this.path = db.path;
  }

  /**
   * Opens (creating and migrating as needed) the database at `target`: a SQLite file, or a
   * PostgreSQL server's URL (postgresql://user@host:port/database).
   */
  static open(target: string = defaultDatabasePath()): ResultStore {
    const db = isDatabaseUrl(target) ? Postgres.open(target) : Sqlite.open(target);
    try {
      migrate(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return new ResultStore(db);
  }

  close(): void {
    this.db.close();
  }

  /** The node's outbox, in the same database (schema 6). */
  get outbox(): OutboxStore {
    this.outboxStore ??= new OutboxStore(this.db);
    return this.outboxStore;
  }

  private outboxStore: OutboxStore | undefined;

  /**
   * SQLite's integrity check: ['ok'] for a sound database, else the problems it found. A server
   * checks its own pages (data checksums, amcheck are its administrator's): ['ok'] once it answers.
   */
  integrityCheck(): string[] {
    if (this.db.dialect === 'postgresql') return this.db.get('SELECT 1 AS one') ? ['ok'] : [];
    return this.db.all('PRAGMA integrity_check').map((row) => String(Object.values(row)[0]));
  }

  schemaVersion(): number {
    return Number(this.db.get<{ v: number }>('SELECT max(version) AS v FROM schema_version')?.v ?? 0);
  }
}
