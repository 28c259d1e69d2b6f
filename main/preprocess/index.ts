/**
 * The preprocess stage: one radiograph to one model's input tensor, exactly as the model's
 * manifest says it was trained (source plane, crop, resize, normalisation), plus the geometry that
 * maps the model's input grid back onto the original image, for heatmaps.
 */
import { renderDisplay } from '../ingest/index.js';
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
 * Planes already made for this radiograph, by source: members that read the same plane (the
 * display rendering, usually) share one instead of each rendering it again.
 */
export type PlaneCache = Map<InputSpec['source'], SourcePlane>;

/** The grey plane the model sees, with the maximum value its normalisation divides by. */
function sourcePlane(radiograph: Radiograph, source: InputSpec['source']): SourcePlane {
  if (source === 'display') {
    const display = renderDisplay(radiograph);
    return { values: Float32Array.from(display.pixels), maxValue: 255 };
  }
  // Stored values from the stored bit depth, MONOCHROME1 inverted, as TorchXRayVision reads DICOM.
  const maxValue = 2 ** radiograph.bitsStored - 1;
  const { slope, intercept } = radiograph.rescale;
  const offset = radiograph.signed ? 2 ** (radiograph.bitsStored - 1) : 0;
  const values = new Float32Array(radiograph.pixels.length);
  for (let i = 0; i < values.length; i++) {
    if (radiograph.padding?.[i]) continue;
    const stored = Math.min(maxValue, Math.max(0, (radiograph.pixels[i] - intercept) / slope + offset));
    values[i] = radiograph.invert ? maxValue - stored : stored;
  }
  return { values, maxValue };
}

/**
 * Area resampling of one axis: each output sample is the mean of the source interval it covers,
 * with partial weights at the interval's ends, so shrinking a radiograph 10-fold does not alias.
 */
function areaAxis(
  source: Float32Array,
  lines: number,
  sourceLength: number,
  stride: number,
  step: number,
  start: number,
  length: number,
  target: number,
): Float32Array {
  const out = new Float32Array(lines * target);
  const scale = length / target;
  for (let t = 0; t < target; t++) {
    const from = start + t * scale;
    const to = from + scale;
    const first = Math.floor(from);
    const last = Math.min(sourceLength - 1, Math.ceil(to) - 1);
    for (let line = 0; line < lines; line++) {
      let sum = 0;
      for (let s = first; s <= last; s++) {
        const weight = Math.min(to, s + 1) - Math.max(from, s);
        sum += weight * source[line * stride + s * step];
      }
      out[line * target + t] = sum / scale;
    }
  }
  return out;
}

function resizeArea(
  plane: Float32Array,
  columns: number,
  region: InputGeometry['region'],
  width: number,
  height: number,
  rows: number,
): Float32Array {
  // Horizontal pass over the region's rows, then vertical.
  const horizontal = areaAxis(plane.subarray(0), rows, columns, columns, 1, region.x, region.width, width);
  // horizontal is rows x width; resample its columns over the region's rows.
  const transposed = new Float32Array(width * rows);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) transposed[c * rows + r] = horizontal[r * width + c];
  const vertical = areaAxis(transposed, width, rows, rows, 1, region.y, region.height, height);
  const out = new Float32Array(width * height);
  for (let c = 0; c < width; c++) for (let r = 0; r < height; r++) out[r * width + c] = vertical[c * height + r];
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
  if (!planes.has(spec.source)) planes.set(spec.source, sourcePlane(radiograph, spec.source));
  const { values, maxValue } = planes.get(spec.source)!;
  const region = cropRegion(rows, columns, spec.crop);
  const resized =
    spec.resize === 'area'
      ? resizeArea(values, columns, region, spec.width, spec.height, rows)
      : resizeBilinear(values, columns, rows, region, spec.width, spec.height);

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
