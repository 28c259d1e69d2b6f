/**
 * `triage scan PATH... [--shard i/N] [--watch] [--db FILE] [--out FILE [--include-patient]] [--format ndjson|csv|json]
 *  [--heatmaps DIR] [--dicom-out DIR] [--ep NAME] [--models DIR] [--concurrency N] [--threads N] [--batch N] [--rules FILE]`
 */
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Engine } from '../../engine/index.js';
import { toTriageError, TriageError } from '../../errors/index.js';
import { PRIORITIES } from '../../common/index.js';
import { isProviderChoice, PROVIDER_CHOICES, providerChoiceProblem } from '../../inference/index.js';
import { DEFAULT_PACK } from '../../packs/index.js';
import { buildResultObjects, writeResultObjects } from '../../report/index.js';
import {
  EXPORT_FORMATS,
  exportResults,
  formatFor,
  formatShard,
  isExportFormat,
  JOB_INDEX_VARIABLE,
  parseShard,
  Scanner,
} from '../../scan/index.js';
import type { Analysis } from '../../engine/index.js';
import type { ScanSummary } from '../../scan/index.js';
import { DEFAULT_LEASE_SECONDS, queueWorker } from '../../archive/index.js';
import { defaultDatabasePath, isDatabaseUrl, packProvenance, ResultStore } from '../../store/index.js';
import { defaultRules, loadRules } from '../../triage/index.js';
import { EXIT_INTERRUPTED, listenForInterrupt } from '../interrupt.js';
import { printJson } from '../output.js';
import { duration, progressReporter } from '../progress.js';
import { positiveInteger, threadOptionsHelp, usage } from '../usage.js';

export const SCAN_HELP = `triage scan PATH... [--shard i/N] | --worker [--watch] [--db FILE|URL] [--out FILE [--include-patient]] [--format ndjson|csv|json] [--heatmaps DIR] [--dicom-out DIR] [--ep NAME] [--models DIR] [--concurrency N]

  Analyses every radiograph under the paths (folders recursively; DICOM recognised by content,
  PNG and JPEG too; DICOMDIRs followed) into the results database, then prints a summary as one
  JSON object. Resumable: a file already analysed with the same content and the same model pack
  is skipped; a new pack version analyses it again. Duplicates (same content or SOP Instance UID)
  are recorded, not analysed twice. Unreadable files, symbolic-link loops and broken files are
  recorded as coded errors; they never stop the scan. The scan's own outputs (--heatmaps, --out,
  the database) are never scanned. Ctrl-C or SIGTERM stops after the current batch, keeping
  everything done (exit code 130). Patient names, IDs and accession numbers are read into the
  database for the worklist, and never written to progress, the summary or the log.
  Progress goes to stderr: a bar on a terminal, else NDJSON lines
  {"progress": {"done", "total", "rate", "etaSeconds"}} (total null until counted).
  --watch            keep watching the paths; analyse files copied in later once their size has
                     stopped changing (see --poll and --settle); Ctrl-C ends it
  --db FILE|URL      results database: a file (default: ${defaultDatabasePath()}), or a PostgreSQL
                     server's, postgresql://USER@HOST:PORT/DATABASE, which many machines share
  --worker           with --db URL and no PATH: a worker of a shared archive scan. It claims the
                     files "triage enqueue" queued for this pack, a few at a time with a lease it
                     keeps renewing, until no file is left anywhere, then exits 0. Start it on as
                     many machines as you like (the paths must name the same files on each). A
                     worker that dies leaves its files to the others when its lease expires; a file
                     that stops workers 3 times is recorded as QUARANTINED (needs review); a
                     worker whose lease passed on has its late results refused (LEASE_LOST)
  --lease-seconds N  worker: how long a claim lasts without renewal (default ${DEFAULT_LEASE_SECONDS})
  --shard i/N        scan shard i (from 0) of N: only the files whose path relative to its
                     PATH hashes to i are read, so N machines given the same PATHs split the
                     archive between them, each into its own --db; "triage merge" joins the
                     databases. auto/N takes i from ${JOB_INDEX_VARIABLE} (a Kubernetes Indexed
                     Job). A shard's database takes that shard only (SHARD_MISMATCH): resume a
                     killed shard with the same --shard and --db
  --out FILE         export this scan's results (analysed, duplicate and unchanged files) to FILE
  --include-patient  the export names each result's patient and examination (name, ID, issuer,
                     sex, age, accession number, study date, time and description); without it,
                     an export names no patient
  --format NAME      ${EXPORT_FORMATS.join(', ')} (default: from --out's extension, else ndjson)
  --rules FILE       triage rules (JSON); default: pneumothorax critical, mass and nodule urgent
  --models DIR       model pack folder; default: the bundled pack (${DEFAULT_PACK})
  --ep NAME          execution provider: ${PROVIDER_CHOICES}
  --heatmaps DIR     write one PNG overlay per positive finding (IMAGE.HASH.FINDING.png)
  --dicom-out DIR    for every DICOM image analysed or rejected, write a Comprehensive 3D SR
                     (TID 1500) and a Secondary Capture with the heatmaps burned in, as
                     DIR/STUDY-UID/SOP-UID.dcm (PNG and JPEG sources get none; docs/dicom-outputs.md)
${threadOptionsHelp(21)}
  --batch N          images per inference batch (default 8)
  --poll MS          watch: how often the paths are listed (default 1000)
  --settle MS        watch: how long a file must stay unchanged before it is read (default 2000)`;

function humanSummary(summary: ScanSummary): string {
  const priorities = PRIORITIES.map((p) => `${p} ${summary.priorities[p]}`).join(', ');
  const studies = PRIORITIES.map((p) => `${p} ${summary.studies[p]}`).join(', ');
  return [
    `Scan ${summary.shard ? `of shard ${formatShard(summary.shard)} ` : ''}${summary.outcome}: ${summary.files} files in ${duration(summary.seconds)} (${summary.imagesPerSecond} images/s analysed on ${summary.provider}, pack ${summary.pack.id} ${summary.pack.version})`,
    `  analysed ${summary.analysed} (ok ${summary.ok}, rejected ${summary.rejected}, errors ${summary.errors}); unchanged ${summary.unchanged}; duplicates ${summary.duplicates}; skipped ${summary.skipped}`,
    `  images by priority: ${priorities}`,
    `  worklist studies: ${studies}`,
    `  database: ${summary.database}`,
    ...(summary.work
      ? [
          `  worker ${summary.work.owner}: claimed ${summary.work.claimed}; refused ${summary.work.refused} (lease passed on); deferred ${summary.work.deferred} (content analysed elsewhere); quarantined ${summary.work.quarantined}`,
        ]
      : []),
  ].join('\n');
}

/** What --dicom-out wrote in this scan. */
export interface DicomOutCounts {
  dir: string;
  /** Images that got an SR and a Secondary Capture. */
  images: number;
  files: number;
  /** PNG and JPEG sources: no patient or study to attach DICOM objects to. */
  notDicom: number;
  /** Unreadable images (an error result) get no objects. */
  notAnalysed: number;
  /** Images whose objects could not be made or written (each said on stderr with its code). */
  failed: number;
}

function dicomOutSummary(counts: DicomOutCounts): string {
  return `  DICOM results: ${counts.images} images (${counts.files} files) in ${counts.dir}; not DICOM ${counts.notDicom}; unreadable ${counts.notAnalysed}; failed ${counts.failed}`;
}

/** --dicom-out: the result objects of each analysis, written as it comes; a failure fails that image only. */
function dicomOutput(dir: string): {
  dir: string;
  counts: DicomOutCounts;
  write: (analysis: Analysis) => Promise<void>;
} {
  const counts: DicomOutCounts = { dir, images: 0, files: 0, notDicom: 0, notAnalysed: 0, failed: 0 };
  const write = async (analysis: Analysis) => {
    if (analysis.result.status === 'error') {
      counts.notAnalysed++;
      return;
    }
    try {
      const objects = await buildResultObjects({ result: analysis.result, heatmaps: analysis.heatmaps });
      if (!objects) {
        counts.notDicom++;
        return;
      }
      counts.files += (await writeResultObjects(dir, objects)).length;
      counts.images++;
    } catch (error) {
      counts.failed++;
      const { code, message } = toTriageError(error);
      process.stderr.write(`${JSON.stringify({ dicomOut: { file: analysis.result.file, code, message } })}\n`);
    }
  };
  return { dir, counts, write };
}

export async function runScan(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      watch: { type: 'boolean', default: false },
      worker: { type: 'boolean', default: false },
      'lease-seconds': { type: 'string' },
      db: { type: 'string' },
      shard: { type: 'string' },
      out: { type: 'string' },
      'include-patient': { type: 'boolean', default: false },
      format: { type: 'string' },
      heatmaps: { type: 'string' },
      'dicom-out': { type: 'string' },
      ep: { type: 'string', default: 'auto' },
      models: { type: 'string' },
      concurrency: { type: 'string' },
      threads: { type: 'string' },
      batch: { type: 'string' },
      rules: { type: 'string' },
      poll: { type: 'string' },
      settle: { type: 'string' },
    },
  });
  const worker = values.worker === true;
  if (worker) {
    if (values.db === undefined || !isDatabaseUrl(values.db))
      usage('--worker needs --db postgresql://USER@HOST:PORT/DATABASE, the server that holds the shared queue.');
    if (positionals.length > 0)
      usage('A worker takes its files from the shared queue: load them with triage enqueue PATH..., not as arguments.');
    if (values.watch) usage('--worker and --watch do not go together: enqueue new files again instead.');
    if (values.shard !== undefined) usage('--worker and --shard do not go together: workers share one queue.');
  } else {
    if (positionals.length === 0) usage(`scan needs at least one PATH.\n\n${SCAN_HELP}`);
    if (values['lease-seconds'] !== undefined) usage('--lease-seconds goes with --worker.');
  }
  const leaseSeconds =
    values['lease-seconds'] === undefined ? undefined : positiveInteger(values['lease-seconds'], '--lease-seconds');
  const provider = values.ep!;
  if (!isProviderChoice(provider)) usage(providerChoiceProblem(provider)!);
  if (values.format !== undefined && !isExportFormat(values.format))
    usage(`--format must be one of ${EXPORT_FORMATS.join(', ')}, not "${values.format}".`);
  if (values.format !== undefined && values.out === undefined) usage('--format needs --out FILE.');
  if (values['include-patient'] && values.out === undefined) usage('--include-patient needs --out FILE.');
  const decodeWorkers =
    values.concurrency === undefined ? undefined : positiveInteger(values.concurrency, '--concurrency');
  const threads = values.threads === undefined ? undefined : positiveInteger(values.threads, '--threads');
  const batchSize = values.batch === undefined ? 8 : positiveInteger(values.batch, '--batch');
  const watch = values.watch
    ? {
        pollMs: values.poll === undefined ? 1000 : positiveInteger(values.poll, '--poll'),
        settleMs: values.settle === undefined ? 2000 : positiveInteger(values.settle, '--settle'),
      }
    : null;
  // A path that does not exist is a typo, not a result: refuse before starting.
  for (const path of positionals) {
    try {
      await stat(path);
    } catch {
      throw new TriageError('FILE_NOT_FOUND', `The path ${path} does not exist.`, { file: path });
    }
  }
  const shard = values.shard === undefined ? null : parseShard(values.shard);
  const rules = values.rules === undefined ? defaultRules() : loadRules(values.rules);
  // Interrupted: the summary says so, exit code 130.
  const interrupt = listenForInterrupt();
  let store: ResultStore | undefined;
  let engine: Engine | undefined;
  const reporter = progressReporter(process.stderr.isTTY === true);
  try {
    store = ResultStore.open(values.db ?? defaultDatabasePath());
    engine = await Engine.create({
      models: values.models ?? DEFAULT_PACK,
      provider,
      batchSize,
      threads,
      decodeWorkers,
    });
    const dicomOut = values['dicom-out'] === undefined ? null : dicomOutput(values['dicom-out']);
    const scanner = new Scanner({
      roots: positionals,
      engine,
      store,
      ...(worker ? { work: queueWorker(store, packProvenance(engine.pack), { leaseSeconds }) } : {}),
      rules,
      shard,
      heatmapsDir: values.heatmaps,
      // The export is the product's own output: a later scan of a folder holding it leaves it out.
      exclude: [...(values.out === undefined ? [] : [values.out]), ...(dicomOut ? [dicomOut.dir] : [])],
      ...(dicomOut ? { heatmaps: true, onAnalysis: dicomOut.write } : {}),
      watch,
      signal: interrupt.signal,
      onProgress: (progress) => reporter.update(progress),
    });
    const summary = await scanner.run();
    reporter.end();
    if (values.out !== undefined) {
      const format = values.format && isExportFormat(values.format) ? values.format : formatFor(values.out);
      const reader = store;
      await exportResults(
        store.scanResults(summary.scanId),
        values.out,
        format,
        values['include-patient'] ? { identityOf: (study) => reader.studyIdentity(study) } : {},
      );
    }
    // Where the models ran, when that is a KServe server: its host and port.
    const server = engine.endpoint === null ? {} : { server: new URL(engine.endpoint).host };
    const report = { ...summary, ...server, ...(dicomOut ? { dicomOut: dicomOut.counts } : {}) };
    if (process.stderr.isTTY) {
      process.stderr.write(
        `${humanSummary({ ...summary, provider: summary.provider + (server.server ? ` at ${server.server}` : '') })}\n`,
      );
      if (dicomOut) process.stderr.write(`${dicomOutSummary(dicomOut.counts)}\n`);
    }
    printJson({ summary: report });
    return summary.outcome === 'interrupted' ? EXIT_INTERRUPTED : 0;
  } finally {
    interrupt.dispose();
    await engine?.close();
    store?.close();
  }
}
