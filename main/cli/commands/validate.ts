/**
 * `triage eval` and `triage calibrate`: a pack measured on a site's own labelled images, and its
 * operating points chosen on them. Both scan the images into a results database first (results
 * stored for the same content and pack are reused), as `triage scan` does.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine } from '../../engine/index.js';
import { TriageError } from '../../errors/index.js';
import { isProviderChoice, PROVIDER_CHOICES, providerChoiceProblem } from '../../inference/index.js';
import { DEFAULT_PACK } from '../../packs/index.js';
import { ResultStore } from '../../store/index.js';
import {
  DEFAULT_BOOTSTRAP,
  MAX_RESAMPLES,
  runCalibration,
  runEvaluation,
  validationDatabasePath,
} from '../../validation/index.js';
import type { Evaluation, Interval } from '../../validation/index.js';
import { EXIT_INTERRUPTED, listenForInterrupt } from '../interrupt.js';
import { printJson } from '../output.js';
import { progressReporter } from '../progress.js';
import { positiveInteger, threadOptionsHelp, usage } from '../usage.js';

export const EVAL_HELP = `triage eval PATH... --labels FILE.csv --out DIR [--models DIR] [--db FILE] [--ep NAME] [--resamples N]

  Measures a model pack on your own labelled images before you trust it. Analyses every image
  under the paths (or reuses the results --db holds for the same content and pack), matches each
  to its row of the labels file, and writes into DIR:
    metrics.json     per finding: prevalence, AUC, sensitivity, specificity, PPV, NPV and F1 at
                     the pack's operating point, each with a 95 % interval, every member beside
                     the ensemble; micro, macro and hierarchical F1; calibration (ECE, Brier,
                     reliability); the same by sex, age band, view and manufacturer; how many
                     images were rejected and why
    predictions.csv  one row per image and labelled term the pack assesses, from which every
                     figure can be recomputed (patients appear as numbers, never by ID)
    report.html      the report, self-contained and offline, for a reader
  Prints a summary as one JSON object; progress goes to stderr as triage scan's does.
  Intervals are by patient (bootstrap) when the images name their patients and some patient has
  several; otherwise DeLong's for AUCs, Wilson's for proportions. The images the gates refuse
  get no figures and are counted with their reasons.
  --labels FILE    CSV: a "file" column (paths relative to the labels file's folder, or absolute)
                   or "sopInstanceUID", an optional "patient" column, then one column per PadChest
                   term ("nodule", or "finding:nodule") holding 1, 0 or nothing (unknown)
  --out DIR        where the three files go (created if needed)
  --models DIR     model pack folder; default: the bundled pack (${DEFAULT_PACK})
  --db FILE        results database (default: the validations' own, ${validationDatabasePath()},
                   shared with the app's Validation view; never the worklist's; it holds the
                   images' patients, so it stays out of DIR)
  --ep NAME        execution provider: ${PROVIDER_CHOICES}
  --resamples N    bootstrap resamples (default ${DEFAULT_BOOTSTRAP.resamples}; seed ${DEFAULT_BOOTSTRAP.seed})
${threadOptionsHelp(19)}`;

export const CALIBRATE_HELP = `triage calibrate PATH... --labels FILE.csv --models DIR --out NEWPACK --target youden|sensitivity=S|ppv=P [--version V] [--db FILE] [--ep NAME]

  Chooses each finding's operating point on your own labelled images and writes a derived pack
  to NEWPACK: a new version, the same members' ONNX files, new operating points, and in its
  ensemble.json where they came from (the parent pack and its fingerprint, the labels file's
  SHA-256, counts, target, method, date). The pack in --models is never modified. Calibrate on
  one labelled set, then measure the derived pack with triage eval on another.
  --target T       youden: the threshold with the largest sensitivity + specificity - 1;
                   sensitivity=S: the highest threshold whose sensitivity is at least S (0 to 1);
                   ppv=P: of the thresholds whose PPV is at least P, the most sensitive
                   A finding whose labels are all one class, or where the target cannot be met,
                   keeps the parent's operating point; the summary and ensemble.json say which.
  --labels FILE    as for triage eval
  --models DIR     the parent pack
  --out NEWPACK    a new folder for the derived pack (refused when it holds files)
  --version V      the derived pack's version (default: the parent's, "+calibrated.DATE")
  --db FILE        results database (default: a temporary one, removed afterwards)
  --ep NAME        execution provider: ${PROVIDER_CHOICES}
${threadOptionsHelp(19)}`;

const SHARED_OPTIONS = {
  labels: { type: 'string' },
  out: { type: 'string' },
  models: { type: 'string' },
  db: { type: 'string' },
  ep: { type: 'string', default: 'auto' },
  concurrency: { type: 'string' },
  threads: { type: 'string' },
} as const;

interface Shared {
  paths: string[];
  labels: string;
  out: string;
  models: string;
  provider: string;
  threads?: number;
  decodeWorkers?: number;
}

async function shared(
  values: { [K in keyof typeof SHARED_OPTIONS]?: string },
  positionals: string[],
  help: string,
): Promise<Shared> {
  if (positionals.length === 0) usage(`Give at least one PATH of labelled images.\n\n${help}`);
  if (values.labels === undefined) usage(`--labels FILE.csv is required.\n\n${help}`);
  if (values.out === undefined) usage(`--out is required.\n\n${help}`);
  const provider = values.ep ?? 'auto';
  if (!isProviderChoice(provider)) usage(providerChoiceProblem(provider)!);
  for (const path of positionals) {
    try {
      await stat(path);
    } catch {
      throw new TriageError('FILE_NOT_FOUND', `The path ${path} does not exist.`, { file: path });
    }
  }
  return {
    paths: positionals,
    labels: values.labels,
    out: values.out,
    models: values.models ?? DEFAULT_PACK,
    provider,
    threads: values.threads === undefined ? undefined : positiveInteger(values.threads, '--threads'),
    decodeWorkers: values.concurrency === undefined ? undefined : positiveInteger(values.concurrency, '--concurrency'),
  };
}

/** Runs a job with the engine, the store, Ctrl-C and the progress bar set up, and torn down after. */
async function withEngine<T>(
  options: Shared,
  database: string,
  job: (context: {
    engine: Engine;
    store: ResultStore;
    signal: AbortSignal;
    onProgress: (progress: Parameters<ReturnType<typeof progressReporter>['update']>[0]) => void;
    /** Ends the progress bar (its last state drawn) before the job says something else. */
    endProgress: () => void;
  }) => Promise<T>,
): Promise<T> {
  const interrupt = listenForInterrupt();
  const reporter = progressReporter(process.stderr.isTTY === true);
  let store: ResultStore | undefined;
  let engine: Engine | undefined;
  try {
    store = ResultStore.open(database);
    engine = await Engine.create({
      models: options.models,
      provider: options.provider as Parameters<typeof Engine.create>[0]['provider'],
      threads: options.threads,
      decodeWorkers: options.decodeWorkers,
    });
    const result = await job({
      engine,
      store,
      signal: interrupt.signal,
      onProgress: (progress) => reporter.update(progress),
      endProgress: () => reporter.end(),
    });
    reporter.end();
    return result;
  } finally {
    interrupt.dispose();
    await engine?.close();
    store?.close();
  }
}

const figure = (interval: Interval): string =>
  interval.value === null
    ? '-'
    : `${interval.value.toFixed(3)} [${interval.low?.toFixed(3) ?? '-'}, ${interval.high?.toFixed(3) ?? '-'}]`;

/** The figures a reader wants first, one line per finding, for a terminal. */
export function evaluationTable(evaluation: Evaluation): string {
  const head = `${'finding'.padEnd(20)} ${'n'.padStart(5)} ${'pos'.padStart(5)}  ${'AUC'.padEnd(22)} ${'sensitivity'.padEnd(22)} ${'specificity'.padEnd(22)}`;
  const rows = evaluation.findings.map(
    (f) =>
      `${f.term.padEnd(20)} ${String(f.n).padStart(5)} ${String(f.positives).padStart(5)}  ${figure(f.auc).padEnd(22)} ${figure(f.sensitivity).padEnd(22)} ${figure(f.specificity).padEnd(22)}`,
  );
  const { data, overall, pack } = evaluation;
  return [
    `Evaluation of pack ${pack.id} ${pack.version}${pack.notForClinicalUse ? ' (NOT FOR CLINICAL USE)' : ''} on ${data.images} images (${data.rejected.total} rejected, ${data.errors.total} unreadable, ${data.missing} missing)`,
    head,
    ...rows,
    `micro-F1 ${figure(overall.microF1.f1)}; macro-F1 ${figure(overall.macroF1)}; hierarchical F1 ${figure(overall.hierarchical.f1)}; ECE ${overall.calibration.ece.toFixed(3)}; Brier ${overall.calibration.brier.toFixed(3)}`,
  ].join('\n');
}

export async function runEval(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...SHARED_OPTIONS, resamples: { type: 'string' } },
  });
  const options = await shared(values, positionals, EVAL_HELP);
  const resamples =
    values.resamples === undefined ? DEFAULT_BOOTSTRAP.resamples : positiveInteger(values.resamples, '--resamples');
  if (resamples > MAX_RESAMPLES) usage(`--resamples takes at most ${MAX_RESAMPLES}, not ${resamples}.`);
  const database = values.db ?? validationDatabasePath();
  const run = await withEngine(options, database, (context) =>
    runEvaluation({
      paths: options.paths,
      labels: options.labels,
      out: options.out,
      engine: context.engine,
      store: context.store,
      bootstrap: { resamples, seed: DEFAULT_BOOTSTRAP.seed },
      signal: context.signal,
      onProgress: context.onProgress,
      onFigures: (images) => {
        context.endProgress();
        if (process.stderr.isTTY)
          process.stderr.write(`Computing the figures of ${images} images (${resamples} resamples)...\n`);
      },
    }),
  );
  if (run.outcome === 'interrupted') {
    printJson({ evaluation: { outcome: 'interrupted', written: false } });
    return EXIT_INTERRUPTED;
  }
  const { evaluation, files } = run;
  if (process.stderr.isTTY) process.stderr.write(`${evaluationTable(evaluation)}\n`);
  printJson({
    evaluation: {
      outcome: 'completed',
      pack: { id: evaluation.pack.id, version: evaluation.pack.version, fingerprint: evaluation.pack.fingerprint },
      notForClinicalUse: evaluation.pack.notForClinicalUse,
      images: evaluation.data.images,
      patients: evaluation.data.patients,
      rejected: evaluation.data.rejected.total,
      errors: evaluation.data.errors.total,
      missing: evaluation.data.missing,
      reused: evaluation.data.reused,
      intervals: evaluation.intervals,
      findings: evaluation.findings.map((f) => ({
        term: f.term,
        tree: f.tree,
        n: f.n,
        positives: f.positives,
        auc: f.auc,
        sensitivity: f.sensitivity,
        specificity: f.specificity,
        ppv: f.ppv,
        npv: f.npv,
        f1: f.f1,
      })),
      microF1: evaluation.overall.microF1.f1,
      macroF1: evaluation.overall.macroF1,
      hierarchicalF1: evaluation.overall.hierarchical.f1,
      ece: evaluation.overall.calibration.ece,
      brier: evaluation.overall.calibration.brier,
      files,
    },
  });
  return 0;
}

export async function runCalibrate(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: { ...SHARED_OPTIONS, target: { type: 'string' }, version: { type: 'string' } },
  });
  const options = await shared(values, positionals, CALIBRATE_HELP);
  if (values.models === undefined) usage(`--models DIR names the pack to calibrate.\n\n${CALIBRATE_HELP}`);
  if (values.target === undefined) usage(`--target is required.\n\n${CALIBRATE_HELP}`);
  const temporary = values.db === undefined ? await mkdtemp(join(tmpdir(), 'triage-calibrate-')) : null;
  try {
    const run = await withEngine(options, values.db ?? join(temporary!, 'results.sqlite'), (context) =>
      runCalibration({
        paths: options.paths,
        labels: options.labels,
        out: options.out,
        target: values.target!,
        version: values.version,
        engine: context.engine,
        store: context.store,
        signal: context.signal,
        onProgress: context.onProgress,
      }),
    );
    if (run.outcome === 'interrupted') {
      printJson({ calibration: { outcome: 'interrupted', written: false } });
      return EXIT_INTERRUPTED;
    }
    printJson({ calibration: { outcome: 'completed', pack: run.pack, version: run.version, ...run.calibration } });
    return 0;
  } finally {
    if (temporary) await rm(temporary, { recursive: true, force: true });
  }
}
