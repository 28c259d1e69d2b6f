/**
 * Occlusion sensitivity, for models whose ONNX graph exposes no class activation map: grey out one
 * patch of the input at a time and measure how much each finding's calibrated probability drops.
 * Patches are twice the stride, so each cell of the uniform grid is the mean drop of the patches
 * that covered it. All occluded copies of an image go to the provider as one batch.
 */
import type { InputMap } from './heatmap.js';

export interface OcclusionPlan {
  /** Cells per side of the resulting map. */
  grid: number;
  /** Patch side in cells (2: half-overlapping patches). */
  patchCells: number;
}

export const DEFAULT_OCCLUSION: OcclusionPlan = { grid: 8, patchCells: 2 };

/** Top-left cell of every patch position. */
export function patchPositions(plan: OcclusionPlan): Array<{ row: number; column: number }> {
  const positions: Array<{ row: number; column: number }> = [];
  for (let row = 0; row + plan.patchCells <= plan.grid; row++) {
    for (let column = 0; column + plan.patchCells <= plan.grid; column++) positions.push({ row, column });
  }
  return positions;
}

/**
 * The batch of occluded inputs (channels x height x width each), the patch filled with the
 * input's mean so that occlusion removes structure without adding an edge of extreme values.
 */
export function occludedBatch(
  input: Float32Array,
  channels: number,
  height: number,
  width: number,
  plan: OcclusionPlan,
): Float32Array {
  const positions = patchPositions(plan);
  const plane = height * width;
  let mean = 0;
  for (const value of input) mean += value / input.length;
  const batch = new Float32Array(positions.length * input.length);
  positions.forEach((position, index) => {
    const copy = batch.subarray(index * input.length, (index + 1) * input.length);
    copy.set(input);
    const y0 = Math.floor((position.row * height) / plan.grid);
    const y1 = Math.floor(((position.row + plan.patchCells) * height) / plan.grid);
    const x0 = Math.floor((position.column * width) / plan.grid);
    const x1 = Math.floor(((position.column + plan.patchCells) * width) / plan.grid);
    for (let c = 0; c < channels; c++) {
      for (let y = y0; y < y1; y++) copy.fill(mean, c * plane + y * width + x0, c * plane + y * width + x1);
    }
  });
  return batch;
}

/** Drops in probability per patch -> a map on the uniform grid (mean over covering patches). */
export function sensitivityMap(baseline: number, occluded: ArrayLike<number>, plan: OcclusionPlan): InputMap {
  const positions = patchPositions(plan);
  const sum = new Float32Array(plan.grid * plan.grid);
  const count = new Float32Array(plan.grid * plan.grid);
  positions.forEach((position, index) => {
    const drop = baseline - occluded[index];
    for (let dy = 0; dy < plan.patchCells; dy++) {
      for (let dx = 0; dx < plan.patchCells; dx++) {
        const cell = (position.row + dy) * plan.grid + position.column + dx;
        sum[cell] += drop;
        count[cell]++;
      }
    }
  });
  const data = new Float32Array(sum.length);
  for (let i = 0; i < data.length; i++) data[i] = count[i] > 0 ? sum[i] / count[i] : 0;
  return { rows: plan.grid, columns: plan.grid, data };
}
