/**
 * Peer benchmark (not a test): `npm run bench:peer -- PATH_TO_TORCHXRAYVISION_CHECKOUT`.
 *
 * TorchXRayVision's README pipeline with one DenseNet-121 (test/bench/peer_torchxrayvision.py,
 * run by Debian's Python from the checkout you name) against `triage scan` with a three-member
 * DenseNet-121 ensemble (the exporter's architecture-identical stand-ins of densenet121-res224-all,
 * -nih and -pc, random weights), on the same folder, alternately in one run. The peer reads each
 * image with skimage, preprocesses it with the library's own transforms and runs the model one
 * image at a time, as its README does; the scan is the product's command as its own process, on
 * the CPU provider, with its default layout and batch unless BENCH_FLAGS says otherwise.
 *
 * Each side's images/s is on its own clock from its first image to its last (the imports, the
 * sessions' and the model's construction excluded on both sides); each process's whole wall time,
 * start-up included, is printed beside it. With each run, the cores other processes took (this
 * machine may be shared).
 *
 *   npm run bench:peer -- CHECKOUT         (or BENCH_XRV=CHECKOUT)
 *     BENCH_IMAGES=FOLDER (default ../shared/data/cxr-samples/png: 40 real radiographs)
 *     BENCH_ROUNDS=5 BENCH_PEER_THREADS=(cores) BENCH_FLAGS="--threads 2 --concurrency 1" (extra scan options)
 *     BENCH_MODELS=DIR (a pack to scan with; default: the three stand-ins, exported once into BENCH_DIR)
 *     BENCH_DIR=$TMPDIR/cxr-triage-bench-peer  BENCH_BUILD=0 (use dist/ as built)  PYTHON=/usr/bin/python3
 *
 * The peer needs TorchXRayVision's imports: apt-get install python3-torch python3-torchvision
 * python3-skimage python3-pandas python3-requests python3-tqdm python3-imageio.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import ort from 'onnxruntime-node';
import { loadPack } from '../../main/packs/load.js';
import { projectRoot } from '../../main/resources/index.js';
import { CLOCK_TICKS, fmt, load, machine, machineTicks, median, processTicks, standInEnsemble } from './measure.js';

const ROOT = projectRoot();
const CHECKOUT = process.argv[2] ?? process.env.BENCH_XRV;
const IMAGES = resolve(process.env.BENCH_IMAGES ?? join(ROOT, '..', 'shared', 'data', 'cxr-samples', 'png'));
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const PEER_THREADS = process.env.BENCH_PEER_THREADS;
const FLAGS = (process.env.BENCH_FLAGS ?? '').split(/\s+/).filter(Boolean);
const WORK = process.env.BENCH_DIR ?? join(tmpdir(), 'cxr-triage-bench-peer');
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';

if (!CHECKOUT || !existsSync(join(CHECKOUT, 'torchxrayvision', '__init__.py'))) {
  console.error(
    'Name a checkout of TorchXRayVision (https://github.com/mlmed/torchxrayvision): npm run bench:peer -- PATH (the folder that holds torchxrayvision/).',
  );
  process.exit(2);
}
if (!existsSync(IMAGES)) {
  console.error(`No folder of images at ${IMAGES}: set BENCH_IMAGES.`);
  process.exit(2);
}

interface Run {
  imagesPerSecond: number;
  images: number;
  /** The process's wall time, start-up included. */
  wallSeconds: number;
  /** Cores other processes kept busy during the run. */
  othersBusy: number;
  detail: Record<string, unknown>;
}

/** Runs a process to its end, with its wall time and the cores that other processes took meanwhile. */
async function timed(
  command: string,
  args: string[],
): Promise<{ stdout: string; wallSeconds: number; othersBusy: number }> {
  const before = machineTicks();
  const t0 = performance.now();
  const child = spawn(command, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let ownTicks = 0;
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  // The child's CPU time (all its threads), read while it runs: its last reading before it exits.
  const sample = () => (ownTicks = processTicks(child.pid!) ?? ownTicks);
  const timer = setInterval(sample, 100);
  const code = await new Promise<number | null>((done) => child.on('exit', done));
  clearInterval(timer);
  const wallSeconds = (performance.now() - t0) / 1000;
  if (code !== 0) throw new Error(`${command} ${args.join(' ')} failed (${code}):\n${stderr.slice(-3000)}`);
  const busy = machineTicks().busy - before.busy;
  return { stdout, wallSeconds, othersBusy: Math.max(0, busy - ownTicks) / (wallSeconds * CLOCK_TICKS) };
}

async function peer(): Promise<Run> {
  const args = [join(ROOT, 'test/bench/peer_torchxrayvision.py'), CHECKOUT!, IMAGES];
  if (PEER_THREADS) args.push(PEER_THREADS);
  const { stdout, wallSeconds, othersBusy } = await timed(PYTHON, args);
  const result = JSON.parse(stdout.trim().split('\n').pop()!);
  return { imagesPerSecond: result.imagesPerSecond, images: result.images, wallSeconds, othersBusy, detail: result };
}

async function ours(pack: string, round: number): Promise<Run> {
  const database = join(WORK, `round-${round}.sqlite`);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${database}${suffix}`, { force: true });
  const { stdout, wallSeconds, othersBusy } = await timed(process.execPath, [
    join(ROOT, 'bin/triage.js'),
    'scan',
    IMAGES,
    '--db',
    database,
    '--models',
    pack,
    '--ep',
    'cpu',
    ...FLAGS,
  ]);
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${database}${suffix}`, { force: true });
  const summary = JSON.parse(stdout.trim().split('\n').pop()!).summary;
  return {
    imagesPerSecond: summary.imagesPerSecond,
    images: summary.analysed,
    wallSeconds,
    othersBusy,
    detail: summary.pipeline ?? {},
  };
}

mkdirSync(WORK, { recursive: true });
console.log('# Peer benchmark: TorchXRayVision README pipeline (one DenseNet-121) against triage scan');
console.log(
  `machine: ${machine()}; onnxruntime-node ${ort.env.versions.node}; ${new Date().toISOString()}; load average ${load()}`,
);
if (process.env.BENCH_BUILD !== '0')
  execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.json')], {
    stdio: 'inherit',
  });
if (!process.env.BENCH_MODELS && !existsSync(join(WORK, 'pack', 'ensemble.json')))
  console.log(`exporting the three DenseNet-121 stand-ins into ${join(WORK, 'pack')} (once; later runs reuse them)...`);
const pack = process.env.BENCH_MODELS
  ? resolve(process.env.BENCH_MODELS)
  : standInEnsemble(PYTHON, ROOT, join(WORK, 'pack'));
const loaded = await loadPack(pack);
const count = readdirSync(IMAGES).filter((name) => /\.(png|jpe?g)$/i.test(name)).length;
console.log(
  `pack: ${pack}, ${loaded.members.length} member(s): ${loaded.members.map((m) => m.manifest.id).join(', ')}`,
);
console.log(`images: ${IMAGES} (${count} PNG or JPEG); scan options: --ep cpu ${FLAGS.join(' ') || '(defaults)'}`);
console.log(
  `peer: ${CHECKOUT}, ${PYTHON}, torch threads ${PEER_THREADS ?? 'every core'}; ${ROUNDS} rounds, alternating order\n`,
);

// One warm-up of each (the page cache, Python's and Node's own files), not counted.
await peer();
await ours(pack, -1);

const peers: Run[] = [];
const scans: Run[] = [];
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['peer', 'ours'] : ['ours', 'peer'];
  for (const side of order) {
    if (side === 'peer') peers.push(await peer());
    else scans.push(await ours(pack, round));
  }
  const [p, s] = [peers[round], scans[round]];
  if (s.images !== count || p.images !== count)
    throw new Error(`round ${round + 1}: the scan analysed ${s.images}, the peer ${p.images} of ${count} images`);
  console.log(
    `round ${round + 1}: peer ${fmt(p.imagesPerSecond)} images/s (process ${fmt(p.wallSeconds)} s, others ${fmt(p.othersBusy)} cores); ` +
      `scan ${fmt(s.imagesPerSecond)} images/s (process ${fmt(s.wallSeconds)} s, others ${fmt(s.othersBusy)} cores); ratio ${(s.imagesPerSecond / p.imagesPerSecond).toFixed(2)}`,
  );
  console.log(`  peer per image: ${JSON.stringify(p.detail)}`);
  console.log(`  scan pipeline: ${JSON.stringify(s.detail)}`);
}

const peerRate = median(peers.map((r) => r.imagesPerSecond));
const scanRate = median(scans.map((r) => r.imagesPerSecond));
const ratios = scans.map((s, i) => s.imagesPerSecond / peers[i].imagesPerSecond);
console.log(`\n${count} images, medians of ${ROUNDS} rounds (load average now ${load()}):\n`);
console.log(
  '| | images/s (median) | rounds | process wall time (median, start-up included) | cores other processes took (median) |',
);
console.log('|---|---|---|---|---|');
console.log(
  `| TorchXRayVision README, one DenseNet-121 | ${fmt(peerRate)} | ${peers.map((r) => fmt(r.imagesPerSecond)).join(', ')} | ${fmt(median(peers.map((r) => r.wallSeconds)))} s | ${fmt(median(peers.map((r) => r.othersBusy)))} |`,
);
console.log(
  `| triage scan, ${loaded.members.length}-member ensemble | ${fmt(scanRate)} | ${scans.map((r) => fmt(r.imagesPerSecond)).join(', ')} | ${fmt(median(scans.map((r) => r.wallSeconds)))} s | ${fmt(median(scans.map((r) => r.othersBusy)))} |`,
);
console.log(
  `\nscan / peer: ${(scanRate / peerRate).toFixed(2)} (medians); per round ${ratios.map((r) => r.toFixed(2)).join(', ')} (goal >= 1.5, stretch 2)`,
);
