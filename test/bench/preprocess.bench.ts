/**
 * Preprocess benchmark (not a test): one uncompressed 2,500-pixel phantom DICOM to a model input,
 * per image on one thread, as the decode worker does it. `npm run bench:preprocess`.
 *
 * The files are the first BENCH_IMAGES (default 8) of the scan benchmark's phantom set (the
 * project's generator, seed 20261127, 2,500 pixels on the long side, 10 to 16 bits stored,
 * MONOCHROME1 and 2, windows, VOI LUTs, some padded; about 10 MiB each) and one more without a
 * window (the automatic window), padded; written once to BENCH_DIR (default
 * $TMPDIR/cxr-triage-bench-preprocess, kept) and read once before timing, so they are in the
 * page cache.
 *
 * Each round times, image after image (so the stages alternate as in a scan):
 * - prepare N: prepareImage (read, decode, gate, preprocess to 1 x N x N: display, centre square,
 *   area, xrv), the decode worker's whole job, the file read included; and the decodeMs and
 *   preprocessMs it reports (what the scan's statistics show);
 * - the stages of the in-memory path: read (readImageFile into a kept ReadBuffer), decode
 *   (decodeRadiograph), preprocess to 224 and 512 from the decoded radiograph, and the bilinear
 *   resize to 224 (a pack whose members resize bilinearly).
 *
 * It prints medians and minima over BENCH_ROUNDS (default 7, after one warm-up round) of the
 * per-image times, all images pooled and by whether the file has a window (or VOI LUT) or needs
 * the automatic one, with the load average and the CPU other processes took meanwhile
 * (/proc/stat): the machine may be shared, and the minima are the least disturbed.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { prepareImage } from '../../main/engine/prepare.js';
import type { PreparePlan } from '../../main/engine/prepare.js';
import { decodeRadiograph, ReadBuffer, readImageFile } from '../../main/ingest/index.js';
import type { InputSpec } from '../../main/packs/manifest.js';
import { inputSpec } from '../support/input-specs.js';
import { encodePhantomDicom, generatePhantom } from '../../main/phantom/index.js';
import { preprocess } from '../../main/preprocess/index.js';

const IMAGES = Number(process.env.BENCH_IMAGES ?? 8);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const DIR = process.env.BENCH_DIR ?? join(tmpdir(), 'cxr-triage-bench-preprocess');
const SIZE = 2500;
const SEED = 20261127;
const CLOCK_TICKS = 100; // USER_HZ on Linux

const spec = (side: number, resize: InputSpec['resize'] = 'area'): InputSpec =>
  inputSpec({ height: side, width: side, resize });
const plan = (side: number): PreparePlan => ({ inputs: [spec(side)], shortSide: side });

/** CPU ticks the whole machine was busy (all but idle and iowait), and this process's own. */
function machineBusyTicks(): number {
  const [, ...values] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/);
  const numbers = values.map(Number);
  return numbers.reduce((a, b) => a + b, 0) - numbers[3] - (numbers[4] ?? 0);
}
function ownTicks(): number {
  const usage = process.cpuUsage();
  return ((usage.user + usage.system) / 1e6) * CLOCK_TICKS;
}

function files(): string[] {
  mkdirSync(DIR, { recursive: true });
  return Array.from({ length: IMAGES + 1 }, (_, index) => {
    // The last: no window in the file, padding.
    const options = index < IMAGES ? {} : ({ window: 'none', padding: true } as const);
    const file = join(DIR, `phantom-${SEED}-${SIZE}-${index}${index < IMAGES ? '' : '-no-window'}.dcm`);
    if (!existsSync(file))
      writeFileSync(file, encodePhantomDicom(generatePhantom(SEED, index, { size: SIZE, ...options })));
    readFileSync(file); // into the page cache
    return file;
  });
}

type Samples = Record<string, number[]>;

async function round(list: string[], buffer: ReadBuffer, into: Samples, groupOf: (file: string) => string) {
  const add = (name: string, file: string, ms: number): void => {
    for (const key of [name, `${name} (${groupOf(file)})`]) (into[key] ??= []).push(ms);
  };
  for (const file of list) {
    for (const side of [224, 512]) {
      const started = performance.now();
      const prepared = await prepareImage(file, plan(side), buffer);
      add(`prepare ${side}`, file, performance.now() - started);
      if (prepared.status !== 'ok') throw new Error(`${file}: ${prepared.status}`);
      add(`prepare ${side}: its decodeMs`, file, prepared.timings.decodeMs);
      add(`prepare ${side}: its preprocessMs`, file, prepared.timings.preprocessMs);
    }
    let at = performance.now();
    const lap = (name: string): void => {
      const now = performance.now();
      add(name, file, now - at);
      at = now;
    };
    const bytes = await readImageFile(file, buffer);
    lap('read');
    const radiograph = await decodeRadiograph(file, bytes);
    lap('decode');
    preprocess(radiograph, spec(224));
    lap('preprocess 224');
    preprocess(radiograph, spec(512));
    lap('preprocess 512');
    preprocess(radiograph, spec(224, 'bilinear'));
    lap('preprocess 224 bilinear');
  }
}

const stats = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  const median = sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
  return { median: Math.round(median * 100) / 100, min: Math.round(sorted[0] * 100) / 100, n: sorted.length };
};

const list = files();
const groups = new Map<string, string>();
for (const file of list) {
  const radiograph = await decodeRadiograph(file, new Uint8Array(readFileSync(file)));
  const kind = radiograph.window.source === 'automatic' ? 'automatic window' : 'window in file';
  groups.set(file, kind);
  console.log(
    `${file}: ${radiograph.columns} x ${radiograph.rows}, ${radiograph.bitsStored} bits, ${radiograph.photometric}, ` +
      `${radiograph.window.source}${radiograph.indexed?.padding ? ', padding' : ''}`,
  );
}
const buffer = new ReadBuffer();
await round(list, buffer, {}, (file) => groups.get(file)!); // warm-up
const samples: Samples = {};
const load0 = loadavg();
const [busy0, own0, t0] = [machineBusyTicks(), ownTicks(), performance.now()];
for (let r = 0; r < ROUNDS; r++) await round(list, buffer, samples, (file) => groups.get(file)!);
const elapsed = ((performance.now() - t0) / 1000) * CLOCK_TICKS;
const own = ownTicks() - own0;
const others = Math.max(0, machineBusyTicks() - busy0 - own) / elapsed;
const load1 = loadavg();

console.log(
  `\n# Preprocess benchmark: ${IMAGES} images and 1 without a window x ${ROUNDS} rounds (after 1 warm-up), ms per image, ` +
    `${cpus()[0]?.model.trim() ?? 'unknown'} x ${availableParallelism()}, Node ${process.version}, ${new Date().toISOString()}`,
);
console.log(
  `load average ${load0.map((x) => x.toFixed(2)).join(' ')} before, ${load1.map((x) => x.toFixed(2)).join(' ')} after; ` +
    `other processes took ${others.toFixed(2)} cores, this one ${(own / elapsed).toFixed(2)}`,
);
const width = Math.max(...Object.keys(samples).map((k) => k.length));
for (const [name, values] of Object.entries(samples).sort(([a], [b]) => a.localeCompare(b))) {
  const { median, min, n } = stats(values);
  console.log(
    `${name.padEnd(width)}  median ${median.toFixed(2).padStart(6)}  min ${min.toFixed(2).padStart(6)}  (n ${n})`,
  );
}
console.log(
  `JSON ${JSON.stringify({ images: IMAGES, rounds: ROUNDS, load: [load0, load1], others, stats: Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, stats(v)])) })}`,
);
