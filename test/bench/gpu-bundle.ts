/**
 * `npm run bench:gpu`: prepares the GPU benchmark for a Linux x86-64 machine with an NVIDIA GPU
 * that reaches no registry (no npm, no Node, no apt there). It writes `.bench-gpu/` (ignored by
 * git) in the project folder:
 *
 * - `runtime.tar.xz`: this machine's Node binary, the built JavaScript (dist/main, dist/test/bench)
 *   and the production dependencies, onnxruntime-node with its Linux x86-64 binaries only (its
 *   bundled build: CPU and WebGPU);
 * - `debs/`: Debian's Vulkan loader (libvulkan1), which WebGPU needs and a bare image may lack;
 * - `xrv3-graphs/`: the three DenseNet-121 stand-ins (exported here once, BENCH_MODELS for another
 *   pack) without their weights, which the GPU machine fills with random ones.
 *
 * The project's tracked files (the model packs, the exporter, `test/bench/gpu-run.sh`) travel with
 * the checkout; on the GPU machine, from the project folder: `bash test/bench/gpu-run.sh` (see
 * that script for what it runs and prints). `BENCH_GPU_RUN=1 npm run bench:gpu` also runs it here,
 * on this machine's CPU, with small counts and no network: the same script, checked end to end.
 *
 *   BENCH_BUILD=0 (use dist/ as built)  BENCH_XZ=6 (xz preset; 0 is fastest, for a check)
 */
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  realpathSync,
  rmSync,
  statSync,
} from 'node:fs';
import { arch, platform, tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { projectRoot } from '../../main/resources/index.js';
import { mib, standInEnsemble } from './measure.js';

const ROOT = projectRoot();
const OUT = join(ROOT, '.bench-gpu');
const XZ = process.env.BENCH_XZ ?? '6';
/** What the working tree may carry to the GPU machine, in all (the repository itself included). */
const CARRY_LIMIT = 62 * 1024 * 1024;

if (platform() !== 'linux' || arch() !== 'x64') {
  console.error(
    `The GPU bundle carries this machine's Node binary: build it on Linux x86-64 (this is ${platform()} ${arch()}).`,
  );
  process.exit(2);
}
const run = (command: string, args: string[], cwd = ROOT) => execFileSync(command, args, { cwd, stdio: 'inherit' });

if (process.env.BENCH_BUILD !== '0')
  run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);
for (const needed of ['dist/main/cli/main.js', 'dist/test/bench/scan.bench.js', 'dist/test/bench/placement.js'])
  if (!existsSync(join(ROOT, needed))) throw new Error(`${needed} is missing: run npm run build first`);

rmSync(OUT, { recursive: true, force: true });
mkdirSync(join(OUT, 'debs'), { recursive: true });
const stage = mkdtempSync(join(tmpdir(), 'bench-gpu-'));
try {
  // Node itself: the binary this benchmark runs under (Node 22, as CI installs it).
  mkdirSync(join(stage, '.bench-gpu', 'bin'), { recursive: true });
  cpSync(realpathSync(process.execPath), join(stage, '.bench-gpu', 'bin', 'node'));
  // Its symbol tables are not run (125 MB to 107 MB); binutils' strip, where there is one.
  try {
    execFileSync('strip', ['--strip-all', join(stage, '.bench-gpu', 'bin', 'node')], { stdio: 'ignore' });
  } catch {
    console.warn('strip is not installed: the Node binary travels with its symbols.');
  }
  // The built JavaScript the commands and benchmarks run.
  for (const folder of ['dist/main', 'dist/test/bench'])
    cpSync(join(ROOT, folder), join(stage, folder), { recursive: true });
  // The packages the built engine and benchmarks import, and what those depend on (resolved as Node
  // resolves them); not the desktop app's (Electron, the renderer's imaging libraries).
  const platformBinaries = join('node_modules', 'onnxruntime-node', 'bin', 'napi-v6');
  const packages = runtimePackages();
  console.log(
    `${packages.length} packages: ${packages.map((dir) => relative(join(ROOT, 'node_modules'), dir)).join(', ')}`,
  );
  for (const packageDir of packages) {
    cpSync(packageDir, join(stage, relative(ROOT, packageDir)), {
      recursive: true,
      filter: (source) => {
        const inner = relative(ROOT, source);
        // onnxruntime-node ships every platform's runtime: keep Linux x86-64's only.
        if (inner.startsWith(platformBinaries + sep) && !inner.startsWith(join(platformBinaries, 'linux', 'x64')))
          return inner === join(platformBinaries, 'linux');
        // Nested packages are copied on their own, if needed; source maps, types and docs are not run.
        if (relative(packageDir, source).split(sep).includes('node_modules')) return false;
        return !/\.(map|d\.ts|d\.cts|d\.mts|md|markdown)$/.test(source);
      },
    });
  }
  const ort = join(stage, platformBinaries, 'linux', 'x64');
  if (!existsSync(join(ort, 'onnxruntime_binding.node')))
    throw new Error(`onnxruntime-node's Linux x86-64 binaries are missing from ${ort}`);
  run('tar', ['-C', stage, '-cf', join(OUT, 'runtime.tar.xz'), `--use-compress-program=xz -T0 -${XZ}`, '.'], ROOT);
} finally {
  rmSync(stage, { recursive: true, force: true });
}

// The three DenseNet-121 stand-ins as graphs without weights (a few MiB, not 84): the GPU machine
// gives them random weights (test/bench/pack_weights.py fill), whatever its torch can export.
const PYTHON = process.env.PYTHON ?? '/usr/bin/python3';
const pack = process.env.BENCH_MODELS ?? standInEnsemble(PYTHON, ROOT, join(tmpdir(), 'cxr-triage-bench-gpu', 'pack'));
run(PYTHON, [join(ROOT, 'test/bench/pack_weights.py'), 'strip', pack, join(OUT, 'xrv3-graphs')]);

// The Vulkan loader from Debian's mirror (WebGPU's Dawn loads libvulkan.so.1, the driver brings its ICD).
try {
  execFileSync('apt-get', ['download', 'libvulkan1'], { cwd: join(OUT, 'debs'), stdio: 'ignore' });
} catch {
  console.warn(
    'Could not download libvulkan1 (apt-get update first?): the GPU machine must then have its own Vulkan loader.',
  );
}

/**
 * The package folders the built JavaScript needs at run time: the bare imports of dist/main and
 * dist/test/bench (and the packages main reads files from), then their dependencies, transitively.
 * The dicom-image-loader package is read for its codec files only: its own dependencies (the
 * viewer's libraries) are not followed.
 */
function runtimePackages(): string[] {
  const FILES_ONLY = new Set(['@cornerstonejs/dicom-image-loader']);
  const NOT_RUN = new Set(['electron', 'esbuild', 'tsx']); // the desktop shell, build tools, TypeScript sources
  const roots = new Set<string>();
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.js')) {
        const text = readFileSync(path, 'utf8');
        for (const match of text.matchAll(/(?:from |import\(|require\.resolve\()\s*'([^'.][^']*)'/g)) {
          const specifier = match[1];
          if (specifier.startsWith('node:')) continue;
          const parts = specifier.split('/');
          roots.add(specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]);
        }
      }
    }
  };
  for (const folder of ['dist/main', 'dist/test/bench']) walk(join(ROOT, folder));
  const found = new Map<string, string>(); // folder -> name
  const resolveFrom = (from: string, name: string): string | null => {
    for (let dir = from; dir.startsWith(ROOT); dir = dirname(dir)) {
      const candidate = join(dir, 'node_modules', name);
      if (existsSync(join(candidate, 'package.json'))) return candidate;
      if (dir === ROOT) break;
    }
    return null;
  };
  const visit = (from: string, name: string) => {
    if (NOT_RUN.has(name)) return;
    const dir = resolveFrom(from, name);
    if (!dir) throw new Error(`${name} (needed from ${relative(ROOT, from) || '.'}) is not installed: run npm ci`);
    if (found.has(dir)) return;
    found.set(dir, name);
    if (FILES_ONLY.has(name)) return;
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    for (const dependency of Object.keys({ ...manifest.dependencies, ...manifest.optionalDependencies })) {
      if (resolveFrom(dir, dependency) || !(dependency in (manifest.optionalDependencies ?? {})))
        visit(dir, dependency);
    }
  };
  for (const name of roots) visit(ROOT, name);
  return [...found.keys()].sort();
}

const size = (path: string): number =>
  statSync(path).isDirectory()
    ? readdirSync(path).reduce((sum, name) => sum + size(join(path, name)), 0)
    : statSync(path).size;
const bundle = size(OUT);
const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: ROOT, encoding: 'utf8' })
  .split('\0')
  .filter(Boolean)
  .reduce((sum, file) => sum + (existsSync(join(ROOT, file)) ? statSync(join(ROOT, file)).size : 0), 0);
console.log(
  `\n.bench-gpu: ${mib(bundle)} (runtime.tar.xz ${mib(size(join(OUT, 'runtime.tar.xz')))}); with the tracked files ${mib(bundle + tracked)}`,
);
if (bundle + tracked > CARRY_LIMIT) console.warn(`over ${mib(CARRY_LIMIT)}: too large to carry to the GPU machine`);
console.log('On the GPU machine, from the project folder (the tracked files and .bench-gpu/ carried there):');
console.log(
  '  bash test/bench/gpu-run.sh      (BENCH_GPU_EP=webgpu BENCH_GPU_IMAGES=300; output also in $OUT or .bench-gpu/out)',
);

if (process.env.BENCH_GPU_RUN === '1')
  run('unshare', ['--net', '--', 'bash', join(ROOT, 'test/bench/gpu-run.sh')], ROOT);
