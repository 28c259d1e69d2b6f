/**
 * Heatmaps as PNG overlays at the original image's size: colour from a perceptual "inferno"-like
 * ramp, opacity growing with the value, so cold regions leave the radiograph visible.
 */
import { encodeRgbaPng } from '../ingest/index.js';
import { colour } from '../common/index.js';
import type { Heatmap } from './heatmap.js';

/** RGBA overlay, imageColumns x imageRows, nearest heatmap cell per image pixel. */
export function overlayRgba(heatmap: Heatmap): Uint8Array {
  const { imageRows, imageColumns, scale } = heatmap;
  // Colour and opacity once per heatmap cell (the map is at most 512 cells a side; the image
  // has millions of pixels), as one 32-bit RGBA word each.
  const cells = new Uint32Array(heatmap.data.length);
  const cellBytes = new Uint8Array(cells.buffer);
  for (let i = 0; i < cells.length; i++) {
    const value = heatmap.data[i];
    const [r, g, b] = colour(value);
    cellBytes.set([r, g, b, Math.round(Math.min(1, value) * 200)], i * 4);
  }
  const column = new Int32Array(imageColumns);
  for (let x = 0; x < imageColumns; x++) column[x] = Math.min(heatmap.columns - 1, Math.floor(x / scale));
  const words = new Uint32Array(imageRows * imageColumns);
  let previousRow = -1;
  for (let y = 0; y < imageRows; y++) {
    const row = Math.min(heatmap.rows - 1, Math.floor(y / scale));
    const start = y * imageColumns;
    if (row === previousRow) {
      // Image rows on the same heatmap row are the same pixels: copy the one above.
      words.copyWithin(start, start - imageColumns, start);
      continue;
    }
    previousRow = row;
    const offset = row * heatmap.columns;
    for (let x = 0; x < imageColumns; x++) words[start + x] = cells[offset + column[x]];
  }
  return new Uint8Array(words.buffer);
}

export function overlayPng(heatmap: Heatmap): Uint8Array {
  return encodeRgbaPng(overlayRgba(heatmap), heatmap.imageColumns, heatmap.imageRows);
}
