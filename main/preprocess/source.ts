/**
 * The grey values a model sees, per its manifest's `source`: the display rendering (levels 0 to
 * 255), or the stored values (MONOCHROME1 inverted, as TorchXRayVision reads DICOM). Padding is 0.
 */
import { displayRowRenderer, displayWordLevels } from '../ingest/index.js';
import type { Radiograph } from '../ingest/index.js';
import type { InputSpec } from '../packs/index.js';

export type Source = InputSpec['source'];

/** The largest value of a source's plane, which its normalisation divides by. */
export function maxValueOf(radiograph: Radiograph, source: Source): number {
  return source === 'display' ? 255 : 2 ** radiograph.bitsStored - 1;
}

/**
 * A modality value (not padding) to the 'stored' source: the stored value from the stored bit
 * depth, with MONOCHROME1 inverted, as TorchXRayVision reads DICOM.
 */
function storedSource(radiograph: Radiograph): (value: number) => number {
  const maxValue = maxValueOf(radiograph, 'stored');
  const { slope, intercept } = radiograph.rescale;
  const offset = radiograph.signed ? 2 ** (radiograph.bitsStored - 1) : 0;
  const { invert } = radiograph;
  return (value) => {
    const stored = Math.min(maxValue, Math.max(0, (value - intercept) / slope + offset));
    return invert ? maxValue - stored : stored;
  };
}

/** Writes one row's source values, columns [from, to), into `out`: the display rendering, or the stored values. */
export function sourceRows(
  radiograph: Radiograph,
  source: Source,
): (row: number, from: number, to: number, out: Float32Array) => void {
  if (source === 'display') return displayRowRenderer(radiograph);
  const valueOf = storedSource(radiograph);
  const { columns } = radiograph;
  const words = sourceWordValues(radiograph, source);
  if (words) {
    // Through the word tables: neither the float32 values nor the padding mask is made.
    const { words: samples, wordMask } = radiograph.indexed!;
    return (row, from, to, out) => {
      for (let x = from; x < to; x++) out[x - from] = words[samples[row * columns + x] & wordMask];
    };
  }
  const { pixels, padding } = radiograph;
  return (row, from, to, out) => {
    for (let x = from; x < to; x++) {
      const i = row * columns + x;
      out[x - from] = padding?.[i] ? 0 : valueOf(pixels[i]);
    }
  };
}

/**
 * For an indexed radiograph (sample words plus per-word tables), the source value of every sample
 * word, or of the first `count`, padding 0: exactly the float32 that a pixel holding that word
 * has in the source plane. Null when the radiograph is not indexed.
 */
function sourceWordValues(
  radiograph: Radiograph,
  source: Source,
  count = (radiograph.indexed?.wordMask ?? 0) + 1,
): Float32Array | null {
  const { indexed } = radiograph;
  if (!indexed) return null;
  if (source === 'display') {
    const levels = displayWordLevels(radiograph, radiograph.window, count);
    return levels && Float32Array.from(levels);
  }
  const valueOf = storedSource(radiograph);
  const table = new Float32Array(Math.min(count, indexed.wordMask + 1));
  for (let word = 0; word < table.length; word++)
    table[word] = indexed.padding?.[word] ? 0 : valueOf(indexed.values[word]);
  return table;
}

/**
 * The integer kernel's table: the source value of each word masked with the indexed radiograph's
 * valueMask, written into `table` (which must hold valueMask + 1 entries). Returns the mask, or
 * null when the radiograph is not indexed or a value is not an integer from 0 to 65,535 (a
 * fractional rescale of the 'stored' source): those take the floating-point pass. Display levels
 * always are.
 */
export function integerWordTable(radiograph: Radiograph, source: Source, table: Int32Array): number | null {
  const { indexed } = radiograph;
  if (!indexed || indexed.valueMask + 1 > table.length) return null;
  const values = sourceWordValues(radiograph, source, indexed.valueMask + 1)!;
  for (let word = 0; word < values.length; word++) {
    const value = values[word];
    if (!Number.isInteger(value) || value < 0 || value > 0xffff) return null;
    table[word] = value;
  }
  return indexed.valueMask;
}
