/**
 * The thread layout on the CPU provider: chosen from each stage's measured cost per image, and
 * changed during a run without losing or changing a result. The choices are checked against the
 * costs measured on the build VM (docs/performance.md): a three-DenseNet-121 ensemble costs about
 * 84 ms per image on one thread, a 640-pixel PNG about 8 ms to prepare, a 2,500-pixel DICOM about
 * 26 ms; one DenseNet-121 about 28 ms.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { chooseLayout, Engine, LayoutTuner, predictedRate } from '../../main/engine/index.js';
import type { LayoutChoice, StageCosts, StageTotals, ThreadLayout } from '../../main/engine/index.js';
import { DecodePool } from '../../main/engine/decode-pool.js';
import { InferenceService } from '../../main/inference/service.js';
import { loadPack } from '../../main/packs/load.js';
import { DICOM_FIXTURES } from '../support/fixtures.js';
import { writeDiskPng } from '../support/images.js';
import { threadNiceValues } from '../support/threads.js';
import { scratchDir } from '../support/tools.js';

const CAM_PACK = fileURLToPath(new URL('../fixtures/models/cam-pack/', import.meta.url));
const DEMO = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const scratch = scratchDir('layout');
after(() => scratch.remove());

const oneThreadOneWorker: ThreadLayout = { threads: 1, decodeWorkers: 1 };
const ensemble = (decodeCpuMs: number): StageCosts => ({ decodeCpuMs, inferenceMs: 84, threads: 1 });

describe('choosing the layout from measured costs', () => {
  test('an ensemble on cheap images: every core to inference, one decode worker', () => {
    const choice = chooseLayout(ensemble(8), oneThreadOneWorker, 2);
    assert.deepEqual([choice.threads, choice.decodeWorkers], [2, 1]);
    assert.ok(choice.predicted > 1.5 * choice.current, `${choice.predicted} against ${choice.current}`);
  });

  test('one model on 2,500-pixel DICOMs (the stages cost the same): the even split stays', () => {
    const choice = chooseLayout({ decodeCpuMs: 26, inferenceMs: 28, threads: 1 }, oneThreadOneWorker, 2);
    assert.deepEqual([choice.threads, choice.decodeWorkers], [1, 1]);
    assert.equal(choice.predicted, choice.current);
  });

  test('decoding dearer than inference: the decode workers get the cores', () => {
    const choice = chooseLayout({ decodeCpuMs: 90, inferenceMs: 28, threads: 1 }, oneThreadOneWorker, 2);
    assert.deepEqual([choice.threads, choice.decodeWorkers], [1, 2]);
  });

  test('costs measured on two threads are read as such: the same ensemble on PNGs keeps two threads', () => {
    const onTwo: StageCosts = { decodeCpuMs: 8, inferenceMs: 84 / 1.8, threads: 2 };
    const choice = chooseLayout(onTwo, { threads: 2, decodeWorkers: 1 }, 2);
    assert.deepEqual([choice.threads, choice.decodeWorkers], [2, 1]);
    // And once decoding grows dear (a folder of large DICOMs after the PNGs), the split returns.
    const dear = chooseLayout({ ...onTwo, decodeCpuMs: 120 }, { threads: 2, decodeWorkers: 1 }, 2);
    assert.deepEqual([dear.threads, dear.decodeWorkers], [1, 2]);
  });

  test('a gain under 10 % changes nothing (a change rebuilds the sessions)', () => {
    // One model on PNGs on 2 cores: 2 threads predicts more, but the current layout is close.
    const costs: StageCosts = { decodeCpuMs: 20, inferenceMs: 15.6, threads: 2 };
    const current = { threads: 2, decodeWorkers: 1 };
    const best = Math.max(
      ...[1, 2].flatMap((threads) =>
        [1, 2].map((decodeWorkers) => predictedRate(costs, { threads, decodeWorkers }, 2)),
      ),
    );
    const choice = chooseLayout(costs, current, 2);
    if (best < 1.1 * predictedRate(costs, current, 2)) assert.deepEqual([choice.threads, choice.decodeWorkers], [2, 1]);
    assert.ok(choice.predicted >= choice.current);
  });

  test('the predicted rate is bounded by each stage and by the cores', () => {
    const costs: StageCosts = { decodeCpuMs: 10, inferenceMs: 30, threads: 1 };
    // One thread, one worker: inference (33.3/s) is the bound.
    assert.equal(predictedRate(costs, oneThreadOneWorker, 2).toFixed(2), (1000 / 30).toFixed(2));
    // On one core both stages share it: 1000 / (10 + 30) = 25/s.
    assert.equal(predictedRate(costs, oneThreadOneWorker, 1), 25);
    // Sixteen cores, one decode worker: decoding (100/s) bounds before inference on 16 threads.
    assert.equal(predictedRate(costs, { threads: 16, decodeWorkers: 1 }, 16), 100);
  });
});

describe('the tuner', () => {
  const totals = (images: number, cpuPerFile: number, runPerImage: number): StageTotals => ({
    preparedFiles: images,
    preparedCpuMs: images * cpuPerFile,
    inferredImages: images,
    runMs: images * runPerImage,
  });

  test('skips the first batch on a layout, waits for a window, then decides once and holds', () => {
    const tuner = new LayoutTuner(oneThreadOneWorker, 2, 32);
    // The first batch: sessions set up their memory; not counted whatever it cost.
    const first = 8 * 500;
    const at = (images: number) => ({ ...totals(images, 8, 84), runMs: first + (images - 8) * 84 });
    assert.equal(tuner.observe({ ...totals(8, 8, 500) }), null);
    for (let images = 16; images < 40; images += 8) assert.equal(tuner.observe(at(images)), null);
    const choice = tuner.observe(at(40));
    assert.ok(choice, 'a decision after 32 images past the first batch');
    assert.deepEqual([choice.threads, choice.decodeWorkers], [2, 1]);
    assert.deepEqual(tuner.current, { threads: 2, decodeWorkers: 1 });
    // On the new layout the same images cost what two threads give: no further change.
    let images = 40;
    let again: LayoutChoice | null = null;
    for (let batch = 0; batch < 12; batch++) {
      images += 8;
      again ??= tuner.observe({ ...totals(images, 8, 0), runMs: at(40).runMs + (images - 40) * (84 / 1.8) });
    }
    assert.equal(again, null);
  });

  test('measurements that say nothing (no run time) choose nothing', () => {
    const tuner = new LayoutTuner(oneThreadOneWorker, 2, 8);
    assert.equal(tuner.observe(totals(8, 8, 84)), null);
    assert.equal(tuner.observe({ ...totals(24, 8, 0), runMs: 8 * 84 }), null);
    assert.deepEqual(tuner.current, oneThreadOneWorker);
  });
});

describe('changing the layout', () => {
  test('setThreads rebuilds the sessions with that many intra-op threads; outputs do not change', async () => {
    const members = ['resnet', 'densenet', 'mobilenet'].map((memberId) => ({
      memberId,
      onnxPath: join(DEMO, memberId, 'model.onnx'),
      inputName: 'input',
      outputNames: ['scores'],
    }));
    const threadCount = () => readdirSync('/proc/self/task').length;
    const input = () => {
      const data = new Float32Array(2 * 224 * 224);
      for (let i = 0; i < data.length; i++) data[i] = ((i * 7919) % 2048) - 1024;
      return { data, dims: [2, 1, 224, 224] };
    };
    const service = await InferenceService.start(members, 'cpu', 1);
    try {
      const before = await Promise.all(members.map((m) => service.run(m.memberId, input())));
      const oneThread = threadCount();
      const ms = await service.setThreads(3);
      assert.ok(ms > 0);
      // onnxruntime's intra-op pool: threads - 1 threads per session, beside the caller's.
      assert.equal(threadCount() - oneThread, 2 * members.length, 'two more threads per session');
      const after = await Promise.all(members.map((m) => service.run(m.memberId, input())));
      for (const [m, result] of after.entries()) {
        const a = before[m].outputs.scores.data;
        const b = result.outputs.scores.data;
        for (let i = 0; i < a.length; i++) assert.ok(Math.abs(a[i] - b[i]) <= 1e-4, `${members[m].memberId}[${i}]`);
      }
      await service.setThreads(1);
      assert.equal(threadCount(), oneThread, 'back to one thread per session');
    } finally {
      await service.close();
    }
  });

  test(
    'the decode pool grows and shrinks while files flow; every file is prepared once',
    { skip: process.platform !== 'linux' && 'the workers are counted by their priority (Linux)' },
    async () => {
      const png = join(scratch.path, 'disk.png');
      writeDiskPng(png, 600, 500, { x: 300, y: 200, radius: 40 });
      const pool = await DecodePool.start({ inputs: [await camInput()], shortSide: 64 }, 1);
      const lowered = () => [...threadNiceValues().values()].filter((nice) => nice === 10).length;
      try {
        const first = Array.from({ length: 12 }, () => pool.prepare(png));
        pool.resize(3);
        const outcomes = await Promise.all(first.map((job) => job.outcome));
        assert.ok(outcomes.every((o) => o.status === 'ok'));
        await until(() => pool.stats.workers === 3);
        assert.equal(lowered(), 3, 'three workers, each below normal priority');
        const second = Array.from({ length: 12 }, () => pool.prepare(png));
        pool.resize(1);
        assert.ok((await Promise.all(second.map((job) => job.outcome))).every((o) => o.status === 'ok'));
        await until(() => pool.stats.workers === 1 && lowered() === 1);
        assert.equal(pool.stats.prepared, 24);
        assert.equal(pool.stats.restarts, 0, 'workers stopped on purpose are not counted as failures');
      } finally {
        await pool.close();
      }
    },
  );

  test('a scan whose layout changes twice gives the results of a fixed layout', async () => {
    const png = join(scratch.path, 'nodule.png');
    const grey = join(scratch.path, 'grey.png');
    writeDiskPng(png, 400, 300, { x: 260, y: 80, radius: 28 });
    writeDiskPng(grey, 400, 300, { x: 0, y: 0, radius: 0, background: 128 });
    const files = Array.from({ length: 48 }, (_, i) =>
      i % 3 === 0 ? png : i % 3 === 1 ? grey : join(DICOM_FIXTURES, 'explicit-le.dcm'),
    );
    const scripted = [
      { threads: 2, decodeWorkers: 2 },
      { threads: 1, decodeWorkers: 1 },
    ];
    let observed = 0;
    const tuner = () => ({
      observe: () => {
        observed++;
        // After the 2nd and the 4th batch.
        const next = observed === 2 ? scripted[0] : observed === 4 ? scripted[1] : null;
        if (!next) return null;
        const costs = { decodeCpuMs: 1, inferenceMs: 1, threads: 1 };
        return { ...next, predicted: 2, current: 1, costs };
      },
    });
    const results = async (engine: Engine) => {
      const out = [];
      for await (const { result } of engine.analyze(files)) out.push(result);
      return out;
    };
    const fixed = await Engine.create({
      models: CAM_PACK,
      provider: 'cpu',
      threads: 1,
      decodeWorkers: 1,
      batchSize: 4,
    });
    const changing = await Engine.create({
      models: CAM_PACK,
      provider: 'cpu',
      threads: 1,
      decodeWorkers: 1,
      batchSize: 4,
      layoutTuner: tuner,
    });
    try {
      const [expected, got] = [await results(fixed), await results(changing)];
      assert.equal(got.length, files.length);
      for (const [i, result] of got.entries()) {
        assert.equal(result.status, expected[i].status, files[i]);
        assert.deepEqual(
          result.findings.map((f) => [f.term, f.positive]),
          expected[i].findings.map((f) => [f.term, f.positive]),
        );
        for (const [k, finding] of result.findings.entries())
          assert.ok(
            Math.abs((finding.probability?.ensemble ?? 0) - (expected[i].findings[k].probability?.ensemble ?? 0)) <=
              1e-5,
            `${i} ${finding.term}`,
          );
      }
      const stats = changing.stats;
      assert.deepEqual(
        stats.layoutChanges.map((c) => [c.threads, c.decodeWorkers, c.afterImages]),
        [
          [2, 2, 4],
          [1, 1, 12],
        ],
      );
      assert.equal(stats.threads, 1);
      assert.equal(stats.decode.prepared, files.length);
      assert.deepEqual(fixed.stats.layoutChanges, []);
    } finally {
      await Promise.all([fixed.close(), changing.close()]);
    }
  });
});

async function camInput() {
  return (await loadPack(CAM_PACK)).members[0].manifest.input;
}

async function until(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const started = Date.now();
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
