/**
 * The TorchXRayVision importer (models/import/). Without the library or its weights, the exporter's
 * --from-architecture mode builds architecture-identical, randomly initialised networks (DenseNet-121
 * for the key "all", ResNet-50) and runs them through the same export and manifest code as the real
 * weights; then onnxruntime-node must agree with torch (verify_export.mjs), and the pack must load
 * with the engine's loader, every label's term checked against the PadChest taxonomy. A stand-in
 * torchxrayvision package (the exporter's own stand-in classes behind the library's entry points)
 * exercises the path for real weights: labels and op_threshs read from the model object, published
 * metrics, a non-demo ensemble.
 *
 * The same export writes TorchXRayVision's autoencoder (ResNetAE 101-elastic, here its
 * architecture-identical stand-in) as the pack's gate model: onnxruntime-node's reconstruction must
 * equal torch's, a bound chosen on a folder of "site radiographs" through the Engine
 * (choose-gate.ts --images) must be recorded with how it was chosen, and the Engine's reconstruction
 * SSIM must equal scikit-image's SSIM of torch's reconstruction of the independently normalised
 * image.
 *
 * Needs Debian's Python with torch, torchvision and onnx; without them the test fails and names the
 * packages (a check that silently skips proves nothing).
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { encode } from 'fast-png';
import type { AnalysisResult } from '../../main/domain/index.js';
import { Engine } from '../../main/engine/index.js';
import { loadGateModel, loadPack } from '../../main/packs/load.js';
import type { EnsembleManifest, MemberManifest } from '../../main/packs/manifest.js';
import { generatePhantom } from '../../main/phantom/index.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import { aptCommand, missingPythonModules, PYTHON, REFERENCE_PYTHON_MODULES } from '../support/reference-tools.js';
import { scratchDir } from '../support/tools.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const IMPORT_DIR = join(ROOT, 'models', 'import');
const EXPORTER = join(IMPORT_DIR, 'export_torchxrayvision.py');
const VERIFIER = join(IMPORT_DIR, 'verify_export.mjs');
const CHOOSE_GATE = join(ROOT, 'dist', 'models', 'training', 'choose-gate.js');
const TIMEOUT = 300_000;

const DENSENET = 'densenet121-res224-all';
const RESNET = 'resnet50-res512-all';
const OUTPUTS = [
  'Atelectasis',
  'Consolidation',
  'Infiltration',
  'Pneumothorax',
  'Edema',
  'Emphysema',
  'Fibrosis',
  'Effusion',
  'Pneumonia',
  'Pleural_Thickening',
  'Cardiomegaly',
  'Nodule',
  'Mass',
  'Hernia',
  'Lung Lesion',
  'Fracture',
  'Lung Opacity',
  'Enlarged Cardiomediastinum',
];
/** densenet121-res224-all's op_threshs (shared/docs/models-notes.md): the stand-ins' operating points. */
const ALL_OP_THRESHS = [
  0.07422872, 0.038290843, 0.09814756, 0.0098118475, 0.023601074, 0.0022490358, 0.010060724, 0.103246614, 0.056810737,
  0.026791653, 0.050318155, 0.023985857, 0.01939503, 0.042889766, 0.053369623, 0.035975814, 0.20204692, 0.05015312,
];

const scratch = scratchDir('xrv-export');
after(() => scratch.remove());
const taxonomy = loadTaxonomy();
const checkTerm = (term: string, tree: 'finding' | 'diagnosis') => taxonomy.has(term, tree);

/** No __pycache__ left in the repository by the stand-in package's import of the exporter. */
const PYTHON_ENV = { ...process.env, PYTHONDONTWRITEBYTECODE: '1' };

function run(command: string, args: string[], env: NodeJS.ProcessEnv = PYTHON_ENV) {
  const started = performance.now();
  const result = spawnSync(command, args, { cwd: ROOT, encoding: 'utf8', timeout: TIMEOUT, env, maxBuffer: 64 << 20 });
  return {
    ...result,
    seconds: (performance.now() - started) / 1000,
    output: `${result.stdout ?? ''}${result.stderr ?? ''}`,
  };
}

/** Debian's Python must have what the exporter imports: fail (not skip) and name the packages. */
function requireTorch(): void {
  const modules = Object.keys(REFERENCE_PYTHON_MODULES).filter((module) => REFERENCE_PYTHON_MODULES[module].tests);
  const missing = missingPythonModules(modules, (code) => run(PYTHON, ['-c', code]).status === 0);
  if (missing.length > 0) {
    const packages = missing.map((module) => REFERENCE_PYTHON_MODULES[module].package);
    assert.fail(
      `${PYTHON} cannot import ${missing.join(', ')}, which the TorchXRayVision exporter needs: ${aptCommand(packages)} (or npm run test:tools).`,
    );
  }
}

let standIns: Promise<string> | undefined;
/** The stand-in pack (exported once, shared by the tests below). */
function standInPack(): Promise<string> {
  standIns ??= Promise.resolve().then(() => {
    requireTorch();
    const dir = join(scratch.path, 'stand-in');
    const exported = run(PYTHON, [
      EXPORTER,
      '--from-architecture',
      '--weights',
      'all,resnet50',
      '--gate',
      'ae',
      '--out',
      dir,
    ]);
    assert.equal(
      exported.status,
      0,
      `the exporter failed (${exported.error?.message ?? `exit ${exported.status}`}):\n${exported.output}`,
    );
    console.log(
      `# exporter (--from-architecture, all + resnet50, --gate ae): ${exported.seconds.toFixed(1)} s\n${exported.stdout.trim().replace(/^/gm, '# ')}`,
    );
    return dir;
  });
  return standIns;
}

function manifestOf(dir: string, member: string): MemberManifest {
  return JSON.parse(readFileSync(join(dir, member, 'manifest.json'), 'utf8')) as MemberManifest;
}

test(
  'the exporter writes a DenseNet-121 and a ResNet-50 member, an ensemble and torch reference outputs',
  { timeout: TIMEOUT },
  async () => {
    const dir = await standInPack();
    for (const member of [DENSENET, RESNET]) {
      assert.ok(existsSync(join(dir, member, 'model.onnx')), `${member}/model.onnx`);
      assert.ok(existsSync(join(dir, member, 'manifest.json')), `${member}/manifest.json`);
    }
    const ensemble = JSON.parse(readFileSync(join(dir, 'ensemble.json'), 'utf8'));
    assert.deepEqual(ensemble.members, [DENSENET, RESNET]);
    assert.deepEqual(ensemble.rule, { kind: 'majority' });
    assert.equal(ensemble.demo, true, 'random weights: a demonstration pack at most');
    const reference = JSON.parse(readFileSync(join(dir, 'torch-reference.json'), 'utf8'));
    for (const [member, size, cells] of [
      [DENSENET, 224, 7],
      [RESNET, 512, 16],
    ] as const) {
      const ref = reference.members[member];
      assert.deepEqual(ref.input.shape, [2, 1, size, size]);
      assert.equal(ref.logits.length, 2);
      assert.equal(ref.logits[0].length, 18);
      assert.deepEqual(
        [ref.cam.length, ref.cam[0].length, ref.cam[0][0].length, ref.cam[0][0][0].length],
        [2, 18, cells, cells],
      );
      // torch: the wrapper's logits are the library's own (bypassing sigmoid and calibration), and
      // mean(cam) is the logit.
      assert.equal(ref.torchChecks.logitsMinusLibraryLogits, 0);
      assert.ok(ref.torchChecks.calibratedMinusLibraryForward <= 1e-6, JSON.stringify(ref.torchChecks));
      assert.ok(ref.torchChecks.meanCamMinusLogit <= 1e-4, JSON.stringify(ref.torchChecks));
    }
    // The gate model: its folder, torch's reconstruction of the same two inputs, and no gate check
    // (no bound without in-distribution images).
    assert.ok(existsSync(join(dir, 'gate', 'model.onnx')), 'gate/model.onnx');
    assert.equal(ensemble.gate, undefined, 'the exporter invents no gate threshold');
    const gate = reference.gate;
    assert.equal(gate.id, 'gate');
    assert.deepEqual(gate.input.shape, [2, 1, 224, 224]);
    assert.equal(gate.reconstruction.length, 2 * 224 * 224);
    assert.equal(gate.torchChecks.reconstructionMinusLibraryForward, 0);
  },
);

test(
  'onnxruntime-node agrees with torch on logits and CAM; mean(cam) is the logit; batch is dynamic',
  { timeout: TIMEOUT },
  async () => {
    const dir = await standInPack();
    const summaryPath = join(scratch.path, 'verify.json');
    const verified = run(process.execPath, [VERIFIER, dir, '--json', summaryPath]);
    console.log(`# verifier: ${verified.seconds.toFixed(1)} s\n${verified.stdout.trim().replace(/^/gm, '# ')}`);
    assert.equal(verified.status, 0, verified.output);
    const summary = JSON.parse(readFileSync(summaryPath, 'utf8'));
    assert.equal(summary.ok, true);
    assert.deepEqual(summary.members.map((m: { member: string }) => m.member).sort(), [DENSENET, RESNET]);
    for (const row of summary.members) {
      assert.ok(row.logits <= 1e-4, `${row.member} logits differ by ${row.logits}`);
      assert.ok(row.cam <= row.camLimit, `${row.member} cam differs by ${row.cam} (limit ${row.camLimit})`);
      assert.ok(row.meanCam <= 1e-4, `${row.member} mean(cam) - logit ${row.meanCam}`);
      assert.ok(row.batch <= 1e-4, `${row.member} batch 1 vs batch 2 ${row.batch}`);
    }
    // The DenseNet's CAM agrees to 1e-4 absolutely; the ResNet's 16x16 cells of 2048-channel sums agree
    // to 1e-4 of their largest magnitude (torch's own float32 is 1e-4 away from float64 there).
    assert.ok(summary.members.find((m: { member: string }) => m.member === DENSENET).cam <= 1e-4);
    // The autoencoder's reconstruction (values up to some 4e4 in xrv units; torch's own float32 is
    // 3e-1 from float64 there) within 1e-4 of its largest magnitude, batch 1 as batch 2.
    assert.equal(summary.gate.model, 'gate');
    assert.equal(summary.gate.ok, true);
    assert.ok(summary.gate.reconstruction <= summary.gate.limit, JSON.stringify(summary.gate));
    assert.ok(summary.gate.batch <= summary.gate.limit, JSON.stringify(summary.gate));
  },
);

test('the verifier fails when the torch outputs differ', { timeout: TIMEOUT }, async () => {
  const dir = await standInPack();
  const reference = JSON.parse(readFileSync(join(dir, 'torch-reference.json'), 'utf8'));
  reference.members[DENSENET].logits[1][4] += 1e-3;
  // A reconstruction off by a scale (an export that left the units): 1 % more.
  reference.gate.reconstruction = reference.gate.reconstruction.map((value: number) => value * 1.01);
  const changed = join(scratch.path, 'changed-reference.json');
  writeFileSync(changed, JSON.stringify(reference));
  const verified = run(process.execPath, [VERIFIER, dir, '--reference', changed]);
  assert.equal(verified.status, 1, verified.output);
  assert.match(verified.stdout, new RegExp(`FAIL ${DENSENET}: logits vs torch`));
  assert.match(verified.stdout, /FAIL gate: reconstruction vs torch/);
  assert.match(verified.stdout, new RegExp(`${RESNET}\\s.*\\sok`));
});

test(
  'the pack loads with the engine, every term a PadChest term; manifests say what the exporter mapped',
  { timeout: TIMEOUT },
  async () => {
    const dir = await standInPack();
    const pack = await loadPack(dir, checkTerm);
    assert.deepEqual(
      pack.members.map((m) => m.manifest.id),
      [DENSENET, RESNET],
    );
    for (const member of pack.members) {
      const manifest = member.manifest;
      const resnet = manifest.id === RESNET;
      assert.deepEqual(
        manifest.labels.map((l) => l.name),
        OUTPUTS,
      );
      assert.deepEqual(manifest.input, {
        name: 'input',
        channels: 1,
        height: resnet ? 512 : 224,
        width: resnet ? 512 : 224,
        source: 'display',
        crop: 'center-square',
        resize: 'area',
        normalization: { kind: 'xrv', range: 1024 },
      });
      assert.deepEqual(manifest.outputs, { scores: { name: 'scores', kind: 'logits' }, cam: { name: 'cam' } });
      const untrained = resnet ? ['Lung Lesion', 'Enlarged Cardiomediastinum'] : [];
      manifest.labels.forEach((label, index) => {
        const isTrained = !untrained.includes(label.name);
        assert.equal(label.trained, isTrained, `${manifest.id} ${label.name}.trained`);
        assert.equal(
          label.operatingPoint,
          isTrained ? ALL_OP_THRESHS[index] : null,
          `${manifest.id} ${label.name}.operatingPoint`,
        );
      });
      const term = (name: string) => manifest.labels.find((l) => l.name === name)!;
      assert.deepEqual([term('Effusion').term, term('Effusion').tree], ['pleural effusion', 'finding']);
      assert.deepEqual([term('Emphysema').term, term('Emphysema').tree], ['emphysema', 'diagnosis']);
      assert.deepEqual([term('Lung Opacity').term, term('Lung Opacity').tree], ['increased density', 'finding']);
      assert.equal(manifest.card.notForClinicalUse, true);
      assert.match(manifest.card.license ?? '', /Apache-2\.0/);
      assert.match(manifest.card.citation ?? '', /Cohen.*TorchXRayVision/);
      assert.match(manifest.card.limitations ?? '', /RANDOM WEIGHTS/);
      assert.match(manifest.card.limitations ?? '', /display rendering/);
      assert.deepEqual(manifest.card.metrics, {}, 'random weights have no metrics');
      if (resnet)
        assert.match(
          manifest.card.limitations ?? '',
          /Untrained heads, masked \(never vote\): Lung Lesion, Enlarged Cardiomediastinum/,
        );
    }
    // The gate model: a gate model manifest (GateModelManifestSchema), prepared as the DenseNet is.
    const gate = await loadGateModel(join(dir, 'gate'));
    assert.equal(gate.manifest.id, 'gate');
    assert.deepEqual(gate.manifest.input, pack.members[0].manifest.input);
    assert.deepEqual(gate.manifest.outputs, { reconstruction: { name: 'reconstruction' } });
    assert.match(gate.manifest.architecture, /ResNetAE101.*512x3x3 latent/);
    assert.equal(gate.manifest.card.notForClinicalUse, true);
    assert.match(gate.manifest.card.license ?? '', /Apache-2\.0/);
    assert.match(gate.manifest.card.citation ?? '', /Gifsplanation.*arxiv\.org\/abs\/2102\.09475/);
    assert.match(gate.manifest.card.limitations ?? '', /RANDOM WEIGHTS/);
    assert.match(gate.manifest.card.limitations ?? '', /choose-gate\.ts --images/);
  },
);

const SITE_SEED = 7070;
const SIDE = 224;

/**
 * A 224 x 224 8-bit grey PNG: the centre of a phantom rendered at 280 pixels, so that the engine
 * neither crops nor resizes it: its gate input is the display rendering of each pixel, normalised.
 */
function writeSiteRadiograph(path: string, index: number): void {
  const phantom = generatePhantom(SITE_SEED, index, { format: 'png', size: 280, bitsStored: 8 });
  const { rows, columns } = phantom;
  assert.ok(rows >= SIDE && columns >= SIDE, `phantom ${index} is ${columns} x ${rows}`);
  const top = (rows - SIDE) >> 1;
  const left = (columns - SIDE) >> 1;
  const data = new Uint8Array(SIDE * SIDE);
  for (let y = 0; y < SIDE; y++) {
    for (let x = 0; x < SIDE; x++) data[y * SIDE + x] = phantom.stored[(top + y) * columns + left + x];
  }
  writeFileSync(path, encode({ width: SIDE, height: SIDE, data, depth: 8, channels: 1 }));
}

/**
 * torch and scikit-image, independently of the engine: the exporter's stand-in rebuilt from its seed
 * (checked against the reconstruction torch recorded at export, relative to its largest value), each
 * PNG rendered and normalised by the standards' formulas, and structural_similarity (Gaussian weights, sigma 1.5, population covariance, data range 2048)
 * between it and torch's reconstruction.
 */
function torchSsim(referencePath: string, files: string[]): { rebuilt: number; ssim: Record<string, number> } {
  const script = `
import json, sys
import numpy as np, torch
from skimage.io import imread
from skimage.metrics import structural_similarity
import export_torchxrayvision as exporter
gate = json.load(open(sys.argv[1]))["gate"]
model = exporter.build_gate_stand_in(gate["key"], gate["standInSeed"])
with torch.no_grad():
    again = model(exporter.reference_inputs(2, 224))["out"].flatten().numpy()
recorded = np.array(gate["reconstruction"], dtype=np.float32)
rebuilt = float(np.abs(again - recorded).max() / max(1.0, np.abs(recorded).max()))
images = [imread(f) for f in sys.argv[2:]]
assert all(im.dtype == np.uint8 and im.shape == (224, 224) for im in images)
# The display rendering: DICOM's linear VOI function (PS3.3 C.11.2.1.2.1) with an 8-bit image's own
# window (centre 128, width 256), floored to a level; then TorchXRayVision's (2 v / 255 - 1) * 1024.
levels = [np.floor(np.clip(((im.astype(np.float64) - 127.5) / 255 + 0.5) * 255, 0, 255)) for im in images]
x = np.stack([(2 * level / 255 - 1) * 1024 for level in levels]).astype(np.float32)[:, None]
with torch.no_grad():
    r = model(torch.from_numpy(x))["out"].numpy()
ssim = {f: structural_similarity(a[0].astype(np.float64), b[0].astype(np.float64), data_range=2048,
                                 gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
        for f, a, b in zip(sys.argv[2:], x, r)}
print(json.dumps({"rebuilt": rebuilt, "ssim": ssim}))
`;
  const env = { ...PYTHON_ENV, PYTHONPATH: IMPORT_DIR };
  const result = run(PYTHON, ['-c', script, referencePath, ...files], env);
  assert.equal(result.status, 0, result.output);
  return JSON.parse(result.stdout) as { rebuilt: number; ssim: Record<string, number> };
}

test(
  "a bound chosen on the site's radiographs through the Engine; its reconstruction SSIM is scikit-image's on torch's reconstruction",
  { timeout: TIMEOUT },
  async () => {
    const dir = await standInPack();
    // The exported pack as a site receives it (its folders linked, ensemble.json copied).
    const site = join(scratch.path, 'site-pack');
    mkdirSync(site);
    for (const folder of [DENSENET, RESNET, 'gate']) symlinkSync(join(dir, folder), join(site, folder));
    writeFileSync(join(site, 'ensemble.json'), readFileSync(join(dir, 'ensemble.json')));
    const images = join(scratch.path, 'site-radiographs');
    mkdirSync(images);
    const files = [0, 1, 2, 3, 4].map((index) => join(images, `radiograph-${index}.png`));
    files.forEach((file, index) => writeSiteRadiograph(file, index));
    writeFileSync(join(images, 'notes.txt'), 'not a radiograph\n');

    const chosen = run(process.execPath, [CHOOSE_GATE, '--pack', site, '--images', images, '--refuse', '0.2']);
    console.log(
      `# choose-gate --images (5 radiographs, 3 models): ${chosen.seconds.toFixed(1)} s\n${chosen.stdout.trim().replace(/^/gm, '# ')}`,
    );
    assert.equal(chosen.status, 0, chosen.output);
    assert.match(chosen.stdout, /left out: 1 error/);

    const expected = torchSsim(join(dir, 'torch-reference.json'), files);
    // The same network: float32 rounding in the batch-norm pass moves it by 1e-5 of its largest value.
    assert.ok(
      expected.rebuilt <= 1e-4,
      `the rebuilt stand-in differs from the exported one by ${expected.rebuilt} of its largest value`,
    );
    const reference = files.map((file) => expected.ssim[file]);
    const sorted = [...reference].sort((a, b) => a - b);

    // The bound: half-way between the lowest and the second lowest (20 % of 5), with how it was chosen.
    const ensemble = JSON.parse(readFileSync(join(site, 'ensemble.json'), 'utf8')) as EnsembleManifest;
    const check = ensemble.gate!.checks[0];
    assert.equal(ensemble.gate!.checks.length, 1);
    assert.ok(check.kind === 'reconstruction');
    assert.equal(check.model, 'gate');
    assert.equal(check.metric, 'ssim');
    assert.equal(check.accepted.max, null);
    // Scores in results are rounded to 6 decimals.
    assert.ok(
      Math.abs(check.accepted.min! - (sorted[0] + sorted[1]) / 2) <= 2e-6,
      `bound ${check.accepted.min} against ${(sorted[0] + sorted[1]) / 2} from ${JSON.stringify(sorted)}`,
    );
    const today = new Date().toISOString().slice(0, 10);
    assert.deepEqual(check.chosen, {
      split: 'site radiographs',
      seed: null,
      images: 5,
      rule: "set on 5 of this site's frontal chest radiographs, the lowest 20 % (1) below it",
      rejected: 1,
      chosenBy: `${today}, node dist/models/training/choose-gate.js --images ${images} --refuse 0.2 (product Engine, CPU)`,
    });
    assert.equal(ensemble.demo, true);
    assert.equal((ensemble as { indeterminate?: unknown }).indeterminate, undefined, 'nothing but the gate changed');
    const evidence = readFileSync(join(site, 'evidence', 'gate-site.csv'), 'utf8')
      .trim()
      .split('\n');
    assert.equal(evidence[0], 'file,reconstruction-ssim');
    assert.equal(evidence.length, 6);

    // The pack with its gate check loads, and the Engine scores and refuses as the reference says.
    const pack = await loadPack(site, checkTerm);
    assert.equal(pack.gate?.model?.manifest.id, 'gate');
    const engine = await Engine.create({ models: site, provider: 'cpu', threads: 1 });
    const results: AnalysisResult[] = [];
    try {
      for await (const { result } of engine.analyze(files)) results.push(result);
    } finally {
      await engine.close();
    }
    const differences = results.map((result, i) => Math.abs(result.gate!.checks[0].score - reference[i]));
    console.log(
      `# reconstruction SSIM, the engine against torch and scikit-image: ${reference.map((v) => v.toFixed(6)).join(', ')}; max |difference| ${Math.max(...differences).toExponential(1)}`,
    );
    results.forEach((result, i) => {
      const outcome = result.gate!.checks[0];
      assert.equal(outcome.check, 'reconstruction-ssim');
      assert.ok(
        Math.abs(outcome.score - reference[i]) <= 2e-6,
        `${files[i]}: the engine's SSIM ${outcome.score}, torch and scikit-image's ${reference[i]}`,
      );
      const refused = reference[i] === sorted[0];
      assert.equal(result.status, refused ? 'rejected' : 'ok', result.reason);
      if (refused)
        assert.match(result.reason!, /reconstruction SSIM is .*, below the accepted .* \(set on 5 of this site/);
    });
    // The scores span more than the tolerance, so agreement is not agreement on a constant.
    assert.ok(sorted[4] - sorted[0] > 1e-3, JSON.stringify(sorted));
  },
);

test(
  'the path for real weights: labels and op_threshs from the model object, published metrics, a non-demo ensemble',
  { timeout: TIMEOUT },
  async () => {
    requireTorch();
    // A torchxrayvision stand-in package: the library's entry points returning the exporter's stand-in
    // classes (TorchXRayVision's layout: features/classifier or model.fc, targets with "" for untrained
    // heads, op_threshs with NaN).
    const fake = join(scratch.path, 'fake-xrv', 'torchxrayvision');
    mkdirSync(fake, { recursive: true });
    writeFileSync(
      join(fake, '__init__.py'),
      [
        '"""Test stand-in for torchxrayvision: its entry points, random weights."""',
        'import types',
        'import export_torchxrayvision as exporter',
        '__version__ = "0.0.0"',
        'datasets = types.SimpleNamespace(default_pathologies=list(exporter.DEFAULT_PATHOLOGIES))',
        'def _load(weights):',
        '    key = next(k for k, spec in exporter.MODELS.items() if spec["weights"] == weights)',
        '    return exporter.build_stand_in(key, 7 + list(exporter.MODELS).index(key))',
        'models = types.SimpleNamespace(DenseNet=lambda weights: _load(weights), ResNet=lambda weights: _load(weights))',
        'def _autoencoder(weights):',
        '    model = exporter.build_gate_stand_in("ae", 11)',
        '    model.weights = weights',
        '    model.weights_metadata = {"resolution": 224, "image_range": [-1024, 1024]}',
        '    return model',
        'autoencoders = types.SimpleNamespace(ResNetAE=_autoencoder)',
        '',
      ].join('\n'),
    );
    const dir = join(scratch.path, 'real-path');
    const env = { ...PYTHON_ENV, PYTHONPATH: [join(scratch.path, 'fake-xrv'), IMPORT_DIR].join(':') };
    const exported = run(
      PYTHON,
      [EXPORTER, '--weights', 'all,nih', '--members', 'all,nih', '--gate', 'ae', '--out', dir],
      env,
    );
    assert.equal(exported.status, 0, exported.output);
    console.log(`# exporter (stand-in torchxrayvision, all + nih, --gate ae): ${exported.seconds.toFixed(1)} s`);
    const verified = run(process.execPath, [VERIFIER, dir]);
    assert.equal(verified.status, 0, verified.output);

    const pack = await loadPack(dir, checkTerm);
    assert.equal(pack.ensemble.id, 'torchxrayvision');
    assert.equal(pack.ensemble.demo, false);
    assert.deepEqual(pack.ensemble.members, [DENSENET, 'densenet121-res224-nih']);
    const all = manifestOf(dir, DENSENET);
    assert.equal(all.version, '1.0.0+xrv0.0.0');
    assert.equal(all.name, 'TorchXRayVision DenseNet-121 (densenet121-res224-all)');
    assert.match(all.card.trainingData, /^NIH ChestX-ray14, PadChest, CheXpert, MIMIC-CXR/);
    assert.deepEqual((all.card.metrics as { auc: Record<string, Record<string, number>> }).auc.NIH.Cardiomegaly, 0.88);
    assert.doesNotMatch(all.card.limitations ?? '', /RANDOM/);
    const nih = manifestOf(dir, 'densenet121-res224-nih');
    assert.deepEqual(
      nih.labels.filter((l) => !l.trained).map((l) => l.name),
      ['Lung Lesion', 'Fracture', 'Lung Opacity', 'Enlarged Cardiomediastinum'],
    );
    assert.ok(nih.labels.filter((l) => !l.trained).every((l) => l.operatingPoint === null));
    assert.deepEqual(nih.card.metrics, {});
    const gate = await loadGateModel(join(dir, 'gate'));
    assert.equal(gate.manifest.name, 'TorchXRayVision ResNet autoencoder (101-elastic)');
    assert.equal(gate.manifest.version, '1.0.0+xrv0.0.0');
    assert.match(
      gate.manifest.card.trainingData,
      /^NIH ChestX-ray14, PadChest, RSNA Pneumonia, MIMIC-CXR and CheXpert/,
    );
    assert.doesNotMatch(gate.manifest.card.limitations ?? '', /RANDOM/);
    assert.equal(pack.gate, null, 'no gate check until the site chooses its bound');

    // Without the library (and without --from-architecture) the exporter says how to get it.
    const bare = run(PYTHON, ['-c', 'import torchxrayvision']);
    if (bare.status !== 0) {
      const missing = run(PYTHON, [EXPORTER, '--weights', 'all', '--out', join(scratch.path, 'no-library')]);
      assert.equal(missing.status, 1, missing.output);
      assert.match(missing.stderr, /torchxrayvision is not installed: `python -m pip install torchxrayvision onnx`/);
    }
  },
);
