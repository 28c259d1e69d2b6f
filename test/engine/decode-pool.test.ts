/**
 * The decode pool: worker threads that read, decode, gate and preprocess files for the engine.
 * Their model inputs equal those made on the caller's thread, value for value; coded errors and
 * gate rejections cross the thread boundary intact; overlays are drawn and written by the workers;
 * a worker that dies takes only its file with it; and the engine keeps every worker busy without
 * ever holding more files than its bound.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { decode } from 'fast-png';
import { Engine } from '../../main/engine/index.js';
import type { TriageError } from '../../main/errors/index.js';
import { registerMap } from '../../main/explain/heatmap.js';
import { overlayRgba } from '../../main/explain/overlay.js';
import { DecodePool } from '../../main/engine/decode-pool.js';
import { prepareImage } from '../../main/engine/prepare.js';
import type { PreparePlan } from '../../main/engine/prepare.js';
import { loadPack } from '../../main/packs/load.js';
import { DICOM_FIXTURES } from '../support/fixtures.js';
import { fileMeta, imageAttributes, nativePixels, SYNTAX } from '../support/hostile.js';
import { writeDiskPng } from '../support/images.js';
import { threadNiceValues } from '../support/threads.js';
import { scratchDir } from '../support/tools.js';

const CAM_PACK = fileURLToPath(new URL('../fixtures/models/cam-pack/', import.meta.url));
const scratch = scratchDir('decode-pool');
after(() => scratch.remove());

let plan: PreparePlan;
const disk = join(scratch.path, 'disk.png');
const large = join(scratch.path, 'large.png');
before(async () => {
  const pack = await loadPack(CAM_PACK);
  plan = { inputs: pack.members.map((m) => m.manifest.input), shortSide: 64 };
  writeDiskPng(disk, 400, 300, { x: 260, y: 80, radius: 28 });
  // Large enough that its decoding is still under way when its worker is stopped.
  writeDiskPng(large, 3000, 3000, { x: 1500, y: 1500, radius: 300, background: 40 });
});

describe('the decode pool', () => {
  let pool: DecodePool;
  before(async () => {
    pool = await DecodePool.start(plan, 2);
  });
  after(() => pool.close());

  test(
    'the workers run below normal priority, this thread at its own (Linux)',
    { skip: process.platform !== 'linux' && 'per-thread priority is Linux only' },
    () => {
      const nice = threadNiceValues();
      const lowered = [...nice.values()].filter((value) => value === 10).length;
      assert.ok(lowered >= 2, `two decode workers at nice 10, found ${lowered}: ${JSON.stringify([...nice])}`);
      assert.equal(nice.get(process.pid), 0, 'the engine thread keeps normal priority');
    },
  );

  test('model inputs from a worker equal those made on this thread, value for value', async () => {
    for (const file of [
      disk,
      join(DICOM_FIXTURES, 'explicit-le.dcm'),
      join(DICOM_FIXTURES, 'monochrome1.dcm'),
      join(DICOM_FIXTURES, 'j2k-lossless.dcm'),
    ]) {
      const [fromWorker, here] = await Promise.all([pool.prepare(file).outcome, prepareImage(file, plan)]);
      assert.equal(fromWorker.status, 'ok', file);
      assert.equal(here.status, 'ok', file);
      if (fromWorker.status !== 'ok' || here.status !== 'ok') continue;
      assert.equal(fromWorker.inputs.length, 3, 'one input per member');
      for (const [m, input] of fromWorker.inputs.entries()) {
        assert.ok(input.data instanceof Float32Array);
        assert.equal(input.data.length, 64 * 64);
        assert.deepEqual(input.data, here.inputs[m].data, `${file}: member ${m}`);
        assert.deepEqual(input.geometry, here.inputs[m].geometry);
      }
      assert.deepEqual(fromWorker.image, here.image);
      assert.deepEqual(fromWorker.notes, here.notes);
    }
    const summary = await pool.prepare(disk).outcome;
    assert.deepEqual(summary.image && [summary.image.format, summary.image.rows, summary.image.columns], [
      'png',
      300,
      400,
    ]);
  });

  test('coded errors and gate rejections cross the thread boundary', async () => {
    const outcome = (name: string) => pool.prepare(name.startsWith('/') ? name : join(DICOM_FIXTURES, name)).outcome;
    const truncated = await outcome('truncated.dcm');
    assert.equal(truncated.status, 'error');
    assert.equal(truncated.status === 'error' && truncated.error.code, 'TRUNCATED');
    assert.ok(truncated.status === 'error' && truncated.error.message.length > 10);
    const missing = await outcome(join(scratch.path, 'no-such-file.dcm'));
    assert.equal(missing.status === 'error' && missing.error.code, 'FILE_NOT_FOUND');
    const notDicom = await outcome('not-dicom.bin');
    assert.equal(notDicom.status === 'error' && notDicom.error.code, 'NOT_DICOM');
    const lateral = await outcome('lateral.dcm');
    assert.equal(lateral.status, 'rejected');
    assert.match(lateral.status === 'rejected' ? lateral.reason : '', /lateral/);
    assert.ok(lateral.image?.metadata.sopInstanceUID, 'a rejected image still names its instance');
    const report = await outcome('sr.dcm');
    assert.equal(report.status, 'rejected', 'not an image: rejected, not an error');
  });

  test('overlays are drawn and written by a worker; a write that fails is OUTPUT_FAILED', async () => {
    const grid = Float32Array.from({ length: 16 }, (_, i) => i / 15);
    const heatmap = registerMap(
      { rows: 4, columns: 4, data: grid },
      {
        region: { x: 50, y: 0, width: 300, height: 300 },
        inputWidth: 64,
        inputHeight: 64,
        imageRows: 300,
        imageColumns: 400,
      },
    );
    const path = join(scratch.path, 'overlay.png');
    await pool.writeOverlay(heatmap, path);
    const png = decode(readFileSync(path));
    assert.deepEqual([png.width, png.height, png.channels], [400, 300, 4]);
    assert.deepEqual(Buffer.from(png.data as Uint8Array), Buffer.from(overlayRgba(heatmap)));
    await assert.rejects(
      pool.writeOverlay(heatmap, join(scratch.path, 'no', 'such', 'folder', 'x.png')),
      (error: TriageError) => error.code === 'OUTPUT_FAILED' && /ENOENT/.test(error.message),
    );
  });

  test('cancelled files are never decoded', async () => {
    const own = await DecodePool.start(plan, 1);
    try {
      const first = own.prepare(large);
      const waiting = [own.prepare(disk), own.prepare(disk), own.prepare(disk)];
      assert.deepEqual([own.stats.decoding, own.stats.queued], [1, 3]);
      own.cancel(waiting);
      assert.equal(own.stats.queued, 0);
      for (const job of waiting) {
        const outcome = await job.outcome;
        assert.equal(outcome.status, 'error', 'a cancelled job settles');
      }
      assert.equal((await first.outcome).status, 'ok', 'the started one finishes');
      assert.equal(own.stats.prepared, 1);
    } finally {
      await own.close();
    }
  });

  test('a worker that dies while it holds a file fails that file alone and is replaced', async () => {
    const own = await DecodePool.start(plan, 1);
    try {
      const job = own.prepare(large);
      assert.equal(own.stats.decoding, 1);
      // The thread dies as a codec crashing it would: from outside, mid-file.
      await (
        own as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }
      ).slots[0].worker.terminate();
      const outcome = await job.outcome;
      assert.equal(outcome.status, 'error');
      assert.equal(outcome.status === 'error' && outcome.error.code, 'DECODE_FAILED');
      const next = await own.prepare(disk).outcome;
      assert.equal(next.status, 'ok', 'the replacement worker prepares the next file');
      assert.equal(own.stats.restarts, 1);
      assert.equal(own.stats.workers, 1);
    } finally {
      await own.close();
    }
  });
});

describe('the end of the pool', () => {
  test('close() settles the job a worker is running, as INTERNAL, and refuses new ones', async () => {
    const own = await DecodePool.start(plan, 1);
    const job = own.prepare(large);
    const viewer = own.render(large, null).then(
      () => null,
      (error: TriageError) => error,
    );
    assert.equal(own.stats.decoding, 1);
    await own.close();
    const outcome = await job.outcome;
    assert.equal(outcome.status === 'error' && outcome.error.code, 'INTERNAL');
    assert.equal((await viewer)?.code, 'INTERNAL');
    const late = await own.prepare(disk).outcome;
    assert.equal(late.status === 'error' && late.error.code, 'INTERNAL');
  });

  test('close() while a job is exhausting its heap: the job settles, the process goes on', async () => {
    const count = 90_000;
    const many = Buffer.alloc(count * 8);
    for (let i = 0; i < count; i++) {
      many.writeUInt16LE(0x0009, i * 8);
      many.writeUInt16LE(0x1000 + (i % 0xe000), i * 8 + 2);
      many.write('SH', i * 8 + 4, 'latin1');
    }
    const file = join(scratch.path, 'closing-many-elements.dcm');
    writeFileSync(
      file,
      Buffer.concat([fileMeta(SYNTAX.explicitLE), imageAttributes(8, 8, [many]), nativePixels(8, 8)]),
    );
    const own = await DecodePool.start(plan, 1, { heapMb: 16 });
    const job = own.prepare(file);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await own.close();
    const outcome = await job.outcome;
    assert.equal(outcome.status === 'error' && outcome.error.code, 'INTERNAL');
    // An uncaught worker 'error' would have ended this process by now.
    await new Promise((resolve) => setTimeout(resolve, 500));
  });

  test('when no worker can start, the jobs waiting and the jobs after fail at once, until a start succeeds', async () => {
    const own = await DecodePool.start(plan, 1);
    try {
      // From here a new worker's module is missing: the installation is broken.
      (own as unknown as { workerUrl: URL }).workerUrl = new URL('./no-such-decode-worker.js', import.meta.url);
      const job = own.prepare(large);
      const waiting = own.prepare(disk);
      await (
        own as unknown as { slots: Array<{ worker: { terminate(): Promise<number> } }> }
      ).slots[0].worker.terminate();
      assert.equal((await job.outcome).status === 'error', true);
      const queued = await waiting.outcome;
      assert.equal(queued.status === 'error' && queued.error.code, 'INTERNAL');
      const later = await own.prepare(disk).outcome;
      assert.equal(later.status === 'error' && later.error.code, 'INTERNAL');
      assert.match(later.status === 'error' ? later.error.message : '', /could not start/);
      await assert.rejects(own.render(disk, null), (error: TriageError) => error.code === 'INTERNAL');
      // Repaired, and the retry delay past: the next job starts a worker again and is prepared.
      (own as unknown as { workerUrl: URL }).workerUrl = new URL('../../main/engine/decode-worker.ts', import.meta.url);
      (own as unknown as { retryAt: number }).retryAt = 0;
      assert.equal((await own.prepare(disk).outcome).status, 'ok');
      assert.equal(own.stats.workers, 1);
    } finally {
      await own.close();
    }
  });
});

describe('the budget of every job', () => {
  test('a job past its deadline ends its worker with DECODE_TIMEOUT; the next job runs on a new worker', async () => {
    // A 3000 x 3000 PNG takes far longer than 20 ms to decode: a deadline it cannot meet.
    const own = await DecodePool.start(plan, 1, { deadlineMs: 20 });
    try {
      const outcome = await own.prepare(large).outcome;
      assert.equal(outcome.status === 'error' && outcome.error.code, 'DECODE_TIMEOUT');
      assert.equal(own.stats.restarts, 1);
    } finally {
      await own.close();
    }
    const generous = await DecodePool.start(plan, 1);
    try {
      assert.equal((await generous.prepare(large).outcome).status, 'ok', 'within the default deadline');
    } finally {
      await generous.close();
    }
  });

  test("a job that fills its worker's heap ends with DECODE_OUT_OF_MEMORY; the pool goes on", async () => {
    // 90,000 empty private elements (within the structure budget): dicom-parser builds an object
    // for each, more than a 16 MB heap holds.
    const count = 90_000;
    const many = Buffer.alloc(count * 8);
    for (let i = 0; i < count; i++) {
      many.writeUInt16LE(0x0009, i * 8);
      many.writeUInt16LE(0x1000 + (i % 0xe000), i * 8 + 2);
      many.write('SH', i * 8 + 4, 'latin1');
    }
    const file = join(scratch.path, 'many-elements.dcm');
    writeFileSync(
      file,
      Buffer.concat([fileMeta(SYNTAX.explicitLE), imageAttributes(8, 8, [many]), nativePixels(8, 8)]),
    );
    const own = await DecodePool.start(plan, 1, { heapMb: 16 });
    try {
      const outcome = await own.prepare(file).outcome;
      assert.equal(outcome.status === 'error' && outcome.error.code, 'DECODE_OUT_OF_MEMORY');
      assert.equal((await own.prepare(disk).outcome).status, 'ok', 'a new worker prepares the next file');
    } finally {
      await own.close();
    }
  });

  test("the viewer's image and triage decode's outputs come from the pool's workers too", async () => {
    const own = await DecodePool.start(null, 1);
    try {
      const file = join(DICOM_FIXTURES, 'explicit-le.dcm');
      const rendered = await own.render(file, null);
      assert.ok(
        rendered.pixels instanceof ArrayBuffer && rendered.pixels.byteLength === rendered.rows * rendered.columns * 2,
      );
      const decoded = await own.decode(file, { modality: true, display: true });
      assert.equal(decoded.summary.rows, rendered.rows);
      assert.equal(decoded.modality!.byteLength, rendered.rows * rendered.columns * 4);
      assert.deepEqual([...decoded.display!.subarray(1, 4)], [0x50, 0x4e, 0x47], 'a PNG');
      await assert.rejects(
        own.render(join(DICOM_FIXTURES, 'truncated.dcm'), null),
        (error: TriageError) => error.code === 'TRUNCATED',
      );
    } finally {
      await own.close();
    }
  });

  test('a file whose content is no longer the expected one is FILE_CHANGED, for the viewer and for analysis', async () => {
    const own = await DecodePool.start(plan, 1);
    try {
      const copy = join(scratch.path, 'changing.png');
      writeDiskPng(copy, 200, 200, { x: 100, y: 100, radius: 20 });
      const sha256 = createHash('sha256').update(readFileSync(copy)).digest('hex');
      assert.equal((await own.render(copy, sha256)).rows, 200);
      assert.equal((await own.prepare(copy, sha256).outcome).status, 'ok');
      writeDiskPng(copy, 200, 200, { x: 50, y: 50, radius: 20 }); // another image at the same path
      await assert.rejects(own.render(copy, sha256), (error: TriageError) => error.code === 'FILE_CHANGED');
      const outcome = await own.prepare(copy, sha256).outcome;
      assert.equal(outcome.status === 'error' && outcome.error.code, 'FILE_CHANGED');
    } finally {
      await own.close();
    }
  });
});

describe('the engine with a decode pool', () => {
  test('every worker busy, never more files held than the bound, results in the order given', async () => {
    const engine = await Engine.create({
      models: CAM_PACK,
      provider: 'cpu',
      threads: 1,
      batchSize: 4,
      decodeWorkers: 2,
    });
    try {
      const grey = join(scratch.path, 'grey.png');
      writeDiskPng(grey, 400, 300, { x: 0, y: 0, radius: 0, background: 128 });
      const files = Array.from({ length: 40 }, (_, i) =>
        i % 3 === 0 ? disk : i % 3 === 1 ? grey : join(DICOM_FIXTURES, 'truncated.dcm'),
      );
      const results = [];
      for await (const { result } of engine.analyze(files)) results.push(result);
      assert.deepEqual(
        results.map((r) => r.file),
        files,
        'one result per file, in order',
      );
      assert.deepEqual(
        results.map((r) =>
          r.status === 'ok' ? r.findings.some((f) => f.term === 'nodule' && f.positive) : r.error?.code,
        ),
        files.map((_, i) => (i % 3 === 0 ? true : i % 3 === 1 ? false : 'TRUNCATED')),
      );
      const stats = engine.stats;
      assert.equal(stats.decode.workers, 2);
      assert.equal(stats.decode.highWaterDecoding, 2, 'both workers decoded at once, never more');
      assert.ok(
        stats.highWaterOutstanding <= stats.outstandingBound,
        `${stats.highWaterOutstanding} files held, bound ${stats.outstandingBound}`,
      );
      assert.ok(
        stats.outstandingBound < files.length,
        'the bound is below the number of files: they were not all taken in at once',
      );
      assert.equal(stats.images, 40);
      assert.equal(stats.decode.prepared, 40);
    } finally {
      await engine.close();
    }
  });

  test('a consumer that stops early leaves nothing queued, and the engine goes on serving', async () => {
    const engine = await Engine.create({
      models: CAM_PACK,
      provider: 'cpu',
      threads: 1,
      batchSize: 2,
      decodeWorkers: 1,
    });
    try {
      const files = Array.from({ length: 30 }, () => large);
      let seen = 0;
      for await (const analysis of engine.analyze(files)) {
        assert.equal(analysis.result.status, 'ok');
        if (++seen === 2) break;
      }
      assert.equal(engine.stats.decode.queued, 0, 'the files not started were dropped at once');
      assert.ok(engine.stats.decode.prepared < 10, `${engine.stats.decode.prepared} of ${files.length} prepared`);
      const again = [];
      for await (const { result } of engine.analyze([disk, large])) again.push(result.status);
      assert.deepEqual(again, ['ok', 'ok']);
    } finally {
      await engine.close();
    }
  });
});
