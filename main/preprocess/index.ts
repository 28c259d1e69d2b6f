/**
 * The preprocess stage: one radiograph to one model's input tensor, exactly as the model's
 * manifest says it was trained (source plane, crop, resize, normalisation), plus the geometry that
 * maps the model's input grid back onto the original image, for heatmaps.
 */
import type { DicomRows, Radiograph } from '../ingest/index.js';
import type { InputSpec } from '../packs/index.js';
import { resizeArea, resizeRowsArea } from './area.js';
import { integerWordTable, maxValueOf, sourceRows, wordValueTable } from './source.js';
import type { Source } from './source.js';

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

/** The whole grey plane the model sees, with the maximum value its normalisation divides by. */
function sourcePlane(radiograph: Radiograph, source: Source): SourcePlane {
  const { rows, columns } = radiograph;
  const values = new Float32Array(rows * columns);
  const write = sourceRows(radiograph, source);
  for (let row = 0; row < rows; row++) write(row, 0, columns, values.subarray(row * columns, (row + 1) * columns));
  return { values, maxValue: maxValueOf(radiograph, source) };
}

/**
 * Bilinear resampling with half-pixel centres, clamped to the image: output sample (r, c) reads
 * the four source samples around region.x + (c + 0.5) * sx - 0.5, region.y + (r + 0.5) * sy - 0.5.
 * `at(i)` is the source plane's value at index i (row-major): of the whole plane, or looked up
 * through an indexed radiograph's word table (the same float32 value), which reads only the four
 * samples each output sample needs instead of making the plane.
 */
function resizeBilinear(
  at: (index: number) => number,
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
      const top = at(y0 * columns + x0) * (1 - fx) + at(y0 * columns + x1) * fx;
      const bottom = at(y1 * columns + x0) * (1 - fx) + at(y1 * columns + x1) * fx;
      out[r * width + c] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** The bilinear resize's source: an indexed radiograph's words through a table, else the whole plane (cached). */
function bilinearSource(radiograph: Radiograph, source: Source, planes: PlaneCache): (index: number) => number {
  const { indexed } = radiograph;
  if (indexed) {
    const { words, valueMask } = indexed;
    const table = wordValueTable(radiograph, indexed, source);
    return (index) => table[words[index] & valueMask];
  }
  const key = `plane:${source}`;
  if (!planes.has(key)) planes.set(key, sourcePlane(radiograph, source));
  const plane = planes.get(key)!.values;
  return (index) => plane[index];
}

/** The region of the decoded image the model sees: a centred square, or everything. */
export function cropRegion(rows: number, columns: number, crop: InputSpec['crop']): InputGeometry['region'] {
  if (crop === 'stretch') return { x: 0, y: 0, width: columns, height: rows };
  const side = Math.min(rows, columns);
  return { x: Math.floor((columns - side) / 2), y: Math.floor((rows - side) / 2), width: side, height: side };
}

/** The key of an area-resized plane in a PlaneCache: members with the same key share it. */
const areaKey = (spec: InputSpec): string => `area:${spec.source}:${spec.crop}:${spec.width}x${spec.height}`;

export function preprocess(radiograph: Radiograph, spec: InputSpec, planes: PlaneCache = new Map()): ModelInput {
  const { rows, columns } = radiograph;
  const region = cropRegion(rows, columns, spec.crop);
  const maxValue = maxValueOf(radiograph, spec.source);
  let resized: Float32Array;
  if (spec.resize === 'area') {
    const key = areaKey(spec);
    if (!planes.has(key))
      planes.set(key, { values: resizeArea(radiograph, spec.source, region, spec.width, spec.height), maxValue });
    resized = planes.get(key)!.values;
  } else {
    const at = bilinearSource(radiograph, spec.source, planes);
    resized = resizeBilinear(at, columns, rows, region, spec.width, spec.height);
  }
  return modelInput(resized, maxValue, spec, region, radiograph);
}

/**
 * Every member's input from a file read a chunk of rows at a time (an uncompressed DICOM: see
 * DicomRows), equal value for value to `preprocess` of the same file read whole: the same area
 * resize, fed the crop's rows as they are read. Null when a member's input cannot be made so (a
 * bilinear resize reads the whole plane; a 'stored' source with a fractional rescale takes the
 * floating-point pass), before any row is read: the caller then reads the file whole. Members
 * with the same source, crop and size share one pass.
 */
export function preprocessRows(rows: DicomRows, specs: InputSpec[]): ModelInput[] | null {
  if (specs.some((spec) => spec.resize !== 'area')) return null;
  const { radiograph, tables } = rows;
  // Display levels are integers; stored values are when the rescale keeps them so.
  const check = new Uint16Array(tables.valueMask + 1);
  const stored = specs.some((spec) => spec.source === 'stored');
  if (stored && integerWordTable(radiograph, tables, 'stored', check) === null) return null;
  const planes = new Map<string, Float32Array>();
  return specs.map((spec) => {
    const region = cropRegion(radiograph.rows, radiograph.columns, spec.crop);
    const key = areaKey(spec);
    let resized = planes.get(key);
    if (!resized) {
      // Not null: every source's table was checked above.
      resized = resizeRowsArea(rows, spec.source, region, spec.width, spec.height)!;
      planes.set(key, resized);
    }
    return modelInput(resized, maxValueOf(radiograph, spec.source), spec, region, radiograph);
  });
}

/** The resized plane normalised as the spec says, with the geometry back onto the original image. */
function modelInput(
  resized: Float32Array,
  maxValue: number,
  spec: InputSpec,
  region: InputGeometry['region'],
  radiograph: Pick<Radiograph, 'rows' | 'columns' | 'resolution'>,
): ModelInput {
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
  const { rows, columns } = radiograph;
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
