/**
 * Heatmaps registered to the original image: a model's low-resolution map (a CAM grid, or an
 * occlusion grid) lives on the model's input, which is a cropped and resized view of the image.
 * Registration undoes the resize and the crop, so the map can be laid over the radiograph as
 * stored, at any zoom.
 */
import type { InputGeometry } from '../preprocess/index.js';

/** A map over the model input: cell (i, j) covers input pixels [j*W/w, (j+1)*W/w) x [i*H/h, ...). */
export interface InputMap {
  rows: number;
  columns: number;
  data: Float32Array;
}

/** A map over the original image, on a grid `scale` image pixels per cell (values 0..1). */
export interface Heatmap {
  rows: number;
  columns: number;
  /** Image pixels per heatmap cell, both axes. */
  scale: number;
  imageRows: number;
  imageColumns: number;
  data: Float32Array;
}

/** Longest side of the registered grid: plenty for an overlay, small enough to keep per finding. */
export const HEATMAP_MAX_SIDE = 512;

/** Keeps the positive evidence and scales it to 0..1 (an all-zero map stays zero). */
export function normalizeMap(map: InputMap): InputMap {
  let max = 0;
  for (const value of map.data) if (value > max) max = value;
  const data = new Float32Array(map.data.length);
  if (max > 0) for (let i = 0; i < data.length; i++) data[i] = Math.max(0, map.data[i]) / max;
  return { rows: map.rows, columns: map.columns, data };
}

/**
 * Bilinear interpolation positions along one axis: for each output cell centre inside the crop,
 * the two map cells around it and the weight of the second (cell centres at integer + 0.5).
 * Computed once per axis, so the per-cell loop is two multiply-adds.
 */
function axisSamples(cells: number, scale: number, regionStart: number, regionLength: number, mapCells: number) {
  const inside = new Uint8Array(cells);
  const low = new Int32Array(cells);
  const high = new Int32Array(cells);
  const weight = new Float32Array(cells);
  for (let i = 0; i < cells; i++) {
    const position = (i + 0.5) * scale; // image coordinate of this cell's centre
    if (position < regionStart || position >= regionStart + regionLength) continue; // outside the crop
    inside[i] = 1;
    const mapPosition = Math.min(mapCells - 1, Math.max(0, ((position - regionStart) / regionLength) * mapCells - 0.5));
    low[i] = Math.floor(mapPosition);
    high[i] = Math.min(mapCells - 1, low[i] + 1);
    weight[i] = mapPosition - low[i];
  }
  return { inside, low, high, weight };
}

export function registerMap(map: InputMap, geometry: InputGeometry, maxSide = HEATMAP_MAX_SIDE): Heatmap {
  const { imageRows, imageColumns, region } = geometry;
  const scale = Math.max(1, Math.max(imageRows, imageColumns) / maxSide);
  const rows = Math.ceil(imageRows / scale);
  const columns = Math.ceil(imageColumns / scale);
  const data = new Float32Array(rows * columns);
  const ys = axisSamples(rows, scale, region.y, region.height, map.rows);
  const xs = axisSamples(columns, scale, region.x, region.width, map.columns);
  const source = map.data;
  const width = map.columns;
  for (let r = 0; r < rows; r++) {
    if (!ys.inside[r]) continue; // the model never saw this row
    const top = ys.low[r] * width;
    const bottom = ys.high[r] * width;
    const fy = ys.weight[r];
    for (let c = 0; c < columns; c++) {
      if (!xs.inside[c]) continue;
      const x0 = xs.low[c];
      const x1 = xs.high[c];
      const fx = xs.weight[c];
      const upper = source[top + x0] + (source[top + x1] - source[top + x0]) * fx;
      const lower = source[bottom + x0] + (source[bottom + x1] - source[bottom + x0]) * fx;
      data[r * columns + c] = upper + (lower - upper) * fy;
    }
  }
  return { rows, columns, scale, imageRows, imageColumns, data };
}

/** The mean of several registered maps of one image (same grid). */
export function meanHeatmap(maps: Heatmap[]): Heatmap {
  const first = maps[0];
  const data = new Float32Array(first.data.length);
  for (const map of maps) for (let i = 0; i < data.length; i++) data[i] += map.data[i] / maps.length;
  return { ...first, data };
}

/** Where the map is hottest, in original image pixels. */
export function peak(heatmap: Heatmap): { x: number; y: number; value: number } {
  let best = 0;
  for (let i = 1; i < heatmap.data.length; i++) if (heatmap.data[i] > heatmap.data[best]) best = i;
  const row = Math.floor(best / heatmap.columns);
  const column = best % heatmap.columns;
  return { x: (column + 0.5) * heatmap.scale, y: (row + 0.5) * heatmap.scale, value: heatmap.data[best] };
}
