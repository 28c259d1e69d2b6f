/**
 * DICOM node benchmark (not a test): the same radiographs reach the worklist by `triage serve`
 * (pushed by dcmtk's storescu, one association, as a modality or a PACS forward does) and by
 * `triage scan` over the folder, each a process from the built JavaScript, with the bundled
 * demonstration pack on the CPU provider and a fresh database each round.
 *
 * - scan: the scan's own clock (its summary's seconds: walking, identifying, analysing and
 *   storing every file; the engine's start-up is not counted, as a node's engine is already up);
 * - serve: from storescu's start to the triage of the last image (the sum of `triaged` events:
 *   every image on the worklist), the node already listening with its engine loaded;
 *   --stable-seconds 1 (the quiet time that completes a study is part of the figure);
 * - and the result objects: `triage scan --dicom-out` against the node's time to the last image's
 *   SR and SC written (the sum of `published` events).
 *
 * - the transfer's own cost, the peer for the push: the same storescu push into dcmtk's storescp
 *   (written to disk, nothing triaged).
 *
 * Prints medians over rounds, the ratio serve / scan speed to the worklist (goal >= 0.9), the node
 * against the receive-only peer, the same for the result objects, and the machine.
 *
 *   npm run bench:serve
 *     BENCH_IMAGES=200 BENCH_SIZE=2500 BENCH_ROUNDS=3 BENCH_STABLE=1
 *     BENCH_DIR=$TMPDIR/cxr-triage-bench-serve (the phantoms are kept and reused)
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { writePhantomSet } from '../../main/phantom/index.js';
import { projectRoot } from '../../main/resources/index.js';
import { eventTotal, freePort, nodeArgs, startNode, stopNode } from '../node/node-process.js';
import { requireProgram } from '../support/reference-tools.js';
import { median } from './measure.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 200);
/** Long side in pixels: 2,500 as CR and DX are (the generator's own default is 600). */
const SIZE = Number(process.env.BENCH_SIZE ?? 2500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const STABLE = Number(process.env.BENCH_STABLE ?? 1);
const WORK = process.env.BENCH_DIR ?? join(tmpdir(), 'cxr-triage-bench-serve');
const SEED = 20261207;
const BIN = join(projectRoot(), 'bin', 'triage.js');

function run(command: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

async function scanRound(phantoms: string, files: string[], db: string, extra: string[] = []): Promise<number> {
  const result = await run(process.execPath, [BIN, 'scan', ...files, '--db', db, '--ep', 'cpu', ...extra]);
  if (result.code !== 0) throw new Error(`triage scan failed:\n${result.stderr}`);
  const summary = (JSON.parse(result.stdout) as { summary: { seconds: number; analysed: number } }).summary;
  if (summary.analysed !== files.length)
    throw new Error(`scan analysed ${summary.analysed} of ${files.length} in ${phantoms}`);
  return summary.seconds;
}

async function serveRound(files: string[], db: string): Promise<{ worklist: number; objects: number }> {
  const node = await startNode(nodeArgs(db, [], { stableSeconds: STABLE }));
  try {
    const started = performance.now();
    const seconds = () => (performance.now() - started) / 1000;
    const onWorklist = eventTotal(node, 'triaged', 'analysed', files.length, { ms: 600_000 }).then(seconds);
    const written = eventTotal(node, 'published', 'images', files.length, { ms: 600_000 }).then(seconds);
    const push = await run(requireProgram('storescu'), [
      '-aet',
      'MODALITY',
      '-aec',
      'TRIAGE',
      '127.0.0.1',
      String(node.port),
      ...files,
    ]);
    if (push.code !== 0) throw new Error(`storescu failed:\n${push.stderr}`);
    return { worklist: await onWorklist, objects: await written };
  } finally {
    await stopNode(node);
  }
}

/** The receiving peer: dcmtk's storescp writing what storescu pushes (no triage): the transfer's own cost. */
async function receiveRound(files: string[], dir: string): Promise<number> {
  const port = await freePort();
  const received = join(dir, 'storescp');
  mkdirSync(received, { recursive: true });
  const scp = spawn(requireProgram('storescp'), ['-aet', 'STORESCP', '-od', received, String(port)], {
    stdio: 'ignore',
  });
  try {
    for (let attempt = 0; attempt < 50; attempt++) {
      const echo = await run(requireProgram('echoscu'), ['-aec', 'STORESCP', '127.0.0.1', String(port)]);
      if (echo.code === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const started = performance.now();
    const push = await run(requireProgram('storescu'), [
      '-aet',
      'MODALITY',
      '-aec',
      'STORESCP',
      '127.0.0.1',
      String(port),
      ...files,
    ]);
    if (push.code !== 0) throw new Error(`storescu to storescp failed:\n${push.stderr}`);
    return (performance.now() - started) / 1000;
  } finally {
    scp.kill('SIGTERM');
  }
}

async function main(): Promise<void> {
  const phantoms = join(WORK, `phantoms-${IMAGES}-${SIZE}`);
  if (!existsSync(join(phantoms, 'phantoms.json')))
    await writePhantomSet({ out: phantoms, count: IMAGES, seed: SEED, size: SIZE });
  const files = readdirSync(phantoms)
    .filter((name) => name.endsWith('.dcm'))
    .sort()
    .map((name) => join(phantoms, name));
  const scan: number[] = [];
  const scanWithObjects: number[] = [];
  const serve: number[] = [];
  const serveObjects: number[] = [];
  const receiveOnly: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const dir = join(WORK, `round-${round}`);
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    scan.push(await scanRound(phantoms, files, join(dir, 'scan.db')));
    scanWithObjects.push(
      await scanRound(phantoms, files, join(dir, 'scan-objects.db'), ['--dicom-out', join(dir, 'objects')]),
    );
    receiveOnly.push(await receiveRound(files, dir));
    const node = await serveRound(files, join(dir, 'serve.db'));
    serve.push(node.worklist);
    serveObjects.push(node.objects);
    console.log(
      `round ${round + 1}: scan ${scan.at(-1)!.toFixed(2)} s, scan --dicom-out ${scanWithObjects.at(-1)!.toFixed(2)} s, ` +
        `storescu to storescp ${receiveOnly.at(-1)!.toFixed(2)} s, ` +
        `serve: worklist ${node.worklist.toFixed(2)} s, objects ${node.objects.toFixed(2)} s (load ${loadavg()[0].toFixed(2)})`,
    );
  }
  const scanRate = files.length / median(scan);
  const serveRate = files.length / median(serve);
  console.log(
    JSON.stringify(
      {
        machine: {
          cpu: cpus()[0]?.model ?? 'unknown',
          cores: availableParallelism(),
          memoryGB: Math.round(totalmem() / 2 ** 30),
          node: process.version,
        },
        images: files.length,
        size: SIZE,
        rounds: ROUNDS,
        stableSeconds: STABLE,
        scan: { medianSeconds: median(scan), imagesPerSecond: Number(scanRate.toFixed(2)) },
        serveToWorklist: { medianSeconds: median(serve), imagesPerSecond: Number(serveRate.toFixed(2)) },
        ratio: Number((serveRate / scanRate).toFixed(3)),
        receiveOnly: {
          what: 'storescu to dcmtk storescp, the same files: the transfer alone, no triage',
          medianSeconds: median(receiveOnly),
          imagesPerSecond: Number((files.length / median(receiveOnly)).toFixed(2)),
        },
        serveAgainstReceiveOnly: Number((median(receiveOnly) / median(serve)).toFixed(3)),
        scanWithDicomOut: {
          medianSeconds: median(scanWithObjects),
          imagesPerSecond: Number((files.length / median(scanWithObjects)).toFixed(2)),
        },
        serveToObjects: {
          medianSeconds: median(serveObjects),
          imagesPerSecond: Number((files.length / median(serveObjects)).toFixed(2)),
        },
        objectsRatio: Number((median(scanWithObjects) / median(serveObjects)).toFixed(3)),
      },
      null,
      2,
    ),
  );
}

await main();
