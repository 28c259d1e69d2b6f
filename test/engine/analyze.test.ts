/**
 * The engine end to end on real ONNX models (test/fixtures/models, made by make-models.py):
 * votes, the ensemble probability and the indeterminate band, terms no member assesses, roll-up
 * in the PadChest DAG, CAM heatmaps registered through crop and resize, the occlusion fallback,
 * the input gate, provider choice and provenance.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { decode } from 'fast-png';
import { Engine } from '../../main/engine/index.js';
import type { Analysis } from '../../main/engine/index.js';
import { peak } from '../../main/explain/heatmap.js';
import type { MemberManifest } from '../../main/packs/index.js';
import { compileRules, DEFAULT_RULES } from '../../main/triage/index.js';
import { DICOM_FIXTURES } from '../support/fixtures.js';
import { writeDiskPng } from '../support/images.js';
import { scratchDir } from '../support/tools.js';

const MODELS = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
const scratch = scratchDir('engine');
after(() => scratch.remove());

// A 400 x 300 image: the centred square crop is x 50..350, shrunk 300 -> 64 (4.6875 px per input
// pixel). The disk sits where the model input has it at row 16.5, column 44.5.
const SCALE = 300 / 64;
const DISK = { x: 50 + 44.5 * SCALE, y: 16.5 * SCALE, radius: 6 * SCALE };
const diskFile = join(scratch.path, 'disk.png');
const greyFile = join(scratch.path, 'grey.png');

async function analyzeAll(engine: Engine, files: string[], heatmapsDir?: string): Promise<Analysis[]> {
  const out: Analysis[] = [];
  for await (const analysis of engine.analyze(files, { heatmapsDir })) out.push(analysis);
  return out;
}

before(() => {
  writeDiskPng(diskFile, 400, 300, DISK);
  writeDiskPng(greyFile, 400, 300, { x: 0, y: 0, radius: 0, background: 128 });
});

describe('CAM ensemble (3 members)', () => {
  let engine: Engine;
  before(async () => {
    engine = await Engine.create({ models: join(MODELS, 'cam-pack'), provider: 'cpu', threads: 1 });
  });
  after(() => engine.close());

  test('a bright nodule-like disk: 3 of 3 vote nodule; parents rolled up; provenance complete', async () => {
    const [analysis] = await analyzeAll(engine, [diskFile]);
    const { result } = analysis;
    assert.equal(result.status, 'ok');
    assert.equal(result.executionProvider, 'cpu');
    assert.deepEqual(
      result.models.map((m) => [m.id, m.version]),
      [
        ['alpha', '1.0.0'],
        ['beta', '1.1.0'],
        ['gamma', '0.9.0'],
      ],
    );
    assert.ok(result.models.every((m) => /^[0-9a-f]{64}$/.test(m.sha256) && Object.keys(m.operatingPoints).length > 0));
    assert.equal(result.models[2].operatingPoints.Cardiomegaly, undefined, 'the untrained head has no operating point');
    assert.equal(result.notForClinicalUse, true);
    const nodule = result.findings.find((f) => f.term === 'nodule')!;
    assert.equal(nodule.positive, true);
    assert.equal(nodule.direct, true);
    assert.deepEqual(nodule.votes, { positive: 3, total: 3 });
    assert.deepEqual(Object.keys(nodule.perModel).sort(), ['alpha', 'beta', 'gamma']);
    assert.ok(nodule.probability!.min >= 0.5 && nodule.probability!.max <= 1);
    assert.ok(nodule.cui && /^C\d{7}$/.test(nodule.cui));
    assert.deepEqual(nodule.paths, [['radiological finding', 'nodule']]);
    const root = result.findings.find((f) => f.term === 'radiological finding')!;
    assert.equal(root.positive, true, 'the root finding is positive because nodule is');
    assert.equal(root.direct, false);
    assert.ok(root.supportedBy.includes('nodule'));
    assert.equal(result.findings[0].positive, true, 'positive findings come first');
    for (const finding of result.findings.filter((f) => f.positive)) {
      for (const path of finding.paths) {
        for (const ancestor of path.slice(0, -1)) {
          const node = result.findings.find((f) => f.term === ancestor && f.tree === finding.tree);
          assert.ok(node?.positive, `${ancestor} above positive ${finding.term} is positive`);
        }
      }
    }
  });

  test('the number shown is the majority value: the median member value, >= 0.5 exactly when called', async () => {
    const results = (await analyzeAll(engine, [diskFile, greyFile])).map((a) => a.result);
    assert.deepEqual(results[0].pack.indeterminate, { low: 0.4, high: 0.6 }, 'the default band, recorded');
    let called = 0;
    for (const finding of results.flatMap((r) => r.findings).filter((f) => f.direct)) {
      const values = Object.values(finding.perModel).sort((a, b) => b - a);
      // Of 3 members the 2nd largest, of 2 the smaller: the value a majority reaches.
      assert.equal(finding.probability!.ensemble, values[Math.floor(values.length / 2)], finding.term);
      assert.equal(finding.positive, finding.probability!.ensemble >= 0.5, finding.term);
      assert.equal(finding.positive, finding.votes.positive * 2 > finding.votes.total, finding.term);
      const { ensemble } = finding.probability!;
      assert.equal(finding.indeterminate, ensemble >= 0.4 && ensemble < 0.6, finding.term);
      assert.equal(finding.assessed, true);
      if (finding.positive) called++;
    }
    assert.ok(called > 0, 'some finding is called');
  });

  test('partial coverage: the untrained head does not vote', async () => {
    const [{ result }] = await analyzeAll(engine, [diskFile]);
    const cardiomegaly = result.findings.find((f) => f.term === 'cardiomegaly')!;
    assert.equal(cardiomegaly.votes.total, 2);
    assert.deepEqual(Object.keys(cardiomegaly.perModel).sort(), ['alpha', 'beta']);
    assert.equal(cardiomegaly.positive, false);
  });

  test('the heatmap peaks at the disk in original image coordinates (crop and resize undone)', async () => {
    const dir = join(scratch.path, 'heatmaps');
    const [analysis] = await analyzeAll(engine, [diskFile], dir);
    const maps = analysis.heatmaps.get('nodule')!;
    assert.ok(maps, 'a heatmap for the positive finding');
    assert.deepEqual(Object.keys(maps.perModel).sort(), ['alpha', 'beta', 'gamma']);
    for (const [id, map] of [['ensemble', maps.ensemble], ...Object.entries(maps.perModel)] as const) {
      const hottest = peak(map);
      const distance = Math.hypot(hottest.x - DISK.x, hottest.y - DISK.y);
      // Within one CAM cell (8 x 8 grid over 300 px: 37.5 px).
      assert.ok(
        distance < 300 / 8,
        `${id}: peak at (${hottest.x.toFixed(0)}, ${hottest.y.toFixed(0)}), disk at (${DISK.x.toFixed(0)}, ${DISK.y.toFixed(0)})`,
      );
      assert.equal(map.imageColumns, 400);
      assert.equal(map.imageRows, 300);
    }
    // Outside the crop (x < 50 or x >= 350) the models saw nothing.
    const edge = maps.ensemble.data[Math.floor(150 / maps.ensemble.scale) * maps.ensemble.columns + 0];
    assert.equal(edge, 0);
    const path = analysis.result.heatmaps!.nodule;
    assert.ok(existsSync(path));
    const png = decode(readFileSync(path));
    assert.deepEqual([png.width, png.height, png.channels], [400, 300, 4], 'overlay at the original size, RGBA');
    const alphaAt = (x: number, y: number) => png.data[(Math.floor(y) * 400 + Math.floor(x)) * 4 + 3];
    assert.ok(alphaAt(DISK.x, DISK.y) > alphaAt(20, 280), 'opaque over the finding, clear far away');
  });

  test('heatmaps: false (a scan keeping only results) makes no maps and the same results', async () => {
    const [withMaps] = await analyzeAll(engine, [diskFile]);
    const withoutMaps: Analysis[] = [];
    for await (const analysis of engine.analyze([diskFile], { heatmaps: false })) withoutMaps.push(analysis);
    assert.equal(withMaps.heatmaps.size > 0, true, 'maps by default');
    assert.equal(withoutMaps[0].heatmaps.size, 0);
    assert.deepEqual(withoutMaps[0].result.findings, withMaps.result.findings);
    assert.equal(withoutMaps[0].result.heatmaps, undefined);
    // A folder for overlays overrides it: what is written is made.
    const dir = join(scratch.path, 'heatmaps-forced');
    for await (const analysis of engine.analyze([diskFile], { heatmaps: false, heatmapsDir: dir })) {
      assert.ok(analysis.heatmaps.get('nodule'));
      assert.ok(existsSync(analysis.result.heatmaps!.nodule));
    }
  });

  test('a uniform grey image: nothing positive, no heatmaps', async () => {
    const [{ result, heatmaps }] = await analyzeAll(engine, [greyFile]);
    assert.equal(result.status, 'ok');
    assert.ok(result.findings.length > 0);
    assert.ok(result.findings.every((f) => !f.positive));
    assert.equal(heatmaps.size, 0);
  });

  test('batches keep each image its own result', async () => {
    const results = (await analyzeAll(engine, [greyFile, diskFile, greyFile])).map((a) => a.result);
    assert.deepEqual(
      results.map((r) => r.findings.some((f) => f.term === 'nodule' && f.positive)),
      [false, true, false],
    );
  });

  test('the gate rejects lateral, non-chest and non-image DICOMs with a reason; broken files are errors', async () => {
    const files = [
      'lateral.dcm',
      'non-chest.dcm',
      'sr.dcm',
      'ct-no-pixels.dcm',
      'truncated.dcm',
      'explicit-le.dcm',
    ].map((f) => join(DICOM_FIXTURES, f));
    const results = (await analyzeAll(engine, files)).map((a) => a.result);
    assert.equal(results[0].status, 'rejected');
    assert.match(results[0].reason!, /lateral/);
    assert.equal(results[1].status, 'rejected');
    assert.match(results[1].reason!, /body part "HAND"/);
    assert.equal(results[2].status, 'rejected');
    assert.match(results[2].reason!, /not an image/);
    assert.equal(results[3].status, 'rejected');
    assert.equal(results[4].status, 'error');
    assert.equal(results[4].error!.code, 'TRUNCATED');
    assert.equal(results[5].status, 'ok', 'a frontal chest DX passes the gate');
    assert.ok(results[5].sopInstanceUID);
    for (const r of results.slice(0, 5)) assert.deepEqual(r.findings, []);
  });
});

describe('a term no member assesses, and a declared band', () => {
  let engine: Engine;
  before(async () => {
    // The CAM pack with cardiomegaly untrained in every member (gamma's already is) and a band.
    const pack = join(scratch.path, 'unassessed-pack');
    cpSync(join(MODELS, 'cam-pack'), pack, { recursive: true });
    for (const member of ['alpha', 'beta']) {
      const path = join(pack, member, 'manifest.json');
      const manifest = JSON.parse(readFileSync(path, 'utf8')) as MemberManifest;
      const label = manifest.labels.find((l) => l.term === 'cardiomegaly')!;
      Object.assign(label, { trained: false, operatingPoint: null });
      writeFileSync(path, JSON.stringify(manifest));
    }
    const ensemblePath = join(pack, 'ensemble.json');
    const ensemble = JSON.parse(readFileSync(ensemblePath, 'utf8'));
    writeFileSync(ensemblePath, JSON.stringify({ ...ensemble, indeterminate: { low: 0.3, high: 0.95 } }));
    engine = await Engine.create({ models: pack, provider: 'cpu', threads: 1 });
  });
  after(() => engine.close());

  test('is listed as not assessed: never positive, no votes, no probability, last, no heatmap', async () => {
    for (const { result, heatmaps } of await analyzeAll(engine, [diskFile, greyFile])) {
      const cardiomegaly = result.findings.filter((f) => f.term === 'cardiomegaly');
      assert.deepEqual(cardiomegaly, [
        {
          term: 'cardiomegaly',
          cui: cardiomegaly[0].cui,
          tree: 'finding',
          positive: false,
          direct: false,
          assessed: false,
          votes: { positive: 0, total: 0 },
          probability: null,
          indeterminate: false,
          perModel: {},
          supportedBy: [],
          paths: [['radiological finding', 'cardiomegaly']],
        },
      ]);
      assert.match(cardiomegaly[0].cui!, /^C\d{7}$/);
      assert.equal(result.findings.at(-1)!.term, 'cardiomegaly', 'listed after every assessed finding');
      assert.ok(!heatmaps.has('cardiomegaly'));
      assert.ok(result.models.every((m) => m.operatingPoints.Cardiomegaly === undefined));
    }
  });

  test('stays out of triage: an image with only it is normal', async () => {
    const [, grey] = (await analyzeAll(engine, [diskFile, greyFile])).map((a) => a.result);
    assert.ok(grey.findings.every((f) => !f.positive));
    // Even a rule on the term itself does not lift it.
    const rules = compileRules({
      ...DEFAULT_RULES,
      rules: [{ term: 'cardiomegaly', tree: 'finding', priority: 'critical' }],
    });
    assert.equal(rules.prioritize(grey), 'normal');
  });

  test('the declared band is recorded and marks the findings inside it, whatever their call', async () => {
    const [disk, grey] = (await analyzeAll(engine, [diskFile, greyFile])).map((a) => a.result);
    assert.deepEqual(disk.pack.indeterminate, { low: 0.3, high: 0.95 });
    const assessed = [...disk.findings, ...grey.findings].filter((f) => f.direct);
    for (const finding of assessed) {
      const { ensemble } = finding.probability!;
      assert.equal(finding.indeterminate, ensemble >= 0.3 && ensemble < 0.95, `${finding.term} at ${ensemble}`);
    }
    assert.ok(assessed.some((f) => f.indeterminate) && assessed.some((f) => !f.indeterminate), 'both occur');
    // The band does not change a call: the nodule stays positive.
    assert.equal(disk.findings.find((f) => f.term === 'nodule')!.positive, true);
  });
});

describe('occlusion fallback (a member without a CAM output)', () => {
  test('the occlusion map peaks at the disk', async () => {
    const engine = await Engine.create({ models: join(MODELS, 'occlusion-pack'), provider: 'cpu', threads: 1 });
    try {
      const [analysis] = await analyzeAll(engine, [diskFile]);
      const nodule = analysis.result.findings.find((f) => f.term === 'nodule')!;
      assert.deepEqual(nodule.votes, { positive: 1, total: 1 });
      const map = analysis.heatmaps.get('nodule')!.perModel.delta;
      const hottest = peak(map);
      const distance = Math.hypot(hottest.x - DISK.x, hottest.y - DISK.y);
      assert.ok(
        distance < (300 / 8) * 1.5,
        `occlusion peak at (${hottest.x.toFixed(0)}, ${hottest.y.toFixed(0)}), ${distance.toFixed(0)} px from the disk`,
      );
    } finally {
      await engine.close();
    }
  });
});
