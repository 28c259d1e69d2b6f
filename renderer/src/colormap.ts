/**
 * The heatmap colour ramp: the same stops as the engine's PNG overlays (main/explain/overlay.ts),
 * so a heatmap looks the same in the viewer and in exported files. Dark purple (weak) to pale
 * yellow (strong); opacity rises with the value so weak evidence leaves the radiograph visible.
 */
export const RAMP: ReadonlyArray<readonly [number, number, number, number]> = [
  [0, 0, 0, 4],
  [0.25, 87, 16, 110],
  [0.5, 188, 55, 84],
  [0.75, 249, 142, 9],
  [1, 252, 255, 164],
];

export function colour(value: number): [number, number, number] {
  const v = Math.min(1, Math.max(0, value));
  for (let i = 1; i < RAMP.length; i++) {
    const [v1, r1, g1, b1] = RAMP[i];
    const [v0, r0, g0, b0] = RAMP[i - 1];
    if (v <= v1) {
      const t = (v - v0) / (v1 - v0);
      return [Math.round(r0 + (r1 - r0) * t), Math.round(g0 + (g1 - g0) * t), Math.round(b0 + (b1 - b0) * t)];
    }
  }
  return [252, 255, 164];
}

/** Values below this are left transparent: no colour where the models found no evidence. */
export const HEATMAP_FLOOR = 0.15;

/** RGBA of one heatmap cell: the ramp's colour, alpha growing with the value above the floor. */
export function cellRgba(value: number): [number, number, number, number] {
  if (!(value > HEATMAP_FLOOR)) return [0, 0, 0, 0];
  const [r, g, b] = colour(value);
  const alpha = Math.round(Math.min(1, (value - HEATMAP_FLOOR) / (1 - HEATMAP_FLOOR)) * 0.85 * 255 + 0.15 * 255);
  return [r, g, b, alpha];
}
