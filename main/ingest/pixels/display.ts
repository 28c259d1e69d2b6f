/**
 * Rendering a radiograph to 8-bit grey for a screen or a PNG: VOI (window or LUT), then inversion
 * for MONOCHROME1 so that bone is bright, padding black.
 */
import type { DisplayWindow, Radiograph, VoiLut, WordTables } from '../radiograph.js';
import { linearWindow, lutWindow8 } from './window.js';

export interface DisplayImage {
  rows: number;
  columns: number;
  pixels: Uint8Array;
}

/** Writes the display levels of one row's columns [from, to) into `out` (from index 0). */
export type DisplayRowRenderer = (row: number, from: number, to: number, out: Uint8Array | Float32Array) => void;

/** Integer modality ranges up to this many values get a lookup table instead of per-pixel arithmetic. */
const MAX_TABLE = 1 << 17;

/** Invert before quantising, and truncate, as dcmtk does: renderings then agree within 1 level. */
function quantise(windowed: number, invert: boolean): number {
  return Math.min(255, Math.floor(invert ? 255 - windowed : windowed));
}

/** The level of each VOI LUT entry, as lutWindow8 computes it (a plain loop: it runs per image). */
function lutEntryLevels(lut: VoiLut, invert: boolean): Uint8Array {
  const levels = new Uint8Array(lut.data.length);
  for (let index = 0; index < levels.length; index++)
    levels[index] = quantise(lutWindow8(lut.firstMapped + index, lut), invert);
  return levels;
}

/** The display level of a modality value, by the window's arithmetic. */
function windowLevel(radiograph: Radiograph, window: DisplayWindow): (value: number) => number {
  const { invert, voiLut } = radiograph;
  if (voiLut !== null && window.source === 'voi-lut') {
    // The level of each LUT entry once; a value then picks its entry.
    const entryLevels = lutEntryLevels(voiLut, invert);
    const last = voiLut.data.length - 1;
    return (value: number) => entryLevels[Math.min(last, Math.max(0, Math.round(value) - voiLut.firstMapped))];
  }
  return (value: number) => quantise(linearWindow(value, window), invert);
}

/**
 * The display levels of the image's range as a table. Modality values are integers in almost
 * every radiograph (integral rescale), so the level of each value in the range is computed once;
 * a value that is not an integer (a fractional rescale, colour luminance) takes the arithmetic,
 * `level`. Either way a value renders to the same level.
 */
function levelFunction(radiograph: Radiograph, window: DisplayWindow) {
  const level = windowLevel(radiograph, window);
  const { range } = radiograph;
  const base = Math.floor(range.min);
  const size = Math.floor(range.max) - base + 1;
  const table =
    Number.isFinite(base) && size > 0 && size <= MAX_TABLE && Math.abs(base) < 2 ** 30 ? new Uint8Array(size) : null;
  if (table) for (let k = 0; k < size; k++) table[k] = level(base + k);
  return { level, table, base, size };
}

/**
 * The display level of every sample word of an indexed radiograph (padding words black), or of
 * the first `count`: each pixel's level is then `levels[words[i] & wordMask]` (or `& valueMask`
 * with valueMask + 1 levels), the same level its value renders to. A
 * stage that reads the whole image (the preprocess stage's area resize) looks levels up itself
 * instead of having rows rendered for it. Null when the radiograph is not indexed.
 */
export function displayWordLevels(
  radiograph: Radiograph,
  window: DisplayWindow = radiograph.window,
  count = (radiograph.indexed?.wordMask ?? 0) + 1,
): Uint8Array | null {
  const { indexed } = radiograph;
  return indexed ? wordLevels(radiograph, indexed, window, count) : null;
}

/**
 * displayWordLevels from the word tables and the attributes that render them: the levels of
 * words 0 to count - 1 (at most all of them).
 */
export function wordLevels(
  { invert, voiLut }: Pick<Radiograph, 'invert' | 'voiLut'>,
  { values, padding, wordMask }: WordTables,
  window: DisplayWindow,
  count = wordMask + 1,
): Uint8Array {
  // The word table is the lookup table here: one level per word, computed once (the image's
  // range, a pass over every pixel, is not needed). `count` words from 0: valueMask + 1 of them
  // cover every word indexed by `word & valueMask` (see WordTables).
  const levels = new Uint8Array(Math.min(count, wordMask + 1));
  // windowLevel's arithmetic, in loops of their own (up to 65,536 words per image).
  if (voiLut !== null && window.source === 'voi-lut') {
    const entryLevels = lutEntryLevels(voiLut, invert);
    const last = voiLut.data.length - 1;
    const { firstMapped } = voiLut;
    for (let word = 0; word < levels.length; word++)
      levels[word] = padding?.[word]
        ? 0
        : entryLevels[Math.min(last, Math.max(0, Math.round(values[word]) - firstMapped))];
  } else {
    for (let word = 0; word < levels.length; word++)
      levels[word] = padding?.[word] ? 0 : quantise(linearWindow(values[word], window), invert);
  }
  return levels;
}

/** The display level of every pixel, row by row (see levelFunction and displayWordLevels). */
export function displayRowRenderer(
  radiograph: Radiograph,
  window: DisplayWindow = radiograph.window,
): DisplayRowRenderer {
  // `padding` and `pixels` are read only where there is no `indexed` (on which they are made when read).
  const { columns } = radiograph;
  const levels = displayWordLevels(radiograph, window);
  if (levels) {
    // The pixels are a lookup from the codec's words (no float32 copy of the image is ever made).
    const { words, wordMask } = radiograph.indexed!;
    return (row, from, to, out) => {
      const start = row * columns + from;
      const n = to - from;
      for (let j = 0; j < n; j++) out[j] = levels[words[start + j] & wordMask];
    };
  }
  const { level, table, base, size } = levelFunction(radiograph, window);
  const { pixels, padding } = radiograph;
  if (!table) {
    return (row, from, to, out) => {
      const offset = row * columns;
      for (let x = from; x < to; x++) out[x - from] = padding && padding[offset + x] ? 0 : level(pixels[offset + x]);
    };
  }
  // The loops run over every pixel of every image: kept tight, one branch per pixel.
  return (row, from, to, out) => {
    const start = row * columns + from;
    const n = to - from;
    if (!padding) {
      for (let j = 0; j < n; j++) {
        const value = pixels[start + j];
        const k = (value - base) | 0;
        out[j] = k === value - base && k >= 0 && k < size ? table[k] : level(value);
      }
      return;
    }
    for (let j = 0; j < n; j++) {
      if (padding[start + j]) {
        out[j] = 0; // black
        continue;
      }
      const value = pixels[start + j];
      const k = (value - base) | 0;
      out[j] = k === value - base && k >= 0 && k < size ? table[k] : level(value);
    }
  };
}

export function renderDisplay(radiograph: Radiograph, window: DisplayWindow = radiograph.window): DisplayImage {
  const { rows, columns } = radiograph;
  const out = new Uint8Array(rows * columns);
  const render = displayRowRenderer(radiograph, window);
  for (let row = 0; row < rows; row++) render(row, 0, columns, out.subarray(row * columns, (row + 1) * columns));
  return { rows, columns, pixels: out };
}
