/**
 * The PostgreSQL connection's own thread (see postgres.ts): it holds one `pg` client and answers
 * one request at a time on its port, then wakes the waiting store thread through the shared flag.
 * Whatever happens here, the waiting thread gets an answer: a failure to load the driver, a
 * thrown exception and a lost connection are all replies.
 *
 * A connection lost inside a transaction is not replaced until that transaction is rolled back:
 * the server has already undone the statements sent before, so every request until the store's
 * ROLLBACK fails (08006) rather than running on a fresh connection, where it would commit alone.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type pgTypes from 'pg';
import type { BridgeReply, BridgeRequest } from './postgres-protocol.js';

const { url, flag, port, applicationName } = workerData as {
  url: string;
  flag: SharedArrayBuffer;
  port: MessagePort;
  applicationName: string;
};
const wake = new Int32Array(flag);

/** An error that carries a SQLSTATE, as the server's own do. */
class Failure extends Error {
  readonly severity = 'ERROR';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

let pg: typeof pgTypes | null = null;
let loadError: unknown = null;
try {
  pg = (await import('pg')).default;
  // Counts and sums arrive as int8 and numeric, which pg leaves as strings: the store reads
  // numbers (every count, id and size fits in 2^53).
  pg.types.setTypeParser(20, (value) => Number(value));
  pg.types.setTypeParser(1700, (value) => Number(value));
} catch (error) {
  loadError = error;
}

let client: pgTypes.Client | null = null;
/** A broken connection is dropped, and the next request outside a transaction opens a new one. */
let broken = false;
/** Where the store's transaction stands on this connection. */
let transaction: 'none' | 'open' | 'lost' = 'none';
const named = new Map<string, string>();

const lost = () =>
  new Failure(
    'the connection to the server was lost in the middle of a transaction, which the server rolled back',
    '08006',
  );

async function connection(): Promise<pgTypes.Client> {
  if (client && !broken) return client;
  if (transaction === 'open') {
    transaction = 'lost';
    throw lost();
  }
  if (!pg) throw new Failure(`the PostgreSQL driver could not be loaded (${String(loadError)})`, '58000');
  if (client) void client.end().catch(() => undefined);
  named.clear();
  broken = false;
  const fresh = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 10_000,
    application_name: applicationName,
    // A server that stops answering mid-query is noticed rather than waited on forever.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
  });
  fresh.on('error', () => {
    broken = true;
  });
  client = fresh;
  try {
    await fresh.connect();
  } catch (error) {
    broken = true;
    throw error;
  }
  return fresh;
}

function reply(message: BridgeReply): void {
  port.postMessage(message);
  Atomics.store(wake, 0, 1);
  Atomics.notify(wake, 0);
}

function failure(error: unknown): BridgeReply {
  const e = error as { message?: string; code?: string; severity?: string };
  // Connection-level failures (no SQLSTATE, or class 08 and 57P0x) mean this client is unusable.
  if (typeof e.code !== 'string' || /^08|^57P0/.test(e.code) || !e.severity) {
    broken = true;
    if (transaction === 'open') transaction = 'lost';
  }
  // A SQLSTATE comes with the server's severity; a socket's errno (ECONNREFUSED) is no SQLSTATE.
  const sqlstate = typeof e.code === 'string' && e.severity ? e.code : null;
  return { ok: false, message: String(e.message ?? error), code: sqlstate };
}

async function answer(request: BridgeRequest): Promise<BridgeReply> {
  if (request.op === 'end') {
    if (client) await client.end().catch(() => undefined);
    client = null;
    return { ok: true, rows: [], changes: 0 };
  }
  if (request.op === 'exec') {
    const statement = request.sql.trim().toUpperCase();
    if (transaction === 'lost') {
      // The store rolls back what the server already undid; then the connection may be replaced.
      if (statement === 'ROLLBACK') {
        transaction = 'none';
        return { ok: true, rows: [], changes: 0 };
      }
      throw lost();
    }
    const db = await connection();
    const result = await db.query(request.sql);
    if (statement === 'BEGIN') transaction = 'open';
    if (statement === 'COMMIT' || statement === 'ROLLBACK') {
      transaction = 'none';
      // A transaction the server had aborted answers COMMIT with ROLLBACK: nothing was kept.
      if (statement === 'COMMIT' && result.command !== 'COMMIT')
        throw new Failure('the server rolled the transaction back instead of committing it', '40000');
    }
    return { ok: true, rows: [], changes: 0 };
  }
  if (transaction === 'lost') throw lost();
  const db = await connection();
  // Each distinct statement is prepared once per connection (its plan kept by the server).
  let name = named.get(request.sql);
  if (!name) {
    name = `s${named.size + 1}`;
    named.set(request.sql, name);
  }
  const result = await db.query({ name, text: request.sql, values: request.params });
  return { ok: true, rows: result.rows as Record<string, unknown>[], changes: result.rowCount ?? 0 };
}

port.on('message', (request: BridgeRequest) => {
  answer(request).then(reply, (error: unknown) => reply(failure(error)));
});
// Anything thrown outside a request (a socket's late error) must not end the thread unanswered.
process.on('uncaughtException', (error) => {
  broken = true;
  if (transaction === 'open') transaction = 'lost';
  void error;
});
parentPort?.on('message', () => undefined);
