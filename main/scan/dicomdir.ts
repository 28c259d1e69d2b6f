/**
 * DICOMDIR (PS3.10 media directory): parsed with dicom-parser; every directory record's
 * Referenced File ID (0004,1500) names a file relative to the DICOMDIR's folder, one path
 * component per value. Media are often copied onto case-sensitive file systems with their names'
 * case changed, so a component that does not exist as written is matched case-insensitively.
 */
import { readdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { quoted, TriageError, toTriageError } from '../errors/index.js';
import { parseDataSet, readWhole } from '../ingest/index.js';
import type { DataSet } from '../ingest/index.js';
import { fsPath, pathFromBytes } from '../paths/index.js';

export const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10';
const DIRECTORY_RECORD_SEQUENCE = 'x00041220';
const REFERENCED_FILE_ID = 'x00041500';
const MEDIA_STORAGE_SOP_CLASS = 'x00020002';

export function isDicomdirName(path: string): boolean {
  return basename(path).toUpperCase() === 'DICOMDIR';
}

export function isDicomdir(dataSet: DataSet): boolean {
  return dataSet.string(MEDIA_STORAGE_SOP_CLASS)?.replace(/\0/g, '').trim() === MEDIA_STORAGE_DIRECTORY;
}

/** A folder's names: as they are, and by their upper case (the first of a kind). */
interface Listing {
  names: Set<string>;
  upper: Map<string, string>;
}

/** A Referenced File ID's components: 8 of up to 8 characters in the standard; twice that is tolerated. */
const MAX_ID_COMPONENTS = 16;
const MAX_COMPONENT_LENGTH = 64;

/** Finds `name` in `folder`, exactly or else ignoring case; `listings` keeps each folder's names. */
async function component(folder: string, name: string, listings: Map<string, Listing>): Promise<string> {
  let listing = listings.get(folder);
  if (!listing) {
    listing = { names: new Set(), upper: new Map() };
    try {
      for (const entry of await readdir(fsPath(folder), { encoding: 'buffer' })) {
        const decoded = pathFromBytes(entry);
        listing.names.add(decoded);
        if (!listing.upper.has(decoded.toUpperCase())) listing.upper.set(decoded.toUpperCase(), decoded);
      }
    } catch {
      // Not a folder, or unreadable: the name as written, which then fails with its own error.
    }
    listings.set(folder, listing);
  }
  if (listing.names.has(name)) return name;
  return listing.upper.get(name.toUpperCase()) ?? name;
}

/** A Referenced File ID as written, and the path it names. */
export interface DicomdirReference {
  id: string;
  path: string;
}

export interface DicomdirReferences {
  /** The files, in record order, each once. */
  files: DicomdirReference[];
  /**
   * The IDs that point outside the DICOMDIR's folder or are no file ID (never followed), each
   * quoted at a bounded length: the file's own text, held and sent between threads.
   */
  invalid: string[];
}

/**
 * The files a DICOMDIR references. The file is read as the scan reads any file (never waiting
 * on a FIFO swapped in for it); a failure is INVALID_DICOMDIR (thrown).
 */
export async function dicomdirReferences(path: string): Promise<DicomdirReferences> {
  let dataSet: DataSet;
  try {
    dataSet = await parseDataSet(await readWhole(path, null));
  } catch (error) {
    const coded = toTriageError(error, path);
    throw new TriageError('INVALID_DICOMDIR', `The DICOMDIR cannot be read: ${coded.message}`, {
      file: path,
      cause: error,
    });
  }
  if (!isDicomdir(dataSet))
    throw new TriageError(
      'INVALID_DICOMDIR',
      'The file named DICOMDIR is not a media directory (Media Storage SOP Class 1.2.840.10008.1.3.10).',
      { file: path },
    );
  const folder = dirname(path);
  const seen = new Set<string>();
  const files: DicomdirReference[] = [];
  const invalid: string[] = [];
  const listings = new Map<string, Listing>();
  for (const item of dataSet.elements[DIRECTORY_RECORD_SEQUENCE]?.items ?? []) {
    const id = item.dataSet?.string(REFERENCED_FILE_ID);
    if (!id) continue;
    const parts = id
      .replace(/\0/g, '')
      .split('\\')
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    // PS3.10: at most 8 components of 8 characters; anything far beyond is not a media file ID (and
    // resolving thousands of components would cost the thread its memory).
    if (
      parts.length === 0 ||
      parts.length > MAX_ID_COMPONENTS ||
      parts.some((part) => part.length > MAX_COMPONENT_LENGTH || part === '..' || part === '.' || /[/:]/.test(part))
    ) {
      invalid.push(quoted(id));
      continue;
    }
    let resolved = folder;
    for (const part of parts) resolved = join(resolved, await component(resolved, part, listings));
    if (!seen.has(resolved)) {
      seen.add(resolved);
      files.push({ id: parts.join('\\'), path: resolved });
    }
  }
  return { files, invalid };
}
