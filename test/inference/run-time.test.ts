/**
 * What the inference worker reports as a run's time is that run's own `session.run`: runs sent
 * together (a batch's members) execute one after another in the worker, and no run's time counts
 * the runs queued before it. Their times therefore add up to at most the time the caller waited
 * for all of them, however fast or slow the machine.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceService } from '../../main/inference/service.js';

const DEMO = fileURLToPath(new URL('../../models/packs/demo/', import.meta.url));
const MEMBERS = ['resnet', 'densenet', 'mobilenet'].map((memberId) => ({
  memberId,
  onnxPath: join(DEMO, memberId, 'model.onnx'),
  inputName: 'input',
  outputNames: ['scores', 'cam'],
}));

test("a batch's members sent together: their run times add up to at most the wait for all", async () => {
  const service = await InferenceService.start(MEMBERS, 'cpu', 1);
  try {
    for (let round = 0; round < 3; round++) {
      const started = performance.now();
      const results = await Promise.all(
        MEMBERS.map(({ memberId }) =>
          service.run(memberId, { data: new Float32Array(4 * 224 * 224).fill(0.5), dims: [4, 1, 224, 224] }),
        ),
      );
      const waited = performance.now() - started;
      const runMs = results.map((result) => result.runMs);
      assert.ok(
        runMs.every((ms) => ms > 0),
        `run times ${runMs.join(', ')}`,
      );
      const sum = runMs.reduce((a, b) => a + b, 0);
      assert.ok(
        sum <= waited,
        `round ${round}: run times ${runMs.map((ms) => ms.toFixed(1)).join(' + ')} ms = ${sum.toFixed(1)} ms, waited ${waited.toFixed(1)} ms`,
      );
      assert.deepEqual(
        results.map((result) => result.outputs.scores.dims[0]),
        [4, 4, 4],
      );
    }
  } finally {
    await service.close();
  }
});
