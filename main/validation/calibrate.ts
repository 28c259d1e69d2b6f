/**
 * `triage calibrate`: each finding's operating point chosen on a site's labelled images, written
 * as a derived pack. The parent is never touched; the derived pack has the same members' ONNX
 * files (byte for byte, checked by their SHA-256 at load), a new version, new operating points
 * and, in ensemble.json, where they came from.
 *
 * Method. The threshold is chosen on the parent's ensemble probability e, the number every result
 * shows. Under a majority (or any, or all) rule e is an order statistic of the members' calibrated
 * values c_m = calibrate(p_m, t_m), and the call is e >= 0.5. Choosing a threshold T on e and
 * giving each member the new operating point t'_m = calibrate^-1(T, t_m) makes every member's new
 * calibrated value >= 0.5 exactly when its old one was >= T (calibrate is increasing in p), so
 * the derived pack calls a finding positive exactly when the parent's e >= T. T is set half-way
 * between the chosen value of e and the next lower one seen, so that the 4-decimal rounding of
 * reported values cannot move an image of the site's data across it.
 */
import { copyFile, mkdir, readdir, readFile, realpath, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import type { Tree } from '../common/index.js';
import { TriageError } from '../errors/index.js';
import { findingKey } from '../ensemble/index.js';
import { ENSEMBLE_FILE, loadPack, MANIFEST_FILE } from '../packs/index.js';
import type { CalibrationProvenance, ModelPack, TermCheck } from '../packs/index.js';
import { assessedTerms } from './evaluate.js';
import { chooseThreshold, parseCalibrationTarget } from './metrics.js';
import type { CalibrationTarget } from './metrics.js';
import { judgeLabelledImages, packRecord, SOFTWARE } from './run.js';
import type { LabelledRequest } from './run.js';

export const CALIBRATION_METHOD =
  "threshold T on the parent's ensemble probability, chosen on the labelled images and carried into each member as the operating point its calibrated value T maps to (majority, any and all rules keep the call: positive exactly when the parent's ensemble probability >= T)";

/** The raw probability a member's old calibration sends to `calibrated` (the inverse of ensemble's calibrate). */
export function uncalibrate(calibrated: number, operatingPoint: number): number {
  return calibrated < 0.5 ? 2 * operatingPoint * calibrated : 1 - 2 * (1 - operatingPoint) * (1 - calibrated);
}

/**
 * The threshold on the true ensemble probability that calls exactly the images whose shown
 * (4-decimal) value is at least `chosen`: half a step below it, since shown values round to the
 * nearest 1e-4, except at 0.5, which no value below 0.5 is ever shown as. Null when that falls at
 * or below 0: no operating point can call everything.
 */
export function thresholdFor(chosen: number): number | null {
  if (chosen === 0.5) return 0.5;
  const threshold = chosen - 0.00005;
  return threshold > 0 ? threshold : null;
}

export interface CalibrationRequest extends LabelledRequest {
  target: string;
  /** The derived pack's version (default: the parent's, with "+calibrated.<date>"). */
  version?: string;
  now?: Date;
}

export type CalibrationRun =
  | { outcome: 'completed'; pack: string; version: string; calibration: CalibrationProvenance }
  | { outcome: 'interrupted' };

/** A path with its symbolic links resolved, as far as it exists (the rest appended as written). */
async function realPathOf(path: string): Promise<string> {
  const absolute = resolve(path);
  try {
    return await realpath(absolute);
  } catch {
    const parent = dirname(absolute);
    return parent === absolute ? absolute : join(await realPathOf(parent), basename(absolute));
  }
}

/** --out must be a new or empty folder, not the parent pack, inside it or above it (links resolved). */
async function refuseExisting(out: string, parentDir: string): Promise<void> {
  const target = await realPathOf(out);
  const parent = await realPathOf(parentDir);
  const inside = (a: string, b: string) => {
    const path = relative(b, a);
    return path === '' || (!path.startsWith('..') && !isAbsolute(path));
  };
  if (inside(target, parent) || inside(parent, target)) {
    throw new TriageError(
      'USAGE',
      `--out ${out} is the pack ${parentDir} or lies inside it (or holds it); a calibrated pack is written beside its parent, never into it.`,
    );
  }
  let entries: string[];
  try {
    entries = await readdir(target);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new TriageError('USAGE', `--out ${out} exists and is not a folder; give a new folder.`, { file: out });
  }
  if (entries.length > 0)
    throw new TriageError('USAGE', `--out ${out} already holds files; give a new folder for the calibrated pack.`, {
      file: out,
    });
}

function defaultVersion(parent: string, now: Date): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
  return `${parent.split('+')[0]}+calibrated.${stamp}`;
}

/** Per finding key, the threshold on the parent's ensemble probability (calibrated ones only). */
type Thresholds = Map<string, number>;

/** Writes the derived pack into a temporary folder beside `out`, then renames it. */
async function writeDerivedPack(
  parent: ModelPack,
  out: string,
  version: string,
  thresholds: Thresholds,
  calibration: CalibrationProvenance,
  checkTerm: TermCheck,
): Promise<void> {
  const target = resolve(out);
  const staging = join(dirname(target), `.${basename(target)}.${process.pid}.partial`);
  await rm(staging, { recursive: true, force: true });
  try {
    await mkdir(staging, { recursive: true });
    const ensemble = JSON.parse(await readFile(join(parent.dir, ENSEMBLE_FILE), 'utf8')) as Record<string, unknown>;
    const name = String(ensemble.name);
    await writeFile(
      join(staging, ENSEMBLE_FILE),
      `${JSON.stringify(
        {
          ...ensemble,
          name: name.includes('calibrated on local data') ? name : `${name}, calibrated on local data`,
          version,
          calibration,
        },
        null,
        2,
      )}\n`,
    );
    for (const [index, member] of parent.members.entries()) {
      const folder = join(staging, parent.ensemble.members[index]);
      await mkdir(folder);
      // The manifest as written (not as parsed, which fills defaults), with new operating points.
      const manifest = JSON.parse(await readFile(join(member.dir, MANIFEST_FILE), 'utf8')) as {
        labels: Array<{ term: string; tree: Tree; trained: boolean; operatingPoint: number | null }>;
      };
      for (const label of manifest.labels) {
        const threshold = thresholds.get(findingKey(label));
        if (threshold === undefined || !label.trained || label.operatingPoint === null) continue;
        label.operatingPoint = uncalibrate(threshold, label.operatingPoint);
      }
      await writeFile(join(folder, MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
      await copyFile(member.onnxPath, join(folder, basename(member.onnxPath)));
    }
    const gateModel = parent.gate?.model;
    if (gateModel) {
      const folder = join(staging, relative(parent.dir, gateModel.dir));
      await mkdir(folder, { recursive: true });
      await copyFile(join(gateModel.dir, MANIFEST_FILE), join(folder, MANIFEST_FILE));
      await copyFile(gateModel.onnxPath, join(folder, basename(gateModel.onnxPath)));
    }
    // The pack must load as any pack does (schema, terms, ONNX hashes) before it takes --out.
    await loadPack(staging, checkTerm);
    // Empty or absent when checked; files that arrived since make this fail rather than be lost.
    await rmdir(target).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'ENOENT') throw error;
    });
    await rename(staging, target);
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    if (error instanceof TriageError) throw error;
    throw new TriageError(
      'OUTPUT_FAILED',
      `The calibrated pack could not be written to ${out} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); check the folder and the free space.`,
      { file: out, cause: error },
    );
  }
}

export async function runCalibration(request: CalibrationRequest): Promise<CalibrationRun> {
  const parent = request.engine.pack;
  const target: CalibrationTarget = parseCalibrationTarget(request.target);
  if (parent.ensemble.rule.kind === 'soft-mean') {
    throw new TriageError(
      'USAGE',
      `The pack ${parent.ensemble.id} decides by soft mean, whose one threshold serves every finding; calibrate works on majority, any and all packs.`,
    );
  }
  await refuseExisting(request.out, parent.dir);
  if (request.version === parent.ensemble.version)
    throw new TriageError(
      'USAGE',
      `--version ${request.version} is the parent's own; a calibrated pack needs a version of its own.`,
    );
  const judged = await judgeLabelledImages(request, null);
  if (!judged) return { outcome: 'interrupted' };
  const { taxonomy, labels, collected } = judged;
  const record = packRecord(parent);
  const { terms } = assessedTerms(
    labels,
    collected.images,
    record.models.map((m) => m.id),
  );
  const thresholds: Thresholds = new Map();
  const findings: CalibrationProvenance['findings'] = terms.map((term) => {
    const positives = term.truth.reduce((s, t) => s + t, 0);
    const base = { term: term.term, tree: term.tree, n: term.truth.length, positives };
    const kept = { threshold: null, sensitivity: null, specificity: null, ppv: null };
    if (positives === 0 || positives === term.truth.length) return { ...base, outcome: 'one-class' as const, ...kept };
    const choice = chooseThreshold(term.truth, term.probability, target);
    if (!choice) return { ...base, outcome: 'target-unreachable' as const, ...kept };
    const threshold = thresholdFor(choice.threshold);
    if (threshold === null) return { ...base, outcome: 'target-unreachable' as const, ...kept };
    thresholds.set(findingKey(term), threshold);
    return {
      ...base,
      outcome: 'calibrated' as const,
      threshold,
      sensitivity: choice.sensitivity,
      specificity: choice.specificity,
      ppv: choice.ppv,
    };
  });
  if (thresholds.size === 0) {
    throw new TriageError(
      'NOTHING_TO_EVALUATE',
      `No finding could be calibrated to ${request.target} on ${collected.images.length} labelled images (${findings.map((f) => `${f.term}: ${f.outcome}`).join('; ') || 'no labelled term the pack assesses'}).`,
    );
  }
  const now = request.now ?? new Date();
  const patients = new Set(collected.images.map((image) => image.patient).filter((p) => p !== null));
  const calibration: CalibrationProvenance = {
    parent: { id: record.id, version: record.version, fingerprint: record.fingerprint },
    labels: { file: basename(labels.file), sha256: labels.sha256, rows: labels.rows.length },
    images: collected.images.length,
    patients: patients.size > 0 ? patients.size : null,
    target: request.target,
    method: CALIBRATION_METHOD,
    date: now.toISOString(),
    software: SOFTWARE,
    findings,
  };
  const version = request.version ?? defaultVersion(parent.ensemble.version, now);
  await writeDerivedPack(parent, request.out, version, thresholds, calibration, (term, tree) =>
    taxonomy.has(term, tree),
  );
  return { outcome: 'completed', pack: resolve(request.out), version, calibration };
}
