/**
 * The heatmap colour ramp, shared by the engine's PNG overlays and the desktop viewer: a heatmap
 * looks the same on screen and in exported files. Dark purple (weak) to pale yellow (strong), inferno-like.
 */

/** Colour stops (value, r, g, b). */
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
  const [, r, g, b] = RAMP[RAMP.length - 1];
  return [r, g, b];
}
