/**
 * The SQLite connection under the results store.
 *
 * Why node-sqlite3-wasm (SQLite 3.53 compiled to WebAssembly, with a VFS over Node's fs) and not
 * better-sqlite3@12 (native):
 * - It loads unchanged in Node 20 and in Electron: there is no native module, so nothing to
 *   rebuild per Electron ABI, per platform or per architecture. better-sqlite3 needs
 *   electron-rebuild against Electron's headers at packaging time (downloaded from the internet,
 *   which the offline build machines do not have), a prebuilt binary per target, and an install
 *   script (prebuild-install, else node-gyp: a compiler on every developer machine) that this
 *   project's `allowScripts` policy would have to approve. v13 does not run on Node 20 at all.
 * - Its cost is speed, and it is small here: one transaction per analysed image (about 25 rows)
 *   commits in about 1 to 1.5 ms with fsync on this machine, against tens to hundreds of
 *   milliseconds of decoding and inference per image.
 *
 * Durability (checked by killing writers with SIGKILL mid-transaction, in the evaluation and in
 * test/store/store.integration.test.ts, and by killing a writer whose uncommitted pages had spilled):
 * - The rollback journal is NOT safe with this VFS: its xCheckReservedLock reports the
 *   connection's own lock directory as another process's lock, so SQLite never treats a journal
 *   left by a killed writer as hot and never rolls it back. A writer killed between two page
 *   writes of a commit (or after a cache spill) leaves a torn database that is read as is (shown
 *   with a killed writer whose pages had spilled: the journal was still there, never applied;
 *   the kill stress test below failed once in about ten runs under I/O load with that journal).
 * - So the store uses WAL with locking_mode=EXCLUSIVE (the only WAL mode this VFS allows: it has
 *   no shared memory, so the WAL index lives in the connection's heap) and synchronous=FULL (the
 *   WAL is fsynced at every commit). The database file changes only at checkpoints; on open, WAL
 *   recovery replays exactly the frames of committed transactions (checksummed, salted) and
 *   drops the rest. Killed writers with committed, uncheckpointed and spilled uncommitted frames
 *   all reopen with integrity_check ok, every acknowledged result present and whole, nothing of
 *   the transaction in flight.
 * - Exclusive locking would keep other processes out for as long as a connection is open, so
 *   the connection is closed (checkpointing the WAL) whenever it has been idle for 100 ms or held
 *   for a second, and reopened on the next operation: `triage worklist` (or the app) can read
 *   while a scan runs, waiting at most about a second for the lock. Every connection to the file
 *   must set locking_mode=EXCLUSIVE before its first access (a WAL file cannot be opened by this
 *   VFS otherwise); other SQLite tools open it normally.
 * - The VFS locks with a `<db>.lock` directory, which a killed process leaves behind (13 of 15
 *   kills in the evaluation); lock.ts removes it when no registered process is alive.
 * - A waiting process retries for BUSY_TIMEOUT_MS (SQLite's busy handler) before DATABASE_LOCKED.
 * The database must be on a local disk: directory locks and pid liveness are not reliable across
 * network file systems.
 */
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import sqlite from 'node-sqlite3-wasm';
import { TriageError } from '../errors/index.js';
import { storeFailure } from './failures.js';
import { recoverStaleLock, registerOwner, unregisterOwner } from './lock.js';

import type { Params, Row, SqlDatabase } from './connection.js';

export type { Row, SqlValue } from './connection.js';

export const BUSY_TIMEOUT_MS = 10_000;

function isBusy(error: unknown): boolean {
  return error instanceof Error && /database is locked|SQLITE_BUSY/i.test(error.message);
}

/** A connection idle this long is closed, releasing the lock for other processes. */
const IDLE_RELEASE_MS = 100;
/** A connection busy this long is closed at the next pause between operations, so readers get in. */
const MAX_HOLD_MS = 1000;

export class Sqlite implements SqlDatabase {
  readonly dialect = 'sqlite';
  readonly path: string;
  private db: sqlite.Database | null = null;
  private readonly statements = new Map<string, sqlite.Statement>();
  private openedAt = 0;
  private lastUse = 0;
  private timer: NodeJS.Timeout | null = null;

  private constructor(path: string) {
    this.path = path;
  }

  static open(file: string): Sqlite {
    const path = resolve(file);
    try {
      mkdirSync(dirname(path), { recursive: true });
      // Registering writes beside the database: a read-only or full disk fails here, with its errno.
      registerOwner(path);
    } catch (error) {
      throw storeFailure(path, error);
    }
    recoverStaleLock(path);
    const connection = new Sqlite(path);
    try {
      connection.retrying(() => connection.connection());
    } catch (error) {
      connection.close();
      throw error;
    }
    return connection;
  }

  /** The open connection, opened (and the WAL recovered) when needed. */
  private connection(): sqlite.Database {
    if (this.db) return this.db;
    let db: sqlite.Database;
    try {
      db = new sqlite.Database(this.path);
    } catch (error) {
      // SQLite's VFS says only "Could not open the database": the path shows why.
      throw storeFailure(this.path, error);
    }
    try {
      db.run(`PRAGMA busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // Exclusive before the first access: the VFS has no shared memory for the WAL index.
      db.all('PRAGMA locking_mode = EXCLUSIVE');
      const mode = db.all('PRAGMA journal_mode = WAL')[0];
      if (Object.values(mode ?? {})[0] !== 'wal')
        throw new Error(`the database refused WAL mode (${JSON.stringify(mode)})`);
      db.run('PRAGMA synchronous = FULL');
      db.run('PRAGMA foreign_keys = ON');
    } catch (error) {
      try {
        db.close();
      } catch {
        // closing a connection that failed to start
      }
      throw error;
    }
    this.db = db;
    this.openedAt = performance.now();
    return db;
  }

  /** Closes the connection when it is idle (checkpointing the WAL), so another process may use the database. */
  release(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (!this.db || this.db.inTransaction) return;
    for (const statement of this.statements.values()) {
      try {
        if (!statement.isFinalized) statement.finalize();
      } catch {
        // A statement's last error; closing goes on.
      }
    }
    this.statements.clear();
    try {
      this.db.close();
    } catch {
      // The connection is dropped either way.
    }
    this.db = null;
  }

  /** After each operation: release when held too long, else when idle for a moment. */
  private used(): void {
    this.lastUse = performance.now();
    if (this.db && !this.db.inTransaction && this.lastUse - this.openedAt > MAX_HOLD_MS) {
      this.release();
      return;
    }
    if (!this.timer) this.armTimer(IDLE_RELEASE_MS);
  }

  private armTimer(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = null;
      const idle = performance.now() - this.lastUse;
      if (idle >= IDLE_RELEASE_MS) this.release();
      else this.armTimer(IDLE_RELEASE_MS - idle);
    }, ms);
    this.timer.unref();
  }

  /** Runs `body`; on SQLITE_BUSY removes a stale lock if there is one and tries again. */
  private retrying<T>(body: () => T): T {
    for (let attempt = 0; ; attempt++) {
      try {
        const value = body();
        this.used();
        return value;
      } catch (error) {
        if (error instanceof TriageError) throw error;
        if (isBusy(error)) {
          // A connection that never got the lock is dropped and opened again.
          if (this.db && !this.db.inTransaction) this.release();
          if (attempt < 3 && recoverStaleLock(this.path)) continue;
          if (attempt < 1) continue;
          throw new TriageError(
            'DATABASE_LOCKED',
            `The results database ${this.path} is in use by another process (waited ${BUSY_TIMEOUT_MS / 1000} s); try again when it has finished.`,
            { file: this.path, cause: error },
          );
        }
        throw storeFailure(this.path, error);
      }
    }
  }

  /**
   * Runs `body` on the cached prepared statement for `sql`. A statement whose step failed is
   * finalized and dropped: SQLite's reset would report the old failure again on its next use.
   */
  private withStatement<T>(sql: string, body: (statement: sqlite.Statement) => T): T {
    let statement = this.statements.get(sql);
    if (!statement) {
      statement = this.connection().prepare(sql);
      this.statements.set(sql, statement);
    }
    try {
      return body(statement);
    } catch (error) {
      this.statements.delete(sql);
      try {
        statement.finalize();
      } catch {
        // finalize repeats the step's error; the statement is gone either way.
      }
      throw error;
    }
  }

  /** Executes one or more statements without results (schema scripts). */
  exec(sql: string): void {
    this.retrying(() => this.connection().exec(sql));
  }

  run(sql: string, params?: Params): { changes: number; lastInsertRowid: number } {
    return this.retrying(() => {
      const result = this.withStatement(sql, (statement) => statement.run(params));
      return { changes: result.changes, lastInsertRowid: Number(result.lastInsertRowid) };
    });
  }

  get<T extends Row = Row>(sql: string, params?: Params): T | undefined {
    // all(), not get(): get() leaves a cached statement mid-step, which blocks COMMIT.
    return this.retrying(() => this.withStatement(sql, (statement) => statement.all(params) as T[])[0]);
  }

  all<T extends Row = Row>(sql: string, params?: Params): T[] {
    return this.retrying(() => this.withStatement(sql, (statement) => statement.all(params) as T[]));
  }

  /**
   * Runs `body` in one write transaction (BEGIN IMMEDIATE: the lock is taken up front, so a
   * transaction never fails half-way for want of it). Any throw rolls everything back.
   */
  transaction<T>(body: () => T): T {
    this.retrying(() => this.connection().exec('BEGIN IMMEDIATE'));
    const db = this.connection();
    try {
      const value = body();
      this.retrying(() => db.exec('COMMIT'));
      return value;
    } catch (error) {
      if (db.inTransaction) db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    this.release();
    unregisterOwner(this.path);
  }
}
