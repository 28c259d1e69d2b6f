/**
 * The bundled demonstration pack (models/packs/demo, built by models/training/build-demo-pack.sh):
 * it loads, says everywhere that it is not for clinical use, matches the training configuration,
 * keeps its ONNX files small, carries its evaluation, and runs on phantoms through the Engine.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { Engine } from '../../main/engine/index.js';
import { loadPack } from '../../main/packs/load.js';
import { DEFAULT_PACK } from '../../main/packs/default.js';
import { writePhantomSet } from '../../main/phantom/index.js';
import { loadTaxonomy } from '../../main/taxonomy/index.js';
import { scratchDir } from '../support/tools.js';

const PACK = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const CONFIG = JSON.parse(readFileSync(new URL('../../models/training/config.json', import.meta.url), 'utf8'));
const TERMS: string[] = CONFIG.labels.map((label: { term: string }) => label.term);
/** What training.json records of each member (the part these tests read). */
interface MemberTraining {
  validation: { perLabel: Record<string, { auc: number }> };
}
const TRAINING = JSON.parse(readFileSync(new URL('../../models/packs/demo/training.json', import.meta.url), 'utf8'));
/** train.py's rule, as it recorded it: a head ships trained when its validation AUC is at least this. */
const MIN_TRAINED_AUC: number = TRAINING.ensembleValidation.minTrainedAuc;
/** The findings at least one member ships trained: the ones the pack votes on. */
const COVERED = TERMS.filter((term) =>
  Object.values(TRAINING.members as Record<string, MemberTraining>).some(
    (member) => member.validation.perLabel[term].auc >= MIN_TRAINED_AUC,
  ),
);
const scratch = scratchDir('demo-pack');
after(() => scratch.remove());

test('the demo pack is the default pack and loads: three members, majority vote, demo', async () => {
  assert.equal(join(DEFAULT_PACK, '/'), PACK);
  const taxonomy = loadTaxonomy();
  const pack = await loadPack(PACK, (term, tree) => taxonomy.has(term, tree));
  assert.deepEqual(
    pack.members.map((m) => m.manifest.id),
    ['resnet', 'densenet', 'mobilenet'],
  );
  assert.deepEqual(pack.ensemble.rule, { kind: 'majority' });
  assert.equal(pack.ensemble.demo, true);
  assert.match(pack.ensemble.name, /not for clinical use/i);
  for (const { manifest, onnxPath } of pack.members) {
    assert.ok(statSync(onnxPath).size <= 10 * 1024 * 1024, `${onnxPath} is over 10 MB`);
    assert.deepEqual(manifest.input, CONFIG.input);
    assert.deepEqual(
      manifest.labels.map((label) => label.term),
      TERMS,
    );
    for (const label of manifest.labels) {
      assert.equal(label.tree, 'finding');
      // Trained exactly where validation says the head learned something; masked heads have no
      // operating point and say so in the card.
      const validationAuc = TRAINING.members[manifest.id].validation.perLabel[label.term].auc;
      assert.equal(label.trained, validationAuc >= MIN_TRAINED_AUC, `${manifest.id} ${label.term}`);
      if (label.trained)
        assert.ok(label.operatingPoint !== null && label.operatingPoint > 0 && label.operatingPoint < 1);
      else {
        assert.equal(label.operatingPoint, null);
        assert.match(manifest.card.limitations!, new RegExp(`untrained.*${label.name.toLowerCase()}`));
      }
    }
    assert.deepEqual(manifest.outputs, { scores: { name: 'scores', kind: 'logits' }, cam: { name: 'cam' } });
    assert.equal(manifest.card.notForClinicalUse, true);
    assert.equal(
      manifest.card.intendedUse,
      'Demonstration of the workstation on synthetic phantoms. Not for clinical use.',
    );
    assert.ok(manifest.card.limitations);
    const metrics = manifest.card.metrics as {
      validation?: { meanAuc: number };
      evidence?: { seed: number; meanAuc7: { value: number } };
      test?: unknown;
    };
    assert.ok(metrics.validation && metrics.evidence, 'the card carries validation and held-out evidence metrics');
    assert.equal(metrics.evidence.seed, CONFIG.splits.evidence.seed);
    assert.equal(metrics.test, undefined, 'no figure from seed 3003, which is no longer held out');
    assert.match(manifest.card.trainingData, new RegExp(`evidence phantoms \\(seed ${CONFIG.splits.evidence.seed}\\b`));
  }
});

test('the evaluation, the cards and the README say the same', () => {
  const evaluation = JSON.parse(readFileSync(join(PACK, 'evaluation.json'), 'utf8'));
  const readme = readFileSync(join(PACK, 'README.md'), 'utf8');
  const ci = (i: { value: number; low: number; high: number }) =>
    `${i.value.toFixed(3)} (${i.low.toFixed(3)} to ${i.high.toFixed(3)})`;
  assert.match(readme, /Not for clinical use/);
  assert.equal(evaluation.data.evidence.seed, CONFIG.splits.evidence.seed);
  assert.ok(readme.includes(`seed ${CONFIG.splits.evidence.seed}`));
  assert.ok(readme.includes(`| **ensemble (majority, shipped)** | ${ci(evaluation.figures.ensemble.microF1)} |`));
  for (const id of ['resnet', 'densenet', 'mobilenet']) {
    const manifest = JSON.parse(readFileSync(join(PACK, id, 'manifest.json'), 'utf8'));
    const figures = evaluation.figures.members[id];
    const round4 = (v: number) => Math.round(v * 1e4) / 1e4;
    assert.deepEqual(manifest.card.metrics.evidence.microF1Shipped, {
      value: round4(figures.shipped.microF1.value),
      ci95: [round4(figures.shipped.microF1.low), round4(figures.shipped.microF1.high)],
    });
    assert.equal(manifest.card.metrics.evidence.meanAuc7.value, round4(figures.meanAuc.value));
    assert.ok(readme.includes(`| ${id}, best-F1 points | ${ci(figures.bestF1.microF1)} |`), id);
  }
});

test('the Engine runs the demo pack on phantoms: every finding voted on by three members, heatmaps on the image', async () => {
  const dir = join(scratch.path, 'phantoms');
  await writePhantomSet({ out: dir, count: 3, seed: 3003, format: 'dicom', jobs: 1 });
  const engine = await Engine.create({ models: PACK, provider: 'cpu', threads: 1 });
  try {
    const files = ['phantom-00000.dcm', 'phantom-00001.dcm', 'phantom-00002.dcm'].map((name) => join(dir, name));
    assert.ok(COVERED.length >= 5, 'the pack detects most of its findings');
    let analysed = 0;
    let heatmapCount = 0;
    for await (const { result, image, heatmaps } of engine.analyze(files)) {
      analysed++;
      heatmapCount += heatmaps.size;
      assert.equal(result.status, 'ok', result.reason);
      assert.equal(result.notForClinicalUse, true);
      assert.equal(result.pack.demo, true);
      for (const term of TERMS) {
        const finding = result.findings.find((f) => f.term === term && f.tree === 'finding' && f.direct);
        if (!COVERED.includes(term)) {
          assert.equal(finding, undefined, `${term}: no member trained it, so the pack never reports it`);
          continue;
        }
        assert.ok(finding, term);
        assert.equal(finding.votes.total, 3);
        assert.equal(finding.positive, finding.votes.positive >= 2);
      }
      for (const [term, maps] of heatmaps) {
        assert.ok(COVERED.includes(term));
        assert.equal(maps.ensemble.imageRows, image!.rows);
        assert.equal(maps.ensemble.imageColumns, image!.columns);
      }
    }
    assert.equal(analysed, 3, 'one result per phantom');
    assert.ok(heatmapCount > 0, 'at least one positive finding has its heatmap');
  } finally {
    await engine.close();
  }
});
