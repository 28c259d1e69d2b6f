/**
 * Heatmaps as PNG overlays at the original image's size: colour from a perceptual "inferno"-like
 * ramp, opacity growing with the value, so cold regions leave the radiograph visible.
 */
import { crc32, deflateSync } from 'node:zlib';
import { colour } from './colormap.js';
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

function chunk(type: string, data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length);
  for (let i = 0; i < 4; i++) out[4 + i] = type.charCodeAt(i);
  out.set(data, 8);
  // PNG's CRC-32 (ISO 3309) over the type and the data: zlib's own (Node 20.15 and later).
  view.setUint32(8 + data.length, crc32(out.subarray(4, 8 + data.length)));
  return out;
}

/**
 * An 8-bit RGBA PNG. Compressed by Node's zlib rather than a JavaScript deflate: an overlay is
 * millions of pixels (a 2,000 x 2,500 radiograph: 20 MB of RGBA), and native deflate is about ten
 * times faster on it.
 */
export function encodeRgbaPng(rgba: Uint8Array, width: number, height: number): Uint8Array {
  const stride = width * 4;
  // Each scanline starts with its filter type: 0, none (the overlay is flat runs; zlib takes them).
  const scanlines = new Uint8Array((stride + 1) * height);
  for (let y = 0; y < height; y++) scanlines.set(rgba.subarray(y * stride, (y + 1) * stride), y * (stride + 1) + 1);
  const header = new Uint8Array(13);
  const view = new DataView(header.buffer);
  view.setUint32(0, width);
  view.setUint32(4, height);
  header.set([8, 6, 0, 0, 0], 8); // 8 bits, RGBA, deflate, adaptive filtering, no interlace
  const parts = [
    new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', header),
    chunk('IDAT', deflateSync(scanlines)),
    chunk('IEND', new Uint8Array(0)),
  ];
  const png = new Uint8Array(parts.reduce((n, part) => n + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    png.set(part, offset);
    offset += part.length;
  }
  return png;
}

export function overlayPng(heatmap: Heatmap): Uint8Array {
  return encodeRgbaPng(overlayRgba(heatmap), heatmap.imageColumns, heatmap.imageRows);
}
