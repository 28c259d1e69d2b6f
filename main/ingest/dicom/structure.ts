/**
 * A DICOM data set's structure, walked before dicom-parser parses it: dicom-parser builds an
 * object for every element, sequence item and pixel fragment it meets, so a small file of a
 * hundred million empty items exhausts the heap. This walk allocates nothing per element; it
 * counts elements, items, fragments and nesting against the ingest's budget (TOO_LARGE beyond
 * it) and notes where the Pixel Data starts. It decides what is a sequence exactly as
 * dicom-parser does (explicit VR SQ, UN of undefined length, an implicit VR element whose value
 * starts with an item tag), so what it counts is what dicom-parser would build.
 *
 * Where the bytes end (a truncated file, or a data set still being inflated) it stops quietly
 * with what it found so far.
 */
import { TriageError } from '../../errors/index.js';
import { MAX_ELEMENTS, MAX_FRAGMENTS, MAX_NESTING_DEPTH, MAX_SEQUENCE_ITEMS } from '../budget.js';

export interface Encoding {
  explicit: boolean;
  littleEndian: boolean;
}

export interface Structure {
  elements: number;
  items: number;
  fragments: number;
  /** The top-level Pixel Data element: where its value starts and its length (-1: undefined). */
  pixelData: { valueOffset: number; length: number } | null;
  /** Top-level image attributes met before the Pixel Data (null when absent). */
  image: {
    rows: number | null;
    columns: number | null;
    bitsAllocated: number | null;
    samplesPerPixel: number | null;
    frames: number | null;
  };
  /** The walk reached the end of the bytes given (partial mode: it may have stopped early). */
  complete: boolean;
}

const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** VRs whose explicit encoding has two reserved bytes and a 32-bit length. */
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'SV', 'UC', 'UN', 'UR', 'UT', 'UV']);

/** Thrown inside the walk when the bytes end (partial mode catches it). */
class OutOfBytes extends Error {}

function tooLarge(what: string, limit: number): never {
  throw new TriageError(
    'TOO_LARGE',
    `The DICOM data set has more than ${limit.toLocaleString('en')} ${what}; a radiograph's header has a few hundred. It is not read.`,
  );
}

export function walkStructure(bytes: Uint8Array, start: number, encoding: Encoding): Structure {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = encoding.littleEndian;
  const end = bytes.length;
  const result: Structure = {
    elements: 0,
    items: 0,
    fragments: 0,
    pixelData: null,
    image: { rows: null, columns: null, bitsAllocated: null, samplesPerPixel: null, frames: null },
    complete: true,
  };

  const need = (position: number, count: number) => {
    if (position + count > end) throw new OutOfBytes();
  };
  const u16 = (position: number) => (need(position, 2), view.getUint16(position, le));
  const u32 = (position: number) => (need(position, 4), view.getUint32(position, le));
  const tagAt = (position: number) => ((u16(position) << 16) | u16(position + 2)) >>> 0;
  const isAnyItemTag = (position: number) => {
    if (position + 4 > end) return false;
    const tag = tagAt(position);
    return tag === ITEM || tag === SEQUENCE_END;
  };

  /** Skips an undefined-length value that is not a sequence: up to and past its item delimiter. */
  const skipToDelimiter = (position: number): number => {
    for (let p = position; p + 8 <= end; p += 2) {
      if (tagAt(p) === ITEM_END) return p + 8;
    }
    throw new OutOfBytes();
  };

  const countElement = () => {
    if (++result.elements > MAX_ELEMENTS) tooLarge('elements', MAX_ELEMENTS);
  };

  /** Items of a sequence value from `position`; returns the position after the sequence. */
  const sequence = (position: number, length: number, depth: number, itemsExplicit: boolean): number => {
    // `depth` is the containing data set's: the top level's sequences are level 1.
    if (depth + 1 > MAX_NESTING_DEPTH) tooLarge('levels of nested sequences', MAX_NESTING_DEPTH);
    const stop = length === UNDEFINED ? end : position + length;
    let p = position;
    while (p < stop) {
      need(p, 8);
      const tag = tagAt(p);
      const itemLength = u32(p + 4);
      p += 8;
      if (tag === SEQUENCE_END) return p;
      if (tag !== ITEM) return p - 8; // dicom-parser reports what it makes of it
      if (++result.items > MAX_SEQUENCE_ITEMS) tooLarge('sequence items', MAX_SEQUENCE_ITEMS);
      p = dataSet(
        p,
        itemLength === UNDEFINED ? end : p + itemLength,
        depth + 1,
        itemsExplicit,
        itemLength === UNDEFINED,
      );
    }
    if (length === UNDEFINED) throw new OutOfBytes();
    return stop;
  };

  /** Fragments of encapsulated Pixel Data; returns the position after them. */
  const fragments = (position: number): number => {
    let p = position;
    for (;;) {
      need(p, 8);
      const tag = tagAt(p);
      const length = u32(p + 4);
      p += 8;
      if (tag === SEQUENCE_END) return p;
      if (tag !== ITEM) return p - 8;
      if (++result.fragments > MAX_FRAGMENTS) tooLarge('pixel data fragments', MAX_FRAGMENTS);
      p += length;
    }
  };

  /** Elements from `position` to `stop` (or to an item delimiter when `delimited`). */
  function dataSet(position: number, stop: number, depth: number, explicit: boolean, delimited: boolean): number {
    let p = position;
    while (p < stop) {
      need(p, 8);
      const tag = tagAt(p);
      if (delimited && tag === ITEM_END) return p + 8;
      countElement();
      let vr: string | null = null;
      let length: number;
      let value: number;
      if (explicit && tag >>> 16 !== 0xfffe) {
        vr = String.fromCharCode(bytes[p + 4], bytes[p + 5]);
        if (LONG_VRS.has(vr)) {
          length = u32(p + 8);
          value = p + 12;
        } else {
          length = u16(p + 6);
          value = p + 8;
        }
      } else {
        length = u32(p + 4);
        value = p + 8;
      }
      if (depth === 0) noteTopLevel(tag, vr, value, length);
      if (depth === 0 && tag === PIXEL_DATA) {
        result.pixelData = { valueOffset: value, length: length === UNDEFINED ? -1 : length };
      }
      const isPrivate = ((tag >>> 16) & 1) === 1;
      if (explicit && vr === 'SQ') {
        p = sequence(value, length, depth, true);
      } else if (tag === PIXEL_DATA && length === UNDEFINED && explicit) {
        p = fragments(value);
      } else if (explicit && vr === 'UN' && length === UNDEFINED) {
        p = sequence(value, length, depth, false);
      } else if (!explicit && (length === UNDEFINED || !isPrivate) && isAnyItemTag(value)) {
        p = sequence(value, length, depth, false);
      } else if (length === UNDEFINED) {
        p = skipToDelimiter(value);
      } else {
        p = value + length;
        if (p > end) throw new OutOfBytes();
      }
    }
    return p;
  }

  function noteTopLevel(tag: number, vr: string | null, value: number, length: number): void {
    const key = (
      { 0x00280010: 'rows', 0x00280011: 'columns', 0x00280100: 'bitsAllocated', 0x00280002: 'samplesPerPixel' } as const
    )[tag];
    if (key && (vr === null || vr === 'US') && length === 2 && value + 2 <= end) result.image[key] = u16(value);
    if (tag === 0x00280008 && length > 0 && length < 16 && value + length <= end) {
      const text = String.fromCharCode(...bytes.subarray(value, value + length)).trim();
      const frames = Number.parseInt(text, 10);
      if (Number.isInteger(frames)) result.image.frames = frames;
    }
  }

  try {
    dataSet(start, end, 0, encoding.explicit, false);
  } catch (error) {
    if (!(error instanceof OutOfBytes)) throw error;
    // Partial: the bytes so far. Whole: a truncated file, which dicom-parser reports (TRUNCATED).
    result.complete = false;
  }
  return result;
}
