/**
 * The viewer's heatmap colours: the engine's own ramp (main/explain/colormap.ts, also behind the
 * PNG overlays), so a heatmap looks the same in the viewer and in exported files; opacity rises
 * with the value so weak evidence leaves the radiograph visible.
 */
import { colour } from '../../main/common/index.js';

export { colour };

/** Values below this are left transparent: no colour where the models found no evidence. */
export const HEATMAP_FLOOR = 0.15;

/** RGBA of one heatmap cell: the ramp's colour, alpha growing with the value above the floor. */
export function cellRgba(value: number): [number, number, number, number] {
  if (!(value > HEATMAP_FLOOR)) return [0, 0, 0, 0];
  const [r, g, b] = colour(value);
  const alpha = Math.round(Math.min(1, (value - HEATMAP_FLOOR) / (1 - HEATMAP_FLOOR)) * 0.85 * 255 + 0.15 * 255);
  return [r, g, b, alpha];
}
