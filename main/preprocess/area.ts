/**
 * Area resampling of a radiograph's crop region (see axis.ts for the arithmetic): rows are resized
 * horizontally (rounded to float32), then added into the output rows they cover (vertical.ts);
 * the result rounds to float32.
 *
 * Source rows are read one at a time, so neither the full-size source plane nor the horizontally
 * resized region exists. An indexed radiograph whose source values are integers (display levels
 * always) takes the WebAssembly kernel (kernel.ts): its sample words, crop columns only, are
 * copied a chunk of rows at a time into the kernel's memory, and each row's pass runs there; an
 * uncompressed file read a chunk of rows at a time (resizeRowsArea) is read straight into it.
 */
import type { DicomRows, Radiograph } from '../ingest/index.js';
import { areaAxis, axisSpan, shifted } from './axis.js';
import type { AreaAxis, Region } from './axis.js';
import { areaKernel } from './kernel.js';
import { integerWordTable, sourceRows, tableBytesOf } from './source.js';
import type { Source } from './source.js';
import { VerticalSums } from './vertical.js';

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
  const { columns } = radiograph;
  const { from: x0, to: x1 } = axisSpan(xs);
  const { from: y0, to: y1 } = axisSpan(ys);
  const span = x1 - x0;
  // Only the crop's columns are copied: rows of `span` words.
  const bytes = words.BYTES_PER_ELEMENT as 1 | 2;
  const kernel = areaKernel(bytes, tableBytesOf(source), span, 0, shifted(xs, x0), ys, CHUNK_BYTES);
  const mask = integerWordTable(radiograph, indexed, source, kernel.table);
  if (mask === null) return null;
  for (let start = y0; start < y1; start += kernel.rowCapacity) {
    const n = Math.min(kernel.rowCapacity, y1 - start);
    for (let r = 0; r < n; r++) {
      const from = (start + r) * columns + x0;
      kernel.rows.set(words.subarray(from, from + span), r * span);
    }
    for (let r = 0; r < n; r++) kernel.add(r, start + r, mask);
  }
  return kernel.result();
}

/**
 * The area resize of a file read a chunk of rows at a time (DicomRows): the crop's rows are read
 * whole, in order, straight into the kernel's memory, and each passes through the kernel there;
 * the file is never held whole. Null when the source values are not integers (nothing is read).
 */
export function resizeRowsArea(
  rows: DicomRows,
  source: Source,
  region: Region,
  width: number,
  height: number,
): Float32Array | null {
  const { radiograph, tables, bytesPerSample } = rows;
  const xs = areaAxis(radiograph.columns, region.x, region.width, width);
  const ys = areaAxis(radiograph.rows, region.y, region.height, height);
  const { from: x0 } = axisSpan(xs);
  const { from: y0, to: y1 } = axisSpan(ys);
  const bytes = bytesPerSample;
  const kernel = areaKernel(bytes, tableBytesOf(source), radiograph.columns, x0, shifted(xs, x0), ys, CHUNK_BYTES);
  const mask = integerWordTable(radiograph, tables, source, kernel.table);
  if (mask === null) return null;
  for (let start = y0; start < y1; start += kernel.rowCapacity) {
    const n = Math.min(kernel.rowCapacity, y1 - start);
    rows.read(start, n, kernel.rowBytes);
    for (let r = 0; r < n; r++) kernel.add(r, start + r, mask);
  }
  return kernel.result();
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
