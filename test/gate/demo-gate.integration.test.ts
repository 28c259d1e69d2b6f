/**
 * The bundled demonstration pack's image-based gate, on what a user may show it: its own sample
 * phantoms pass; real radiographs (../shared), a phantom turned half round, an inverted phantom
 * and a photograph-like image are refused as out of distribution, with "needs review" in triage.
 */
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { decode, encode } from 'fast-png';
import { OUT_OF_DISTRIBUTION_REASON } from '../../main/common/index.js';
import type { AnalysisResult } from '../../main/domain/index.js';
import { Engine } from '../../main/engine/index.js';
import { DEFAULT_PACK } from '../../main/packs/index.js';
import { resourcePath } from '../../main/resources/index.js';
import { defaultRules } from '../../main/triage/index.js';
import { triage } from '../support/cli.js';
import { SAMPLES_DIR, sampleNames, scratchDir } from '../support/tools.js';

const PHANTOM_SAMPLES = resourcePath('models', 'samples', 'phantoms');
function phantomSamples(): string[] {
  return readdirSync(PHANTOM_SAMPLES)
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .map((f) => join(PHANTOM_SAMPLES, f));
}

const scratch = scratchDir('demo-gate');
after(() => scratch.remove());
const misuses: Record<string, string> = {};
let results: Map<string, AnalysisResult>;

/** Rows turned half round (180 degrees) or values inverted, as a careless export would. */
function transformed(source: string, kind: 'rotated-180' | 'inverted'): string {
  const png = decode(readFileSync(source));
  assert.equal(png.channels, 1, 'the phantom PNG is greyscale');
  const data = png.data;
  const top = png.depth === 16 ? 65535 : 255;
  const out = data.slice();
  for (let i = 0; i < data.length; i++) out[i] = kind === 'inverted' ? top - data[i] : data[data.length - 1 - i];
  const path = join(scratch.path, `${kind}.png`);
  writeFileSync(path, encode({ width: png.width, height: png.height, data: out, depth: png.depth, channels: 1 }));
  return path;
}

before(async () => {
  const phantoms = join(scratch.path, 'phantoms');
  const made = triage([
    'phantom',
    '--count',
    '2',
    '--seed',
    '6555',
    '--out',
    phantoms,
    '--format',
    'png',
    '--jobs',
    '1',
  ]);
  assert.equal(made.status, 0, made.stderr);
  const source = join(
    phantoms,
    readdirSync(phantoms)
      .filter((f) => f.endsWith('.png'))
      .sort()[0],
  );
  misuses['rotated-180'] = transformed(source, 'rotated-180');
  misuses.inverted = transformed(source, 'inverted');
  // Smooth shading with a bright disc: an image, but no chest.
  const side = 256;
  const pixels = new Uint8Array(side * side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++)
      pixels[y * side + x] = (x + y) / 2 + ((x - 90) ** 2 + (y - 120) ** 2 < 1600 ? 80 : 0);
  }
  misuses.shading = join(scratch.path, 'shading.png');
  writeFileSync(misuses.shading, encode({ width: side, height: side, data: pixels, depth: 8, channels: 1 }));

  const files = [
    ...phantomSamples(),
    ...sampleNames()
      .slice(0, 6)
      .map((name) => join(SAMPLES_DIR, name)),
    ...Object.values(misuses),
  ];
  const engine = await Engine.create({ models: DEFAULT_PACK, provider: 'cpu', threads: 1 });
  try {
    results = new Map();
    for await (const { result } of engine.analyze(files, { heatmaps: false })) results.set(result.file, result);
  } finally {
    await engine.close();
  }
});

test("the pack's own sample phantoms pass its gate, with the score in every result", () => {
  for (const file of phantomSamples()) {
    const result = results.get(file)!;
    assert.equal(result.status, 'ok', `${file}: ${result.reason}`);
    assert.equal(result.gate?.passed, true);
    assert.equal(result.gate?.checks[0].check, 'feature-distance');
  }
});

test('real radiographs are refused: out of distribution, no findings, needs review', () => {
  for (const name of sampleNames().slice(0, 6)) {
    const result = results.get(join(SAMPLES_DIR, name))!;
    assert.equal(result.status, 'rejected', `${name} was analysed`);
    assert.ok(result.reason!.startsWith(OUT_OF_DISTRIBUTION_REASON), result.reason);
    assert.match(result.reason!, /feature distance from the training images is [\d.]+, above the accepted [\d.]+/);
    assert.deepEqual(result.findings, []);
    const { max } = result.gate!.checks[0];
    assert.ok(result.gate!.checks[0].score > max!, 'the score lies beyond the bound');
    assert.equal(defaultRules().prioritize(result), 'needs review');
  }
});

test('a phantom turned half round, an inverted phantom and a shaded disc are refused', () => {
  for (const [kind, file] of Object.entries(misuses)) {
    const result = results.get(file)!;
    assert.equal(result.status, 'rejected', `${kind} was analysed`);
    assert.ok(result.reason!.startsWith(OUT_OF_DISTRIBUTION_REASON), `${kind}: ${result.reason}`);
  }
});
