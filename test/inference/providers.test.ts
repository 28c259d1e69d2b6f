/**
 * Execution providers: auto falls back to the CPU with the reason of every failed provider;
 * an explicitly requested provider that cannot run is an error, never a silent fallback.
 */
import { fileURLToPath } from 'node:url';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { InferenceService } from '../../main/inference/service.js';
import { candidates, kserveEndpoint, providerChoiceProblem } from '../../main/inference/providers.js';
import { setLogSink } from '../../main/log/index.js';

const ALPHA = fileURLToPath(new URL('../fixtures/models/cam-pack/alpha/', import.meta.url));
const SESSION = {
  memberId: 'alpha',
  onnxPath: join(ALPHA, 'model.onnx'),
  inputName: 'input',
  outputNames: ['scores', 'cam'],
};

test('auto tries the platform GPU providers first and ends on the CPU', () => {
  assert.deepEqual(candidates('auto', 'linux'), ['cuda', 'webgpu', 'cpu']);
  assert.deepEqual(candidates('auto', 'win32'), ['cuda', 'dml', 'webgpu', 'cpu']);
  assert.deepEqual(candidates('auto', 'darwin'), ['coreml', 'webgpu', 'cpu']);
  assert.deepEqual(candidates('webgpu', 'linux'), ['webgpu']);
});

test('kserve:URL takes a plain http URL only, and auto never chooses it', () => {
  assert.deepEqual(candidates('kserve:http://10.0.0.5:8000', 'linux'), ['kserve']);
  assert.ok(!candidates('auto', 'linux').includes('kserve'));
  assert.equal(providerChoiceProblem('kserve:http://10.0.0.5:8000'), null);
  assert.equal(kserveEndpoint('kserve:http://triton.example:8000/'), 'http://triton.example:8000');
  assert.equal(kserveEndpoint('kserve:http://proxy.example/triton/'), 'http://proxy.example/triton');
  assert.equal(kserveEndpoint('cuda'), null);
  for (const [value, said] of [
    ['kserve', /needs the server/],
    ['kserve:https://triton.example:8000', /must start with http:\/\//],
    ['kserve:http://user:secret@triton.example', /user name or password/],
    ['kserve:http://triton.example/?model=x', /query or fragment/],
    ['kserve:triton.example:8000', /http:\/\//],
    ['tensorrt', /--ep must be auto, cpu, webgpu, cuda, dml, coreml or kserve:http:\/\/HOST:PORT/],
  ] as const)
    assert.match(providerChoiceProblem(value) ?? '', said, value);
});

test('auto on a machine without a GPU falls back to the CPU and logs why', async () => {
  const lines: string[] = [];
  const previous = setLogSink((line) => lines.push(line));
  process.env.TRIAGE_LOG = 'info';
  try {
    const service = await InferenceService.start([SESSION], 'auto', 1);
    try {
      assert.equal(service.provider, 'cpu');
      assert.deepEqual(
        service.attempts.map((a) => a.provider),
        ['cuda', 'webgpu'],
      );
      assert.ok(service.attempts.every((a) => a.reason.length > 0));
      const logged = lines.map((line) => JSON.parse(line).log);
      assert.equal(logged.filter((l) => l.event === 'provider-fallback').length, 2);
      assert.deepEqual(
        logged.find((l) => l.event === 'provider-selected'),
        { ...logged.find((l) => l.event === 'provider-selected'), provider: 'cpu' },
      );
      // The session runs off this thread and answers with the graph's outputs.
      const input = new Float32Array(2 * 64 * 64).fill(-1024);
      const { outputs } = await service.run('alpha', { data: input, dims: [2, 1, 64, 64] });
      assert.deepEqual(outputs.scores.dims, [2, 4]);
      assert.deepEqual(outputs.cam.dims, [2, 4, 8, 8]);
    } finally {
      await service.close();
    }
  } finally {
    setLogSink(previous);
    delete process.env.TRIAGE_LOG;
  }
});

test('an explicitly requested provider that cannot run is a coded error', async () => {
  await assert.rejects(InferenceService.start([SESSION], 'webgpu', 1), (error: { code?: string; message: string }) => {
    assert.equal(error.code, 'PROVIDER_UNAVAILABLE');
    assert.match(error.message, /webgpu/);
    assert.match(error.message, /--ep auto/);
    return true;
  });
  await assert.rejects(InferenceService.start([SESSION], 'dml', 1), /DirectML exists only on Windows/);
});

test('the event loop keeps running while the worker infers', async () => {
  const service = await InferenceService.start([SESSION], 'cpu', 1);
  try {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const runs = Array.from({ length: 20 }, () =>
      service.run('alpha', { data: new Float32Array(16 * 64 * 64), dims: [16, 1, 64, 64] }),
    );
    await Promise.all(runs);
    clearInterval(timer);
    assert.ok(ticks > 0, 'timers fired during inference');
  } finally {
    await service.close();
  }
});
