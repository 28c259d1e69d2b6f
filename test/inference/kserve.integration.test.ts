/**
 * The kserve provider against a KServe v2 server on 127.0.0.1 (test/support/kserve-server.ts:
 * onnxruntime-node on the CPU behind the documented protocol) serving the demonstration pack's
 * repository as `triage triton-repo` writes it: the members' raw outputs and the findings are
 * bit-identical to the local CPU provider's (batches of 1, 8 and 3); faults (503, a connection
 * reset mid-body, a timeout, a malformed or oversized answer) are retried or fail the batch with
 * a code; a served model whose hash or shapes differ is refused before anything runs; the
 * selftest passes on it. Every request goes to 127.0.0.1; every test is bounded in time.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Engine, KSERVE_NOTE } from '../../main/engine/index.js';
import type { AnalysisResult } from '../../main/domain/index.js';
import { AnalysisResultSchema } from '../../main/domain/index.js';
import { InferenceService, KServeClient, remoteModelOf, writeModelRepository } from '../../main/inference/index.js';
import type { SessionSpec } from '../../main/inference/index.js';
import { DEFAULT_PACK, loadPack } from '../../main/packs/index.js';
import type { ModelPack } from '../../main/packs/index.js';
import { selftestPack } from '../../main/selftest/index.js';
import { scan } from '../../main/scan/index.js';
import { ResultStore } from '../../main/store/index.js';
import { defaultRules } from '../../main/triage/index.js';
import { KServeTestServer, parsePbtxt } from '../support/kserve-server.js';

const PHANTOMS = fileURLToPath(new URL('../../models/samples/phantoms/', import.meta.url));
const FILES = readdirSync(PHANTOMS)
  .filter((name) => name.endsWith('.dcm'))
  .sort()
  .map((name) => join(PHANTOMS, name));
const LIMIT = { timeout: 120_000 };

let pack: ModelPack;
let repository: string;
let server: KServeTestServer;

before(async () => {
  pack = await loadPack(DEFAULT_PACK);
  repository = mkdtempSync(join(tmpdir(), 'triage-triton-repo-'));
  await writeModelRepository(pack, repository);
  server = await KServeTestServer.start(repository);
});

after(async () => {
  await server?.close();
  rmSync(repository, { recursive: true, force: true });
});

/** The sessions as the engine asks for them: every member with its scores and cam, and the gate model. */
function specs(): SessionSpec[] {
  const members = pack.members.map((member) => {
    const outputNames = [
      member.manifest.outputs.scores.name,
      ...(member.manifest.outputs.cam ? [member.manifest.outputs.cam.name] : []),
    ];
    return {
      memberId: member.manifest.id,
      onnxPath: member.onnxPath,
      inputName: member.manifest.input.name,
      outputNames,
      remote: remoteModelOf(member.manifest, outputNames),
    };
  });
  const gate = pack.gate!.model!;
  return [
    ...members,
    {
      memberId: 'gate',
      onnxPath: gate.onnxPath,
      inputName: gate.manifest.input.name,
      outputNames: ['distance'],
      remote: remoteModelOf(gate.manifest, ['distance']),
    },
  ];
}

/** A deterministic input batch of `count` images (values on the xrv scale, [-1024, 1024]). */
function batch(count: number, seed: number): Float32Array {
  const data = new Float32Array(count * 224 * 224);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = ((state >>> 8) / 2 ** 24) * 2048 - 1024;
  }
  return data;
}

const bytes = (data: Float32Array) => Buffer.from(data.buffer, data.byteOffset, data.byteLength);

test(
  'triton-repo: one model per member and the gate, config.pbtxt as the ONNX graph says, hash of the copy',
  LIMIT,
  () => {
    const names = readdirSync(repository).sort();
    assert.deepEqual(names, ['densenet-v1_0_0', 'gate-v1_0_0', 'mobilenet-v1_0_0', 'resnet-v1_0_0']);
    // onnx (Python) reads each copied graph's inputs and outputs on its own: [name, elem_type, dims].
    const script = `
import json, sys, onnx
out = {}
for path in sys.argv[1:]:
    g = onnx.load(path).graph
    t = lambda v: [v.name, v.type.tensor_type.elem_type, [d.dim_value if d.HasField('dim_value') else d.dim_param for d in v.type.tensor_type.shape.dim]]
    out[path] = {'inputs': [t(v) for v in g.input], 'outputs': [t(v) for v in g.output]}
print(json.dumps(out))`;
    const paths = names.map((name) => join(repository, name, '1', 'model.onnx'));
    const graphs = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script, ...paths], { encoding: 'utf8', timeout: 60_000 }),
    ) as Record<
      string,
      { inputs: [string, number, Array<number | string>][]; outputs: [string, number, Array<number | string>][] }
    >;
    for (const [m, name] of names.entries()) {
      const config = parsePbtxt(readFileSync(join(repository, name, 'config.pbtxt'), 'utf8'));
      const file = readFileSync(paths[m]);
      const sha256 = createHash('sha256').update(file).digest('hex');
      assert.equal(config.name, name);
      assert.equal(config.platform, 'onnxruntime_onnx');
      assert.equal(config.max_batch_size, 8);
      assert.deepEqual(config.dynamic_batching, {});
      assert.deepEqual(config.parameters, { key: 'onnx_sha256', value: { string_value: sha256 } });
      const model = [...pack.members.map((member) => member.manifest), pack.gate!.model!.manifest].find((manifest) =>
        name.startsWith(`${manifest.id}-`),
      )!;
      assert.equal(sha256, model.onnx.sha256, `${name}: the copy is the pack's file`);
      const graph = graphs[paths[m]];
      const tensors = (field: 'input' | 'output') => {
        const list = config[field];
        return (Array.isArray(list) ? list : [list]) as Array<{
          name: string;
          data_type: string;
          dims: number[];
          reshape?: { shape: number[] };
        }>;
      };
      for (const [field, declared] of [
        ['input', graph.inputs],
        ['output', graph.outputs],
      ] as const) {
        const written = tensors(field);
        assert.deepEqual(written.map((t) => t.name).sort(), declared.map((t) => t[0]).sort(), `${name} ${field}s`);
        for (const tensor of written) {
          const [, elemType, dims] = declared.find((t) => t[0] === tensor.name)!;
          assert.equal(elemType, 1, 'FLOAT in ONNX');
          assert.equal(tensor.data_type, 'TYPE_FP32');
          assert.equal(typeof dims[0], 'string', 'a symbolic batch dimension');
          // A [batch] output is dims [1] reshaped to [].
          const modelDims = tensor.reshape ? tensor.reshape.shape : tensor.dims;
          assert.deepEqual(modelDims, dims.slice(1), `${name} ${tensor.name}`);
        }
      }
    }
  },
);

test('raw outputs over KServe equal the local CPU session, bit for bit, for batches of 1, 8 and 3', LIMIT, async () => {
  const local = await InferenceService.start(specs(), 'cpu', 1);
  const remote = await InferenceService.start(specs(), `kserve:${server.url}`, 1);
  try {
    assert.equal(remote.provider, 'kserve');
    assert.equal(remote.endpoint, server.url);
    for (const [k, count] of [1, 8, 3].entries()) {
      for (const spec of specs()) {
        const input = batch(count, 17 + k);
        const a = await local.run(spec.memberId, { data: input.slice(), dims: [count, 1, 224, 224] });
        const b = await remote.run(spec.memberId, { data: input.slice(), dims: [count, 1, 224, 224] });
        assert.deepEqual(Object.keys(b.outputs).sort(), Object.keys(a.outputs).sort());
        for (const name of Object.keys(a.outputs)) {
          assert.deepEqual(b.outputs[name].dims, a.outputs[name].dims, `${spec.memberId}.${name} dims, batch ${count}`);
          assert.ok(
            bytes(b.outputs[name].data).equals(bytes(a.outputs[name].data)),
            `${spec.memberId}.${name} bytes, batch ${count}`,
          );
        }
      }
    }
  } finally {
    await Promise.all([local.close(), remote.close()]);
  }
});

/** A result without what names where it ran and how long it took. */
function comparable(result: AnalysisResult): unknown {
  return {
    ...result,
    executionProvider: null,
    notes: result.notes.filter((n) => !n.startsWith(KSERVE_NOTE)),
    timings: null,
  };
}

async function analyseAll(provider: string, files: string[], batchSize: number): Promise<AnalysisResult[]> {
  const engine = await Engine.create({
    models: DEFAULT_PACK,
    provider: provider as never,
    batchSize,
    threads: 1,
    decodeWorkers: 1,
  });
  try {
    const results: AnalysisResult[] = [];
    for await (const { result } of engine.analyze(files)) results.push(result);
    return results;
  } finally {
    await engine.close();
  }
}

test('findings over KServe equal the local CPU provider, batches of 8 and 3, and name the server', LIMIT, async () => {
  const files = FILES.slice(0, 11);
  const before = server.inferRequests;
  const remote = await analyseAll(`kserve:${server.url}`, files, 8);
  // Two batches (8 and 3) of four models: eight requests.
  assert.equal(server.inferRequests - before, 8);
  const local = await analyseAll('cpu', files, 8);
  assert.equal(remote.length, files.length);
  for (const [i, result] of remote.entries()) {
    assert.equal(result.executionProvider, 'kserve');
    assert.ok(result.notes.includes(`${KSERVE_NOTE} ${new URL(server.url).host}`));
    assert.ok(AnalysisResultSchema.safeParse(result).success, 'the result fits the API contract');
    assert.deepEqual(comparable(result), comparable(local[i]), files[i]);
  }
  assert.ok(
    remote.some((r) => r.findings.some((f) => f.positive)),
    'some phantom has a positive finding',
  );
});

/** A client of the server with short bounds, and the resnet member checked. */
async function client(attempts = 3): Promise<{ client: KServeClient; model: string }> {
  const spec = specs()[0].remote!;
  const c = new KServeClient(server.url, { timeoutMs: 1000, attempts, backoffMs: 20 });
  await c.check(spec);
  return { client: c, model: spec.model };
}

test(
  'a 503, a connection reset mid-body and a timeout are retried, and the answer is the right one',
  LIMIT,
  async () => {
    const { client: c, model } = await client();
    const input = batch(2, 5);
    const reference = await c.infer(model, input, [2, 1, 224, 224]);
    for (const fault of ['503', 'reset-mid-body', 'hang'] as const) {
      server.faults.push(fault);
      const before = server.inferRequests;
      const outputs = await c.infer(model, input, [2, 1, 224, 224]);
      assert.equal(server.inferRequests - before, 2, `${fault}: one failure, one retry`);
      assert.equal(server.faults.length, 0);
      for (const name of Object.keys(reference))
        assert.ok(bytes(outputs[name].data).equals(bytes(reference[name].data)), fault);
    }
  },
);

test('a server that keeps failing, or answers malformed, fails the batch with REMOTE_FAILED', LIMIT, async () => {
  const { client: c, model } = await client(3);
  const input = batch(1, 9);
  try {
    server.faults.push('503', '503', '503');
    let before = server.inferRequests;
    await assert.rejects(c.infer(model, input, [1, 1, 224, 224]), (e: { code?: string; message: string }) => {
      assert.equal(e.code, 'REMOTE_FAILED');
      assert.match(e.message, /after 3 tries \(last: HTTP 503 "server busy"\)/);
      return true;
    });
    assert.equal(server.inferRequests - before, 3, 'bounded: three tries');
    for (const fault of ['bad-shape', 'huge', 'redirect'] as const) {
      server.faults.push(fault);
      before = server.inferRequests;
      await assert.rejects(c.infer(model, input, [1, 1, 224, 224]), { code: 'REMOTE_FAILED' });
      assert.equal(server.inferRequests - before, 1, `${fault}: a malformed answer is not retried`);
    }
    assert.equal(server.redirected, 1);
    assert.equal(server.followed, 0, 'a redirect is not followed');
  } finally {
    server.faults.length = 0;
  }
});

test(
  'the engine fails only the batch the server failed, each image with REMOTE_FAILED, and goes on',
  LIMIT,
  async () => {
    // Four models, four tries each: the first batch's every request fails; the second's succeed.
    server.faults.push(...Array<'503'>(16).fill('503'));
    try {
      const results = await analyseAll(`kserve:${server.url}`, FILES.slice(0, 4), 2);
      assert.deepEqual(
        results.map((r) => [r.status, r.error?.code ?? null]),
        [
          ['error', 'REMOTE_FAILED'],
          ['error', 'REMOTE_FAILED'],
          ['ok', null],
          ['ok', null],
        ],
      );
      assert.equal(server.faults.length, 0);
    } finally {
      server.faults.length = 0;
    }
  },
);

test(
  'a scan run again after an outage analyses again the images the server failed, and only those',
  LIMIT,
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'triage-kserve-scan-'));
    try {
      const folder = join(dir, 'in');
      mkdirSync(folder);
      for (const file of FILES.slice(0, 4)) copyFileSync(file, join(folder, basename(file)));
      const database = join(dir, 'results.sqlite');
      const scanOnce = async () => {
        const engine = await Engine.create({
          models: DEFAULT_PACK,
          provider: `kserve:${server.url}` as never,
          batchSize: 2,
          threads: 1,
          decodeWorkers: 1,
        });
        const store = ResultStore.open(database);
        try {
          return await scan({ roots: [folder], engine, store, rules: defaultRules() });
        } finally {
          store.close();
          await engine.close();
        }
      };
      // The first batch's every try fails: its two images are stored as REMOTE_FAILED.
      server.faults.push(...Array<'503'>(16).fill('503'));
      const first = await scanOnce();
      assert.equal(server.faults.length, 0);
      assert.equal(first.errors, 2);
      const second = await scanOnce();
      assert.equal(second.analysed, 2, 'the two failed images are analysed again');
      assert.equal(second.unchanged, 2, 'the two analysed ones are not');
      assert.equal(second.errors, 0);
    } finally {
      server.faults.length = 0;
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test('a served model whose hash, input or output differs is refused before anything runs', LIMIT, async () => {
  const cases: Array<[string, (config: Record<string, unknown>) => void, RegExp]> = [
    [
      'hash',
      (c) => ((c.parameters as { onnx_sha256: { string_value: string } }).onnx_sha256.string_value = '0'.repeat(64)),
      /records SHA-256/,
    ],
    ['input dims', (c) => ((c.input as Array<{ dims: number[] }>)[0].dims = [1, 112, 112]), /input input/],
    ['output dims', (c) => ((c.output as Array<{ dims: number[] }>)[0].dims = [6]), /output scores/],
  ];
  try {
    for (const [what, change, message] of cases) {
      server.configOverride = (name, config) => {
        if (name.startsWith('resnet-')) change(config);
        return config;
      };
      const before = server.inferRequests;
      await assert.rejects(
        Engine.create({ models: DEFAULT_PACK, provider: `kserve:${server.url}`, threads: 1, decodeWorkers: 1 }),
        (e: { code?: string; message: string }) => {
          assert.equal(e.code, 'REMOTE_MODEL_MISMATCH', what);
          assert.match(e.message, message);
          return true;
        },
      );
      assert.equal(server.inferRequests, before, `${what}: nothing was run`);
    }
  } finally {
    server.configOverride = null;
  }
  // A server without the pack's models at all.
  const c = new KServeClient(server.url, { timeoutMs: 1000, attempts: 1 });
  await assert.rejects(c.check({ ...specs()[0].remote!, model: 'other-v1_0_0' }), { code: 'REMOTE_MODEL_MISMATCH' });
});

test('an unreachable server is PROVIDER_UNAVAILABLE, with its host', LIMIT, async () => {
  // A port just released on 127.0.0.1: nothing listens there.
  const probe = await KServeTestServer.start(mkdtempSync(join(tmpdir(), 'triage-empty-repo-')));
  const url = probe.url;
  await probe.close();
  process.env.TRIAGE_KSERVE_TIMEOUT_S = '1';
  try {
    await assert.rejects(
      InferenceService.start(specs(), `kserve:${url}`, 1),
      (e: { code?: string; message: string }) => {
        assert.equal(e.code, 'PROVIDER_UNAVAILABLE');
        assert.ok(e.message.includes(new URL(url).host));
        return true;
      },
    );
  } finally {
    delete process.env.TRIAGE_KSERVE_TIMEOUT_S;
  }
});

test(
  'triage selftest --ep kserve:URL passes against the server: agreement with the CPU, CAM, recorded findings',
  LIMIT,
  async () => {
    const report = await selftestPack(DEFAULT_PACK, `kserve:${server.url}`, FILES);
    assert.equal(report.provider, 'kserve');
    assert.deepEqual(
      report.checks.map((c) => [c.name, c.passed]),
      [
        ['loads and runs', true],
        ['every sample analysed', true],
        ['agrees with the CPU provider', true],
        ['CAM mean equals the logit', true],
        ['findings as recorded at build time', true],
      ],
    );
    assert.match(report.checks[0].detail, new RegExp(`on kserve \\(server ${new URL(server.url).host}\\)`));
    assert.match(report.checks[2].detail, /max \|difference\| 0\.00e\+0/);
    assert.ok(report.passed);
  },
);
