/**
 * Chooses the demonstration pack's image-based gate on the validation split, through the
 * product's own Engine: every validation phantom is analysed with the gate measuring only, and
 * each check's accepted range is placed so that it refuses a fixed, small share of them.
 *
 * usage: node --import tsx models/training/choose-gate.ts --data DIR --pack models/packs/demo
 *
 * DIR holds the validation split prepare-dataset.ts wrote (DIR/validation/, validation.files.txt).
 * PACK holds the members and the gate model (PACK/gate, from train_gate.py). Writes the `gate`
 * of PACK/ensemble.json and PACK/evidence/gate-validation.csv (every validation image's scores).
 *
 * The rule, per check: refuse the k most extreme validation phantoms and put the bound half-way
 * between the k-th and the (k+1)-th. The demo pack's gate is the feature distance alone, k = 2 of
 * 1,000 (its highest). The members' joint energy and disagreement were measured as well, on a
 * development set (see models/training/README.md): they refused in-distribution phantoms and
 * nothing the feature distance let through, so the demo pack does not use them; GATE_PLAN takes
 * any check the pack format knows.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Engine } from '../../main/engine/index.js';
import { checkName } from '../../main/gate/index.js';
import { ENSEMBLE_FILE, EnsembleManifestSchema } from '../../main/packs/index.js';
import type { GateCheck, ImageGate } from '../../main/packs/index.js';
import { loadConfig } from './prepare-dataset.js';

/** The checks, each with how many validation phantoms it may refuse at its low and high end. */
type PlannedCheck =
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

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { data: { type: 'string' }, pack: { type: 'string' } } });
  if (!values.data || !values.pack) throw new Error('usage: choose-gate.ts --data DIR --pack PACK');
  const dataDir = resolve(values.data);
  const packDir = resolve(values.pack);
  const config = loadConfig();
  const split = config.splits.validation;
  const files = readFileSync(join(dataDir, 'validation.files.txt'), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((file) => join(dataDir, 'validation', file));
  const ensemblePath = join(packDir, ENSEMBLE_FILE);
  const ensemble = EnsembleManifestSchema.parse(JSON.parse(readFileSync(ensemblePath, 'utf8')));

  // The pack as it is, with every planned check measuring only (a range nothing falls outside).
  const measuring = mkdtempSync(join(tmpdir(), 'choose-gate-'));
  const chosenBy = `${new Date().toISOString().slice(0, 10)}, node models/training/choose-gate.ts (product Engine, CPU)`;
  const placeholder = {
    split: 'validation',
    seed: split.seed,
    images: files.length,
    rule: 'measuring',
    rejected: 0,
    chosenBy,
  };
  const provisional: ImageGate = {
    description: 'measuring',
    checks: GATE_PLAN.map(({ check }): GateCheck => ({
      ...check,
      accepted: { min: -Number.MAX_VALUE, max: Number.MAX_VALUE },
      chosen: placeholder,
    })),
  };
  for (const folder of [...ensemble.members, 'gate']) symlinkSync(join(packDir, folder), join(measuring, folder));
  writeFileSync(join(measuring, ENSEMBLE_FILE), JSON.stringify({ ...ensemble, gate: provisional }));

  const started = performance.now();
  const engine = await Engine.create({ models: measuring, provider: 'cpu', imageGate: 'measure' });
  const scores: number[][] = GATE_PLAN.map(() => []);
  const rows: string[] = [['file', ...provisional.checks.map(checkName)].join(',')];
  try {
    for await (const { result } of engine.analyze(files)) {
      if (result.status !== 'ok' || !result.gate) {
        throw new Error(
          `${result.file}: ${result.status} (${result.reason ?? ''}); every validation phantom must reach the gate`,
        );
      }
      result.gate.checks.forEach((outcome, i) => scores[i].push(outcome.score));
      rows.push(
        [
          join('validation', result.file.slice(join(dataDir, 'validation').length + 1)),
          ...result.gate.checks.map((c) => c.score),
        ].join(','),
      );
    }
  } finally {
    await engine.close();
    rmSync(measuring, { recursive: true, force: true });
  }
  const seconds = (performance.now() - started) / 1000;

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
  writeFileSync(join(packDir, 'evidence', 'gate-validation.csv'), `${rows.join('\n')}\n`);

  for (const [i, check] of checks.entries()) {
    const sorted = [...scores[i]].sort((a, b) => a - b);
    console.log(
      `${checkName(check)}: validation ${sorted[0].toPrecision(4)} .. ${sorted[sorted.length - 1].toPrecision(4)} (median ${sorted[sorted.length >> 1].toPrecision(4)}); accepted ${JSON.stringify(check.accepted)}; refuses ${check.chosen.rejected}`,
    );
  }
  console.log(`validation: ${refused.size} of ${files.length} phantoms refused by some check; ${seconds.toFixed(1)} s`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
