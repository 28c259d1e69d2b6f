import { stat } from 'node:fs/promises';
import { TriageError } from '../../errors/index.js';
/** The file name of a path, on either platform's separators (the window shows names, not paths). */
export function fileName(path: string): string {
  const parts = path.split(/[\\/]/);
  return parts[parts.length - 1] || path;
}

/** Refuses, with FILE_NOT_FOUND naming the file (never its folder), the first path that is not there. */
export async function requireExisting(paths: readonly string[]): Promise<void> {
  for (const path of paths) {
    try {
      await stat(path);
    } catch {
      throw new TriageError('FILE_NOT_FOUND', `${fileName(path)} does not exist or cannot be opened.`, { file: path });
    }
  }
}
