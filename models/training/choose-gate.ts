/**
 * Chooses a pack's image-based gate through the product's own Engine: images known to be in
 * distribution are analysed with the gate measuring only, and each check's accepted range is placed
 * so that it refuses a fixed, small share of them. Two sources of such images:
 *
 *   node dist/models/training/choose-gate.js --data DIR --pack models/packs/demo
 *   node dist/models/training/choose-gate.js --images DIR --pack PACK [--check NAME[,NAME...]]
 *       [--refuse SHARE] [--model FOLDER]
 *
 * --data: the demonstration pack's validation split. DIR holds the split prepare-dataset.ts wrote
 * (DIR/validation/, validation.files.txt); PACK holds the members and the gate model (PACK/gate,
 * from train_gate.py). Writes the `gate` of PACK/ensemble.json and PACK/evidence/gate-validation.csv
 * (every validation image's scores). The rule, per check: refuse the k most extreme validation
 * phantoms and put the bound half-way between the k-th and the (k+1)-th. The demo pack's gate is
 * the feature distance alone, k = 2 of 1,000 (its highest). The members' joint energy and
 * disagreement were measured as well, on a development set (see models/training/README.md): they
 * refused in-distribution phantoms and nothing the feature distance let through, so the demo pack
 * does not use them; GATE_PLAN takes any check the pack format knows.
 *
 * --images: any pack, e.g. one the TorchXRayVision importer wrote with its autoencoder (--gate ae),
 * whose bound no one can choose without in-distribution images. DIR holds the site's own frontal
 * chest radiographs (DICOM, PNG or JPEG, walked as `triage scan` walks a folder). The checks
 * (--check, default the gate model's: reconstruction-ssim for a reconstruction output,
 * feature-distance for a distance) each refuse k = floor(SHARE x N) of the N images that reach the
 * gate at their unfavourable end (SITE_END), the bound half-way between the k-th and the (k+1)-th
 * most extreme; SHARE (--refuse) is 0.01 unless given, and N must be at least 1 / SHARE. Images the
 * metadata gate refuses (a lateral view, another body part) or that fail are left out and counted.
 * Writes the `gate` of PACK/ensemble.json (replacing any; nothing else in the file changes), with
 * `chosen`: split "site radiographs", seed null, N, the rule, how many it refuses, the date and the
 * command; and PACK/evidence/gate-site.csv (each image's path under DIR and its scores).
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../main/engine/index.js';
import { checkName } from '../../main/gate/index.js';
import { ENSEMBLE_FILE, EnsembleManifestSchema, loadGateModel } from '../../main/packs/index.js';
import type { EnsembleManifest, GateCheck, ImageGate, ThresholdChoice } from '../../main/packs/index.js';
import { walk } from '../../main/scan/index.js';
import { loadConfig } from './prepare-dataset.js';

/** The checks, each with how many validation phantoms it may refuse at its low and high end. */
export type PlannedCheck =
  | { kind: 'feature-distance'; model: string }
  | { kind: 'reconstruction'; model: string; metric: 'ssim' | 'rmse' }
  | { kind: 'energy' }
  | { kind: 'disagreement' };

export const GATE_PLAN: Array<{ check: PlannedCheck; low: number; high: number }> = [
  { check: { kind: 'feature-distance', model: 'gate' }, low: 0, high: 2 },
];

export const GATE_DESCRIPTION =
  "Refuses images unlike the synthetic phantoms the members were trained on: an image whose pooled features in the densenet member lie farther from the training phantoms' than those of all but 2 of 1,000 validation phantoms.";

/** The bound that refuses the `k` lowest (or highest) of `scores`: half-way to the next one. */
export function bound(scores: number[], k: number, end: 'low' | 'high'): number | null {
  if (k === 0) return null;
  const sorted = [...scores].sort((a, b) => (end === 'low' ? a - b : b - a));
  if (k >= sorted.length) throw new Error(`cannot refuse ${k} of ${sorted.length}`);
  return (sorted[k - 1] + sorted[k]) / 2;
}

/**
 * The end of each check's scores where an image unlike the in-distribution ones lies: a poor
 * reconstruction (low SSIM, high RMSE), a large feature distance, low joint energy (Wang et al.
 * 2021: lower for out-of-distribution inputs), wide disagreement.
 */
export const SITE_END: Record<string, 'low' | 'high'> = {
  'reconstruction-ssim': 'low',
  'reconstruction-rmse': 'high',
  'feature-distance': 'high',
  energy: 'low',
  disagreement: 'high',
};

const SITE_WORDING: Record<string, string> = {
  'reconstruction-ssim': "the gate model's reconstruction SSIM is lower",
  'reconstruction-rmse': "the gate model's reconstruction error (RMSE) is higher",
  'feature-distance': "the gate model's feature distance is larger",
  energy: "the members' joint energy is lower",
  disagreement: "the members' disagreement is wider",
};

/** A check by the name results give it (checkName), reading the gate model in folder `model`. */
export function plannedCheck(name: string, model: string): PlannedCheck {
  switch (name) {
    case 'reconstruction-ssim':
      return { kind: 'reconstruction', model, metric: 'ssim' };
    case 'reconstruction-rmse':
      return { kind: 'reconstruction', model, metric: 'rmse' };
    case 'feature-distance':
      return { kind: 'feature-distance', model };
    case 'energy':
    case 'disagreement':
      return { kind: name };
    default:
      throw new Error(`unknown check "${name}": give ${Object.keys(SITE_END).join(', ')}`);
  }
}

/** A share as a percentage, e.g. "1 %". */
function percentOf(share: number): string {
  return `${+(share * 100).toPrecision(6)} %`;
}

/** How many of `images` the share refuses (rounded down); at least one, and fewer than all. */
export function refusedCount(images: number, share: number): number {
  if (!(share > 0 && share < 1)) throw new Error(`--refuse must be a share between 0 and 1, not ${share}`);
  const k = Math.floor(share * images + 1e-9);
  if (k < 1) {
    throw new Error(
      `${images} images cannot place a bound that refuses ${percentOf(share)} of them: give at least ${Math.ceil(1 / share - 1e-9)} (or a larger --refuse)`,
    );
  }
  return k;
}

interface Measured {
  /** Per check, every image's score, in the order of `files`. */
  scores: number[][];
  /** Per image that reached the gate: the file and its scores. */
  files: string[];
  /** Images that did not reach the gate: the reason, and how many. */
  skipped: Map<string, number>;
  seconds: number;
}

/**
 * Every file through the Engine with the pack's checks replaced by `checks`, each measuring only
 * (a range nothing falls outside). `strict`: every image must reach the gate.
 */
async function measure(
  packDir: string,
  ensemble: EnsembleManifest,
  checks: PlannedCheck[],
  files: Iterable<string> | AsyncIterable<string>,
  placeholder: ThresholdChoice,
  strict: boolean,
): Promise<Measured> {
  const measuring = mkdtempSync(join(tmpdir(), 'choose-gate-'));
  const provisional: ImageGate = {
    description: 'measuring',
    checks: checks.map((check): GateCheck => ({
      ...check,
      accepted: { min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
      chosen: placeholder,
    })),
  };
  const models = checks.flatMap((check) => ('model' in check ? [check.model] : []));
  for (const folder of new Set([...ensemble.members, ...models]))
    symlinkSync(join(packDir, folder), join(measuring, folder));
  writeFileSync(join(measuring, ENSEMBLE_FILE), JSON.stringify({ ...ensemble, gate: provisional }));

  const started = performance.now();
  const measured: Measured = { scores: checks.map(() => []), files: [], skipped: new Map(), seconds: 0 };
  try {
    const engine = await Engine.create({ models: measuring, provider: 'cpu', imageGate: 'measure' });
    try {
      for await (const { result } of engine.analyze(files)) {
        if (result.status !== 'ok' || !result.gate) {
          const why = `${result.status}: ${result.reason ?? 'no gate'}`;
          if (strict) throw new Error(`${result.file}: ${why}; every validation phantom must reach the gate`);
          measured.skipped.set(why, (measured.skipped.get(why) ?? 0) + 1);
          continue;
        }
        result.gate.checks.forEach((outcome, i) => measured.scores[i].push(outcome.score));
        measured.files.push(result.file);
      }
    } finally {
      await engine.close();
    }
  } finally {
    rmSync(measuring, { recursive: true, force: true });
  }
  measured.seconds = (performance.now() - started) / 1000;
  return measured;
}

function csv(names: string[], files: string[], scores: number[][]): string {
  const rows = [['file', ...names].join(',')];
  files.forEach((file, image) => rows.push([file, ...scores.map((column) => column[image])].join(',')));
  return `${rows.join('\n')}\n`;
}

function report(checks: GateCheck[], scores: number[][], set: string): void {
  for (const [i, check] of checks.entries()) {
    const sorted = [...scores[i]].sort((a, b) => a - b);
    console.log(
      `${checkName(check)}: ${set} ${sorted[0].toPrecision(4)} .. ${sorted[sorted.length - 1].toPrecision(4)} (median ${sorted[sorted.length >> 1].toPrecision(4)}); accepted ${JSON.stringify(check.accepted)}; refuses ${check.chosen.rejected}`,
    );
  }
}

/** The demonstration pack: the validation phantoms, GATE_PLAN. */
async function chooseOnValidation(dataDir: string, packDir: string): Promise<void> {
  const config = loadConfig();
  const split = config.splits.validation;
  const files = readFileSync(join(dataDir, 'validation.files.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((file) => join(dataDir, 'validation', file));
  const ensemblePath = join(packDir, ENSEMBLE_FILE);
  const ensemble = EnsembleManifestSchema.parse(JSON.parse(readFileSync(ensemblePath, 'utf8')));
  const chosenBy = `${new Date().toISOString().slice(0, 10)}, node models/training/choose-gate.ts (product Engine, CPU)`;
  const placeholder = {
    split: 'validation',
    seed: split.seed,
    images: files.length,
    rule: 'measuring',
    rejected: 0,
    chosenBy,
  };
  const {
    scores,
    files: measuredFiles,
    seconds,
  } = await measure(
    packDir,
    ensemble,
    GATE_PLAN.map(({ check }) => check),
    files,
    placeholder,
    true,
  );

  const refused = new Set<number>();
  const checks = GATE_PLAN.map(({ check, low, high }, i): GateCheck => {
    const min = bound(scores[i], low, 'low');
    const max = bound(scores[i], high, 'high');
    const out = scores[i].flatMap((value, image) =>
      (min !== null && value < min) || (max !== null && value > max) ? [image] : [],
    );
    out.forEach((image) => refused.add(image));
    const sides = [low > 0 ? `${low} below it` : null, high > 0 ? `${high} above it` : null].filter(Boolean);
    return {
      ...check,
      accepted: { min, max },
      chosen: {
        split: 'validation',
        seed: split.seed,
        images: files.length,
        rule: `set on ${files.length.toLocaleString('en')} validation phantoms, seed ${split.seed}, ${sides.join(' and ')}`,
        rejected: out.length,
        chosenBy,
      },
    };
  });
  const gate: ImageGate = { description: GATE_DESCRIPTION, checks };
  const next = EnsembleManifestSchema.parse({ ...ensemble, gate });
  writeFileSync(ensemblePath, `${JSON.stringify(next, null, 2)}\n`);
  mkdirSync(join(packDir, 'evidence'), { recursive: true });
  const names = measuredFiles.map((file) => join('validation', file.slice(join(dataDir, 'validation').length + 1)));
  writeFileSync(
    join(packDir, 'evidence', 'gate-validation.csv'),
    csv(
      GATE_PLAN.map(({ check }) => checkName(check)),
      names,
      scores,
    ),
  );
  report(checks, scores, 'validation');
  console.log(`validation: ${refused.size} of ${files.length} phantoms refused by some check; ${seconds.toFixed(1)} s`);
}

/** Any pack: the site's own radiographs in `imagesDir`, the share `share` refused per check. */
async function chooseOnSiteImages(
  imagesDir: string,
  packDir: string,
  options: { checks?: string; share: number; model: string; command: string },
): Promise<void> {
  const ensemblePath = join(packDir, ENSEMBLE_FILE);
  const raw = JSON.parse(readFileSync(ensemblePath, 'utf8')) as Record<string, unknown>;
  const ensemble = EnsembleManifestSchema.parse(raw);
  let names: string[];
  if (options.checks) {
    names = options.checks.split(',').map((name) => name.trim());
  } else {
    const gateModel = await loadGateModel(join(packDir, options.model)).catch((error: unknown) => {
      throw new Error(
        `${(error as Error).message} Without a gate model, name the checks: --check energy or --check disagreement.`,
      );
    });
    names = [gateModel.manifest.outputs.reconstruction ? 'reconstruction-ssim' : 'feature-distance'];
  }
  const planned = names.map((name) => plannedCheck(name, options.model));
  const chosenBy = `${new Date().toISOString().slice(0, 10)}, ${options.command} (product Engine, CPU)`;
  const placeholder = { split: 'site radiographs', seed: null, images: 1, rule: 'measuring', rejected: 0, chosenBy };
  const unreadable = new Map<string, number>();
  async function* files(): AsyncGenerator<string> {
    for await (const candidate of walk([imagesDir])) {
      if (candidate.kind === 'file') yield candidate.path;
      else unreadable.set(candidate.error.code, (unreadable.get(candidate.error.code) ?? 0) + 1);
    }
  }
  const measured = await measure(packDir, ensemble, planned, files(), placeholder, false);
  for (const [code, count] of unreadable) measured.skipped.set(`unreadable: ${code}`, count);
  const images = measured.files.length;
  const k = refusedCount(images, options.share);
  const percent = percentOf(options.share);

  const refused = new Set<number>();
  const checks = planned.map((check, i): GateCheck => {
    const name = checkName(check);
    const end = SITE_END[name];
    const value = bound(measured.scores[i], k, end);
    const accepted = end === 'low' ? { min: value, max: null } : { min: null, max: value };
    const out = measured.scores[i].flatMap((score, image) =>
      (end === 'low' && score < value!) || (end === 'high' && score > value!) ? [image] : [],
    );
    out.forEach((image) => refused.add(image));
    return {
      ...check,
      accepted,
      chosen: {
        split: 'site radiographs',
        seed: null,
        images,
        rule: `set on ${images.toLocaleString('en')} of this site's frontal chest radiographs, the ${end === 'low' ? 'lowest' : 'highest'} ${percent} (${k}) ${end === 'low' ? 'below' : 'above'} it`,
        rejected: out.length,
        chosenBy,
      },
    };
  });
  const description = `Refuses images unlike this site's own frontal chest radiographs: an image for which ${checks
    .map((check) => SITE_WORDING[checkName(check)])
    .join(
      ', or ',
    )} than for all but ${percent} of the ${images.toLocaleString('en')} site radiographs the bound was chosen on.`;
  const gate: ImageGate = { description, checks };
  if (ensemble.gate)
    console.log(`replacing the gate in ${ensemblePath}: ${ensemble.gate.checks.map(checkName).join(', ')}`);
  // Only the gate changes: the file's other fields stay as written (no defaults filled in).
  const next = { ...raw, gate };
  EnsembleManifestSchema.parse(next);
  writeFileSync(ensemblePath, `${JSON.stringify(next, null, 2)}\n`);
  mkdirSync(join(packDir, 'evidence'), { recursive: true });
  writeFileSync(
    join(packDir, 'evidence', 'gate-site.csv'),
    csv(
      checks.map((check) => checkName(check)),
      measured.files.map((file) => relative(imagesDir, file)),
      measured.scores,
    ),
  );
  report(checks, measured.scores, 'site radiographs');
  const skipped = [...measured.skipped].map(([why, count]) => `${count} ${why}`);
  console.log(
    `site radiographs: ${refused.size} of ${images} refused by some check; ${skipped.length > 0 ? `left out: ${skipped.join('; ')}` : 'none left out'}; ${measured.seconds.toFixed(1)} s`,
  );
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      data: { type: 'string' },
      images: { type: 'string' },
      pack: { type: 'string' },
      check: { type: 'string' },
      refuse: { type: 'string' },
      model: { type: 'string' },
    },
  });
  const usage =
    'usage: choose-gate.js --data DIR --pack PACK, or choose-gate.js --images DIR --pack PACK [--check NAME[,NAME...]] [--refuse SHARE] [--model FOLDER]';
  if (!values.pack || !values.data === !values.images) throw new Error(usage);
  const packDir = resolve(values.pack);
  if (values.data) {
    if (values.check || values.refuse || values.model)
      throw new Error(`--check, --refuse and --model go with --images; ${usage}`);
    await chooseOnValidation(resolve(values.data), packDir);
    return;
  }
  const share = values.refuse === undefined ? 0.01 : Number(values.refuse);
  const command = [
    'node dist/models/training/choose-gate.js',
    `--images ${values.images}`,
    ...(values.check ? [`--check ${values.check}`] : []),
    `--refuse ${share}`,
    ...(values.model ? [`--model ${values.model}`] : []),
  ].join(' ');
  await chooseOnSiteImages(resolve(values.images!), packDir, {
    checks: values.check,
    share,
    model: values.model ?? 'gate',
    command,
  });
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
