/**
 * The images of an evaluation: the paths scanned into a results database by the product's own
 * Scanner (so a result already stored for the same content and pack is reused, not analysed
 * again), each result matched to its labels row, and each DICOM image's patient, sex, age, view
 * and manufacturer read from its header for the subgroups. Patient IDs stay in memory: outputs
 * name a patient only by a number.
 */
import { realpath } from 'node:fs/promises';
import { resolve, sep } from 'node:path';
import { TriageError } from '../errors/index.js';
import { readDicomHeader, readStudyIdentityFields } from '../ingest/index.js';
import type { DataSet } from '../ingest/index.js';
import { Scanner } from '../scan/index.js';
import type { Progress, ScanOptions, ScanSummary } from '../scan/index.js';
import type { StoredResult } from '../domain/index.js';
import type { ResultStore } from '../store/index.js';
import type { TriageRules } from '../triage/index.js';
import type { Labels } from './labels.js';
import type { SubgroupAttribute } from './types.js';

/** One labelled image the models judged (status ok). */
export interface LabelledImage {
  file: string;
  result: StoredResult;
  /** The patient, for resampling (in memory only; never written). */
  patient: string | null;
  attributes: Record<SubgroupAttribute, string>;
  /** Per labels term: 1, 0 or null. */
  labels: Array<0 | 1 | null>;
}

export interface CollectedImages {
  scan: ScanSummary;
  images: LabelledImage[];
  rejected: { total: number; byReason: Record<string, number> };
  errors: { total: number; byCode: Record<string, number> };
  missing: number;
  unlabelled: number;
  /** Labelled images whose content or SOP Instance UID another labelled image already has. */
  duplicates: number;
  reused: number;
}

export interface CollectOptions {
  paths: string[];
  labels: Labels;
  engine: ScanOptions['engine'];
  store: ResultStore;
  rules: TriageRules;
  /** More of the run's own outputs, never read as input. */
  exclude?: string[];
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
}

export const UNKNOWN = 'unknown';

/** An age band in years from a DICOM age string ("058Y", "006M"). */
export function ageBand(age: string | null): string {
  const match = age === null ? null : /^(\d{3})([DWMY])$/.exec(age);
  if (!match) return UNKNOWN;
  const years = match[2] === 'Y' ? Number(match[1]) : 0;
  if (years < 18) return '0-17';
  if (years < 40) return '18-39';
  if (years < 60) return '40-59';
  if (years < 80) return '60-79';
  return '80+';
}

function text(dataSet: DataSet, tag: string): string | null {
  try {
    const value = dataSet.string(tag)?.trim();
    return value ? value : null;
  } catch {
    return null;
  }
}

/** A view position as a subgroup: PA, AP, or what the header says, upper-case, bounded. */
function viewOf(view: string | null): string {
  if (!view) return UNKNOWN;
  return view.toUpperCase().slice(0, 16);
}

const UNKNOWN_ATTRIBUTES: Record<SubgroupAttribute, string> = {
  sex: UNKNOWN,
  age: UNKNOWN,
  view: UNKNOWN,
  manufacturer: UNKNOWN,
};

/** The header's patient and subgroups; unknown everywhere when it cannot be read (it was, moments ago). */
async function headerFacts(
  file: string,
): Promise<{ patient: string | null; attributes: Record<SubgroupAttribute, string> }> {
  let dataSet: DataSet;
  try {
    dataSet = await readDicomHeader(file);
  } catch {
    return { patient: null, attributes: UNKNOWN_ATTRIBUTES };
  }
  const identity = readStudyIdentityFields(dataSet);
  const patient = identity.patientId === null ? null : `${identity.issuerOfPatientId ?? ''}\u0000${identity.patientId}`;
  return {
    patient,
    attributes: {
      sex: identity.patientSex ?? UNKNOWN,
      age: ageBand(identity.patientAge),
      view: viewOf(text(dataSet, 'x00185101')),
      manufacturer: text(dataSet, 'x00080070')?.slice(0, 64) ?? UNKNOWN,
    },
  };
}

/** Why an image was refused, without the values the reason quotes (so that reasons group). */
export function reasonKind(result: StoredResult): string {
  if (result.gate && !result.gate.passed) {
    const failed = result.gate.checks.filter((check) => !check.passed).map((check) => check.check);
    return `out of distribution (${failed.join(', ')})`;
  }
  return (result.reason ?? 'rejected')
    .replace(/\s*"[^"]*"/g, '')
    .replace(/\s+/g, ' ')
    .trim();
}

function bump(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/**
 * What to scan: with labels that name their files, those of them that lie under the paths once
 * symbolic links are resolved (so that masks, reports and other images beside them are never
 * analysed, and a labels file cannot point the scan elsewhere); a file that does not resolve is
 * left out and counted missing. With SOP Instance UIDs, everything under the paths, since only the
 * files say which is which.
 */
export async function scanRoots(
  paths: readonly string[],
  labels: Pick<Labels, 'keyColumn' | 'rows'>,
): Promise<string[]> {
  if (labels.keyColumn !== 'file') return [...paths];
  const real = (path: string) => realpath(path).catch(() => null);
  const bases = (await Promise.all(paths.map((path) => real(resolve(path))))).filter((b): b is string => b !== null);
  const under = (file: string) =>
    bases.some((base) => file === base || file.startsWith(base.endsWith(sep) ? base : `${base}${sep}`));
  const roots: string[] = [];
  const keys = labels.rows.map((row) => row.key);
  for (let i = 0; i < keys.length; i += 64) {
    const batch = keys.slice(i, i + 64);
    const resolved = await Promise.all(batch.map(real));
    batch.forEach((key, j) => {
      const file = resolved[j];
      if (file !== null && under(file)) roots.push(key);
    });
  }
  return roots;
}

/** Scans the paths and matches every result to its labels row. */
export async function collectImages(options: CollectOptions): Promise<CollectedImages> {
  const { labels, store } = options;
  let reused = 0;
  const roots = await scanRoots(options.paths, labels);
  if (roots.length === 0) {
    throw new TriageError(
      'NOTHING_TO_EVALUATE',
      `No file the labels file names lies under ${options.paths.join(', ')}; the file column is read relative to the labels file's own folder.`,
    );
  }
  const scanner = new Scanner({
    roots,
    engine: options.engine,
    store,
    rules: options.rules,
    exclude: options.exclude,
    signal: options.signal,
    onProgress: options.onProgress,
    onFile: (file) => {
      if (file.outcome === 'unchanged') reused++;
    },
  });
  const scan = await scanner.run();
  const rowsByKey = new Map(labels.rows.map((row) => [row.key, row]));
  const found = new Set<string>();
  const collected: CollectedImages = {
    scan,
    images: [],
    rejected: { total: 0, byReason: {} },
    errors: { total: 0, byCode: {} },
    missing: 0,
    unlabelled: 0,
    duplicates: 0,
    reused,
  };
  for (const result of store.scanResults(scan.scanId)) {
    const key = labels.keyColumn === 'file' ? result.file : result.sopInstanceUID;
    const row = key === null ? undefined : rowsByKey.get(key);
    if (!row) {
      if (result.status !== 'duplicate') collected.unlabelled++;
      continue;
    }
    // A labelled file that is not there is missing, not unreadable.
    if (result.status === 'error' && result.error?.code === 'FILE_NOT_FOUND') continue;
    // Two files of one SOP Instance UID match one row, and a copy of another image is judged once:
    // the first one counts.
    const seen = found.has(row.key);
    found.add(row.key);
    if (seen || result.status === 'duplicate') {
      collected.duplicates++;
      continue;
    }
    if (result.status === 'rejected') {
      collected.rejected.total++;
      bump(collected.rejected.byReason, reasonKind(result));
      continue;
    }
    if (result.status === 'error') {
      collected.errors.total++;
      bump(collected.errors.byCode, result.error?.code ?? 'INTERNAL');
      continue;
    }
    const facts =
      result.format === 'dicom' ? await headerFacts(result.file) : { patient: null, attributes: UNKNOWN_ATTRIBUTES };
    collected.images.push({
      file: result.file,
      result,
      patient: row.patient ?? facts.patient,
      attributes: facts.attributes,
      labels: row.values,
    });
  }
  collected.missing = labels.rows.length - found.size;
  return collected;
}
