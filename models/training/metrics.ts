/**
 * The pointing game's test, kept free of I/O so that it can be tested on its own
 * (test/training/metrics.test.ts). The classification metrics (AUC, micro-F1, hierarchical F1)
 * live in main/validation, which `triage eval` shares.
 */

/** A binary mask (non-zero = inside) of width x height pixels. */
export interface Mask {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

/**
 * The pointing game's test for one finding: whether the point (original image pixels, the mask
 * being at the image's size or scaled to it) lies inside the mask, or within `tolerance` image
 * pixels of a mask pixel.
 */
export function pointInMask(
  mask: Mask,
  x: number,
  y: number,
  imageColumns: number,
  imageRows: number,
  tolerance = 0,
): boolean {
  const sx = mask.width / imageColumns;
  const sy = mask.height / imageRows;
  const column = Math.min(mask.width - 1, Math.max(0, Math.floor(x * sx)));
  const row = Math.min(mask.height - 1, Math.max(0, Math.floor(y * sy)));
  if (mask.data[row * mask.width + column] > 0) return true;
  if (tolerance <= 0) return false;
  const rx = Math.ceil(tolerance * sx);
  const ry = Math.ceil(tolerance * sy);
  for (let r = Math.max(0, row - ry); r <= Math.min(mask.height - 1, row + ry); r++) {
    for (let c = Math.max(0, column - rx); c <= Math.min(mask.width - 1, column + rx); c++) {
      const dx = (c - column) / sx;
      const dy = (r - row) / sy;
      if (dx * dx + dy * dy <= tolerance * tolerance && mask.data[r * mask.width + c] > 0) return true;
    }
  }
  return false;
}
