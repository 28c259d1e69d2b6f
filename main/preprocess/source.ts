/**
 * The grey values a model sees, per its manifest's `source`: the display rendering (levels 0 to
 * 255), or the stored values (MONOCHROME1 inverted, as TorchXRayVision reads DICOM). Padding is 0.
 */
import { displayRowRenderer, wordLevels } from '../ingest/index.js';
import type { Radiograph, WordTables } from '../ingest/index.js';
import type { InputSpec } from '../packs/index.js';

export type Source = InputSpec['source'];

/** The attributes a source's values are made from (with the word tables, or the pixels). */
export type SourceFields = Pick<Radiograph, 'bitsStored' | 'signed' | 'rescale' | 'invert' | 'window' | 'voiLut'>;

/** The largest value of a source's plane, which its normalisation divides by. */
export function maxValueOf(radiograph: Pick<Radiograph, 'bitsStored'>, source: Source): number {
  return source === 'display' ? 255 : 2 ** radiograph.bitsStored - 1;
}

/**
 * A modality value (not padding) to the 'stored' source: the stored value from the stored bit
 * depth, with MONOCHROME1 inverted, as TorchXRayVision reads DICOM.
 */
function storedSource(radiograph: SourceFields): (value: number) => number {
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
  const { columns, indexed } = radiograph;
  if (indexed) {
    // Through the word tables: neither the float32 values nor the padding mask is made.
    const words = wordValues(radiograph, indexed, source, indexed.wordMask + 1);
    const { words: samples, wordMask } = indexed;
    return (row, from, to, out) => {
      for (let x = from; x < to; x++) out[x - from] = words[samples[row * columns + x] & wordMask];
    };
  }
  const valueOf = storedSource(radiograph);
  const { pixels, padding } = radiograph;
  return (row, from, to, out) => {
    for (let x = from; x < to; x++) {
      const i = row * columns + x;
      out[x - from] = padding?.[i] ? 0 : valueOf(pixels[i]);
    }
  };
}

/**
 * The source value of sample words 0 to count - 1, padding 0: exactly the float32 that a pixel
 * holding that word has in the source plane.
 */
function wordValues(fields: SourceFields, tables: WordTables, source: Source, count: number): Float32Array {
  if (source === 'display') return Float32Array.from(wordLevels(fields, tables, fields.window, count));
  const valueOf = storedSource(fields);
  const table = new Float32Array(Math.min(count, tables.wordMask + 1));
  for (let word = 0; word < table.length; word++)
    table[word] = tables.padding?.[word] ? 0 : valueOf(tables.values[word]);
  return table;
}

/** The source value of every sample word masked with valueMask (see wordValues and WordTables). */
export function wordValueTable(fields: SourceFields, tables: WordTables, source: Source): Float32Array {
  return wordValues(fields, tables, source, tables.valueMask + 1);
}

/**
 * The integer kernel's table: the source value of each word masked with the tables' valueMask,
 * written into `table` (valueMask + 1 entries). Returns the mask, or null when a value is not an
 * integer the table holds (0 to 255 in bytes, to 65,535 in 16 bits: a fractional rescale of the
 * 'stored' source is not): such sources take the floating-point pass. Display levels always are.
 */
export function integerWordTable(
  fields: SourceFields,
  tables: WordTables,
  source: Source,
  table: Uint8Array | Uint16Array,
): number | null {
  if (tables.valueMask + 1 > table.length) return null;
  const largest = table.BYTES_PER_ELEMENT === 1 ? 0xff : 0xffff;
  const values = wordValues(fields, tables, source, tables.valueMask + 1);
  for (let word = 0; word < values.length; word++) {
    const value = values[word];
    if (!Number.isInteger(value) || value < 0 || value > largest) return null;
    table[word] = value;
  }
  return tables.valueMask;
}

/** Bytes per entry of the kernel's table for a source: display levels fit one. */
export const tableBytesOf = (source: Source): 1 | 2 => (source === 'display' ? 1 : 2);
