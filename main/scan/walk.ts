/**
 * Walking the scanned paths: folders recursively in name order, symbolic links followed, loops
 * and unreadable entries reported as coded errors (never thrown), DICOMDIRs followed to the files
 * they reference.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, join, resolve, sep } from 'node:path';
import { TriageError } from '../errors/index.js';
import { dicomdirReferences, isDicomdirName } from './dicomdir.js';

export type Candidate =
  /** A file to identify; `explicit` when named on the command line or by a DICOMDIR. */
  | { kind: 'file'; path: string; explicit: boolean; stats: Stats }
  /** A path that cannot be scanned: it is recorded as an error result. */
  | { kind: 'error'; path: string; error: TriageError };

function errnoError(path: string, error: unknown, what: string): TriageError {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ENOTDIR')
    return new TriageError('FILE_NOT_FOUND', `${what} does not exist (a dangling symbolic link?).`, { file: path });
  if (code === 'ELOOP')
    return new TriageError('SYMLINK_LOOP', `${what} is a symbolic link that leads back to itself.`, { file: path });
  return new TriageError(
    'UNREADABLE',
    `${what} cannot be read (${code ?? (error as Error).message}); check its permissions.`,
    { file: path },
  );
}

const key = (stats: Stats) => `${stats.dev}:${stats.ino}`;

/** Is `path` inside (or equal to) one of the folders? */
function inside(path: string, folders: readonly string[]): boolean {
  return folders.some((folder) => path === folder || path.startsWith(folder.endsWith(sep) ? folder : folder + sep));
}

export interface WalkOptions {
  /** Follow DICOMDIRs (default true). */
  dicomdir?: boolean;
}

/**
 * Yields every file under the roots (a root may itself be a file). Each real folder is walked
 * once: a symbolic link back to a folder above it is a SYMLINK_LOOP error; a second link to a
 * folder walked already is not followed again (its files were seen).
 */
export async function* walk(roots: readonly string[], options: WalkOptions = {}): AsyncGenerator<Candidate> {
  const resolved = roots.map((root) => resolve(root));
  const folders: string[] = [];
  for (const root of resolved) {
    try {
      if ((await stat(root)).isDirectory()) folders.push(await realpath(root));
    } catch {
      // Reported when the root itself is walked.
    }
  }
  const visited = new Set<string>();

  async function* file(path: string, stats: Stats, explicit: boolean): AsyncGenerator<Candidate> {
    if (!stats.isFile()) {
      yield {
        kind: 'error',
        path,
        error: new TriageError(
          'UNREADABLE',
          'The path is not a regular file (a device, a pipe or a socket); it is not read.',
          { file: path },
        ),
      };
      return;
    }
    yield { kind: 'file', path, explicit, stats };
    if (options.dicomdir !== false && isDicomdirName(path)) {
      let references: string[];
      try {
        const found = await dicomdirReferences(path);
        references = found.files;
        for (const id of found.invalid) {
          yield {
            kind: 'error',
            path: `${path}#${id}`,
            error: new TriageError(
              'INVALID_DICOMDIR',
              `The DICOMDIR references "${id}", which is outside its folder; not followed.`,
              { file: path },
            ),
          };
        }
      } catch (error) {
        yield {
          kind: 'error',
          path,
          error:
            error instanceof TriageError ? error : new TriageError('INVALID_DICOMDIR', String(error), { file: path }),
        };
        return;
      }
      for (const reference of references) {
        let real: string;
        try {
          real = await realpath(reference);
        } catch (error) {
          yield {
            kind: 'error',
            path: reference,
            error: errnoError(reference, error, `The file referenced by ${path}`),
          };
          continue;
        }
        // A file under a walked folder is found by the walk itself.
        if (inside(real, folders)) continue;
        try {
          yield* file(reference, await stat(reference), true);
        } catch (error) {
          yield {
            kind: 'error',
            path: reference,
            error: errnoError(reference, error, `The file referenced by ${path}`),
          };
        }
      }
    }
  }

  async function* folder(path: string, ancestors: Set<string>): AsyncGenerator<Candidate> {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      yield { kind: 'error', path, error: errnoError(path, error, 'The folder') };
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const child = join(path, entry.name);
      let stats: Stats;
      try {
        stats = await stat(child); // follows symbolic links
      } catch (error) {
        yield { kind: 'error', path: child, error: errnoError(child, error, 'The path') };
        continue;
      }
      if (stats.isDirectory()) {
        const id = key(stats);
        if (ancestors.has(id)) {
          yield {
            kind: 'error',
            path: child,
            error: new TriageError(
              'SYMLINK_LOOP',
              `The symbolic link ${basename(child)} leads back to a folder that contains it; not followed.`,
              { file: child },
            ),
          };
          continue;
        }
        if (visited.has(id)) continue;
        visited.add(id);
        yield* folder(child, new Set([...ancestors, id]));
      } else {
        yield* file(child, stats, false);
      }
    }
  }

  for (const root of resolved) {
    let stats: Stats;
    try {
      stats = await stat(root);
    } catch (error) {
      yield { kind: 'error', path: root, error: errnoError(root, error, 'The path') };
      continue;
    }
    if (stats.isDirectory()) {
      const id = key(stats);
      if (visited.has(id)) continue;
      visited.add(id);
      yield* folder(root, new Set([id]));
    } else {
      yield* file(root, stats, true);
    }
  }
}

/** Counts the entries (files and errors) a walk will yield, for progress, without reading any file. */
export async function countFiles(roots: readonly string[]): Promise<number> {
  let count = 0;
  for await (const candidate of walk(roots, { dicomdir: false })) if (candidate) count++;
  return count;
}
