/**
 * Heatmaps as PNG overlays at the original image's size: colour from a perceptual "inferno"-like
 * ramp, opacity growing with the value, so cold regions leave the radiograph visible.
 */
import { encode } from 'fast-png';
import type { Heatmap } from './heatmap.js';

/** Colour stops of a dark-red-to-yellow ramp (value, r, g, b). */
const RAMP: Array<[number, number, number, number]> = [
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

/** RGBA overlay, imageColumns x imageRows, nearest heatmap cell per image pixel. */
export function overlayPng(heatmap: Heatmap): Uint8Array {
  const { imageRows, imageColumns, scale } = heatmap;
  const rgba = new Uint8Array(imageRows * imageColumns * 4);
  for (let y = 0; y < imageRows; y++) {
    const row = Math.min(heatmap.rows - 1, Math.floor(y / scale));
    for (let x = 0; x < imageColumns; x++) {
      const value = heatmap.data[row * heatmap.columns + Math.min(heatmap.columns - 1, Math.floor(x / scale))];
      const [r, g, b] = colour(value);
      const o = (y * imageColumns + x) * 4;
      rgba[o] = r;
      rgba[o + 1] = g;
      rgba[o + 2] = b;
      rgba[o + 3] = Math.round(Math.min(1, value) * 200);
    }
  }
  return encode({ width: imageColumns, height: imageRows, data: rgba, depth: 8, channels: 4 });
}
