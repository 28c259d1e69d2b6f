/**
 * Lung patches for the nodule learnability probe (nodule_probe.py --patches): from each phantom,
 * made in memory with the nodule forced present, one patch centred on a nodule (jittered by up to
 * a quarter of the patch) and one centred on a random nodule-free lung pixel of the same image
 * (its whole patch clear of every finding's mask and of padding). The stored values, denser
 * brighter, minus the patch's mean, over the SD of the image's lung pixels.
 *
 * usage: node dist/models/training/nodule-patches.js --seed S --count N --out PREFIX
 *          [--nodules standard|visible] [--size PX] [--patch PX]
 * Writes PREFIX.x.f32 (2N x 1 x P x P, float32 LE, positive then negative for each phantom),
 * PREFIX.y.f32 (2N labels: 1, 0, 1, 0...) and PREFIX.json (shape and options).
 */
import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generatePhantom, mulberry32, NODULE_APPEARANCES } from '../../main/phantom/index.js';
import type { NoduleAppearance } from '../../main/phantom/index.js';
import { backgroundCentres, densityImage, summedArea } from './nodule-conspicuity.js';

function main(): void {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string' },
      count: { type: 'string' },
      out: { type: 'string' },
      nodules: { type: 'string', default: 'standard' },
      size: { type: 'string', default: '600' },
      patch: { type: 'string', default: '48' },
    },
  });
  if (!values.seed || !values.count || !values.out) throw new Error('--seed, --count and --out are needed');
  const seed = Number(values.seed);
  const count = Number(values.count);
  const size = Number(values.size);
  const P = Number(values.patch);
  const nodules = values.nodules as NoduleAppearance;
  if (!NODULE_APPEARANCES.includes(nodules)) throw new Error(`--nodules must be standard or visible`);
  const x = new Float32Array(2 * count * P * P);
  const y = new Float32Array(2 * count);
  const half = P / 2;
  for (let index = 0; index < count; index++) {
    const phantom = generatePhantom(seed, index, { size, with: ['nodule'], nodules });
    const { rows, columns } = phantom;
    const image = densityImage(phantom);
    const allowed = backgroundCentres(phantom);
    let sum = 0;
    let squares = 0;
    let n = 0;
    for (let i = 0; i < image.length; i++)
      if (phantom.lungs[i]) {
        sum += image[i];
        squares += image[i] ** 2;
        n++;
      }
    const sd = Math.sqrt(Math.max(1e-9, squares / n - (sum / n) ** 2));
    const random = mulberry32(seed * 100003 + index);
    const uniform = (low: number, high: number): number => low + (high - low) * random();
    const clamp = (v: number, high: number): number => Math.min(high - P, Math.max(0, Math.round(v - half)));
    const put = (slot: number, top: number, left: number): void => {
      let mean = 0;
      for (let r = 0; r < P; r++) for (let c = 0; c < P; c++) mean += image[(top + r) * columns + left + c];
      mean /= P * P;
      for (let r = 0; r < P; r++)
        for (let c = 0; c < P; c++) x[slot * P * P + r * P + c] = (image[(top + r) * columns + left + c] - mean) / sd;
    };
    const nodule = phantom.findings.find((f) => f.term === 'nodule')!;
    const jitter = P / 4;
    put(
      2 * index,
      clamp(nodule.centrePx.row + uniform(-jitter, jitter), rows),
      clamp(nodule.centrePx.column + uniform(-jitter, jitter), columns),
    );
    y[2 * index] = 1;
    // A nodule-free lung patch: a random allowed centre whose whole patch is allowed.
    const blocked = summedArea(
      Uint8Array.from(allowed, (a) => 1 - a),
      rows,
      columns,
    );
    const width = columns + 1;
    let top = clamp(rows / 2, rows);
    let left = clamp(columns / 4, columns);
    for (let attempt = 0; attempt < 5000; attempt++) {
      const t = Math.floor(random() * (rows - P + 1));
      const l = Math.floor(random() * (columns - P + 1));
      const inside =
        blocked[(t + P) * width + l + P] -
        blocked[t * width + l + P] -
        blocked[(t + P) * width + l] +
        blocked[t * width + l];
      if (inside > 0) continue;
      top = t;
      left = l;
      break;
    }
    put(2 * index + 1, top, left);
    y[2 * index + 1] = 0;
  }
  writeFileSync(`${values.out}.x.f32`, Buffer.from(x.buffer));
  writeFileSync(`${values.out}.y.f32`, Buffer.from(y.buffer));
  writeFileSync(
    `${values.out}.json`,
    `${JSON.stringify({ seed, count, size, nodules, patch: P, shape: [2 * count, 1, P, P] }, null, 2)}\n`,
  );
  console.log(`${2 * count} patches of ${P} x ${P} (seed ${seed}, ${nodules} nodules) in ${values.out}.x.f32`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) main();
