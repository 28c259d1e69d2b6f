/**
 * From a codec's raw sample words to modality values: bits outside Bits Stored removed, the sign
 * extended for signed data, Rescale Slope and Intercept applied, colour reduced to luminance, and
 * Pixel Padding marked. Every codec's output goes through this one function, so the semantics
 * cannot differ between transfer syntaxes.
 */
import { TriageError } from '../../errors/index.js';
import type { PixelDescription } from '../dicom/attributes.js';
import type { DecodedFrame, Samples } from '../codecs/types.js';

/** Rec. 601 luma weights, as DICOM's YBR_FULL defines Y. */
export const LUMA = { r: 0.299, g: 0.587, b: 0.114 } as const;

/** Reads a sample word as an unsigned bit pattern of the allocated width. */
function unsignedWord(samples: Samples, index: number, bitsAllocated: number): number {
  const value = samples[index];
  if (bitsAllocated === 32) return value >>> 0;
  return value & (bitsAllocated === 8 ? 0xff : 0xffff);
}

/** A function from a raw word to the stored value that Bits Stored, High Bit and the sign define. */
export function storedValueReader(description: PixelDescription): (word: number) => number {
  const shift = description.highBit + 1 - description.bitsStored;
  const bits = description.bitsStored;
  if (bits === 32) return description.signed ? (word) => word | 0 : (word) => word >>> 0;
  const mask = 2 ** bits - 1;
  if (!description.signed) return (word) => (word >>> shift) & mask;
  const signShift = 32 - bits;
  return (word) => (((word >>> shift) & mask) << signShift) >> signShift;
}

/**
 * Grey samples of 8 or 16 bits, held as the codec's sample words plus each word's modality value:
 * pixel i is `values[words[i] & wordMask]`. A word has at most 65,536 values, so this costs a
 * 256 KiB table instead of a float32 copy of the image (4 bytes a pixel, 23 MB for a 2,500 x
 * 2,300 radiograph), and later stages (display rendering, the automatic window) work per word
 * rather than per pixel. `values` holds exactly the float32 a per-pixel array would.
 */
export interface IndexedPixels extends WordTables {
  words: Uint8Array | Int8Array | Uint16Array | Int16Array;
  /** Pixels in the image (the codec may hand over more words than that). */
  length: number;
}

/** The per-word tables of grey samples of 8 or 16 bits: each word's modality value and padding. */
export interface WordTables {
  wordMask: number;
  /**
   * The bits of a word that its value and padding depend on (Bits Stored at High Bit): words
   * equal in these bits have equal values, so `values[word & valueMask]` is the word's value and
   * a table of valueMask + 1 entries covers every word (4,096 for 12 bits stored from bit 0).
   */
  valueMask: number;
  values: Float32Array;
  /** 1 for the words that are Pixel Padding; null when the file defines no padding value. */
  padding: Uint8Array | null;
}

export interface ModalityImage {
  rows: number;
  columns: number;
  /** The modality values as float32; made on first read when `indexed` is set. */
  readonly pixels: Float32Array;
  /** The same values indexed by sample word (grey 8 and 16-bit images); else null. */
  indexed: IndexedPixels | null;
  /** Per pixel, 1 for padding; null when none. Made on first read when `indexed` is set. */
  readonly padding: Uint8Array | null;
  /** Smallest and largest value outside the padding. Made on first read when `indexed` is set. */
  readonly range: { min: number; max: number };
}

/** The per-pixel float32 modality values of an indexed image (for callers that need the array). */
export function expandIndexed({ words, wordMask, values, length }: IndexedPixels): Float32Array {
  const pixels = new Float32Array(length);
  for (let i = 0; i < length; i++) pixels[i] = values[words[i] & wordMask];
  return pixels;
}

/** The per-pixel padding mask of an indexed image, or null when no pixel is padding. */
export function expandPadding({ words, wordMask, padding, length }: IndexedPixels): Uint8Array | null {
  if (!padding) return null;
  const mask = new Uint8Array(length);
  let padded = 0;
  for (let i = 0; i < length; i++) padded += mask[i] = padding[words[i] & wordMask];
  return padded > 0 ? mask : null;
}

/**
 * The smallest and largest modality value of the words that occur outside the padding: one pass
 * over the pixels (a store each), the rest per word. Only the automatic window and a display
 * rendering without a word table need it, so an image with a window in its file never pays it.
 */
export function indexedRange({ words, wordMask, values, padding, length }: IndexedPixels): {
  min: number;
  max: number;
} {
  const seen = new Uint8Array(wordMask + 1);
  for (let i = 0; i < length; i++) seen[words[i] & wordMask] = 1;
  let min = Infinity;
  let max = -Infinity;
  for (let word = 0; word <= wordMask; word++) {
    if (!seen[word] || padding?.[word]) continue;
    if (values[word] < min) min = values[word];
    if (values[word] > max) max = values[word];
  }
  return { min, max };
}

type WithIndexed<T> = T & {
  readonly pixels: Float32Array;
  readonly padding: Uint8Array | null;
  readonly range: { min: number; max: number };
  readonly indexed: IndexedPixels;
};

/**
 * Gives `target` its `indexed` pixels, and `pixels`, `padding` and `range` properties made from
 * them on first read and kept: callers that want the per-pixel arrays get them, the stages that
 * read `indexed` never pay for them. Those three are enumerable, so copies and structured clones
 * carry the values like any other field; `indexed` is not, so a copy (`{ ...radiograph, pixels:
 * other }`) never carries word tables that disagree with its pixels.
 */
export function withIndexedPixels<T extends object>(target: T, indexed: IndexedPixels): WithIndexed<T> {
  let pixels: Float32Array | null = null;
  let padding: Uint8Array | null | undefined;
  let range: { min: number; max: number } | null = null;
  return Object.defineProperties(target, {
    indexed: { value: indexed, enumerable: false },
    pixels: { enumerable: true, get: () => (pixels ??= expandIndexed(indexed)) },
    padding: { enumerable: true, get: () => (padding === undefined ? (padding = expandPadding(indexed)) : padding) },
    range: { enumerable: true, get: () => (range ??= indexedRange(indexed)) },
  }) as WithIndexed<T>;
}

/**
 * Grey samples of 8 or 16 bits: each word's modality value, and whether it is padding, computed
 * once into tables, so each pixel is a lookup instead of arithmetic; the pixels stay as the
 * codec's words (see IndexedPixels). The range is the smallest and largest value of the words
 * that occur outside the padding. Same arithmetic per word as per pixel, so the same values.
 */
function indexedModality(frame: DecodedFrame, description: PixelDescription, count: number): ModalityImage {
  const samples = frame.samples as IndexedPixels['words'];
  const tables = wordTables(description, samples.BYTES_PER_ELEMENT as 1 | 2);
  // Padding is per word, and no per-pixel mask is made. An image is empty when every pixel is
  // padding: the first pixel that is not ends the search (in the first rows, as a rule).
  const { padding: isPadding, wordMask } = tables;
  if (isPadding) {
    let i = 0;
    while (i < count && isPadding[samples[i] & wordMask]) i++;
    if (i === count) throw emptyImage();
  }
  const indexed = { ...tables, words: samples, length: count };
  return withIndexedPixels({ rows: frame.rows, columns: frame.columns }, indexed);
}

/** An image whose every pixel is padding. */
function emptyImage(): TriageError {
  return new TriageError('INVALID_ATTRIBUTE', 'Every pixel equals the Pixel Padding Value; the image is empty.');
}

/**
 * The word tables of grey samples held in words of `wordBytes` bytes: each word's modality
 * value, and whether it is padding, computed once, so each pixel is a lookup instead of
 * arithmetic. Same arithmetic per word as per pixel, so the same values.
 */
export function wordTables(description: PixelDescription, wordBytes: 1 | 2): WordTables {
  const size = wordBytes === 1 ? 256 : 65536;
  const wordMask = size - 1;
  const shift = description.highBit + 1 - description.bitsStored;
  const mask = 2 ** description.bitsStored - 1;
  const signShift = description.signed ? 32 - description.bitsStored : 0;
  const { rescaleSlope: slope, rescaleIntercept: intercept } = description;
  // Each value rounds to float32 as it is stored, as a per-pixel Float32Array would round it.
  const modality = new Float32Array(size);
  const isPadding = description.padding ? new Uint8Array(size) : null;
  const { from, to } = description.padding ?? { from: 1, to: 0 };
  for (let word = 0; word < size; word++) {
    const shifted = word >>> shift;
    const value = signShift ? ((shifted & mask) << signShift) >> signShift : shifted & mask;
    modality[word] = value * slope + intercept;
    if (isPadding && value >= from && value <= to) isPadding[word] = 1;
  }
  const valueMask = (mask * 2 ** shift) & wordMask;
  return { wordMask, valueMask, values: modality, padding: isPadding };
}

/**
 * Whether toModality keeps a frame's grey samples as words plus tables (IndexedPixels): words
 * of the allocated width (a padding test reads the allocated width), and more pixels than the
 * table has entries.
 */
export function isIndexable(description: PixelDescription, wordBytes: number, count: number): boolean {
  return (
    description.samplesPerPixel === 1 &&
    description.bitsStored < 32 &&
    wordBytes <= 2 &&
    count >= 1 << (8 * wordBytes) &&
    (!description.padding || wordBytes === 1 || description.bitsAllocated === 16)
  );
}

export function toModality(frame: DecodedFrame, description: PixelDescription): ModalityImage {
  const count = frame.rows * frame.columns;
  const spp = description.samplesPerPixel;
  if (frame.samples.length < count * spp) {
    throw new TriageError(
      'DECODE_FAILED',
      `The decoder produced ${frame.samples.length} samples; ${frame.columns} x ${frame.rows} x ${spp} were expected.`,
    );
  }
  // Decided before any per-pixel array is made.
  if (isIndexable(description, frame.samples.BYTES_PER_ELEMENT, count))
    return indexedModality(frame, description, count);
  const stored = storedValueReader(description);
  const { rescaleSlope: slope, rescaleIntercept: intercept } = description;
  const pixels = new Float32Array(count);
  const padding = description.padding && spp === 1 ? new Uint8Array(count) : null;
  let min = Infinity;
  let max = -Infinity;
  let padded = 0;

  if (spp === 1 && !description.padding && description.bitsStored < 32 && frame.samples.BYTES_PER_ELEMENT <= 2) {
    // The common case, written out without per-pixel calls: it runs on every pixel of every image.
    const shift = description.highBit + 1 - description.bitsStored;
    const mask = 2 ** description.bitsStored - 1;
    const signShift = description.signed ? 32 - description.bitsStored : 0;
    const wordMask = frame.samples.BYTES_PER_ELEMENT === 1 ? 0xff : 0xffff;
    const samples = frame.samples;
    for (let i = 0; i < count; i++) {
      const word = (samples[i] & wordMask) >>> shift;
      const value = signShift ? ((word & mask) << signShift) >> signShift : word & mask;
      const modality = value * slope + intercept;
      pixels[i] = modality;
      if (modality < min) min = modality;
      if (modality > max) max = modality;
    }
  } else if (spp === 1) {
    const { from, to } = description.padding ?? { from: 1, to: 0 };
    const bits =
      frame.samples instanceof Uint8Array || frame.samples instanceof Int8Array ? 8 : description.bitsAllocated;
    for (let i = 0; i < count; i++) {
      const value = stored(unsignedWord(frame.samples, i, bits));
      const modality = value * slope + intercept;
      pixels[i] = modality;
      if (padding && value >= from && value <= to) {
        padding[i] = 1;
        padded++;
        continue;
      }
      if (modality < min) min = modality;
      if (modality > max) max = modality;
    }
  } else {
    // Colour: luminance. YBR data not converted by the codec already carries luma in Y.
    const lumaIsFirst =
      !frame.convertedToRgb && (description.photometric === 'YBR_FULL' || description.photometric === 'YBR_FULL_422');
    const step = frame.planar ? 1 : 3;
    const plane = frame.planar ? count : 1;
    const bits = frame.samples instanceof Uint8Array ? 8 : description.bitsAllocated;
    for (let i = 0; i < count; i++) {
      const base = i * step;
      const first = stored(unsignedWord(frame.samples, base, bits));
      const luminance = lumaIsFirst
        ? first
        : LUMA.r * first +
          LUMA.g * stored(unsignedWord(frame.samples, base + plane, bits)) +
          LUMA.b * stored(unsignedWord(frame.samples, base + 2 * plane, bits));
      const modality = luminance * slope + intercept;
      pixels[i] = modality;
      if (modality < min) min = modality;
      if (modality > max) max = modality;
    }
  }
  if (padded === count) throw emptyImage();
  return {
    rows: frame.rows,
    columns: frame.columns,
    pixels,
    indexed: null,
    padding: padded > 0 ? padding : null,
    range: { min, max },
  };
}
