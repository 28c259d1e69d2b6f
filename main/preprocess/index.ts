/**
 * The preprocess stage: one radiograph to one model's input tensor, exactly as the model's
 * manifest says it was trained (source plane, crop, resize, normalisation), plus the geometry that
 * maps the model's input grid back onto the original image, for heatmaps.
 */
import { displayRowRenderer, displayWordLevels } from '../ingest/index.js';
import type { Radiograph } from '../ingest/index.js';
import type { InputSpec } from '../packs/index.js';

/** Where the model input sits on the original (full resolution) image. */
export interface InputGeometry {
  /** The cropped region, in original image pixels. */
  region: { x: number; y: number; width: number; height: number };
  /** Model input size. */
  inputWidth: number;
  inputHeight: number;
  /** Original image size (before any reduced-resolution decode). */
  imageRows: number;
  imageColumns: number;
}

export interface ModelInput {
  /** channels x height x width, float32. */
  data: Float32Array;
  geometry: InputGeometry;
}

export interface SourcePlane {
  values: Float32Array;
  maxValue: number;
}

/**
 * What is already made for this radiograph, by key: source planes (bilinear resizing reads the
 * whole plane) and area-resized inputs. Members that read the same plane the same way (the
 * display rendering at 224 x 224, usually) share the work instead of each doing it again.
 */
export type PlaneCache = Map<string, SourcePlane>;

/** The largest value of a source's plane, which its normalisation divides by. */
function maxValueOf(radiograph: Radiograph, source: InputSpec['source']): number {
  return source === 'display' ? 255 : 2 ** radiograph.bitsStored - 1;
}

/**
 * A modality value (not padding) to the 'stored' source: the stored value from the stored bit
 * depth, with MONOCHROME1 inverted, as TorchXRayVision reads DICOM.
 */
function storedSource(radiograph: Radiograph): (value: number) => number {
  const maxValue = maxValueOf(radiograph, 'stored');
  const { slope, intercept } = radiograph.rescale;
  const offset = radiograph.signed ? 2 ** (radiograph.bitsStored - 1) : 0;
  const { invert } = radiograph;
  return (value) => {
    const stored = Math.min(maxValue, Math.max(0, (value - intercept) / slope + offset));
    return invert ? maxValue - stored : stored;
  };
}

/** Writes one row's source values, columns [from, to), into `out`: the display rendering, or the stored values. */
function sourceRows(
  radiograph: Radiograph,
  source: InputSpec['source'],
): (row: number, from: number, to: number, out: Float32Array) => void {
  if (source === 'display') return displayRowRenderer(radiograph);
  const valueOf = storedSource(radiograph);
  const { columns } = radiograph;
  const words = sourceWordValues(radiograph, source);
  if (words) {
    // Through the word tables: neither the float32 values nor the padding mask is made.
    const { words: samples, wordMask } = radiograph.indexed!;
    return (row, from, to, out) => {
      for (let x = from; x < to; x++) out[x - from] = words[samples[row * columns + x] & wordMask];
    };
  }
  const { pixels, padding } = radiograph;
  return (row, from, to, out) => {
    for (let x = from; x < to; x++) {
      const i = row * columns + x;
      out[x - from] = padding?.[i] ? 0 : valueOf(pixels[i]);
    }
  };
}

/**
 * For an indexed radiograph (sample words plus per-word tables), the source value of every sample
 * word, padding 0: exactly the float32 that a pixel holding that word has in the source plane.
 * Null when the radiograph is not indexed.
 */
function sourceWordValues(radiograph: Radiograph, source: InputSpec['source']): Float32Array | null {
  const { indexed } = radiograph;
  if (!indexed) return null;
  if (source === 'display') {
    const levels = displayWordLevels(radiograph);
    return levels && Float32Array.from(levels);
  }
  const valueOf = storedSource(radiograph);
  const table = new Float32Array(indexed.wordMask + 1);
  for (let word = 0; word <= indexed.wordMask; word++)
    table[word] = indexed.padding?.[word] ? 0 : valueOf(indexed.values[word]);
  return table;
}

/** The whole grey plane the model sees, with the maximum value its normalisation divides by. */
function sourcePlane(radiograph: Radiograph, source: InputSpec['source']): SourcePlane {
  const { rows, columns } = radiograph;
  const values = new Float32Array(rows * columns);
  const write = sourceRows(radiograph, source);
  for (let row = 0; row < rows; row++) write(row, 0, columns, values.subarray(row * columns, (row + 1) * columns));
  return { values, maxValue: maxValueOf(radiograph, source) };
}

/**
 * Area resampling along one axis: output sample t is the mean of the source interval
 * [start + t * scale, start + (t + 1) * scale), so shrinking a radiograph 10-fold does not alias.
 * The interval covers its first and last source samples in part (weights `head` and `tail`) and
 * those between wholly, so its sum is
 *
 *   head * v[first] + (v[first + 1] + ... + v[last - 1]) + tail * v[last]
 *
 * added in that order (one sample: head * v[first]), in double precision. The whole samples are
 * summed on their own so that integer sources (display levels) sum them exactly in integers, a
 * third of the time of a weighted float sum; every path adds in this one order, and so does the
 * reference implementation in the tests.
 */
interface AreaAxis {
  scale: number;
  first: Int32Array;
  count: Int32Array;
  head: Float64Array;
  tail: Float64Array;
}

function areaAxis(sourceLength: number, start: number, length: number, target: number): AreaAxis {
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

/** The largest magnitude an integer word table may hold for its sums to stay exact in int32. */
function fitsInt32Sums(values: Float32Array, samplesPerSum: number): boolean {
  const limit = 2 ** 31 / Math.max(1, samplesPerSum);
  for (let i = 0; i < values.length; i++)
    if (!Number.isInteger(values[i]) || Math.abs(values[i]) >= limit) return false;
  return true;
}

/**
 * Area resize of the crop region, one source row at a time: each row is resized horizontally
 * (rounded to float32) and added into the double-precision sums of the output rows it covers,
 * in the order areaAxis gives, so neither the full-size source plane nor the horizontally resized
 * region (a 2,000 x 224 float32 array) exists; the result rounds to float32.
 */
function resizeArea(
  radiograph: Radiograph,
  source: InputSpec['source'],
  region: InputGeometry['region'],
  width: number,
  height: number,
): Float32Array {
  const { rows, columns } = radiograph;
  const xs = areaAxis(columns, region.x, region.width, width);
  const ys = areaAxis(rows, region.y, region.height, height);
  // Source rows and columns the weights reach: the crop region.
  const x0 = xs.first[0];
  const x1 = xs.first[width - 1] + xs.count[width - 1];
  const y0 = ys.first[0];
  const y1 = ys.first[height - 1] + ys.count[height - 1];
  const horizontal = new Float32Array(width);
  const resizeRow = horizontalResizer(radiograph, source, xs, x0, x1, horizontal);
  // Per output sample: the head row's share, then the whole rows' sum (see areaAxis).
  const heads = new Float64Array(width * height);
  const bodies = new Float64Array(width * height);
  const out = new Float32Array(width * height);
  const { first, count, head, tail, scale } = ys;
  let firstOpen = 0; // the first output row whose source rows are not all added yet
  for (let row = y0; row < y1; row++) {
    resizeRow(row);
    while (firstOpen < height && first[firstOpen] + count[firstOpen] <= row) firstOpen++;
    for (let t = firstOpen; t < height && first[t] <= row; t++) {
      const k = row - first[t];
      const n = count[t];
      if (k >= n) continue;
      const at = t * width;
      if (n === 1) {
        for (let c = 0; c < width; c++) out[at + c] = (head[t] * horizontal[c]) / scale;
      } else if (k === 0) {
        for (let c = 0; c < width; c++) heads[at + c] = head[t] * horizontal[c];
      } else if (k < n - 1) {
        for (let c = 0; c < width; c++) bodies[at + c] += horizontal[c];
      } else {
        for (let c = 0; c < width; c++)
          out[at + c] = (heads[at + c] + bodies[at + c] + tail[t] * horizontal[c]) / scale;
      }
    }
  }
  return out;
}

/**
 * The horizontal pass: writes one source row's area-resized values into `horizontal`. An indexed
 * radiograph's pixels are looked up word by word where the sums reach them (integer sums when its
 * source values are integers, as display levels are); others render the row first.
 */
function horizontalResizer(
  radiograph: Radiograph,
  source: InputSpec['source'],
  xs: AreaAxis,
  x0: number,
  x1: number,
  horizontal: Float32Array,
): (row: number) => void {
  const { columns } = radiograph;
  const { first, count, head, tail, scale } = xs;
  const width = horizontal.length;
  const wordValues = sourceWordValues(radiograph, source);
  if (wordValues && fitsInt32Sums(wordValues, Math.max(...count))) {
    const { words, wordMask } = radiograph.indexed!;
    const values = Int32Array.from(wordValues);
    return (row) => {
      const rowStart = row * columns;
      for (let t = 0; t < width; t++) {
        const at = rowStart + first[t];
        const n = count[t];
        if (n <= 1) {
          horizontal[t] = n === 1 ? (head[t] * values[words[at] & wordMask]) / scale : 0;
          continue;
        }
        const end = at + n - 1;
        let body = 0;
        for (let i = at + 1; i < end; i++) body += values[words[i] & wordMask];
        horizontal[t] =
          (head[t] * values[words[at] & wordMask] + body + tail[t] * values[words[end] & wordMask]) / scale;
      }
    };
  }
  // Any other source: the row rendered (or looked up) into a line, then the same sums in floats.
  const write = sourceRows(radiograph, source);
  const line = new Float32Array(x1 - x0);
  return (row) => {
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
  };
}

function resizeBilinear(
  plane: Float32Array,
  columns: number,
  rows: number,
  region: InputGeometry['region'],
  width: number,
  height: number,
): Float32Array {
  const out = new Float32Array(width * height);
  const sx = region.width / width;
  const sy = region.height / height;
  for (let r = 0; r < height; r++) {
    const y = Math.min(rows - 1, Math.max(0, region.y + (r + 0.5) * sy - 0.5));
    const y0 = Math.floor(y);
    const y1 = Math.min(rows - 1, y0 + 1);
    const fy = y - y0;
    for (let c = 0; c < width; c++) {
      const x = Math.min(columns - 1, Math.max(0, region.x + (c + 0.5) * sx - 0.5));
      const x0 = Math.floor(x);
      const x1 = Math.min(columns - 1, x0 + 1);
      const fx = x - x0;
      const top = plane[y0 * columns + x0] * (1 - fx) + plane[y0 * columns + x1] * fx;
      const bottom = plane[y1 * columns + x0] * (1 - fx) + plane[y1 * columns + x1] * fx;
      out[r * width + c] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** The region of the decoded image the model sees: a centred square, or everything. */
export function cropRegion(rows: number, columns: number, crop: InputSpec['crop']): InputGeometry['region'] {
  if (crop === 'stretch') return { x: 0, y: 0, width: columns, height: rows };
  const side = Math.min(rows, columns);
  return { x: Math.floor((columns - side) / 2), y: Math.floor((rows - side) / 2), width: side, height: side };
}

export function preprocess(radiograph: Radiograph, spec: InputSpec, planes: PlaneCache = new Map()): ModelInput {
  const { rows, columns } = radiograph;
  const region = cropRegion(rows, columns, spec.crop);
  const maxValue = maxValueOf(radiograph, spec.source);
  let resized: Float32Array;
  if (spec.resize === 'area') {
    const key = `area:${spec.source}:${spec.crop}:${spec.width}x${spec.height}`;
    if (!planes.has(key))
      planes.set(key, { values: resizeArea(radiograph, spec.source, region, spec.width, spec.height), maxValue });
    resized = planes.get(key)!.values;
  } else {
    const key = `plane:${spec.source}`;
    if (!planes.has(key)) planes.set(key, sourcePlane(radiograph, spec.source));
    resized = resizeBilinear(planes.get(key)!.values, columns, rows, region, spec.width, spec.height);
  }

  const plane = spec.width * spec.height;
  const data = new Float32Array(spec.channels * plane);
  const normalization = spec.normalization;
  for (let channel = 0; channel < spec.channels; channel++) {
    for (let i = 0; i < plane; i++) {
      const unit = resized[i] / maxValue;
      data[channel * plane + i] =
        normalization.kind === 'xrv'
          ? (2 * unit - 1) * normalization.range
          : (unit - normalization.mean[channel]) / normalization.std[channel];
    }
  }

  // Back to original pixels when only a lower resolution level was decoded.
  const fullRows = radiograph.resolution?.fullRows ?? rows;
  const fullColumns = radiograph.resolution?.fullColumns ?? columns;
  const fy = fullRows / rows;
  const fx = fullColumns / columns;
  return {
    data,
    geometry: {
      region: { x: region.x * fx, y: region.y * fy, width: region.width * fx, height: region.height * fy },
      inputWidth: spec.width,
      inputHeight: spec.height,
      imageRows: fullRows,
      imageColumns: fullColumns,
    },
  };
}
