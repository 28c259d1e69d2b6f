/**
 * Recovering the database lock that a killed process leaves behind.
 *
 * node-sqlite3-wasm's file-system VFS locks a database by creating the directory `<db>.lock`
 * (mkdir is atomic on every platform) and removes it when the lock is released. A process killed
 * while it holds the lock (SIGKILL, a crash, a power cut) never removes it, and every later
 * access then fails with SQLITE_BUSY; SQLite also will not roll back the hot journal while the
 * lock seems held. Measured here: 13 of 15 scans killed mid-write left the directory behind.
 *
 * So every process that opens a store registers itself in `<db>.owners/` (one file per process,
 * named by host and pid) before it touches the database, and removes the entry when it closes.
 * A lock is stale when no registered process on this host is alive: only then is it removed,
 * under a short recovery mutex so that two processes never clean up at once. A process of
 * another host (a database on a network share) always counts as alive: when in doubt, wait.
 * A pid reused by an unrelated process also counts as alive: the store then reports
 * DATABASE_LOCKED rather than risk removing a live lock.
 */
import { isDatabaseUrl } from './connection.js';
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeSync,
} from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

const HOST = hostname().replace(/[^A-Za-z0-9.-]+/g, '_');

export function lockDir(database: string): string {
  return `${database}.lock`;
}

function ownersDir(database: string): string {
  return `${database}.owners`;
}

/**
 * The database and what SQLite and this store keep beside it (its WAL, shared-memory and journal
 * files, the lock and owners folders): the product's own files, which a folder scan never reads.
 */
export function databaseFiles(database: string): string[] {
  // A database server keeps no files beside the scanned folders.
  if (isDatabaseUrl(database)) return [];
  return [
    database,
    `${database}-wal`,
    `${database}-shm`,
    `${database}-journal`,
    lockDir(database),
    ownersDir(database),
  ];
}

function ownerName(pid = process.pid): string {
  return `${HOST}~${pid}`;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/** Registers this process as a user of the database (before it opens it). */
export function registerOwner(database: string): void {
  mkdirSync(ownersDir(database), { recursive: true });
  const fd = openSync(join(ownersDir(database), ownerName()), 'w');
  try {
    writeSync(fd, JSON.stringify({ pid: process.pid, host: HOST, since: new Date().toISOString() }));
  } finally {
    closeSync(fd);
  }
}

export function unregisterOwner(database: string): void {
  rmSync(join(ownersDir(database), ownerName()), { force: true });
}

/** Live registered processes other than this one; entries of dead processes are removed. */
function otherLiveOwners(database: string): string[] {
  let names: string[];
  try {
    names = readdirSync(ownersDir(database));
  } catch {
    return [];
  }
  const live: string[] = [];
  for (const name of names) {
    if (name === ownerName()) continue;
    const match = /^(.*)~(\d+)$/.exec(name);
    if (!match || match[1] !== HOST || alive(Number(match[2]))) {
      live.push(name);
      continue;
    }
    rmSync(join(ownersDir(database), name), { force: true });
  }
  return live;
}

/** A mutex file holding its owner's pid; a mutex whose owner died is taken over. */
function withRecoveryMutex<T>(database: string, body: () => T): T | undefined {
  const path = `${database}.recover`;
  for (let attempt = 0; attempt < 2; attempt++) {
    let fd: number;
    try {
      fd = openSync(path, 'wx');
    } catch {
      let holder = NaN;
      try {
        holder = Number(readFileSync(path, 'utf8'));
      } catch {
        // Removed meanwhile: try again.
      }
      if (Number.isInteger(holder) && holder > 0 && alive(holder)) return undefined;
      // A holder that died, or a file too new to hold its pid yet: a stale one is older than a second.
      try {
        if (Date.now() - statSync(path).mtimeMs < 1000 && !Number.isInteger(holder)) return undefined;
      } catch {
        continue;
      }
      rmSync(path, { force: true });
      continue;
    }
    try {
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return body();
    } finally {
      rmSync(path, { force: true });
    }
  }
  return undefined;
}

/**
 * Removes the VFS lock if it is stale (no other registered process alive). Returns true when a
 * stale lock was removed. Never called while this process holds the lock itself.
 */
export function recoverStaleLock(database: string): boolean {
  const lock = lockDir(database);
  try {
    statSync(lock);
  } catch {
    return false;
  }
  return (
    withRecoveryMutex(database, () => {
      if (otherLiveOwners(database).length > 0) return false;
      try {
        rmdirSync(lock);
        return true;
      } catch {
        return false;
      }
    }) ?? false
  );
}
