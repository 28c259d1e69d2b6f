/**
 * A phantom set on disk: DIR/phantom-NNNNN.dcm (or .png), DIR/masks/<term-with-dashes>/<image>.png,
 * DIR/labels.csv (file, one 0/1 column per PadChest term, normal) and DIR/phantoms.json (every
 * image's parameters and ground truth). Images are made in parallel worker threads; every file
 * is the same whatever the number of threads.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { TriageError } from '../errors/index.js';
import type { ErrorCode } from '../errors/index.js';
import type { PhantomFormat } from './acquisition.js';
import type { NoduleAppearance } from './findings.js';
import { writePhantom } from './files.js';
import type { PhantomEntry } from './files.js';
import { DEFAULT_SIZE } from './generate.js';
import { LABEL_COLUMNS, PHANTOM_TERMS, termSlug } from './terms.js';
import type { LabelColumn } from './terms.js';
import type { WorkerJob, WorkerMessage } from './worker.js';

export const PHANTOM_SET_VERSION = 1;

export interface PhantomSetOptions {
  out: string;
  count: number;
  seed: number;
  format?: PhantomFormat;
  /** Long side in pixels (default 600). */
  size?: number;
  /** 'standard' (default) or 'visible' (PhantomOptions.nodules); phantoms.json records 'visible'. */
  nodules?: NoduleAppearance;
  /** Worker threads (default: the CPUs available, at most 8; 1 writes in this thread). */
  jobs?: number;
  /** Called after each image is written (in completion order). */
  onImage?: (entry: PhantomEntry, done: number) => void;
}

export interface PhantomSetSummary {
  out: string;
  seed: number;
  count: number;
  format: PhantomFormat;
  size: number;
  nodules: NoduleAppearance;
  /** Images carrying each label (normal: none of the findings). */
  counts: Record<LabelColumn, number>;
  masks: number;
  bytes: number;
  jobs: number;
  elapsedMs: number;
}

async function prepare(out: string): Promise<void> {
  try {
    await mkdir(out, { recursive: true });
    for (const term of PHANTOM_TERMS) await mkdir(join(out, 'masks', termSlug(term)), { recursive: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError(
      'OUTPUT_FAILED',
      `Cannot create the output folder ${out} (${code}); check the path and its permissions.`,
      { file: out },
    );
  }
}

async function writeText(path: string, text: string): Promise<void> {
  try {
    await writeFile(path, text);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'unknown error';
    throw new TriageError('OUTPUT_FAILED', `Cannot write ${path} (${code}); check the folder is writable.`, {
      file: path,
    });
  }
}

/** labels.csv: a header, then one row per image in index order. */
export function labelsCsv(entries: readonly PhantomEntry[]): string {
  const lines = [['file', ...LABEL_COLUMNS].join(',')];
  for (const entry of entries)
    lines.push([entry.file, ...LABEL_COLUMNS.map((column) => entry.labels[column])].join(','));
  return `${lines.join('\n')}\n`;
}

/**
 * A worker running worker.js next to this module. Under tsx (tests, development) this module is
 * TypeScript and worker threads do not inherit tsx's loader: the worker registers it first.
 */
function startWorker(workerData: WorkerJob): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./worker.js', import.meta.url), { workerData });
  const script = new URL('./worker.ts', import.meta.url).href;
  const bootstrap = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(script)}); });`;
  return new Worker(bootstrap, { eval: true, workerData });
}

async function writeInWorkers(
  job: Omit<WorkerJob, 'first' | 'step'>,
  jobs: number,
  onEntry: (entry: PhantomEntry) => void,
): Promise<void> {
  const workers: Worker[] = [];
  try {
    await Promise.all(
      Array.from({ length: jobs }, (_, first) => {
        const worker = startWorker({ ...job, first, step: jobs });
        workers.push(worker);
        return new Promise<void>((resolve, reject) => {
          let finished = false;
          worker.on('message', (message: WorkerMessage) => {
            if (message.kind === 'entry') onEntry(message.entry);
            else if (message.kind === 'done') {
              finished = true;
              resolve();
            } else {
              finished = true;
              reject(new TriageError(message.code as ErrorCode, message.message, { file: message.file ?? undefined }));
            }
          });
          worker.on('error', (error) => {
            finished = true;
            reject(error);
          });
          worker.on('exit', (code) => {
            if (!finished) reject(new Error(`A phantom worker stopped (exit code ${code}) before finishing.`));
          });
        });
      }),
    );
  } finally {
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

export async function writePhantomSet(options: PhantomSetOptions): Promise<PhantomSetSummary> {
  const started = performance.now();
  const format = options.format ?? 'dicom';
  const size = options.size ?? DEFAULT_SIZE;
  const nodules = options.nodules ?? 'standard';
  // The default is left out of the generator options, so that standard sets stay byte for byte as before.
  const generator = nodules === 'standard' ? { format, size } : { format, size, nodules };
  const { out, count, seed } = options;
  await prepare(out);

  const jobs = Math.max(1, Math.min(options.jobs ?? Math.min(8, availableParallelism()), Math.ceil(count / 4)));
  const entries: PhantomEntry[] = new Array(count);
  let done = 0;
  const onEntry = (entry: PhantomEntry): void => {
    entries[entry.index] = entry;
    done++;
    options.onImage?.(entry, done);
  };
  if (jobs === 1) {
    for (let index = 0; index < count; index++) onEntry(await writePhantom(out, seed, index, generator));
  } else {
    await writeInWorkers({ out, seed, count, options: generator }, jobs, onEntry);
  }

  const counts = Object.fromEntries(LABEL_COLUMNS.map((column) => [column, 0])) as Record<LabelColumn, number>;
  let masks = 0;
  let bytes = 0;
  for (const entry of entries) {
    for (const column of LABEL_COLUMNS) counts[column] += entry.labels[column];
    masks += Object.keys(entry.masks).length;
    bytes += entry.bytes;
  }
  await writeText(join(out, 'labels.csv'), labelsCsv(entries));
  const manifest = {
    generator: 'triage phantom',
    version: PHANTOM_SET_VERSION,
    note: 'Synthetic chest radiograph phantoms: not patient data. Coordinates: centreMm in patient millimetres (u towards the patient left, v towards the feet); centrePx as row, column of the image.',
    seed,
    count,
    format,
    size,
    // Recorded only when not the default: standard sets keep the phantoms.json they always had.
    ...(nodules === 'standard' ? {} : { nodules }),
    terms: PHANTOM_TERMS,
    labelColumns: LABEL_COLUMNS,
    counts,
    images: entries,
  };
  await writeText(join(out, 'phantoms.json'), `${JSON.stringify(manifest, null, 1)}\n`);
  return {
    out,
    seed,
    count,
    format,
    size,
    nodules,
    counts,
    masks,
    bytes,
    jobs,
    elapsedMs: Math.round(performance.now() - started),
  };
}
