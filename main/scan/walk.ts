/**
 * Walking the scanned paths: folders in name order, symbolic links followed, loops and unreadable
 * entries reported as coded errors (never thrown), DICOMDIRs followed to the files they
 * reference. The walk keeps its own stack of folders and DICOMDIRs being read, so a tree
 * thousands of folders deep costs no call stack. Names are read as bytes and kept exactly (see
 * main/paths): a path the walk yields opens the file it names, whatever its bytes.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { quoted, TriageError } from '../errors/index.js';
import { fsPath, pathFromBytes, pathFromText } from '../paths/index.js';
import { dicomdirReferences, isDicomdirName } from './dicomdir.js';
import type { DicomdirReference, DicomdirReferences } from './dicomdir.js';
import { shardKey, shardOf } from './shard.js';
import type { Shard } from './shard.js';

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

/** The real path (symbolic links resolved), as the scan's string. */
async function realPath(path: string): Promise<string> {
  return pathFromBytes(await realpath(fsPath(path), { encoding: 'buffer' }));
}

export interface WalkOptions {
  /** Follow DICOMDIRs (default true). */
  dicomdir?: boolean;
  /**
   * Reads a DICOMDIR's references (default: dicomdirReferences on this thread); failures are
   * coded errors (rejected). A scan reads them in its identification thread.
   */
  references?: (path: string) => Promise<DicomdirReferences>;
  /**
   * Paths never walked into nor yielded (the product's own outputs), whether they exist yet or
   * not: an entry is left out when it is one of them (the same file or folder, through any
   * link), or when it has one's name in the folder that holds it.
   */
  exclude?: readonly string[];
  /**
   * Yield only this shard's files and errors (see shard.ts), decided by name as the walk goes:
   * every folder is still listed, and every DICOMDIR still read to follow its references, but no
   * other file is yielded, so none is read.
   */
  shard?: Shard | null;
}

/** The excluded paths as the walk recognises them: by identity, and by folder and name. */
interface Exclusions {
  ids: Set<string>;
  /** `${folder's dev:ino}/${name}`. */
  names: Set<string>;
}

async function exclusions(paths: readonly string[]): Promise<Exclusions> {
  const found: Exclusions = { ids: new Set(), names: new Set() };
  for (const path of paths) {
    const absolute = resolve(path);
    try {
      found.ids.add(key(await stat(absolute)));
    } catch {
      // Not there (yet): known by its folder and name.
    }
    try {
      found.names.add(`${key(await stat(dirname(absolute)))}/${pathFromText(basename(absolute))}`);
    } catch {
      // No folder: nothing can be found under that name.
    }
  }
  return found;
}

/** What the walk is in the middle of: a folder's entries, or a DICOMDIR's references. */
type Frame =
  | { kind: 'folder'; path: string; id: string; names: string[] | null; next: number }
  | { kind: 'references'; dicomdir: string; real: string; references: DicomdirReference[]; next: number };

/**
 * Yields every file under the roots (a root may itself be a file). Each real folder is walked
 * once: a symbolic link back to a folder above it is a SYMLINK_LOOP error; a second link to a
 * folder walked already is not followed again (its files were seen). Each DICOMDIR is followed
 * once (by its real path): a reference to a DICOMDIR being followed (itself, or one that
 * references it) is an INVALID_DICOMDIR error for that reference; one followed already is not
 * followed again. Roots are paths as a user gives them (Unicode text); yielded paths are the
 * scan's strings (main/paths).
 */
export async function* walk(roots: readonly string[], options: WalkOptions = {}): AsyncGenerator<Candidate> {
  const resolved = roots.map((root) => pathFromText(resolve(root)));
  const readReferences = options.references ?? dicomdirReferences;
  const excluded = await exclusions(options.exclude ?? []);
  const folders: string[] = [];
  for (const root of resolved) {
    try {
      if ((await stat(fsPath(root))).isDirectory()) folders.push(await realPath(root));
    } catch {
      // Reported when the root itself is walked.
    }
  }
  const visited = new Set<string>();
  /** Real paths of the DICOMDIRs followed. */
  const followed = new Set<string>();
  const stack: Frame[] = [];
  /** The folders on the stack (a link to one of them is a loop), and the DICOMDIRs. */
  const openFolders = new Set<string>();
  const openDicomdirs = new Set<string>();

  const pushFolder = (path: string, id: string) => {
    visited.add(id);
    openFolders.add(id);
    stack.push({ kind: 'folder', path, id, names: null, next: 0 });
  };

  /** A file: yielded (or its error); a DICOMDIR not followed yet has its references read and stacked. */
  async function* file(path: string, stats: Stats, explicit: boolean): AsyncGenerator<Candidate> {
    if (excluded.ids.has(key(stats))) return;
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
    if (options.dicomdir === false || !isDicomdirName(path)) return;
    let real: string;
    try {
      real = await realPath(path);
    } catch (error) {
      yield { kind: 'error', path, error: errnoError(path, error, 'The DICOMDIR') };
      return;
    }
    if (followed.has(real)) return;
    followed.add(real);
    let found: DicomdirReferences;
    try {
      found = await readReferences(path);
    } catch (error) {
      yield {
        kind: 'error',
        path,
        error:
          error instanceof TriageError ? error : new TriageError('INVALID_DICOMDIR', String(error), { file: path }),
      };
      return;
    }
    for (const [index, id] of found.invalid.entries()) {
      // The ID is the file's: named by its position, quoted (by dicomdirReferences) at a bounded length.
      yield {
        kind: 'error',
        path: `${path}#invalid-${index + 1}`,
        error: new TriageError(
          'INVALID_DICOMDIR',
          `The DICOMDIR references ${id}, which is outside its folder or not a file ID; not followed.`,
          { file: path },
        ),
      };
    }
    openDicomdirs.add(real);
    stack.push({ kind: 'references', dicomdir: path, real, references: found.files, next: 0 });
  }

  /** One step of the frame on top of the stack: the next entry or reference, or the frame's end. */
  async function* step(frame: Frame): AsyncGenerator<Candidate> {
    if (frame.kind === 'folder') {
      if (frame.names === null) {
        try {
          const entries = await readdir(fsPath(frame.path), { encoding: 'buffer' });
          frame.names = entries.map(pathFromBytes).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
        } catch (error) {
          frame.names = [];
          yield { kind: 'error', path: frame.path, error: errnoError(frame.path, error, 'The folder') };
        }
      }
      if (frame.next >= frame.names.length) {
        stack.pop();
        openFolders.delete(frame.id);
        return;
      }
      const name = frame.names[frame.next++];
      if (excluded.names.has(`${frame.id}/${name}`)) return;
      const child = join(frame.path, name);
      let stats: Stats;
      try {
        stats = await stat(fsPath(child)); // follows symbolic links
      } catch (error) {
        yield { kind: 'error', path: child, error: errnoError(child, error, 'The path') };
        return;
      }
      if (!stats.isDirectory()) {
        yield* file(child, stats, false);
        return;
      }
      const id = key(stats);
      if (excluded.ids.has(id)) return;
      if (openFolders.has(id)) {
        yield {
          kind: 'error',
          path: child,
          error: new TriageError(
            'SYMLINK_LOOP',
            `The symbolic link ${basename(child)} leads back to a folder that contains it; not followed.`,
            { file: child },
          ),
        };
        return;
      }
      if (!visited.has(id)) pushFolder(child, id);
      return;
    }

    if (frame.next >= frame.references.length) {
      stack.pop();
      openDicomdirs.delete(frame.real);
      return;
    }
    const reference = frame.references[frame.next++];
    const what = `The file referenced by ${frame.dicomdir}`;
    let real: string;
    try {
      real = await realPath(reference.path);
    } catch (error) {
      yield { kind: 'error', path: reference.path, error: errnoError(reference.path, error, what) };
      return;
    }
    // A file under a walked folder is found by the walk itself.
    if (inside(real, folders)) return;
    if (openDicomdirs.has(real)) {
      yield {
        kind: 'error',
        path: `${frame.dicomdir}#${reference.id}`,
        error: new TriageError(
          'INVALID_DICOMDIR',
          `The DICOMDIR references ${quoted(reference.id)}, a DICOMDIR that leads back to it; not followed again.`,
          { file: frame.dicomdir },
        ),
      };
      return;
    }
    let stats: Stats;
    try {
      stats = await stat(fsPath(reference.path));
    } catch (error) {
      yield { kind: 'error', path: reference.path, error: errnoError(reference.path, error, what) };
      return;
    }
    yield* file(reference.path, stats, true);
  }

  /** Everything reached from one root, before the shard's choice. */
  async function* fromRoot(root: string, stats: Stats): AsyncGenerator<Candidate> {
    if (stats.isDirectory()) {
      const id = key(stats);
      if (visited.has(id) || excluded.ids.has(id)) return;
      pushFolder(root, id);
    } else {
      yield* file(root, stats, true);
    }
    while (stack.length > 0) yield* step(stack[stack.length - 1]);
  }

  const shard = options.shard ?? null;
  for (const root of resolved) {
    let stats: Stats;
    try {
      stats = await stat(fsPath(root));
    } catch (error) {
      const candidate: Candidate = { kind: 'error', path: root, error: errnoError(root, error, 'The path') };
      if (!shard || shardOf(shardKey(dirname(root), root), shard.count) === shard.index) yield candidate;
      continue;
    }
    // Shard keys are relative to the folder the root names, or to the one holding the file it names.
    const base = stats.isDirectory() ? root : dirname(root);
    for await (const candidate of fromRoot(root, stats))
      if (!shard || shardOf(shardKey(base, candidate.path), shard.count) === shard.index) yield candidate;
  }
}

/** Counts the entries (files and errors) a walk will yield, for progress, without reading any file. */
export async function countFiles(
  roots: readonly string[],
  exclude: readonly string[] = [],
  shard: Shard | null = null,
): Promise<number> {
  let count = 0;
  for await (const candidate of walk(roots, { dicomdir: false, exclude, shard })) if (candidate) count++;
  return count;
}
