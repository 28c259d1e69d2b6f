/**
 * What really failed when the results database cannot be opened or written, worded with what to
 * do: a read-only file system, a permission, a file where a folder should be, a folder where the
 * database file should be, a full disk. Node's own calls (creating the folder, registering this
 * process beside the database) carry an errno; SQLite's WebAssembly VFS does not ("Could not open
 * the database", "disk I/O error"), so those are diagnosed by probing the path afterwards.
 */
import { accessSync, constants, statfsSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TriageError } from '../errors/index.js';

/** A failure's errno and the path it concerns. */
export interface Cause {
  code: string;
  path: string;
}

const ELSEWHERE = 'or choose another database with --db FILE';

/** Below this much free space, an I/O failure is taken for a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

/** The message for a failure of the results database at `database` with errno `code` on `path`. */
export function describeStoreFailure(database: string, cause: Cause | null, detail: string): string {
  const folder = dirname(database);
  switch (cause?.code) {
    case 'EROFS':
      return `The results database ${database} cannot be written: ${cause.path} is on a read-only file system. Choose a database on a writable disk with --db FILE.`;
    case 'EACCES':
    case 'EPERM':
      return `Permission denied: this user may not write to ${cause.path}, where the results database ${database} is kept. Give the user write access to it, ${ELSEWHERE}.`;
    case 'ENOTDIR':
    case 'EEXIST':
      return `${cause.path} is a file, not a folder, so the results database ${database} cannot be kept under it. Move that file away, ${ELSEWHERE}.`;
    case 'EISDIR':
      return `${database} is a folder, not a database file. Name a file with --db FILE, for example ${join(database, 'results.sqlite')}.`;
    case 'ENOSPC':
    case 'EDQUOT':
      return `The disk holding the results database ${database} is full${cause.code === 'EDQUOT' ? ' (this user’s quota is used up)' : ''}. Free some space on it, ${ELSEWHERE}.`;
    default:
      return `The results database ${database} cannot be opened or written (${cause?.code ?? detail}). Check that ${folder} exists and that this user may write to it, ${ELSEWHERE}.`;
  }
}

function errnoOf(thrown: unknown): { code: string; path: string | undefined } | null {
  const error = thrown as NodeJS.ErrnoException | null;
  if (!error || typeof error.code !== 'string' || !/^E[A-Z]+$/.test(error.code)) return null;
  return { code: error.code, path: typeof error.path === 'string' ? error.path : undefined };
}

function exists(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The nearest existing path at or above `path` (the folder an EACCES or EROFS really concerns). */
function nearestExisting(path: string): string {
  let at = path;
  while (!exists(at) && dirname(at) !== at) at = dirname(at);
  return at;
}

/** The first existing path at or above `folder` that is not a folder, if any. */
function fileInTheWay(folder: string): string | null {
  for (let at = folder; ; at = dirname(at)) {
    try {
      return statSync(at).isDirectory() ? null : at;
    } catch {
      if (dirname(at) === at) return null;
    }
  }
}

/**
 * Why the database at `database` cannot be opened or written, found by looking at the path: a
 * folder in its place, a file in the way, no write access (EROFS or EACCES, as the system says),
 * a full disk. Null when nothing is visibly wrong.
 */
export function diagnoseStorePath(database: string): Cause | null {
  const folder = dirname(database);
  try {
    if (statSync(database).isDirectory()) return { code: 'EISDIR', path: database };
  } catch {
    // Not there yet: the folder decides.
  }
  const blocker = fileInTheWay(folder);
  if (blocker) return { code: 'ENOTDIR', path: blocker };
  // The folder must be writable as well as the file: SQLite makes the WAL and the lock beside it.
  // A folder still to be made is made in the nearest one that exists.
  for (const path of exists(database) ? [database, folder] : [nearestExisting(folder)]) {
    try {
      accessSync(path, constants.W_OK);
    } catch (error) {
      const errno = errnoOf(error);
      if (errno && errno.code !== 'ENOENT') return { code: errno.code, path };
    }
  }
  try {
    const space = statfsSync(nearestExisting(folder));
    if (space.bavail * space.bsize < NEARLY_FULL_BYTES) return { code: 'ENOSPC', path: folder };
  } catch {
    // No figures: nothing to say about space.
  }
  return null;
}

/** The cause of a failure: its own errno when it has one, else what the path shows. */
function causeOf(database: string, thrown: unknown): Cause | null {
  const errno = errnoOf(thrown);
  if (!errno) return diagnoseStorePath(database);
  const folder = dirname(database);
  switch (errno.code) {
    case 'ENOTDIR':
      return { code: 'ENOTDIR', path: fileInTheWay(folder) ?? errno.path ?? folder };
    case 'EEXIST':
      // mkdir of the folder found something there that is not a folder.
      return { code: 'ENOTDIR', path: fileInTheWay(folder) ?? folder };
    case 'EACCES':
    case 'EPERM':
    case 'EROFS':
      return { code: errno.code, path: nearestExisting(errno.path ?? folder) };
    case 'ENOENT':
      // Node's recursive mkdir reports a read-only file system as ENOENT: look at the path.
      return diagnoseStorePath(database) ?? { code: 'ENOENT', path: errno.path ?? folder };
    default:
      return { code: errno.code, path: errno.path ?? folder };
  }
}

/** SQLite messages that come from the file system rather than from SQL. */
const FILE_SYSTEM_FAILURE = /disk I\/O error|readonly database|disk is full|unable to open|could not open|cannot open/i;

/**
 * The coded error for a failure of the results database at `database`: what the failure or the
 * path shows, worded with what to do. SQLite's own errors that are not about the file system
 * (a constraint, a malformed statement) keep their message.
 */
export function storeFailure(database: string, thrown: unknown): TriageError {
  const detail = thrown instanceof Error ? thrown.message : String(thrown);
  const fromFileSystem = errnoOf(thrown) !== null || FILE_SYSTEM_FAILURE.test(detail);
  const cause = fromFileSystem ? causeOf(database, thrown) : null;
  const message =
    fromFileSystem || cause
      ? describeStoreFailure(database, cause, detail)
      : `The results database ${database} failed: ${detail}.`;
  return new TriageError('DATABASE_FAILED', message, { file: database, cause: thrown });
}
