/**
 * The image-based gate in the engine: the cam-pack fixture beside a gate model that reconstructs
 * every image (mirror) or none (flat), and member-output checks with ranges set to pass or refuse.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Engine, NO_IMAGE_GATE_NOTE } from '../../main/engine/index.js';
import type { AnalysisResult } from '../../main/domain/index.js';
import { loadPack } from '../../main/packs/index.js';
import type { GateCheck } from '../../main/packs/index.js';
import { writeDiskPng } from '../support/images.js';
import { scratchDir } from '../support/tools.js';

const MODELS = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const scratch = scratchDir('image-gate');
after(() => scratch.remove());
const diskFile = join(scratch.path, 'disk.png');
const greyFile = join(scratch.path, 'grey.png');
let packs = 0;

const chosen = {
  split: 'validation',
  seed: null,
  images: 10,
  rule: 'set by the test',
  rejected: 0,
  chosenBy: 'test/engine/image-gate.test.ts',
};

/** The cam-pack with a gate: `model` (mirror or flat) copied in as `gate` when given. */
function packWithGate(checks: GateCheck[], model?: 'mirror' | 'flat'): string {
  const dir = join(scratch.path, `pack-${packs++}`);
  cpSync(join(MODELS, 'cam-pack'), dir, { recursive: true });
  if (model) cpSync(join(MODELS, 'gate-models', model), join(dir, 'gate'), { recursive: true });
  const ensemble = JSON.parse(readFileSync(join(dir, 'ensemble.json'), 'utf8'));
  writeFileSync(join(dir, 'ensemble.json'), JSON.stringify({ ...ensemble, gate: { description: 'test', checks } }));
  return dir;
}

const ssimAtLeast = (min: number): GateCheck => ({
  kind: 'reconstruction',
  model: 'gate',
  metric: 'ssim',
  accepted: { min, max: null },
  chosen,
});

async function analyse(models: string, imageGate?: 'enforce' | 'measure'): Promise<AnalysisResult[]> {
  const engine = await Engine.create({ models, provider: 'cpu', threads: 1, imageGate });
  try {
    const results: AnalysisResult[] = [];
    for await (const { result } of engine.analyze([diskFile, greyFile])) results.push(result);
    return results;
  } finally {
    await engine.close();
  }
}

before(() => {
  writeDiskPng(diskFile, 400, 300, { x: 258, y: 77, radius: 28 });
  writeDiskPng(greyFile, 400, 300, { x: 0, y: 0, radius: 0, background: 128 });
});

test('a gate model that reconstructs the image lets it through, with its score in the result', async () => {
  const results = await analyse(packWithGate([ssimAtLeast(0.99)], 'mirror'));
  for (const result of results) {
    assert.equal(result.status, 'ok', result.reason);
    assert.deepEqual(result.gate, {
      passed: true,
      checks: [{ check: 'reconstruction-ssim', score: 1, min: 0.99, max: null, passed: true }],
    });
    assert.ok(!result.notes.includes(NO_IMAGE_GATE_NOTE));
  }
  assert.ok(
    results[0].findings.some((f) => f.positive),
    'the disk still has its findings',
  );
});

test('a gate model that reconstructs nothing refuses the image: rejected, why, no findings', async () => {
  const [disk] = await analyse(packWithGate([ssimAtLeast(0.5)], 'flat'));
  assert.equal(disk.status, 'rejected');
  assert.deepEqual(disk.findings, []);
  assert.equal(disk.heatmaps, undefined);
  assert.equal(disk.gate!.passed, false);
  assert.ok(disk.gate!.checks[0].score < 0.5, String(disk.gate!.checks[0].score));
  assert.match(disk.reason!, /reconstruction SSIM is -?0\.\d+, below the accepted 0\.500 \(set by the test\)/);
  // Its provenance stays: the pack and models that refused it.
  assert.deepEqual(
    disk.models.map((m) => m.id),
    ['alpha', 'beta', 'gamma'],
  );
});

test('measuring computes the same scores and refuses nothing', async () => {
  const pack = packWithGate([ssimAtLeast(0.5)], 'flat');
  const [enforced] = await analyse(pack);
  const [measured] = await analyse(pack, 'measure');
  assert.equal(measured.status, 'ok');
  assert.equal(measured.gate!.passed, false);
  assert.equal(measured.gate!.checks[0].score, enforced.gate!.checks[0].score);
});

test("member-output checks read the members' logits: a range around the score passes, one beside it refuses", async () => {
  const [measured] = await analyse(
    packWithGate([
      { kind: 'energy', accepted: { min: -1e9, max: 1e9 }, chosen },
      { kind: 'disagreement', accepted: { min: null, max: 1 }, chosen },
    ]),
  );
  const [energy, disagreement] = measured.gate!.checks.map((c) => c.score);
  assert.ok(energy > 0 && disagreement >= 0 && disagreement <= 1);
  const [refused] = await analyse(
    packWithGate([{ kind: 'energy', accepted: { min: energy + 0.01, max: null }, chosen }]),
  );
  assert.equal(refused.status, 'rejected');
  assert.match(refused.reason!, /joint energy/);
  const [passed] = await analyse(
    packWithGate([{ kind: 'energy', accepted: { min: energy - 0.01, max: energy + 0.01 }, chosen }]),
  );
  assert.equal(passed.status, 'ok');
});

test('a pack without an image-based gate says so in every result', async () => {
  const [result] = await analyse(join(MODELS, 'cam-pack'));
  assert.equal(result.gate, undefined);
  assert.ok(result.notes.includes(NO_IMAGE_GATE_NOTE), result.notes.join('; '));
});

test('pack loading checks the gate: its model folder, manifest, hash and ranges', async () => {
  const ok = await loadPack(packWithGate([ssimAtLeast(0.5)], 'mirror'));
  assert.equal(ok.gate?.model?.manifest.id, 'gate');
  const refuses = async (dir: string, pattern: RegExp) =>
    assert.rejects(loadPack(dir), (error: Error & { code?: string }) => {
      assert.match(error.message, pattern);
      return true;
    });
  await refuses(packWithGate([ssimAtLeast(0.5)]), /Gate model manifest .*gate\/manifest\.json is missing/);
  const changed = packWithGate([ssimAtLeast(0.5)], 'flat');
  writeFileSync(join(changed, 'gate', 'model.onnx'), 'not the model');
  await refuses(changed, /SHA-256/);
  await refuses(
    packWithGate([{ kind: 'energy', accepted: { min: null, max: null }, chosen }]),
    /gate\.checks\[0\]\.accepted: give min, max or both/,
  );
  await refuses(
    packWithGate([{ ...ssimAtLeast(0.5), model: 'alpha' } as GateCheck], 'mirror'),
    /the gate model "alpha" is also a member/,
  );
});
