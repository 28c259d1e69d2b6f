/**
 * One evaluation from start to finish, as the CLI and the app run it: the labels read, the paths
 * scanned into the results database (results already there for the same content and pack
 * reused), the figures computed and the three files written.
 */
import { MANUFACTURER, SOFTWARE_VERSION } from '../dicom/index.js';
import type { ModelPack } from '../packs/index.js';
import type { Progress, ScanOptions } from '../scan/index.js';
import { packFingerprint, packProvenance } from '../store/index.js';
import type { ResultStore } from '../store/index.js';
import { loadTaxonomy } from '../taxonomy/index.js';
import type { Taxonomy } from '../taxonomy/index.js';
import { defaultRules } from '../triage/index.js';
import { collectImages } from './collect.js';
import { checkBootstrapPlan } from './bootstrap.js';
import { DEFAULT_BOOTSTRAP, evaluate } from './evaluate.js';
import type { BootstrapPlan } from './bootstrap.js';
import { readLabels } from './labels.js';
import { writeEvaluation } from './outputs.js';
import type { Evaluation } from './types.js';

export const SOFTWARE = `${MANUFACTURER} ${SOFTWARE_VERSION}`;

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

export interface EvaluationRequest {
  paths: string[];
  /** The labels CSV. */
  labels: string;
  /** The folder metrics.json, predictions.csv and report.html are written to. */
  out: string;
  engine: ScanOptions['engine'];
  store: ResultStore;
  bootstrap?: BootstrapPlan;
  signal?: AbortSignal;
  onProgress?: (progress: Progress) => void;
  /** The evaluation's date (now by default). */
  now?: Date;
  taxonomy?: Taxonomy;
}

export type EvaluationRun =
  | { outcome: 'completed'; evaluation: Evaluation; files: Awaited<ReturnType<typeof writeEvaluation>> }
  | { outcome: 'interrupted' };

export async function runEvaluation(request: EvaluationRequest): Promise<EvaluationRun> {
  const taxonomy = request.taxonomy ?? (await loadTaxonomy());
  const labels = await readLabels(request.labels, taxonomy);
  // Refused now rather than after a long scan: a labelled row is at most one image.
  checkBootstrapPlan(labels.rows.length, request.bootstrap ?? DEFAULT_BOOTSTRAP);
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
  if (collected.scan.outcome === 'interrupted') return { outcome: 'interrupted' };
  const { evaluation, predictions } = evaluate({
    labels,
    collected,
    pack: packRecord(request.engine.pack),
    taxonomy,
    paths: request.paths,
    bootstrap: request.bootstrap,
    createdAt: (request.now ?? new Date()).toISOString(),
    software: SOFTWARE,
  });
  const files = await writeEvaluation(request.out, evaluation, predictions);
  return { outcome: 'completed', evaluation, files };
}
