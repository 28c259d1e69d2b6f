/**
 * Engine benchmark (not a test): a DenseNet-121-sized model pack (generated here, never
 * committed) over the 40 real radiographs in ../shared, on the CPU provider.
 * Prints per-stage medians, images per second end to end, and the ratio of end-to-end time to raw
 * `session.run` time on the same inputs and batches (goal: at most 1.15 on CPU).
 *
 *   npm run bench:engine            BENCH_ROUNDS=3, BENCH_BATCH=8, BENCH_REPEAT=5 (passes over the 40 images)
 */
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { Engine } from '../../main/engine/index.js';
import { readRadiograph } from '../../main/ingest/index.js';
import { preprocess } from '../../main/preprocess/index.js';
import { loadPack } from '../../main/packs/load.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const SAMPLES = fileURLToPath(new URL('../../../shared/data/cxr-samples/png/', import.meta.url));

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
const fmt = (value: number) => value.toFixed(value < 10 ? 2 : 1);

const dir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
try {
  const started = performance.now();
  execFileSync('/usr/bin/python3', [fileURLToPath(new URL('./make-densenet.py', import.meta.url)), dir], {
    stdio: 'ignore',
  });
  const samples = readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(SAMPLES, f));
  // The 40 radiographs several times over: a run long enough for the pipeline's steady state.
  const files = Array.from({ length: REPEAT }, () => samples).flat();
  const threads = availableParallelism();
  console.log('# Engine benchmark');
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node}; ${new Date().toISOString()}`,
  );
  console.log(
    `model: DenseNet-121, 1 x 224 x 224, 18 labels + CAM (random weights, generated in ${fmt((performance.now() - started) / 1000)} s); ${samples.length} real radiographs (PNG, ~640 px) x ${REPEAT} = ${files.length} images per round; batch ${BATCH}; CPU provider, ${threads} threads; ${ROUNDS} rounds`,
  );

  // Raw: the same preprocessed inputs, batched the same way, straight into an in-process session.
  const pack = await loadPack(dir);
  const member = pack.members[0];
  const inputs: Float32Array[] = [];
  for (const file of files)
    inputs.push(preprocess(await readRadiograph(file, { minShortSide: 224 }), member.manifest.input).data);
  // Raw runs get the engine's batches: same images, same order, same sizes.

  // Two thread layouts: onnxruntime on every core (decoding competes with it), and one core left
  // to decoding while onnxruntime uses the rest. Each is compared with raw runs on the same threads.
  const layouts = [...new Set([threads, Math.max(1, threads - 1)])];
  const rows: string[] = [];
  const json: Record<string, unknown>[] = [];
  for (const onnxThreads of layouts) {
    const session = await ort.InferenceSession.create(member.onnxPath, {
      executionProviders: ['cpu'],
      intraOpNumThreads: onnxThreads,
      graphOptimizationLevel: 'all',
    });
    const rawRound = async () => {
      let total = 0;
      for (let start = 0; start < inputs.length; start += BATCH) {
        const chunk = inputs.slice(start, start + BATCH);
        const data = new Float32Array(chunk.length * chunk[0].length);
        chunk.forEach((input, i) => data.set(input, i * input.length));
        const t = performance.now();
        await session.run({ input: new ort.Tensor('float32', data, [chunk.length, 1, 224, 224]) });
        total += performance.now() - t;
      }
      return total;
    };
    await rawRound(); // warm-up
    const raw: number[] = [];
    for (let r = 0; r < ROUNDS; r++) raw.push(await rawRound());
    await session.release();

    const engine = await Engine.create({ models: dir, provider: 'cpu', threads: onnxThreads, batchSize: BATCH });
    const endToEnd: number[] = [];
    const stages = {
      decodeMs: [] as number[],
      preprocessMs: [] as number[],
      inferenceMs: [] as number[],
      explainMs: [] as number[],
    };
    let positives = 0;
    for (let r = 0; r <= ROUNDS; r++) {
      const t = performance.now();
      for await (const { result } of engine.analyze(files)) {
        if (r === 0) continue; // warm-up round
        for (const key of Object.keys(stages) as Array<keyof typeof stages>) stages[key].push(result.timings[key]);
        positives += result.findings.filter((f) => f.positive && f.direct).length;
      }
      if (r > 0) endToEnd.push(performance.now() - t);
    }
    await engine.close();
    const perImageRaw = median(raw) / files.length;
    const perImageEnd = median(endToEnd) / files.length;
    const stageMedians = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
    rows.push(
      `| ${onnxThreads} | ${fmt(stageMedians.decodeMs)} | ${fmt(stageMedians.preprocessMs)} | ${fmt(stageMedians.inferenceMs)} | ${fmt(stageMedians.explainMs)} | ${fmt(perImageRaw)} | ${fmt(perImageEnd)} | ${fmt(1000 / perImageEnd)} | ${(perImageEnd / perImageRaw).toFixed(3)} | ${fmt(positives / (files.length * ROUNDS))} |`,
    );
    json.push({
      onnxThreads,
      rawPerImageMs: perImageRaw,
      endToEndPerImageMs: perImageEnd,
      ratio: perImageEnd / perImageRaw,
      stages: stageMedians,
    });
  }
  console.log('');
  console.log(
    'Per image, medians in ms. Stages are as each image saw them (inference: its share of its batch in the worker);',
  );
  console.log(
    'raw = session.run alone on the same preprocessed inputs and batches, same thread count; ratio = end to end / raw (goal <= 1.15).',
  );
  console.log('');
  console.log(
    '| onnxruntime threads | decode | preprocess | inference | explain | raw session.run | end to end | images/s | ratio | positive findings/image |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log(
    `JSON ${JSON.stringify({ cpu: cpus()[0]?.model, cores: threads, batch: BATCH, images: files.length, rounds: ROUNDS, layouts: json })}`,
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
