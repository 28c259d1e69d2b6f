/**
 * Exports of stored results: NDJSON (one result per line), JSON (one array) and CSV (one row per
 * image, RFC 4180 quoting, positive findings in one cell and the terms not assessed in another,
 * text that a spreadsheet would evaluate as a formula neutralised). Every record carries its provenance:
 * pack id, version and fingerprint, each model's id, version, ONNX SHA-256 and operating points,
 * the provider, and the file's SHA-256. Written to a temporary file and renamed, so an export is
 * never seen half-written.
 *
 * The patient and examination (name, ID, issuer, sex, age, accession number, study date, time and
 * description) are in an export only when asked for (`identityOf`, the CLI's --include-patient):
 * an export is a file that travels, and by default it names no one.
 */
import { open, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { extname } from 'node:path';
import { findingText } from '../common/index.js';
import { TriageError } from '../errors/index.js';
import type { StoredResult, StudyIdentityRecord } from '../domain/index.js';

export const EXPORT_FORMATS = ['ndjson', 'csv', 'json'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export function isExportFormat(value: string): value is ExportFormat {
  return (EXPORT_FORMATS as readonly string[]).includes(value);
}

/** The format a file name suggests (.csv, .json); NDJSON otherwise. */
export function formatFor(path: string): ExportFormat {
  const extension = extname(path).toLowerCase();
  if (extension === '.csv') return 'csv';
  if (extension === '.json') return 'json';
  return 'ndjson';
}

/** One exported result: the stored result without the database's internal ids. */
export type ExportRecord = Omit<StoredResult, 'id' | 'scanId'>;

export function exportRecord(result: StoredResult): ExportRecord {
  const { id: _id, scanId: _scanId, ...record } = result;
  return record;
}

/** One exported result with its study's patient and examination (an export that asked for them). */
export type ExportRecordWithPatient = ExportRecord & StudyIdentityRecord;

/** The columns an export with the patient adds, after CSV_COLUMNS. */
export const CSV_PATIENT_COLUMNS = [
  'patient_name',
  'patient_id',
  'issuer_of_patient_id',
  'patient_sex',
  'patient_age',
  'patient_age_derived',
  'accession_number',
  'study_date',
  'study_time',
  'study_description',
] as const;

const NO_IDENTITY: StudyIdentityRecord = {
  patient: null,
  accessionNumber: null,
  studyDate: null,
  studyTime: null,
  studyDescription: null,
};

function patientCells(identity: StudyIdentityRecord): string {
  const p = identity.patient;
  const cells: Record<(typeof CSV_PATIENT_COLUMNS)[number], string | boolean | null> = {
    patient_name: p?.name ?? null,
    patient_id: p?.id ?? null,
    issuer_of_patient_id: p?.issuer ?? null,
    patient_sex: p?.sex ?? null,
    patient_age: p?.age ?? null,
    patient_age_derived: p ? p.ageDerived : null,
    accession_number: identity.accessionNumber,
    study_date: identity.studyDate,
    study_time: identity.studyTime,
    study_description: identity.studyDescription,
  };
  return CSV_PATIENT_COLUMNS.map((column) => csvCell(cells[column])).join(',');
}

export interface ExportOptions {
  /**
   * The patient and examination of a result's study (by its key): given, every record carries
   * them (CSV: CSV_PATIENT_COLUMNS; JSON: patient, accessionNumber, studyDate, studyTime,
   * studyDescription). Absent, the export names no patient.
   */
  identityOf?: (study: string) => StudyIdentityRecord | null;
}

export const CSV_COLUMNS = [
  'file',
  'sha256',
  'status',
  'priority',
  'reason',
  'error_code',
  'duplicate_of',
  'sop_instance_uid',
  'study_instance_uid',
  'format',
  'provider',
  'pack_id',
  'pack_version',
  'pack_fingerprint',
  'models',
  'positive_findings',
  'not_assessed_findings',
  'not_for_clinical_use',
  'decode_ms',
  'preprocess_ms',
  'inference_ms',
  'explain_ms',
  'scanned_at',
] as const;

/**
 * Text a spreadsheet would take for a formula: one that begins with =, +, - or @ (after any
 * spaces, which some spreadsheets trim on import), or with a tab or a carriage return (OWASP's
 * list), and the full-width = + - @ that some spreadsheets also read as formulas.
 */
const FORMULA_START = /^[\t\r]|^\s*[=+\-@\uff1d\uff0b\uff0d\uff20]/;

/**
 * One RFC 4180 cell. A text cell that a spreadsheet would evaluate (a reason can echo a file's
 * attribute values) is prefixed with a single quote, so it stays text; numbers and booleans are
 * written as they are (-3.5 stays a number).
 */
export function csvCell(value: string | number | boolean | null): string {
  if (value === null) return '';
  const text = typeof value === 'string' && FORMULA_START.test(value) ? `'${value}` : String(value);
  return /[",\r\n]/.test(text) || /^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/**
 * One CSV row; `models` is JSON (ids, versions, ONNX SHA-256, operating points). Positive findings
 * read as the worklist words them, with the ensemble probability as a number ("mass (3/3, 0.9725)",
 * "pleural effusion: indeterminate (2/3, 0.5294)"); the terms not assessed are named apart.
 */
export function csvRow(r: StoredResult): string {
  const positives = r.findings
    .filter((f) => f.positive)
    .map((f) => findingText({ ...f, probability: f.probability?.ensemble ?? null }, String))
    .join('; ');
  const notAssessed = r.findings
    .filter((f) => !f.assessed)
    .map((f) => f.term)
    .join('; ');
  const cells: Record<(typeof CSV_COLUMNS)[number], string | number | boolean | null> = {
    file: r.file,
    sha256: r.sha256,
    status: r.status,
    priority: r.priority,
    reason: r.reason,
    error_code: r.error?.code ?? null,
    duplicate_of: r.duplicateOf,
    sop_instance_uid: r.sopInstanceUID,
    study_instance_uid: r.studyInstanceUID,
    format: r.format,
    provider: r.executionProvider,
    pack_id: r.pack.id,
    pack_version: r.pack.version,
    pack_fingerprint: r.pack.fingerprint,
    models: JSON.stringify(r.models),
    positive_findings: positives,
    not_assessed_findings: notAssessed,
    not_for_clinical_use: r.notForClinicalUse,
    decode_ms: r.timings?.decodeMs ?? null,
    preprocess_ms: r.timings?.preprocessMs ?? null,
    inference_ms: r.timings?.inferenceMs ?? null,
    explain_ms: r.timings?.explainMs ?? null,
    scanned_at: r.scannedAt,
  };
  return CSV_COLUMNS.map((column) => csvCell(cells[column])).join(',');
}

/** Writes the results to `path` in `format`; returns how many were written. */
export async function exportResults(
  results: Iterable<StoredResult>,
  path: string,
  format: ExportFormat,
  options: ExportOptions = {},
): Promise<number> {
  const { identityOf } = options;
  const identity = (r: StoredResult) => identityOf?.(r.study) ?? NO_IDENTITY;
  const record = (r: StoredResult): ExportRecord | ExportRecordWithPatient =>
    identityOf ? { ...exportRecord(r), ...identity(r) } : exportRecord(r);
  const row = (r: StoredResult) => (identityOf ? `${csvRow(r)},${patientCells(identity(r))}` : csvRow(r));
  const header = identityOf ? [...CSV_COLUMNS, ...CSV_PATIENT_COLUMNS] : CSV_COLUMNS;
  const temporary = `${path}.${process.pid}.partial`;
  const failed = (error: unknown) =>
    new TriageError(
      'OUTPUT_FAILED',
      `Cannot write the export ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}).`,
      { file: path },
    );
  let handle: FileHandle;
  try {
    handle = await open(temporary, 'w');
  } catch (error) {
    throw failed(error);
  }
  let buffer = '';
  const write = async (text: string, flush = false) => {
    buffer += text;
    if (buffer.length >= 1 << 16 || flush) {
      await handle.write(buffer);
      buffer = '';
    }
  };
  let count = 0;
  try {
    if (format === 'csv') await write(`${header.join(',')}\r\n`);
    if (format === 'json') await write('[');
    for (const result of results) {
      if (format === 'csv') await write(`${row(result)}\r\n`);
      else if (format === 'json') await write(`${count === 0 ? '\n' : ',\n'}${JSON.stringify(record(result))}`);
      else await write(`${JSON.stringify(record(result))}\n`);
      count++;
    }
    await write(format === 'json' ? '\n]\n' : '', true);
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error instanceof TriageError ? error : failed(error);
  }
  return count;
}
