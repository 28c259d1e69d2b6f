/**
 * Where inference time goes on a provider, and whether every node ran there (not a test):
 *
 *   node dist/test/bench/placement.js PACK [--ep webgpu] [--batch 32] [--runs 5]
 *
 * For each member of the pack (and its gate model, if any), a session on the provider with
 * onnxruntime's profiler on, the worker's session options otherwise, a warm-up run and RUNS timed
 * runs of a batch of random inputs on the model's scale. From the profile (onnxruntime's own
 * per-kernel events): the nodes and kernel time per execution provider, the nodes that did not
 * run on the chosen one (with their operators), the copies between host and device
 * (MemcpyToHost / MemcpyFromHost), and the operators that took the most time. Exits 1 when a
 * node ran elsewhere than the chosen provider.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { loadPack } from '../../main/packs/load.js';
import { fmt, median } from './measure.js';

function option(name: string, fallback: string): string {
  const at = process.argv.indexOf(name);
  return at > 0 && process.argv[at + 1] ? process.argv[at + 1] : fallback;
}
const PACK = process.argv[2];
if (!PACK || PACK.startsWith('--')) {
  console.error('usage: placement.js PACK [--ep webgpu] [--batch 32] [--runs 5]');
  process.exit(2);
}
const EP = option('--ep', 'webgpu');
const BATCH = Number(option('--batch', '32'));
const RUNS = Number(option('--runs', '5'));

interface KernelEvent {
  cat: string;
  name: string;
  dur: number;
  args?: { op_name?: string; provider?: string };
}

const loaded = await loadPack(resolve(PACK));
const models = [
  ...loaded.members.map((m) => ({ id: m.manifest.id, onnxPath: m.onnxPath, input: m.manifest.input })),
  ...(loaded.gate?.model
    ? [{ id: 'gate', onnxPath: loaded.gate.model.onnxPath, input: loaded.gate.model.manifest.input }]
    : []),
];
console.log(
  `# Node placement and kernel time: ${models.length} model(s) on ${EP}, batch ${BATCH}, ${RUNS} runs after a warm-up; onnxruntime-node ${ort.env.versions.node}`,
);
const scratch = mkdtempSync(join(tmpdir(), 'placement-'));
let elsewhere = 0;
try {
  for (const model of models) {
    const session = await ort.InferenceSession.create(model.onnxPath, {
      executionProviders: [EP],
      graphOptimizationLevel: 'all',
      enableMemPattern: false, // as the inference worker
      enableProfiling: true,
      profileFilePrefix: join(scratch, model.id.replace(/[^\w.-]/g, '_')),
      logSeverityLevel: 3,
    });
    const { channels, height, width } = model.input;
    const data = new Float32Array(BATCH * channels * height * width);
    for (let i = 0; i < data.length; i++) data[i] = ((i * 2654435761) % 2048) - 1024; // deterministic, on the [-1024, 1024] scale
    const feeds = { [session.inputNames[0]]: new ort.Tensor('float32', data, [BATCH, channels, height, width]) };
    await session.run(feeds);
    const times: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    // onnxruntime-node writes the profile when the session ends it; the path is the prefix plus a time stamp.
    session.endProfiling();
    await session.release();
    const file = readdirSync(scratch)
      .filter((f) => f.startsWith(model.id.replace(/[^\w.-]/g, '_')))
      .map((f) => join(scratch, f))[0];
    const events = (JSON.parse(readFileSync(file, 'utf8')) as KernelEvent[]).filter(
      (e) => e.cat === 'Node' && e.name.endsWith('_kernel_time'),
    );
    const byProvider = new Map<string, { nodes: Set<string>; us: number }>();
    const byOp = new Map<string, number>();
    const off: string[] = [];
    for (const event of events) {
      const provider = event.args?.provider ?? 'unknown';
      const node = event.name.slice(0, -'_kernel_time'.length);
      const entry = byProvider.get(provider) ?? { nodes: new Set(), us: 0 };
      entry.nodes.add(node);
      entry.us += event.dur;
      byProvider.set(provider, entry);
      const op = `${event.args?.op_name ?? '?'} (${provider.replace('ExecutionProvider', '')})`;
      byOp.set(op, (byOp.get(op) ?? 0) + event.dur);
    }
    const chosen = [...byProvider.keys()].find((p) => p.toLowerCase().startsWith(EP.toLowerCase())) ?? null;
    for (const [provider, entry] of byProvider)
      if (provider !== chosen) for (const node of entry.nodes) off.push(`${node} on ${provider}`);
    elsewhere += off.length;
    const runs = RUNS + 1; // the profile holds the warm-up too
    console.log(
      `\n## ${model.id}: ${fmt(median(times))} ms per batch of ${BATCH} (median of ${RUNS}; ${fmt(median(times) / BATCH)} ms per image)`,
    );
    for (const [provider, entry] of byProvider)
      console.log(
        `- ${provider}: ${entry.nodes.size} nodes, ${fmt(entry.us / 1000 / runs)} ms of kernel time per run (the profile's mean)`,
      );
    console.log(
      off.length === 0
        ? `- every node ran on ${chosen ?? EP}`
        : `- ${off.length} node(s) not on ${EP}: ${off.slice(0, 20).join('; ')}${off.length > 20 ? '; ...' : ''}`,
    );
    const top = [...byOp.entries()].sort((a, b) => b[1] - a[1]).slice(0, 8);
    console.log(`- most time: ${top.map(([op, us]) => `${op} ${fmt(us / 1000 / runs)} ms`).join(', ')}`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(
  `\n${elsewhere === 0 ? `every node of every model ran on ${EP}` : `${elsewhere} node(s) ran elsewhere than ${EP}`}`,
);
process.exitCode = elsewhere === 0 ? 0 : 1;
