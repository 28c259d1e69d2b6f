/**
 * Image-gate benchmark (not a test): what the demonstration pack's image-based gate costs. The
 * same phantoms through the Engine with the bundled pack, and with a copy of it whose
 * ensemble.json declares no gate (the gate model then never runs), alternately, in one process;
 * CPU provider. Prints medians of images per second and the ratio.
 *
 *   npm run bench:gate     BENCH_ROUNDS=3, BENCH_IMAGES=400 (phantoms of seed 7801, generated here)
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { Engine } from '../../main/engine/index.js';
import { DEFAULT_PACK } from '../../main/packs/index.js';
import { median } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const IMAGES = Number(process.env.BENCH_IMAGES ?? 400);
const BIN = fileURLToPath(new URL('../../bin/triage.js', import.meta.url));

async function imagesPerSecond(models: string, files: string[]): Promise<{ rate: number; refused: number }> {
  const engine = await Engine.create({ models, provider: 'cpu' });
  try {
    let refused = 0;
    const started = performance.now();
    for await (const { result } of engine.analyze(files, { heatmaps: false })) if (result.status !== 'ok') refused++;
    return { rate: files.length / ((performance.now() - started) / 1000), refused };
  } finally {
    await engine.close();
  }
}

const dir = mkdtempSync(join(tmpdir(), 'bench-gate-'));
try {
  execFileSync(
    process.execPath,
    [BIN, 'phantom', '--count', String(IMAGES), '--seed', '7801', '--out', join(dir, 'phantoms'), '--format', 'dicom'],
    {
      stdio: 'ignore',
    },
  );
  const files = readdirSync(join(dir, 'phantoms'))
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => join(dir, 'phantoms', f));
  const ungated = join(dir, 'ungated');
  cpSync(DEFAULT_PACK, ungated, { recursive: true });
  const ensemble = JSON.parse(readFileSync(join(ungated, 'ensemble.json'), 'utf8'));
  delete ensemble.gate;
  writeFileSync(join(ungated, 'ensemble.json'), JSON.stringify(ensemble));

  console.log('# Image-gate benchmark');
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node}; ${new Date().toISOString()}`,
  );
  console.log(
    `${files.length} phantoms (DICOM, seed 7801) per round; demo pack with and without its gate; CPU provider; ${ROUNDS} rounds`,
  );
  const gatedRates: number[] = [];
  const ungatedRates: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const without = await imagesPerSecond(ungated, files);
    const withGate = await imagesPerSecond(DEFAULT_PACK, files);
    ungatedRates.push(without.rate);
    gatedRates.push(withGate.rate);
    console.log(
      `round ${round + 1}: without the gate ${without.rate.toFixed(1)} images/s; with it ${withGate.rate.toFixed(1)} images/s (${withGate.refused} refused)`,
    );
  }
  const a = median(ungatedRates);
  const b = median(gatedRates);
  console.log(`median: without ${a.toFixed(1)} images/s, with ${b.toFixed(1)} images/s; ratio ${(b / a).toFixed(2)}`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
