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
import ort from 'onnxruntime-node';
import { readRadiograph } from '../../main/ingest/index.js';
import { DEFAULT_PACK, loadPack } from '../../main/packs/index.js';
import { preprocess } from '../../main/preprocess/index.js';
import { packFingerprint, packProvenance } from '../../main/store/index.js';
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
function packWithGate(checks: GateCheck[], model?: 'mirror' | 'flat' | 'broken'): string {
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

/**
 * The members' joint energy for a file, computed here from onnxruntime's own logits (each member
 * run directly on the preprocessed input): the mean over members of the sum over trained labels of
 * log(1 + e^logit).
 */
async function energyOf(models: string, file: string): Promise<number> {
  const pack = await loadPack(models);
  const radiograph = await readRadiograph(file);
  let total = 0;
  for (const member of pack.members) {
    const { input, labels, outputs } = member.manifest;
    const session = await ort.InferenceSession.create(member.onnxPath);
    const tensor = new ort.Tensor('float32', preprocess(radiograph, input).data, [
      1,
      input.channels,
      input.height,
      input.width,
    ]);
    const logits = (await session.run({ [input.name]: tensor }))[outputs.scores.name].data as Float32Array;
    total += labels.reduce((sum, label, k) => (label.trained ? sum + Math.log1p(Math.exp(logits[k])) : sum), 0);
  }
  return total / pack.members.length;
}

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

test('a gate model that outputs NaN fails that image with a coded error, neither refused nor called', async () => {
  const results = await analyse(packWithGate([ssimAtLeast(0.5)], 'broken'));
  for (const result of results) {
    assert.equal(result.status, 'error');
    assert.equal(result.error?.code, 'INFERENCE_FAILED');
    assert.match(result.error!.message, /The gate model gate gave a value that is not a number/);
    assert.deepEqual(result.findings, []);
  }
});

test('measuring computes the same scores and refuses nothing', async () => {
  const pack = packWithGate([ssimAtLeast(0.5)], 'flat');
  const [enforced] = await analyse(pack);
  const [measured] = await analyse(pack, 'measure');
  assert.equal(measured.status, 'ok');
  assert.equal(measured.gate!.passed, false);
  assert.equal(measured.gate!.checks[0].score, enforced.gate!.checks[0].score);
});

test("the energy check scores the members' own logits; a batch of refused and accepted images keeps each its findings", async () => {
  const energyCheck = (min: number): GateCheck => ({ kind: 'energy', accepted: { min, max: null }, chosen });
  const measured = await analyse(packWithGate([energyCheck(-1e9)]));
  const energies = measured.map((r) => r.gate!.checks[0].score);
  const expected = [
    await energyOf(join(MODELS, 'cam-pack'), diskFile),
    await energyOf(join(MODELS, 'cam-pack'), greyFile),
  ];
  energies.forEach((energy, i) =>
    assert.ok(Math.abs(energy - expected[i]) < 1e-4 * Math.max(1, expected[i]), `${energy} against ${expected[i]}`),
  );
  assert.notEqual(energies[0], energies[1]);
  // A bound between the two: the lower-energy image is refused, the other analysed as without a gate.
  const [low, high] = energies[0] < energies[1] ? [0, 1] : [1, 0];
  const mixed = await analyse(packWithGate([energyCheck((energies[0] + energies[1]) / 2)]));
  const ungated = await analyse(join(MODELS, 'cam-pack'));
  assert.equal(mixed[low].status, 'rejected');
  assert.match(mixed[low].reason!, /joint energy/);
  assert.equal(mixed[high].status, 'ok');
  assert.deepEqual(mixed[high].findings, ungated[high].findings);
  assert.equal(mixed[high].file, ungated[high].file);
});

test("a disagreement check reads the members' calibrated values", async () => {
  const [measured] = await analyse(packWithGate([{ kind: 'disagreement', accepted: { min: null, max: 1 }, chosen }]));
  // The spread of each finding's member values, as the result reports them (4 decimals).
  const spreads = measured.findings
    .filter((f) => Object.keys(f.perModel).length >= 2)
    .map((f) => Math.max(...Object.values(f.perModel)) - Math.min(...Object.values(f.perModel)));
  const expected = spreads.reduce((a, b) => a + b, 0) / spreads.length;
  assert.ok(
    Math.abs(measured.gate!.checks[0].score - expected) < 2e-4,
    `${measured.gate!.checks[0].score} against ${expected}`,
  );
});

test('the pack fingerprint follows the gate: its model and bounds, not how they were chosen', async () => {
  const fingerprint = async (dir: string) => packFingerprint(packProvenance(await loadPack(dir)));
  const base = await fingerprint(packWithGate([ssimAtLeast(0.5)], 'mirror'));
  assert.notEqual(await fingerprint(packWithGate([ssimAtLeast(0.6)], 'mirror')), base);
  assert.notEqual(await fingerprint(packWithGate([ssimAtLeast(0.5)], 'flat')), base);
  assert.notEqual(await fingerprint(join(MODELS, 'cam-pack')), base);
  const reworded = { ...ssimAtLeast(0.5), chosen: { ...chosen, rule: 'the same bound, reworded' } };
  assert.equal(await fingerprint(packWithGate([reworded], 'mirror')), base);
});

test('a pack without an image-based gate says so in every result', async () => {
  const [result] = await analyse(join(MODELS, 'cam-pack'));
  assert.equal(result.gate, undefined);
  assert.ok(result.notes.includes(NO_IMAGE_GATE_NOTE), result.notes.join('; '));
});

test("the demo pack's gate model is refused once the member it was cut from has changed", async () => {
  const dir = join(scratch.path, 'demo-copy');
  cpSync(DEFAULT_PACK, dir, { recursive: true });
  const pack = await loadPack(dir);
  assert.deepEqual(pack.gate?.model?.manifest.basedOn, {
    member: 'densenet',
    sha256: pack.members.find((m) => m.manifest.id === 'densenet')!.manifest.onnx.sha256,
  });
  const path = join(dir, 'gate', 'manifest.json');
  const manifest = JSON.parse(readFileSync(path, 'utf8'));
  writeFileSync(path, JSON.stringify({ ...manifest, basedOn: { member: 'densenet', sha256: 'f'.repeat(64) } }));
  await assert.rejects(
    loadPack(dir),
    /made from densenet with SHA-256 f{64}, but that member's ONNX file is now [0-9a-f]{64}: fit the gate again/,
  );
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
