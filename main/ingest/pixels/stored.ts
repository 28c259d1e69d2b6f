/**
 * A radiograph's pixels as the viewer wants them: integer stored values (modality = stored * slope
 * + intercept, as cornerstone renders them) with padding made black under any sensible window.
 */
import type { StoredPixels } from '../../domain/index.js';
import type { Radiograph } from '../radiograph.js';
import type { IndexedPixels } from './modality.js';

/**
 * Stored values for the viewer: modality values back through the rescale (exact integers for
 * every DICOM; PNG and JPEG have slope 1), padding replaced by a value beyond the image's range on
 * the side that renders black (below for MONOCHROME2, above for MONOCHROME1, which is inverted).
 *
 * The stored range comes from the radiograph's modality range, with no pass of its own: float32
 * rounding, the subtraction, the division and Math.round are each monotonic, so the smallest and
 * largest stored values are those of the range's ends (swapped for a negative slope). The output
 * array is then chosen before the one pass that fills it. An indexed radiograph (grey 8 and 16-bit
 * DICOM) is read through its sample words and a per-word table of stored values, so neither its
 * float32 pixels nor its per-pixel padding mask are made.
 */
export function storedPixels(radiograph: Radiograph): StoredPixels {
  const { invert, range } = radiograph;
  const indexed = radiograph.indexed ?? null;
  const slope = radiograph.rescale.slope || 1;
  const intercept = radiograph.rescale.intercept;
  const toStored = (value: number) => Math.round((value - intercept) / slope);
  // The pixels hold float32 values; the range of a non-indexed DICOM was taken before that rounding.
  const low = toStored(Math.fround(range.min));
  const high = toStored(Math.fround(range.max));
  let min = slope > 0 ? low : high;
  let max = slope > 0 ? high : low;
  if (!Number.isFinite(min)) {
    min = 0; // an image that is padding only: black everywhere
    max = 0;
  }
  // Whether any pixel is padding (an indexed image's file may define a padding value it never uses).
  const padded = indexed ? hasPaddingPixel(indexed) : radiograph.padding !== null;
  let minStored = min;
  let maxStored = max;
  let black = 0;
  if (padded) {
    const gap = Math.max(1, max - min) + 1;
    black = invert ? max + gap : min - gap;
    minStored = Math.min(min, black);
    maxStored = Math.max(max, black);
  }
  const modality = (value: number) => value * slope + intercept;
  const modalityRange = { min: Math.min(modality(min), modality(max)), max: Math.max(modality(min), modality(max)) };
  let Stored: Uint16ArrayConstructor | Int16ArrayConstructor | Int32ArrayConstructor;
  let pixelType: StoredPixels['pixelType'];
  if (minStored >= 0 && maxStored <= 0xffff) {
    Stored = Uint16Array;
    pixelType = 'uint16';
  } else if (minStored >= -0x8000 && maxStored <= 0x7fff) {
    Stored = Int16Array;
    pixelType = 'int16';
  } else {
    Stored = Int32Array;
    pixelType = 'int32';
  }
  let out: Uint16Array | Int16Array | Int32Array;
  if (indexed) {
    const { words, wordMask, values, padding, length } = indexed;
    // Every word that occurs outside the padding has its stored value in [min, max], so the table's
    // type holds it; padding words hold black.
    const table = new Stored(wordMask + 1);
    for (let word = 0; word <= wordMask; word++)
      table[word] = padded && padding![word] ? black : toStored(values[word]);
    out = new Stored(length);
    for (let i = 0; i < length; i++) out[i] = table[words[i] & wordMask];
  } else {
    const { pixels, padding } = radiograph;
    out = new Stored(pixels.length);
    if (padding) for (let i = 0; i < pixels.length; i++) out[i] = padding[i] ? black : toStored(pixels[i]);
    else for (let i = 0; i < pixels.length; i++) out[i] = toStored(pixels[i]);
  }
  return { pixels: out.buffer as ArrayBuffer, pixelType, slope, intercept, minStored, maxStored, modalityRange };
}

/** Whether a pixel of an indexed image is padding: stops at the first (in the first rows, as a rule). */
function hasPaddingPixel({ words, wordMask, padding, length }: IndexedPixels): boolean {
  if (!padding) return false;
  for (let i = 0; i < length; i++) if (padding[words[i] & wordMask]) return true;
  return false;
}
