/**
 * Reading a file the scan met, never waiting on it. The walk saw a regular file, but by the time
 * it is read it may be a FIFO or a device (swapped in meanwhile): opening a FIFO the usual way
 * waits for a writer for ever, in one of libuv's four threads, which also keeps the process from
 * exiting (Ctrl-C and SIGTERM included). So files are opened with O_NONBLOCK (a FIFO opens at
 * once; on a regular file the flag changes nothing) and O_NOCTTY, and what was opened is checked
 * with fstat before a byte is read: anything but a regular file is refused (UNREADABLE).
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { TriageError } from '../errors/index.js';
import { MAX_FILE_BYTES } from '../ingest/index.js';
import type { ReadBuffer } from '../ingest/index.js';
import { fsPath } from '../paths/index.js';

/** O_NONBLOCK and O_NOCTTY do not exist on Windows, where a FIFO cannot be met this way. */
const READ_FLAGS = constants.O_RDONLY | (constants.O_NONBLOCK ?? 0) | (constants.O_NOCTTY ?? 0);

/** A file system error as the scan's coded error; `what` names the file in the message. */
export function readError(path: string, error: unknown, what = 'The file'): TriageError {
  if (error instanceof TriageError) return error;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new TriageError('FILE_NOT_FOUND', `${what} disappeared before it could be read.`, { file: path });
  return new TriageError(
    'UNREADABLE',
    `${what} cannot be read (${code ?? (error as Error).message}); check its permissions.`,
    { file: path },
  );
}

/**
 * The whole file as it is now (one still being written is read as far as it goes), into
 * `buffer`'s memory when one is lent (see ReadBuffer), else into its own. Failures are coded
 * (thrown): not a regular file, too large, or the file system's error.
 */
export async function readRegularFile(path: string, buffer?: ReadBuffer, what = 'The file'): Promise<Uint8Array> {
  let handle;
  try {
    handle = await open(fsPath(path), READ_FLAGS);
  } catch (error) {
    throw readError(path, error, what);
  }
  try {
    const info = await handle.stat();
    if (!info.isFile())
      throw new TriageError(
        'UNREADABLE',
        `${what} is not a regular file (a device, a pipe or a socket); it is not read.`,
        { file: path },
      );
    const size = info.size;
    if (size > MAX_FILE_BYTES)
      throw new TriageError('TOO_LARGE', `${what} is ${size} bytes; radiographs are far smaller.`, { file: path });
    const target = buffer ? buffer.take(size) : new Uint8Array(size);
    let filled = 0;
    while (filled < size) {
      const { bytesRead } = await handle.read(target, filled, size - filled, filled);
      if (bytesRead === 0) break; // it shrank since fstat: what is there is the file
      filled += bytesRead;
    }
    return target.subarray(0, filled);
  } catch (error) {
    throw readError(path, error, what);
  } finally {
    await handle.close().catch(() => undefined);
  }
}
