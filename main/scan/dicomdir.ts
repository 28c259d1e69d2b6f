/**
 * DICOMDIR (PS3.10 media directory): parsed with dicom-parser; every directory record's
 * Referenced File ID (0004,1500) names a file relative to the DICOMDIR's folder, one path
 * component per value. Media are often copied onto case-sensitive file systems with their names'
 * case changed, so a component that does not exist as written is matched case-insensitively.
 */
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TriageError, toTriageError } from '../errors/index.js';
import { parseDataSet } from '../ingest/index.js';
import type { DataSet } from '../ingest/index.js';
import { readRegularFile } from './read.js';

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

/** Finds `name` in `folder`, exactly or else ignoring case. */
function component(folder: string, name: string): string {
  try {
    const entries = readdirSync(folder);
    if (entries.includes(name)) return name;
    return entries.find((entry) => entry.toUpperCase() === name.toUpperCase()) ?? name;
  } catch {
    return name;
  }
}

/**
 * The files a DICOMDIR references, as paths, in record order, each once; `invalid` holds the
 * references that point outside its folder (never followed). The file is read as the scan reads
 * any file (never waiting on a FIFO swapped in for it).
 */
export async function dicomdirReferences(path: string): Promise<{ files: string[]; invalid: string[] }> {
  let dataSet: DataSet;
  try {
    dataSet = parseDataSet(await readRegularFile(path, undefined, 'The DICOMDIR'));
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
  const references: string[] = [];
  const invalid: string[] = [];
  for (const item of dataSet.elements[DIRECTORY_RECORD_SEQUENCE]?.items ?? []) {
    const id = item.dataSet?.string(REFERENCED_FILE_ID);
    if (!id) continue;
    const parts = id
      .replace(/\0/g, '')
      .split('\\')
      .map((part) => part.trim())
      .filter((part) => part.length > 0);
    if (parts.length === 0 || parts.some((part) => part === '..' || part === '.' || /[/:]/.test(part))) {
      invalid.push(id);
      continue;
    }
    let resolved = folder;
    for (const part of parts) resolved = join(resolved, component(resolved, part));
    if (!seen.has(resolved)) {
      seen.add(resolved);
      references.push(resolved);
    }
  }
  return { files: references, invalid };
}
