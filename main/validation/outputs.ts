/**
 * What `triage eval` writes into its folder: metrics.json (every figure), predictions.csv (every
 * decision, from which anyone recomputes every figure) and report.html (for a reader). Each file
 * is written beside its final name and renamed, so a folder never holds half a file.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TriageError } from '../errors/index.js';
import { csvCell } from '../scan/index.js';
import { renderReport } from './report.js';
import type { Evaluation, PredictionRow } from './types.js';

export const EVALUATION_FILES = {
  metrics: 'metrics.json',
  predictions: 'predictions.csv',
  report: 'report.html',
} as const;

/**
 * predictions.csv: `file,term,tree,probability,positive,label`, then `indeterminate` (1: in
 * the pack's band), `cluster` (the patient's
 * number, empty when unknown), the subgroups (sex, age, view, manufacturer) and one column per
 * member (its calibrated probability; empty where it does not cover the term). Cells as the
 * scan's CSV export writes them: a text a spreadsheet would evaluate (a manufacturer read from a
 * file, a file name) gets a quote in front.
 */
export function predictionsCsv(rows: readonly PredictionRow[], members: readonly string[]): string {
  const header = [
    'file',
    'term',
    'tree',
    'probability',
    'positive',
    'label',
    'indeterminate',
    'cluster',
    'sex',
    'age',
    'view',
    'manufacturer',
    ...members.map((m) => `member:${m}`),
  ];
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) {
    lines.push(
      [
        row.file,
        row.term,
        row.tree,
        row.probability,
        row.positive ? 1 : 0,
        row.label,
        row.indeterminate ? 1 : 0,
        row.cluster,
        row.attributes.sex,
        row.attributes.age,
        row.attributes.view,
        row.attributes.manufacturer,
        ...members.map((m) => row.members[m] ?? null),
      ]
        .map(csvCell)
        .join(','),
    );
  }
  return `${lines.join('\n')}\n`;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${process.pid}.partial`;
  try {
    await writeFile(temporary, text);
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw new TriageError(
      'OUTPUT_FAILED',
      `${path} could not be written (${(error as NodeJS.ErrnoException).code ?? 'error'}); check the folder and the free space.`,
      { file: path, cause: error },
    );
  }
}

/** Writes the three files into `dir` (created if needed); returns their paths. */
export async function writeEvaluation(
  dir: string,
  evaluation: Evaluation,
  predictions: readonly PredictionRow[],
): Promise<Record<keyof typeof EVALUATION_FILES, string>> {
  try {
    await mkdir(dir, { recursive: true });
  } catch (error) {
    throw new TriageError('OUTPUT_FAILED', `The folder ${dir} cannot be created; choose another --out.`, {
      file: dir,
      cause: error,
    });
  }
  const paths = {
    metrics: join(dir, EVALUATION_FILES.metrics),
    predictions: join(dir, EVALUATION_FILES.predictions),
    report: join(dir, EVALUATION_FILES.report),
  };
  await writeAtomically(paths.metrics, `${JSON.stringify(evaluation, null, 2)}\n`);
  await writeAtomically(
    paths.predictions,
    predictionsCsv(
      predictions,
      evaluation.pack.models.map((m) => m.id),
    ),
  );
  await writeAtomically(paths.report, renderReport(evaluation));
  return paths;
}
