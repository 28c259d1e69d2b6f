/**
 * Opening and reading files for the ingest stage: every open is checked (a regular file within
 * MAX_FILE_BYTES) and every failure is a coded error.
 */
import { closeSync, constants as fsConstants, fstatSync, openSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { TriageError } from '../errors/index.js';
import { fsPath } from '../paths/index.js';
import { MAX_FILE_BYTES } from './budget.js';

/**
 * Opening never waits: a FIFO opened the usual way waits for a writer for ever, in one of libuv's
 * threads, which also keeps the process from exiting (Ctrl-C and SIGTERM included). O_NONBLOCK
 * opens it at once (on a regular file it changes nothing) and O_NOCTTY keeps a terminal device
 * from becoming the process's; both are POSIX's, absent on Windows.
 */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0) | (fsConstants.O_NOCTTY ?? 0);

/** The file system's error for a file, as a coded error. */
export function readError(file: string, error: unknown): TriageError {
  if (error instanceof TriageError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new TriageError('FILE_NOT_FOUND', 'The file does not exist; check the path.', { file });
  }
  if (code === 'ENAMETOOLONG') {
    return new TriageError('UNREADABLE', 'The path is longer than the file system allows; move the file higher up.', {
      file,
    });
  }
  return new TriageError('UNREADABLE', `The file cannot be read (${code ?? 'unknown error'}); check its permissions.`, {
    file,
  });
}

/**
 * Opens a file to read it: without blocking, then checked as it is now (fstat on the open file,
 * so a path swapped for a FIFO after a directory walk is caught): a regular file no larger than
 * MAX_FILE_BYTES. The caller closes the handle.
 */
export async function openFile(file: string): Promise<{ handle: FileHandle; size: number }> {
  let handle: FileHandle;
  try {
    // The scan's names are kept as strings that map back to their bytes (main/paths).
    handle = await open(fsPath(file), OPEN_FLAGS);
  } catch (error) {
    throw readError(file, error);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) {
      throw new TriageError(
        'UNREADABLE',
        'The path is not a regular file (a pipe, a device or a socket); it is not read.',
        { file },
      );
    }
    if (info.size > MAX_FILE_BYTES) {
      throw new TriageError(
        'TOO_LARGE',
        `The file is ${info.size.toLocaleString('en')} bytes; radiographs are far smaller (at most ${MAX_FILE_BYTES.toLocaleString('en')} are read).`,
        { file },
      );
    }
    return { handle, size: info.size };
  } catch (error) {
    await handle.close();
    throw readError(file, error);
  }
}

/**
 * Reads `size` bytes of the file from `position` into `target` at `offset` (the same number unless
 * a chunk is reused, as in hashFile); fewer where the file ends sooner.
 */
export async function readInto(
  handle: FileHandle,
  target: Uint8Array,
  offset: number,
  size: number,
  position = offset,
): Promise<number> {
  let filled = 0;
  while (filled < size) {
    const { bytesRead } = await handle.read(target, offset + filled, size - filled, position + filled);
    if (bytesRead === 0) break; // the file shrank: what is there is the file
    filled += bytesRead;
  }
  return filled;
}

/**
 * openFile's checks, synchronously, for a thread that reads one file at a time and would rather
 * not wait for libuv's thread pool three times per file: the descriptor and size, or null where
 * openFile would fail (the caller then leaves the file to the path that reports the error).
 */
export function openRegularFileSync(file: string): { fd: number; size: number } | null {
  let fd: number;
  try {
    fd = openSync(fsPath(file), OPEN_FLAGS);
  } catch {
    return null;
  }
  try {
    const info = fstatSync(fd);
    if (info.isFile() && info.size <= MAX_FILE_BYTES) return { fd, size: info.size };
  } catch {
    // closed below
  }
  closeSync(fd);
  return null;
}
