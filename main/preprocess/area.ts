/**
 * Area resampling of a radiograph's crop region: output sample t of an axis is the mean of the
 * source interval [start + t * scale, start + (t + 1) * scale), so shrinking a radiograph 10-fold
 * does not alias. The interval covers its first and last source samples in part (weights `head`
 * and `tail`) and those between wholly, so its sum is
 *
 *   head * v[first] + (v[first + 1] + ... + v[last - 1]) + tail * v[last]
 *
 * added in that order (one sample: head * v[first]), in double precision. The whole samples are
 * summed on their own so that integer sources (display levels, integral stored values) sum them
 * exactly in integers; every path adds in this one order, and so does the reference
 * implementation in the tests. Rows are resized horizontally (rounded to float32), then added
 * into the output rows they cover (VerticalSums); the result rounds to float32.
 *
 * Source rows are read one at a time, so neither the full-size source plane nor the horizontally
 * resized region exists. An indexed radiograph whose source values are integers (display levels
 * always) takes the WebAssembly kernel (kernel.ts): its sample words, crop columns only, are
 * copied a chunk of rows at a time into the kernel's memory, and each row's pass runs there.
 */
import type { Radiograph } from '../ingest/index.js';
import { setUpKernel } from './kernel.js';
import { integerWordTable, sourceRows } from './source.js';
import type { Source } from './source.js';

export interface Region {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface AreaAxis {
  scale: number;
  first: Int32Array;
  count: Int32Array;
  head: Float64Array;
  tail: Float64Array;
}

export function areaAxis(sourceLength: number, start: number, length: number, target: number): AreaAxis {
  const scale = length / target;
  const axis = {
    scale,
    first: new Int32Array(target),
    count: new Int32Array(target),
    head: new Float64Array(target),
    tail: new Float64Array(target),
  };
  for (let t = 0; t < target; t++) {
    const from = start + t * scale;
    const to = from + scale;
    const first = Math.floor(from);
    const last = Math.min(sourceLength - 1, Math.ceil(to) - 1);
    axis.first[t] = first;
    axis.count[t] = Math.max(0, last - first + 1);
    axis.head[t] = Math.min(to, first + 1) - from;
    axis.tail[t] = Math.min(to, last + 1) - Math.max(from, last);
  }
  return axis;
}

/** The source samples an axis reads: [from, to). */
export function axisSpan(axis: AreaAxis): { from: number; to: number } {
  const last = axis.first.length - 1;
  return { from: axis.first[0], to: axis.first[last] + axis.count[last] };
}

/** The same axis with `first` counted from `origin` (the crop's first column, for the kernel). */
function shifted(axis: AreaAxis, origin: number): AreaAxis {
  return { ...axis, first: axis.first.map((first) => first - origin) };
}

/** Double-precision sums of the output rows, kept for the next resize of the same size (one at a time per thread). */
let spare: { heads: Float64Array; bodies: Float64Array } | null = null;

/**
 * The vertical pass: each source row's horizontal result is added, rows in increasing order, into
 * the output rows whose intervals cover it: the head row's share, then the whole rows' sum, then
 * the tail's share and the division (see the file's comment).
 */
export class VerticalSums {
  private readonly heads: Float64Array;
  private readonly bodies: Float64Array;
  private readonly out: Float32Array;
  /** The first output row whose source rows are not all added yet. */
  private firstOpen = 0;

  constructor(
    private readonly ys: AreaAxis,
    private readonly width: number,
  ) {
    const size = width * ys.first.length;
    const sums = spare && spare.heads.length === size ? spare : null;
    spare = null;
    this.heads = sums?.heads ?? new Float64Array(size);
    this.bodies = sums?.bodies ?? new Float64Array(size);
    this.out = new Float32Array(size);
  }

  add(row: number, horizontal: Float32Array): void {
    const { first, count, head, tail, scale } = this.ys;
    const { width, heads, bodies, out } = this;
    const height = first.length;
    while (this.firstOpen < height && first[this.firstOpen] + count[this.firstOpen] <= row) this.firstOpen++;
    for (let t = this.firstOpen; t < height && first[t] <= row; t++) {
      const k = row - first[t];
      const n = count[t];
      if (k >= n) continue;
      const at = t * width;
      if (n === 1) {
        for (let c = 0; c < width; c++) out[at + c] = (head[t] * horizontal[c]) / scale;
      } else if (k === 0) {
        for (let c = 0; c < width; c++) heads[at + c] = head[t] * horizontal[c];
      } else if (k === 1 && n > 2) {
        // The whole rows' sum starts here (0 + x is x): the sums need no clearing between images.
        for (let c = 0; c < width; c++) bodies[at + c] = horizontal[c];
      } else if (k < n - 1) {
        for (let c = 0; c < width; c++) bodies[at + c] += horizontal[c];
      } else if (n === 2) {
        for (let c = 0; c < width; c++) out[at + c] = (heads[at + c] + 0 + tail[t] * horizontal[c]) / scale;
      } else {
        for (let c = 0; c < width; c++)
          out[at + c] = (heads[at + c] + bodies[at + c] + tail[t] * horizontal[c]) / scale;
      }
    }
  }

  /** The output, once every source row has been added; the sums go back for the next resize. */
  result(): Float32Array {
    spare = { heads: this.heads, bodies: this.bodies };
    return this.out;
  }
}

/** Rows of sample words copied into the kernel at a time: about as much as the L2 cache holds. */
const CHUNK_BYTES = 256 * 1024;
const HOST_LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The area resize of `region` to width x height, as the file's comment says. */
export function resizeArea(
  radiograph: Radiograph,
  source: Source,
  region: Region,
  width: number,
  height: number,
): Float32Array {
  const { rows, columns } = radiograph;
  const xs = areaAxis(columns, region.x, region.width, width);
  const ys = areaAxis(rows, region.y, region.height, height);
  return resizeWithKernel(radiograph, source, xs, ys) ?? resizeInFloats(radiograph, source, xs, ys);
}

/** The kernel's path, or null when the source values are not integers (or the words not indexed). */
function resizeWithKernel(radiograph: Radiograph, source: Source, xs: AreaAxis, ys: AreaAxis): Float32Array | null {
  const { indexed } = radiograph;
  // The kernel reads words in little-endian order, as a typed array holds them on such a host.
  if (!indexed || !HOST_LITTLE_ENDIAN) return null;
  const { words } = indexed;
  const bytes = words.BYTES_PER_ELEMENT as 1 | 2;
  const { columns } = radiograph;
  const { from: x0, to: x1 } = axisSpan(xs);
  const { from: y0, to: y1 } = axisSpan(ys);
  const span = x1 - x0;
  const kernel = setUpKernel(bytes, span, shifted(xs, x0), CHUNK_BYTES);
  const mask = integerWordTable(radiograph, source, kernel.table);
  if (mask === null) return null;
  const vertical = new VerticalSums(ys, xs.first.length);
  for (let start = y0; start < y1; start += kernel.rowCapacity) {
    const n = Math.min(kernel.rowCapacity, y1 - start);
    for (let r = 0; r < n; r++) {
      const from = (start + r) * columns + x0;
      kernel.rows.set(words.subarray(from, from + span), r * span);
    }
    for (let r = 0; r < n; r++) {
      kernel.run(r, mask);
      vertical.add(start + r, kernel.horizontal);
    }
  }
  return vertical.result();
}

/** Any source: each row rendered (or looked up) into a line, then the same sums in floats. */
function resizeInFloats(radiograph: Radiograph, source: Source, xs: AreaAxis, ys: AreaAxis): Float32Array {
  const { first, count, head, tail, scale } = xs;
  const width = first.length;
  const { from: x0, to: x1 } = axisSpan(xs);
  const { from: y0, to: y1 } = axisSpan(ys);
  const write = sourceRows(radiograph, source);
  const line = new Float32Array(x1 - x0);
  const horizontal = new Float32Array(width);
  const vertical = new VerticalSums(ys, width);
  for (let row = y0; row < y1; row++) {
    write(row, x0, x1, line);
    for (let t = 0; t < width; t++) {
      const at = first[t] - x0;
      const n = count[t];
      if (n <= 1) {
        horizontal[t] = n === 1 ? (head[t] * line[at]) / scale : 0;
        continue;
      }
      const end = at + n - 1;
      let body = 0;
      for (let i = at + 1; i < end; i++) body += line[i];
      horizontal[t] = (head[t] * line[at] + body + tail[t] * line[end]) / scale;
    }
    vertical.add(row, horizontal);
  }
  return vertical.result();
}
