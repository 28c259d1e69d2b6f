/**
 * Engine benchmark (not a test): a DenseNet-121-sized model pack (generated here, never
 * committed), or the pack in BENCH_MODELS, over the 40 real radiographs in ../shared, on the CPU
 * provider.
 * Prints per-stage medians, images per second end to end, and the ratio of end-to-end time to raw
 * `session.run` time on the same inputs and batches (goal: at most 1.15 on CPU). Then, per member,
 * the engine's `session.run` time per image in its inference worker against raw `session.run` of
 * that member alone (a session alone with the worker's options; same inputs, batches, threads and
 * outputs; goal: within 10 %), with the CPU that other processes took meanwhile (/proc/stat).
 *
 *   npm run bench:engine            BENCH_ROUNDS=3, BENCH_BATCH=8, BENCH_REPEAT=5 (passes over the 40 images)
 *   BENCH_MODELS=DIR                a model pack to run instead of the generated one (its members)
 *   BENCH_THREADS=1,2               onnxruntime thread counts (default: all cores, and all but one)
 *   BENCH_HEATMAPS=0                results only, as a scan without --heatmaps (default: heatmaps registered)
 */
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { Engine } from '../../main/engine/index.js';
import { readRadiograph } from '../../main/ingest/index.js';
import { preprocess } from '../../main/preprocess/index.js';
import { loadPack } from '../../main/packs/load.js';
import { fmt, measured, median } from './measure.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const BATCH = Number(process.env.BENCH_BATCH ?? 8);
const REPEAT = Number(process.env.BENCH_REPEAT ?? 5);
const HEATMAPS = process.env.BENCH_HEATMAPS !== '0';
const MODELS = process.env.BENCH_MODELS ? resolve(process.env.BENCH_MODELS) : null;
const SAMPLES = fileURLToPath(new URL('../../../shared/data/cxr-samples/png/', import.meta.url));

const dir = MODELS ?? mkdtempSync(join(tmpdir(), 'bench-engine-'));
try {
  const started = performance.now();
  if (!MODELS) {
    execFileSync('/usr/bin/python3', [fileURLToPath(new URL('./make-densenet.py', import.meta.url)), dir], {
      stdio: 'ignore',
    });
  }
  const samples = readdirSync(SAMPLES)
    .filter((f) => f.endsWith('.png'))
    .sort()
    .map((f) => join(SAMPLES, f));
  // The 40 radiographs several times over: a run long enough for the pipeline's steady state.
  const files = Array.from({ length: REPEAT }, () => samples).flat();
  const threads = availableParallelism();
  const pack = await loadPack(dir);
  console.log('# Engine benchmark');
  console.log(
    `machine: ${cpus()[0]?.model ?? 'unknown CPU'}, ${threads} cores; Node ${process.version}; onnxruntime-node ${ort.env.versions.node}; ${new Date().toISOString()}; load average ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  );
  console.log(
    `${MODELS ? `pack ${MODELS}: ${pack.members.map((m) => m.manifest.id).join(', ')}` : `model: DenseNet-121, 1 x 224 x 224, 18 labels + CAM (random weights, generated in ${fmt((performance.now() - started) / 1000)} s)`}${pack.gate?.model ? ' and a gate model (in the engine, not in raw)' : ''}; ${samples.length} real radiographs (PNG, ~640 px) x ${REPEAT} = ${files.length} images per round; batch ${BATCH}; CPU provider; ${ROUNDS} rounds; heatmaps ${HEATMAPS ? 'registered' : 'off (results only)'}`,
  );

  // Raw: each member's preprocessed inputs (as its decode worker makes them), batched as the
  // engine batches them, straight into an in-process session with the inference worker's options.
  const shortSide = Math.max(...pack.members.map((m) => Math.max(m.manifest.input.height, m.manifest.input.width)));
  const inputs: Float32Array[][] = pack.members.map(() => []);
  for (const file of files) {
    const radiograph = await readRadiograph(file, { minShortSide: shortSide });
    pack.members.forEach((member, m) => inputs[m].push(preprocess(radiograph, member.manifest.input).data));
  }

  // Two thread layouts by default: onnxruntime on every core (decoding competes with it), and one
  // core left to decoding while onnxruntime uses the rest.
  const layouts = process.env.BENCH_THREADS
    ? process.env.BENCH_THREADS.split(',').map(Number)
    : [...new Set([threads, Math.max(1, threads - 1)])];
  const rows: string[] = [];
  const memberRows: string[] = [];
  const json: Record<string, unknown>[] = [];
  for (const onnxThreads of layouts) {
    const rawPerMember: number[][] = [];
    const rawLoad: number[] = [];
    for (const [m, member] of pack.members.entries()) {
      const { input, outputs } = member.manifest;
      // The inference worker's session options for a session alone, and its outputs
      // (main/inference/worker.ts): the member's best case, with onnxruntime's default spinning.
      const session = await ort.InferenceSession.create(member.onnxPath, {
        executionProviders: ['cpu'],
        intraOpNumThreads: onnxThreads,
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
        enableMemPattern: false, // as the inference worker
      });
      const fetches = [outputs.scores.name, ...(outputs.cam ? [outputs.cam.name] : [])];
      const rawRound = async () => {
        let total = 0;
        for (let start = 0; start < files.length; start += BATCH) {
          const chunk = inputs[m].slice(start, start + BATCH);
          const data = new Float32Array(chunk.length * chunk[0].length);
          chunk.forEach((one, i) => data.set(one, i * one.length));
          const feeds = {
            [input.name]: new ort.Tensor('float32', data, [chunk.length, input.channels, input.height, input.width]),
          };
          const t = performance.now();
          await session.run(feeds, fetches);
          total += performance.now() - t;
        }
        return total / files.length;
      };
      await rawRound(); // warm-up
      const rounds: number[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const { value, others } = await measured(rawRound);
        rounds.push(value);
        rawLoad.push(others);
      }
      rawPerMember.push(rounds);
      await session.release();
    }

    const engine = await Engine.create({ models: dir, provider: 'cpu', threads: onnxThreads, batchSize: BATCH });
    const endToEnd: number[] = [];
    const engineLoad: number[] = [];
    const enginePerMember: number[][] = pack.members.map(() => []);
    const stages = {
      decodeMs: [] as number[],
      preprocessMs: [] as number[],
      inferenceMs: [] as number[],
      explainMs: [] as number[],
    };
    let positives = 0;
    for (let r = 0; r <= ROUNDS; r++) {
      const before = engine.stats.runMs;
      const { value: elapsed, others } = await measured(async () => {
        const t = performance.now();
        for await (const { result } of engine.analyze(files, { heatmaps: HEATMAPS })) {
          if (r === 0) continue; // warm-up round
          for (const key of Object.keys(stages) as Array<keyof typeof stages>) stages[key].push(result.timings[key]);
          positives += result.findings.filter((f) => f.positive && f.direct).length;
        }
        return performance.now() - t;
      });
      if (r === 0) continue;
      endToEnd.push(elapsed);
      engineLoad.push(others);
      engine.stats.runMs
        .slice(0, pack.members.length)
        .forEach((run, m) => enginePerMember[m].push((run.runMs - before[m].runMs) / files.length));
    }
    await engine.close();
    const rawMembers = rawPerMember.map(median);
    const perImageRaw = rawMembers.reduce((a, b) => a + b, 0);
    const perImageEnd = median(endToEnd) / files.length;
    const stageMedians = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
    rows.push(
      `| ${onnxThreads} | ${fmt(stageMedians.decodeMs)} | ${fmt(stageMedians.preprocessMs)} | ${fmt(stageMedians.inferenceMs)} | ${fmt(stageMedians.explainMs)} | ${fmt(perImageRaw)} | ${fmt(perImageEnd)} | ${fmt(1000 / perImageEnd)} | ${(perImageEnd / perImageRaw).toFixed(3)} | ${fmt(positives / (files.length * ROUNDS))} |`,
    );
    const members = pack.members.map((member, m) => {
      const inEngine = median(enginePerMember[m]);
      memberRows.push(
        `| ${onnxThreads} | ${member.manifest.id} | ${fmt(inEngine)} (${enginePerMember[m].map(fmt).join(', ')}) | ${fmt(rawMembers[m])} (${rawPerMember[m].map(fmt).join(', ')}) | ${(inEngine / rawMembers[m]).toFixed(3)} |`,
      );
      return { id: member.manifest.id, engineMs: inEngine, rawMs: rawMembers[m], ratio: inEngine / rawMembers[m] };
    });
    memberRows.push(
      `| ${onnxThreads} | other processes, cores busy (median of rounds) | ${median(engineLoad).toFixed(3)} | ${median(rawLoad).toFixed(3)} | |`,
    );
    json.push({
      onnxThreads,
      rawPerImageMs: perImageRaw,
      endToEndPerImageMs: perImageEnd,
      ratio: perImageEnd / perImageRaw,
      stages: stageMedians,
      members,
      othersBusy: { engine: median(engineLoad), raw: median(rawLoad) },
    });
  }
  console.log('');
  console.log(
    'Per image, medians in ms. Stages are as each image saw them (inference: its share of its batch in the worker, all models);',
  );
  console.log(
    "raw = the members' session.run alone on the same preprocessed inputs and batches, same thread count, summed; ratio = end to end / raw (goal <= 1.15).",
  );
  console.log('');
  console.log(
    '| onnxruntime threads | decode | preprocess | inference | explain | raw session.run | end to end | images/s | ratio | positive findings/image |',
  );
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('');
  console.log(
    "Per member and image, ms: median of rounds (the rounds). Engine: the member's session.run time in the inference worker over a round / images; raw: that member's session.run alone, a session alone with the worker's options (default spinning); same inputs, batches, threads and outputs (goal: ratio <= 1.10).",
  );
  console.log('');
  console.log('| onnxruntime threads | member | in the engine | raw session.run | ratio |');
  console.log('|---|---|---|---|---|');
  for (const row of memberRows) console.log(row);
  console.log(
    `JSON ${JSON.stringify({ cpu: cpus()[0]?.model, cores: threads, batch: BATCH, images: files.length, rounds: ROUNDS, layouts: json })}`,
  );
} finally {
  if (!MODELS) rmSync(dir, { recursive: true, force: true });
}
