/**
 * A site's labels file: CSV, a header, one row per image. The first column is `file` (a path,
 * relative to the labels file's folder or absolute) or `sopInstanceUID`; an optional `patient`
 * column groups a PNG's or JPEG's images by patient (DICOM files name their patient themselves);
 * every other column is a PadChest term (`term` or `tree:term`) holding 1, 0 or nothing (unknown).
 * The phantom generator's labels.csv is such a file. Hostile until proven otherwise: read within a
 * byte budget, every cell checked, every failure an INVALID_LABELS or term error naming the place.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { TAXONOMY_TREES } from '../taxonomy/index.js';
import type { Taxonomy, TaxonomyTree } from '../taxonomy/index.js';
import { TriageError, toTriageError } from '../errors/index.js';

/** Larger than any site's labels (a million rows of a dozen terms is about 40 MB). */
export const MAX_LABELS_BYTES = 64 * 1024 * 1024;
export const MAX_LABEL_ROWS = 1_000_000;
export const MAX_LABEL_COLUMNS = 512;

export type LabelKey = 'file' | 'sopInstanceUID';

export interface LabelTerm {
  term: string;
  /** Any tree: a status term such as "normal" is a valid column, though no model assesses it. */
  tree: TaxonomyTree;
  /** The header cell as written. */
  column: string;
}

export interface LabelRow {
  /** The `file` column resolved against the labels file's folder, or the SOP Instance UID. */
  key: string;
  /** The `patient` column, when the file has one and the cell is not empty. */
  patient: string | null;
  /** Per term, in `terms` order: 1, 0, or null (unknown). */
  values: Array<0 | 1 | null>;
}

export interface Labels {
  file: string;
  sha256: string;
  keyColumn: LabelKey;
  terms: LabelTerm[];
  rows: LabelRow[];
}

/** RFC 4180 fields: quoted fields may hold commas, quotes ("") and line breaks. */
export function parseCsv(text: string, source: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let quoted = false;
  let line = 1;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;
  const endRecord = () => {
    record.push(field);
    field = '';
    // A blank line is no record.
    if (!(record.length === 1 && record[0] === '')) records.push(record);
    record = [];
    if (records.length > MAX_LABEL_ROWS + 1)
      throw invalid(source, `more than ${MAX_LABEL_ROWS} rows; split the labels file.`);
  };
  for (; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        field += c;
      }
    } else if (c === '"') {
      if (field !== '') throw invalid(source, `line ${line}: a quote inside an unquoted field.`);
      quoted = true;
    } else if (c === ',') {
      record.push(field);
      field = '';
      if (record.length > MAX_LABEL_COLUMNS)
        throw invalid(source, `line ${line}: more than ${MAX_LABEL_COLUMNS} columns.`);
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      endRecord();
      line++;
    } else field += c;
  }
  if (quoted) throw invalid(source, `a quoted field opened before line ${line} never closes.`);
  if (field !== '' || record.length > 0) endRecord();
  return records;
}

function invalid(source: string, detail: string): TriageError {
  return new TriageError('INVALID_LABELS', `The labels file ${source} cannot be used: ${detail}`, { file: source });
}

/** A header cell as a PadChest term: `term`, or `tree:term` where the term is in several trees. */
function termOf(column: string, taxonomy: Taxonomy, source: string): LabelTerm {
  const separator = column.indexOf(':');
  const prefix = separator > 0 ? column.slice(0, separator).trim().toLowerCase() : '';
  const tree = (TAXONOMY_TREES as readonly string[]).includes(prefix) ? (prefix as TaxonomyTree) : undefined;
  const name = tree ? column.slice(separator + 1) : column;
  try {
    const node = taxonomy.require(name, tree);
    return { term: node.term, tree: node.tree, column };
  } catch (error) {
    const coded = toTriageError(error);
    throw new TriageError(
      coded.code === 'INTERNAL' ? 'INVALID_LABELS' : coded.code,
      `The labels file ${source}, column "${column}": ${coded.message}${coded.code === 'AMBIGUOUS_TERM' ? ' Write the column as TREE:TERM (finding, diagnosis, localization or status).' : ''}`,
      { file: source },
    );
  }
}

/** Labels from a CSV text (`file` names a path resolved against `baseDir`). */
export function parseLabels(
  text: string,
  taxonomy: Taxonomy,
  source: string,
  baseDir: string,
): Omit<Labels, 'sha256' | 'file'> {
  const records = parseCsv(text, source);
  if (records.length === 0)
    throw invalid(source, 'it is empty; the first line must be a header such as "file,cardiomegaly,nodule".');
  const header = records[0].map((cell) => cell.trim());
  const first = header[0];
  if (first !== 'file' && first !== 'sopInstanceUID')
    throw invalid(source, `the first column must be "file" or "sopInstanceUID", not "${first}".`);
  const keyColumn: LabelKey = first;
  let patientColumn = -1;
  const termColumns: number[] = [];
  const terms: LabelTerm[] = [];
  const seen = new Map<string, string>();
  header.forEach((column, index) => {
    if (index === 0) return;
    if (column === 'patient') {
      if (patientColumn >= 0) throw invalid(source, 'the column "patient" appears twice.');
      patientColumn = index;
      return;
    }
    if (column === '') throw invalid(source, `column ${index + 1} has no name.`);
    const term = termOf(column, taxonomy, source);
    const key = `${term.tree}:${term.term}`;
    if (seen.has(key)) throw invalid(source, `the columns "${seen.get(key)}" and "${column}" name the same term.`);
    seen.set(key, column);
    termColumns.push(index);
    terms.push(term);
  });
  if (terms.length === 0) throw invalid(source, 'it has no term column after the first.');
  const rows: LabelRow[] = [];
  const keys = new Set<string>();
  for (let r = 1; r < records.length; r++) {
    const record = records[r];
    const where = `row ${r + 1}`;
    if (record.length !== header.length)
      throw invalid(source, `${where} has ${record.length} fields where the header has ${header.length}.`);
    const raw = record[0].trim();
    if (raw === '') throw invalid(source, `${where} has an empty ${keyColumn}.`);
    const key = keyColumn === 'file' ? (isAbsolute(raw) ? resolve(raw) : resolve(baseDir, raw)) : raw;
    if (keys.has(key)) throw invalid(source, `${where} repeats the ${keyColumn} "${raw}" of an earlier row.`);
    keys.add(key);
    const values = termColumns.map((column, t): 0 | 1 | null => {
      const cell = record[column].trim();
      if (cell === '1' || cell === '1.0') return 1;
      if (cell === '0' || cell === '0.0') return 0;
      if (cell === '') return null;
      throw invalid(
        source,
        `${where}, column "${terms[t].column}": "${cell.slice(0, 20)}" is not 1, 0 or empty${cell === '-1' || cell === '-1.0' ? ' (map uncertain labels to 1 or 0, or leave them empty for unknown)' : ''}.`,
      );
    });
    const patient = patientColumn >= 0 ? record[patientColumn].trim() || null : null;
    rows.push({ key, patient, values });
  }
  return { keyColumn, terms, rows };
}

/** Reads and parses a labels file within MAX_LABELS_BYTES. */
export async function readLabels(file: string, taxonomy: Taxonomy): Promise<Labels> {
  let bytes: Buffer;
  try {
    const { size, isFile } = await stat(file).then((s) => ({ size: s.size, isFile: s.isFile() }));
    if (!isFile) throw invalid(file, 'it is not a file.');
    if (size > MAX_LABELS_BYTES)
      throw invalid(file, `it is ${size} bytes; at most ${MAX_LABELS_BYTES} are read (split it).`);
    bytes = await readFile(file);
  } catch (error) {
    if (error instanceof TriageError) throw error;
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new TriageError('FILE_NOT_FOUND', `The labels file ${file} does not exist; check the path.`, { file });
    throw new TriageError(
      'UNREADABLE',
      `The labels file ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'}).`,
      {
        file,
      },
    );
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    throw invalid(file, 'it is not UTF-8 text.');
  }
  const parsed = parseLabels(text, taxonomy, file, dirname(resolve(file)));
  return { file, sha256: createHash('sha256').update(bytes).digest('hex'), ...parsed };
}
