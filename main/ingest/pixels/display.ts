/**
 * Rendering a radiograph to 8-bit grey for a screen or a PNG: VOI (window or LUT), then inversion
 * for MONOCHROME1 so that bone is bright, padding black.
 */
import type { DisplayWindow, Radiograph } from '../radiograph.js';
import { linearWindow, lutWindow8 } from './window.js';

export interface DisplayImage {
  rows: number;
  columns: number;
  pixels: Uint8Array;
}

export function renderDisplay(radiograph: Radiograph, window: DisplayWindow = radiograph.window): DisplayImage {
  const { rows, columns, pixels, padding, invert, voiLut } = radiograph;
  const out = new Uint8Array(rows * columns);
  const useLut = voiLut !== null && window.source === 'voi-lut';
  for (let i = 0; i < out.length; i++) {
    if (padding && padding[i]) continue; // stays 0: black
    const level = useLut ? lutWindow8(pixels[i], voiLut) : linearWindow(pixels[i], window);
    // Invert before quantising, and truncate, as dcmtk does: renderings then agree within 1 level.
    out[i] = Math.min(255, Math.floor(invert ? 255 - level : level));
  }
  return { rows, columns, pixels: out };
}
