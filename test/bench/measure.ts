/**
 * What every benchmark measures the same way: medians, the figures' format, and the CPU and memory
 * that a process and the rest of the machine used (Linux /proc), so that each figure can say how
 * busy the shared machine was while it was taken.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { availableParallelism, cpus, loadavg, totalmem } from 'node:os';
import { writePhantomSet } from '../../main/phantom/index.js';

export const median = (values: number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};
export const fmt = (value: number): string => value.toFixed(value < 10 ? 2 : 1);
export const mib = (bytes: number): string => `${Math.round(bytes / 1024 / 1024)} MiB`;
export const load = (): string =>
  loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
/** One line naming the machine, for the head of a benchmark's output. */
export const machine = (): string =>
  `${cpus()[0]?.model ?? 'unknown CPU'} (${vectorUnits()}), ${availableParallelism()} cores, ${mib(totalmem())} memory; Node ${process.version}`;

/**
 * The widest vector instructions the CPU offers (Linux): onnxruntime's CPU kernels run about three
 * times faster per core with AVX-512 than with AVX2 alone, so two VMs that both say "AMD EPYC"
 * can differ that much.
 */
export function vectorUnits(): string {
  try {
    const flags = new Set(/^flags\s*:\s*(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1].split(' ') ?? []);
    return flags.has('avx512f') ? 'AVX-512' : flags.has('avx2') ? 'AVX2, no AVX-512' : 'no AVX2';
  } catch {
    return 'vector units unknown';
  }
}

/** USER_HZ on Linux: /proc's CPU times are in these ticks. */
export const CLOCK_TICKS = 100;

/** CPU ticks of one process (user + system, all its threads; 'self' for this one), or null once it has exited. */
export function processTicks(pid: number | 'self'): number | null {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}
/** CPU ticks the whole machine has spent busy, and in all. */
export function machineTicks(): { busy: number; total: number } {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const numbers = values.map(Number);
  const idle = numbers[3] + (numbers[4] ?? 0);
  const total = numbers.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}
/** Resident memory of a process now and at its peak, or null once it has exited. */
export function rssOf(pid: number | 'self'): { rss: number; hwm: number } | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    return {
      rss: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024,
      hwm: Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024,
    };
  } catch {
    return null;
  }
}

/** Runs `work` and returns its result with the cores this process and other processes kept busy. */
export async function measured<T>(work: () => Promise<T>): Promise<{ value: T; own: number; others: number }> {
  const [own0, busy0, t0] = [processTicks('self') ?? 0, machineTicks().busy, performance.now()];
  const value = await work();
  const elapsedTicks = ((performance.now() - t0) / 1000) * CLOCK_TICKS;
  const own = (processTicks('self') ?? 0) - own0;
  const others = Math.max(0, machineTicks().busy - busy0 - own);
  return { value, own: own / elapsedTicks, others: others / elapsedTicks };
}

/**
 * The three DenseNet-121 stand-ins of TorchXRayVision's densenet121-res224-all, -nih and -pc
 * (architecture-identical, random weights) exported into `out` once, with a Python that has torch
 * and onnx; a folder that already holds a pack is reused. Returns `out`.
 */
export function standInEnsemble(python: string, root: string, out: string): string {
  if (!existsSync(join(out, 'ensemble.json')))
    execFileSync(
      python,
      [
        join(root, 'models/import/export_torchxrayvision.py'),
        '--from-architecture',
        '--weights',
        'all,nih,pc',
        '--members',
        'all,nih,pc',
        '--out',
        out,
      ],
      { stdio: 'ignore' },
    );
  return out;
}

/**
 * `count` phantom DICOMs of the project's generator at `size` pixels, made once into
 * `work`/phantom-set (about 1 s an image a core) and reused by later runs; linked into a folder
 * of their own (`work`/images: the set's masks are PNGs, which a scan would read). Their paths.
 */
export async function phantomFolder(options: {
  work: string;
  count: number;
  size: number;
  seed: number;
}): Promise<string[]> {
  const { work, count, size, seed } = options;
  const set = join(work, 'phantom-set');
  const images = join(work, 'images');
  const manifest = join(set, 'phantoms.json');
  const fits = () => {
    if (!existsSync(manifest)) return false;
    const m = JSON.parse(readFileSync(manifest, 'utf8'));
    return m.count >= count && m.size === size && m.seed === seed && m.format === 'dicom';
  };
  if (!fits()) {
    const started = performance.now();
    console.log(`generating ${count} phantoms into ${set} (once; later runs reuse them)...`);
    await writePhantomSet({ out: set, count, seed, format: 'dicom', size });
    console.log(`  done in ${fmt((performance.now() - started) / 1000)} s`);
  }
  rmSync(images, { recursive: true, force: true });
  mkdirSync(images, { recursive: true });
  const names = readdirSync(set)
    .filter((f) => f.endsWith('.dcm'))
    .sort()
    .slice(0, count);
  for (const name of names) linkSync(join(set, name), join(images, name));
  return names.map((name) => join(images, name));
}
