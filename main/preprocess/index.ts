/**
 * The preprocess stage: one radiograph to one model's input tensor, exactly as the model's
 * manifest says it was trained (source plane, crop, resize, normalisation), plus the geometry that
 * maps the model's input grid back onto the original image, for heatmaps.
 */
import { displayRowRenderer } from '../ingest/index.js';
import type { Radiograph } from '../ingest/index.js';
import type { InputSpec } from '../packs/manifest.js';

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
 * Writes one row's source values, columns [from, to), into `out`: the display rendering, or the
 * stored values from the stored bit depth with MONOCHROME1 inverted, as TorchXRayVision reads DICOM.
 */
function sourceRows(radiograph: Radiograph, source: InputSpec['source']): (row: number, from: number, to: number, out: Float32Array) => void {
  if (source === 'display') return displayRowRenderer(radiograph);
  const maxValue = maxValueOf(radiograph, source);
  const { slope, intercept } = radiograph.rescale;
  const offset = radiograph.signed ? 2 ** (radiograph.bitsStored - 1) : 0;
  const { invert, columns, indexed } = radiograph;
  if (indexed) {
    // Through the word tables: neither the float32 values nor the padding mask is made.
    const { words, wordMask, values } = indexed;
    const padding = indexed.padding;
    return (row, from, to, out) => {
      for (let x = from; x < to; x++) {
        const word = words[row * columns + x] & wordMask;
        if (padding?.[word]) {
          out[x - from] = 0;
          continue;
        }
        const stored = Math.min(maxValue, Math.max(0, (values[word] - intercept) / slope + offset));
        out[x - from] = invert ? maxValue - stored : stored;
      }
    };
  }
  const { pixels, padding } = radiograph;
  return (row, from, to, out) => {
    for (let x = from; x < to; x++) {
      const i = row * columns + x;
      if (padding?.[i]) {
        out[x - from] = 0;
        continue;
      }
      const value = pixels[i];
      const stored = Math.min(maxValue, Math.max(0, (value - intercept) / slope + offset));
      out[x - from] = invert ? maxValue - stored : stored;
    }
  };
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
 * Area resampling weights along one axis: output sample t is the mean of the source interval
 * [start + t * scale, start + (t + 1) * scale), each source sample weighted by how much of it the
 * interval covers, so shrinking a radiograph 10-fold does not alias. Computed once per axis.
 */
function areaWeights(sourceLength: number, start: number, length: number, target: number) {
  const scale = length / target;
  const first = new Int32Array(target);
  const count = new Int32Array(target);
  const offsets = new Int32Array(target);
  const weights: number[] = [];
  for (let t = 0; t < target; t++) {
    const from = start + t * scale;
    const to = from + scale;
    first[t] = Math.floor(from);
    const last = Math.min(sourceLength - 1, Math.ceil(to) - 1);
    count[t] = Math.max(0, last - first[t] + 1);
    offsets[t] = weights.length;
    for (let s = first[t]; s <= last; s++) weights.push(Math.min(to, s + 1) - Math.max(from, s));
  }
  return { scale, first, count, offsets, weights: Float64Array.from(weights) };
}

/**
 * Area resize of the crop region, one source row at a time: each row is made, resized
 * horizontally (rounded to float32), and added into the double-precision sums of the output rows
 * it covers, so neither the full-size source plane nor the horizontally resized region (a 2,000 x
 * 224 float32 array) exists. Each output row adds its source rows in source order, as a separate
 * vertical pass would; the result rounds to float32.
 */
function resizeArea(
  radiograph: Radiograph,
  source: InputSpec['source'],
  region: InputGeometry['region'],
  width: number,
  height: number,
): Float32Array {
  const { rows, columns } = radiograph;
  const xs = areaWeights(columns, region.x, region.width, width);
  const ys = areaWeights(rows, region.y, region.height, height);
  // Source rows and columns the weights reach: the crop region.
  const x0 = xs.first[0];
  const x1 = xs.first[width - 1] + xs.count[width - 1];
  const y0 = ys.first[0];
  const y1 = ys.first[height - 1] + ys.count[height - 1];
  const write = sourceRows(radiograph, source);
  const line = new Float32Array(x1 - x0);
  const horizontal = new Float32Array(width);
  const sums = new Float64Array(width * height);
  let firstOpen = 0; // the first output row whose source rows are not all added yet
  for (let row = y0; row < y1; row++) {
    write(row, x0, x1, line);
    for (let t = 0; t < width; t++) {
      const from = xs.first[t] - x0;
      const n = xs.count[t];
      const w = xs.offsets[t];
      let sum = 0;
      for (let k = 0; k < n; k++) sum += xs.weights[w + k] * line[from + k];
      horizontal[t] = sum / xs.scale;
    }
    while (firstOpen < height && ys.first[firstOpen] + ys.count[firstOpen] <= row) firstOpen++;
    for (let t = firstOpen; t < height && ys.first[t] <= row; t++) {
      const k = row - ys.first[t];
      if (k >= ys.count[t]) continue;
      const weight = ys.weights[ys.offsets[t] + k];
      const at = t * width;
      for (let c = 0; c < width; c++) sums[at + c] += weight * horizontal[c];
    }
  }
  const out = new Float32Array(width * height);
  for (let i = 0; i < out.length; i++) out[i] = sums[i] / ys.scale;
  return out;
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
    if (!planes.has(key)) planes.set(key, { values: resizeArea(radiograph, spec.source, region, spec.width, spec.height), maxValue });
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
