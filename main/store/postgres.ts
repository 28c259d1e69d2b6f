/**
 * The results store on a PostgreSQL server, for archives that many machines scan together
 * (`--db postgresql://user@host/db`).
 *
 * Why synchronous: the store's interface is synchronous (SQLite's driver is), and the scan, the
 * worklist, the DICOM node and the app call it so. Rather than two interfaces, this connection
 * keeps that one: a worker thread holds the `pg` client, and each statement is sent to it while
 * this thread waits on a shared flag (Atomics.wait) for the answer. A statement then costs a
 * round trip to the server (about 0.4 ms on loopback on the build VM, thread hand-offs included),
 * paid on this thread as SQLite's commits already are; the engine's decoding and inference run in
 * their own workers meanwhile.
 *
 * SQL reaches the server with SQLite's `?` parameters numbered (`$1`, `$2`, ...): the store's
 * statements use no dollar-quoted or E'' strings, which numberedParameters refuses.
 *
 * Durability is the server's: each image's result commits in one transaction, acknowledged once
 * the server has it in its WAL (synchronous_commit as the server sets it). A transaction that
 * loses a serialization or deadlock race is run again, up to three times.
 */
import { MessageChannel, receiveMessageOnPort } from 'node:worker_threads';
import type { MessagePort, Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import { sibling, startWorker } from '../threads/index.js';
import { redactUrl } from './connection.js';
import type { Params, Row, SqlDatabase } from './connection.js';
import type { BridgeReply, BridgeRequest } from './postgres-protocol.js';

/** The longest this thread waits for one statement before taking the server for lost. */
const ANSWER_TIMEOUT_MS = 120_000;
const RETRIED_SQLSTATES = new Set(['40001', '40P01']);

/**
 * SQLite's `?` parameters as PostgreSQL's `$1, $2, …`. A `?` inside a quoted string, a quoted
 * name or a comment stays. Dollar-quoted and E'' strings (PostgreSQL's own syntax, which the
 * store's portable SQL never uses) are refused rather than misnumbered.
 */
export function numberedParameters(sql: string): string {
  let out = '';
  let n = 0;
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i];
    const next = sql[i + 1];
    if (c === "'" || c === '"') {
      if (c === "'" && /[eE]/.test(sql[i - 1] ?? '') && !/[\w$]/.test(sql[i - 2] ?? ''))
        throw new Error(`numberedParameters: an E'' string is not supported: ${sql.slice(0, 80)}`);
      const end = sql.indexOf(c, i + 1);
      const stop = end < 0 ? sql.length : end + 1;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '-' && next === '-') {
      const end = sql.indexOf('\n', i);
      const stop = end < 0 ? sql.length : end;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '/' && next === '*') {
      const end = sql.indexOf('*/', i + 2);
      const stop = end < 0 ? sql.length : end + 2;
      out += sql.slice(i, stop);
      i = stop - 1;
    } else if (c === '$' && !/[\w]/.test(sql[i - 1] ?? '') && /[$A-Za-z_]/.test(next ?? '')) {
      throw new Error(`numberedParameters: a dollar-quoted string is not supported: ${sql.slice(0, 80)}`);
    } else if (c === '?') {
      out += `$${++n}`;
    } else out += c;
  }
  return out;
}

class ServerError extends Error {
  constructor(
    message: string,
    readonly sqlstate: string | null,
  ) {
    super(message);
  }
}

export class Postgres implements SqlDatabase {
  readonly dialect = 'postgresql';
  readonly path: string;
  private worker: Worker | null;
  private port: MessagePort | null = null;
  private closed = false;
  private readonly wake = new Int32Array(new SharedArrayBuffer(4));
  private readonly statements = new Map<string, string>();
  private depth = 0;

  private constructor(private readonly url: string) {
    this.path = redactUrl(url);
    this.worker = this.spawn();
  }

  /** The connection's thread, started (again, after one was given up on) with a port of its own. */
  private spawn(): Worker {
    const { port1, port2 } = new MessageChannel();
    this.port?.close();
    this.port = port1;
    const worker = startWorker(sibling('./postgres-worker', import.meta.url), {
      workerData: { url: this.url, flag: this.wake.buffer, port: port2, applicationName: 'cxr-triage' },
      transferList: [port2],
    });
    // It is only ever waited on synchronously: it must not keep the process alive, and an error
    // it raises while nobody waits (its thread dying) is answered as a failed statement instead.
    worker.unref();
    worker.on('error', () => undefined);
    port1.unref();
    return worker;
  }

  /** Connects to the server at `url` (its reachability and credentials checked now). */
  static open(url: string): Postgres {
    const db = new Postgres(url);
    try {
      db.get('SELECT 1 AS one');
    } catch (error) {
      db.close();
      throw error;
    }
    return db;
  }

  private request(request: BridgeRequest): { rows: Record<string, unknown>[]; changes: number } {
    if (this.closed)
      throw new TriageError('DATABASE_FAILED', `The connection to ${this.path} is closed.`, { file: this.path });
    if (!this.worker) {
      // The last thread was given up on; a new one (a new connection) only between transactions.
      if (this.depth > 0) throw new ServerError('the connection was lost in the middle of a transaction', '08006');
      this.worker = this.spawn();
    }
    Atomics.store(this.wake, 0, 0);
    this.port!.postMessage(request);
    Atomics.wait(this.wake, 0, 0, ANSWER_TIMEOUT_MS);
    const message = receiveMessageOnPort(this.port!)?.message as BridgeReply | undefined;
    if (!message) {
      // No answer in time: the connection's state is unknown, so this thread is given up on and
      // the next statement outside a transaction starts another.
      void this.worker.terminate();
      this.worker = null;
      throw new TriageError(
        'DATABASE_UNREACHABLE',
        `The database server at ${this.path} did not answer within ${ANSWER_TIMEOUT_MS / 1000} s. Check the server and the network, then run the command again.`,
        { file: this.path },
      );
    }
    if (!message.ok) throw new ServerError(message.message, message.code);
    return message;
  }

  private failure(error: unknown): TriageError {
    if (error instanceof TriageError) return error;
    const server = error as ServerError;
    const code = server.sqlstate ?? '';
    // No SQLSTATE: the socket (refused, reset, unknown host, timeout); class 08: the connection;
    // 28: authentication; 3D000: no such database; 57P0x: the server shutting down.
    if (!code || /^08|^28|^3D000|^57P0/.test(code)) {
      return new TriageError(
        'DATABASE_UNREACHABLE',
        `The database server at ${this.path} cannot be used: ${server.message}. Check that the server is running, that this machine may connect, and the user, password and database in the URL.`,
        { file: this.path, cause: error },
      );
    }
    return new TriageError(
      'DATABASE_FAILED',
      `The results database at ${this.path} refused a statement (SQLSTATE ${code}): ${server.message}.`,
      { file: this.path, cause: error },
    );
  }

  private statement(sql: string): string {
    let text = this.statements.get(sql);
    if (text === undefined) {
      text = numberedParameters(sql);
      this.statements.set(sql, text);
    }
    return text;
  }

  private query(sql: string, params: Params): { rows: Record<string, unknown>[]; changes: number } {
    const values = (params ?? []).map((value) =>
      typeof value === 'bigint' ? value.toString() : value instanceof Uint8Array ? Buffer.from(value) : value,
    );
    try {
      return this.request({ op: 'query', sql: this.statement(sql), params: values });
    } catch (error) {
      if (error instanceof ServerError && RETRIED_SQLSTATES.has(error.sqlstate ?? '') && this.depth > 0) throw error;
      throw this.failure(error);
    }
  }

  exec(sql: string): void {
    try {
      this.request({ op: 'exec', sql });
    } catch (error) {
      throw this.failure(error);
    }
  }

  run(sql: string, params?: Params): { changes: number } {
    return { changes: this.query(sql, params).changes };
  }

  get<T extends Row = Row>(sql: string, params?: Params): T | undefined {
    return this.query(sql, params).rows[0] as T | undefined;
  }

  all<T extends Row = Row>(sql: string, params?: Params): T[] {
    return this.query(sql, params).rows as T[];
  }

  /**
   * One transaction (READ COMMITTED). Inside another, `body` joins it. A serialization failure or
   * deadlock rolls back and runs `body` again (it holds only this database's work), three tries.
   */
  transaction<T>(body: () => T): T {
    if (this.depth > 0) return body();
    for (let attempt = 1; ; attempt++) {
      this.exec('BEGIN');
      this.depth = 1;
      try {
        const value = body();
        this.exec('COMMIT');
        return value;
      } catch (error) {
        try {
          this.request({ op: 'exec', sql: 'ROLLBACK' });
        } catch {
          // The connection is gone; the server rolled the transaction back with it.
        }
        if (error instanceof ServerError && RETRIED_SQLSTATES.has(error.sqlstate ?? '') && attempt < 3) continue;
        throw error instanceof ServerError ? this.failure(error) : error;
      } finally {
        this.depth = 0;
      }
    }
  }

  close(): void {
    if (this.closed) return;
    if (this.worker) {
      try {
        this.request({ op: 'end' });
      } catch {
        // Closing a connection that already failed.
      }
      void this.worker.terminate();
    }
    this.closed = true;
    this.worker = null;
    this.port?.close();
  }
}
