/**
 * How conspicuous the phantoms' nodules are, with the generator's standard nodules and with
 * `--nodules visible`: for every nodule, a matched filter at the nodule's radius (the mean of a
 * square of the nodule's area minus the mean of the ring around it, out to twice its side) at the
 * nodule's centre, against the same filter's responses over the nodule-free lung of the same
 * image (every lung pixel whose whole footprint touches no finding's mask and no padding). Each
 * nodule gets a detectability index d' = (response - mean) / SD of those responses, and its
 * percentile among them. The image is the stored values, denser brighter (MONOCHROME1 inverted).
 * Phantoms are made in memory with the nodule forced present (everything else as drawn).
 *
 * usage: node dist/models/training/nodule-conspicuity.js [--seed S] [--count N] [--size PX] [--out FILE]
 *
 * Prints, per appearance, the median and 10th and 90th percentiles of d' and of the percentile,
 * overall and by diameter (under 10 mm, 10 mm and over) and solidity; --out writes every nodule's
 * figures as JSON.
 */
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generatePhantom, PHANTOM_TERMS } from '../../main/phantom/index.js';
import type { NoduleAppearance, Phantom } from '../../main/phantom/index.js';

/** Summed-area table, (rows + 1) x (columns + 1): sat[(y) * (columns + 1) + x] sums rows < y, columns < x. */
export function summedArea(values: ArrayLike<number>, rows: number, columns: number): Float64Array {
  const width = columns + 1;
  const sat = new Float64Array((rows + 1) * width);
  for (let y = 0; y < rows; y++) {
    let run = 0;
    for (let x = 0; x < columns; x++) {
      run += values[y * columns + x];
      sat[(y + 1) * width + x + 1] = sat[y * width + x + 1] + run;
    }
  }
  return sat;
}

/** Sum over rows y0..y1 and columns x0..x1 inclusive (inside the image). */
function boxSum(sat: Float64Array, columns: number, y0: number, x0: number, y1: number, x1: number): number {
  const width = columns + 1;
  return sat[(y1 + 1) * width + x1 + 1] - sat[y0 * width + x1 + 1] - sat[(y1 + 1) * width + x0] + sat[y0 * width + x0];
}

/**
 * The matched filter's geometry for a nodule of radius r pixels: an inner square of half-width
 * a = max(1, round(r * sqrt(pi) / 2)) (about the disc's area) and an outer square of half-width 2a + 1.
 */
export function filterHalfWidths(radiusPx: number): { inner: number; outer: number } {
  const inner = Math.max(1, Math.round((radiusPx * Math.sqrt(Math.PI)) / 2));
  return { inner, outer: 2 * inner + 1 };
}

/** The centre-surround response at (row, column): mean of the inner square minus mean of the ring; NaN where the outer square leaves the image. */
export function centreSurround(
  sat: Float64Array,
  rows: number,
  columns: number,
  row: number,
  column: number,
  inner: number,
  outer: number,
): number {
  if (row - outer < 0 || column - outer < 0 || row + outer >= rows || column + outer >= columns) return NaN;
  const innerSum = boxSum(sat, columns, row - inner, column - inner, row + inner, column + inner);
  const outerSum = boxSum(sat, columns, row - outer, column - outer, row + outer, column + outer);
  const innerCount = (2 * inner + 1) ** 2;
  const ringCount = (2 * outer + 1) ** 2 - innerCount;
  return innerSum / innerCount - (outerSum - innerSum) / ringCount;
}

export interface Conspicuity {
  response: number;
  backgroundMean: number;
  backgroundSd: number;
  backgroundCount: number;
  /** (response - backgroundMean) / backgroundSd. */
  dPrime: number;
  /** Share of the background responses below the nodule's, 0 to 1 (ties count half). */
  percentile: number;
}

/**
 * One nodule's conspicuity in an image: `image` row-major (denser brighter), `lesion` its centre
 * and radius in pixels, `allowed` 1 at the pixels whose outer footprint may serve as background
 * (lung, no finding, no padding; see backgroundCentres).
 */
export function conspicuity(
  image: ArrayLike<number>,
  rows: number,
  columns: number,
  lesion: { row: number; column: number; radiusPx: number },
  allowed: Uint8Array,
  sat: Float64Array = summedArea(image, rows, columns),
): Conspicuity {
  const { inner, outer } = filterHalfWidths(lesion.radiusPx);
  const response = centreSurround(sat, rows, columns, Math.round(lesion.row), Math.round(lesion.column), inner, outer);
  const blocked = summedArea(
    Uint8Array.from(allowed, (a) => 1 - a),
    rows,
    columns,
  );
  const background: number[] = [];
  for (let y = outer; y < rows - outer; y++) {
    for (let x = outer; x < columns - outer; x++) {
      if (!allowed[y * columns + x]) continue;
      if (boxSum(blocked, columns, y - outer, x - outer, y + outer, x + outer) > 0) continue;
      background.push(centreSurround(sat, rows, columns, y, x, inner, outer));
    }
  }
  let sum = 0;
  for (const r of background) sum += r;
  const mean = sum / background.length;
  let squares = 0;
  let below = 0;
  for (const r of background) {
    squares += (r - mean) ** 2;
    below += r < response ? 1 : r === response ? 0.5 : 0;
  }
  const sd = Math.sqrt(squares / Math.max(1, background.length - 1));
  return {
    response,
    backgroundMean: mean,
    backgroundSd: sd,
    backgroundCount: background.length,
    dPrime: (response - mean) / sd,
    percentile: below / background.length,
  };
}

/** The phantom's stored values with denser brighter. */
export function densityImage(phantom: Phantom): Float64Array {
  const sign = phantom.photometric === 'MONOCHROME1' ? -1 : 1;
  return Float64Array.from(phantom.stored, (v) => sign * v);
}

/** Lung pixels with no finding's mask and no padding: 1 where a background footprint may lie. */
export function backgroundCentres(phantom: Phantom): Uint8Array {
  const allowed = Uint8Array.from(phantom.lungs, (l) => (l > 0 ? 1 : 0));
  for (const term of PHANTOM_TERMS) {
    const mask = phantom.masks[term];
    if (mask) for (let i = 0; i < mask.length; i++) if (mask[i]) allowed[i] = 0;
  }
  if (phantom.paddingValue !== null)
    for (let i = 0; i < allowed.length; i++) if (phantom.stored[i] === phantom.paddingValue) allowed[i] = 0;
  return allowed;
}

export interface NoduleFigure {
  index: number;
  appearance: NoduleAppearance;
  diameterMm: number;
  density: number;
  solid: boolean;
  dPrime: number;
  percentile: number;
}

/** The nodules of one phantom with one appearance; `solid` is filled in by measurePair. */
export function measurePhantom(
  seed: number,
  index: number,
  size: number,
  appearance: NoduleAppearance,
): NoduleFigure[] {
  const phantom = generatePhantom(seed, index, { size, with: ['nodule'], nodules: appearance });
  const image = densityImage(phantom);
  const sat = summedArea(image, phantom.rows, phantom.columns);
  const allowed = backgroundCentres(phantom);
  return phantom.findings
    .filter((f) => f.term === 'nodule')
    .map((f) => {
      const c = conspicuity(
        image,
        phantom.rows,
        phantom.columns,
        { row: f.centrePx.row, column: f.centrePx.column, radiusPx: f.radiusPx },
        allowed,
        sat,
      );
      return {
        index,
        appearance,
        diameterMm: Number(f.details.diameterMm),
        density: f.density ?? 0,
        solid: false,
        dPrime: c.dPrime,
        percentile: c.percentile,
      };
    });
}

/**
 * Both appearances of one phantom's nodules, in the same order; a nodule is solid when its visible
 * density is at least the solid floor (0.85), which no subsolid nodule reaches.
 */
export function measurePair(seed: number, index: number, size: number): NoduleFigure[] {
  const standard = measurePhantom(seed, index, size, 'standard');
  const visible = measurePhantom(seed, index, size, 'visible');
  for (const [k, figure] of visible.entries()) {
    figure.solid = figure.density >= 0.85;
    standard[k].solid = figure.solid;
  }
  return [...standard, ...visible];
}

/** The q-quantile (0 to 1) of values, linear between order statistics. */
export function quantile(values: readonly number[], q: number): number {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

function summary(figures: readonly NoduleFigure[]): Record<string, number> {
  const d = figures.map((f) => f.dPrime);
  const p = figures.map((f) => f.percentile);
  const r = (x: number, digits = 2): number => Math.round(x * 10 ** digits) / 10 ** digits;
  return {
    nodules: figures.length,
    dPrimeP10: r(quantile(d, 0.1)),
    dPrimeMedian: r(quantile(d, 0.5)),
    dPrimeP90: r(quantile(d, 0.9)),
    percentileP10: r(quantile(p, 0.1), 3),
    percentileMedian: r(quantile(p, 0.5), 3),
    percentileP90: r(quantile(p, 0.9), 3),
    shareAbove99: r(p.filter((x) => x > 0.99).length / Math.max(1, p.length), 3),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      seed: { type: 'string', default: '7707' },
      count: { type: 'string', default: '300' },
      size: { type: 'string', default: '600' },
      out: { type: 'string' },
    },
  });
  const seed = Number(values.seed);
  const count = Number(values.count);
  const size = Number(values.size);
  const started = performance.now();
  const figures: NoduleFigure[] = [];
  for (let index = 0; index < count; index++) figures.push(...measurePair(seed, index, size));
  const result: Record<string, unknown> = {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus()[0]?.model ?? 'unknown CPU'}, ${cpus().length} cores`,
    command: `node dist/models/training/nodule-conspicuity.js --seed ${seed} --count ${count} --size ${size}`,
    seconds: Math.round((performance.now() - started) / 1000),
  };
  for (const appearance of ['standard', 'visible'] as const) {
    const mine = figures.filter((f) => f.appearance === appearance);
    result[appearance] = {
      all: summary(mine),
      under10mm: summary(mine.filter((f) => f.diameterMm < 10)),
      from10mm: summary(mine.filter((f) => f.diameterMm >= 10)),
      solid: summary(mine.filter((f) => f.solid)),
      subsolid: summary(mine.filter((f) => !f.solid)),
    };
  }
  console.log(JSON.stringify(result, null, 2));
  if (values.out) writeFileSync(values.out, `${JSON.stringify({ ...result, nodules: figures }, null, 1)}\n`);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
