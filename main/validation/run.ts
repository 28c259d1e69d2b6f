/**
 * One evaluation from start to finish, as the CLI and the app run it: the labels read, the paths
 * scanned into the results database (results already there for the same content and pack
 * reused), the figures computed and the three files written.
 */
import { join } from 'node:path';
import { MANUFACTURER, SOFTWARE_VERSION } from '../dicom/index.js';
import type { ModelPack } from '../packs/index.js';
import type { Progress, ScanOptions } from '../scan/index.js';
import { defaultDataDir, packFingerprint, packProvenance } from '../store/index.js';
import type { ResultStore } from '../store/index.js';
import { loadTaxonomy } from '../taxonomy/index.js';
import type { Taxonomy } from '../taxonomy/index.js';
import { defaultRules } from '../triage/index.js';
import { collectImages } from './collect.js';
import type { CollectedImages } from './collect.js';
import { Resampler } from './bootstrap.js';
import { DEFAULT_BOOTSTRAP } from './evaluate.js';
import { computeFigures } from './figures.js';
import type { BootstrapPlan } from './bootstrap.js';
import { readLabels } from './labels.js';
import type { Labels } from './labels.js';
import { writeEvaluation } from './outputs.js';
import type { Evaluation } from './types.js';

export const SOFTWARE = `${MANUFACTURER} ${SOFTWARE_VERSION}`;

/** The validations' folder under a data folder, and their shared results database in it. */
export const VALIDATIONS_FOLDER = 'validations';
export const VALIDATIONS_DATABASE = 'results.sqlite';

/**
 * Where validations keep the images' results by default: a database of their own under the data
 * folder, so that results are reused from one validation to the next, the worklist never sees
 * them, and the patients they name stay out of the folders of figures a site may share.
 */
export function validationDatabasePath(dataDir: string = defaultDataDir()): string {
  return join(dataDir, VALIDATIONS_FOLDER, VALIDATIONS_DATABASE);
}

/** The pack as an evaluation records it: identity, fingerprint, models and operating points. */
export function packRecord(pack: ModelPack): Evaluation['pack'] {
  const provenance = packProvenance(pack);
  return {
    id: provenance.pack.id,
    version: provenance.pack.version,
    fingerprint: packFingerprint(provenance),
    rule: provenance.pack.rule,
    indeterminate: provenance.pack.indeterminate,
    demo: provenance.pack.demo,
    notForClinicalUse: provenance.notForClinicalUse,
    models: provenance.models,
    calibration: pack.ensemble.calibration ?? null,
  };
}

/** `out`: the folder metrics.json, predictions.csv and report.html are written to. */
export interface EvaluationRequest extends LabelledRequest {
  bootstrap?: BootstrapPlan;
  /** Told when the images are judged and the figures begin (which shows no progress of its own). */
  onFigures?: (images: number) => void;
  /** The evaluation's date (now by default). */
  now?: Date;
}

export type EvaluationRun =
  | { outcome: 'completed'; evaluation: Evaluation; files: Awaited<ReturnType<typeof writeEvaluation>> }
  | { outcome: 'interrupted' };

/** What a labelled run needs: the images, the labels, and the engine and store to judge them. */
export interface LabelledRequest {
  paths: string[];
  /** The labels CSV. */
  labels: string;
  /** The run's own output, never read as input. */
  out: string;
  engine: ScanOptions['engine'];
  store: ResultStore;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  taxonomy?: Taxonomy;
}

/**
 * The labels read and the labelled images judged, as eval and calibrate both begin; null when
 * the scan was interrupted. The resampling plan that follows is checked before the scan.
 */
export async function judgeLabelledImages(
  request: LabelledRequest,
  bootstrap: BootstrapPlan | null,
): Promise<{ taxonomy: Taxonomy; labels: Labels; collected: CollectedImages } | null> {
  const taxonomy = request.taxonomy ?? (await loadTaxonomy());
  const labels = await readLabels(request.labels, taxonomy);
  // A plan out of range is refused now rather than after a long scan.
  if (bootstrap) Resampler.byImage(0, bootstrap);
  const collected = await collectImages({
    paths: request.paths,
    labels,
    engine: request.engine,
    store: request.store,
    rules: defaultRules(),
    exclude: [request.out],
    signal: request.signal,
    onProgress: request.onProgress,
  });
  return collected.scan.outcome === 'interrupted' ? null : { taxonomy, labels, collected };
}

export async function runEvaluation(request: EvaluationRequest): Promise<EvaluationRun> {
  const judged = await judgeLabelledImages(request, request.bootstrap ?? DEFAULT_BOOTSTRAP);
  if (!judged) return { outcome: 'interrupted' };
  const { labels, collected } = judged;
  request.onFigures?.(collected.images.length);
  const figures = await computeFigures(
    {
      labels,
      collected,
      pack: packRecord(request.engine.pack),
      paths: request.paths,
      bootstrap: request.bootstrap,
      createdAt: (request.now ?? new Date()).toISOString(),
      software: SOFTWARE,
    },
    request.signal,
  );
  if (!figures) return { outcome: 'interrupted' };
  const { evaluation, predictions } = figures;
  const files = await writeEvaluation(request.out, evaluation, predictions);
  return { outcome: 'completed', evaluation, files };
}
