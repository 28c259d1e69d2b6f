/**
 * The PostgreSQL connection's own thread (see postgres.ts): it holds one `pg` client and answers
 * one request at a time on its port, then wakes the waiting store thread through the shared flag.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import pg from 'pg';
import type { BridgeReply, BridgeRequest } from './postgres-protocol.js';

const { url, flag, port, applicationName } = workerData as {
  url: string;
  flag: SharedArrayBuffer;
  port: MessagePort;
  applicationName: string;
};
const wake = new Int32Array(flag);

// Counts and sums arrive as int8 and numeric, which pg leaves as strings: the store reads numbers
// (every count, id and size fits in 2^53).
pg.types.setTypeParser(20, (value) => Number(value));
pg.types.setTypeParser(1700, (value) => Number(value));

let client: pg.Client | null = null;
/** A broken connection is dropped and the next request opens a new one. */
let broken = false;
const named = new Map<string, string>();

async function connection(): Promise<pg.Client> {
  if (client && !broken) return client;
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
  if (typeof e.code !== 'string' || /^08|^57P0/.test(e.code) || !e.severity) broken = true;
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
  const db = await connection();
  if (request.op === 'exec') {
    await db.query(request.sql);
    return { ok: true, rows: [], changes: 0 };
  }
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
parentPort?.on('message', () => undefined);
