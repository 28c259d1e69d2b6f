/**
 * A DICOM data set's structure, walked before dicom-parser parses it: dicom-parser builds an
 * object for every element, sequence item, pixel fragment and offset-table entry it meets, so a
 * small file of a hundred million empty items exhausts the heap. This walk follows dicom-parser
 * 1.8's parsing step for step (the same VR table, the same rules for what is a sequence, where a
 * sequence or an item ends, how an undefined length is searched for, how encapsulated pixel data is
 * read) but allocates nothing per element: it counts what dicom-parser would build against the
 * ingest's budget (TOO_LARGE beyond it) and stops where dicom-parser would stop with an error
 * (TRUNCATED, MALFORMED), and a little sooner: a value that runs past the end of the file, which
 * dicom-parser would read short, is TRUNCATED here. A file this walk accepts is one dicom-parser
 * parses within the budget; test/ingest/structure.test.ts checks the two agree construct by
 * construct.
 *
 * Partial mode (a deflated data set still being inflated) stops quietly where the bytes end, with
 * what it found so far.
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
  /** Pixel data fragments and basic offset table entries. */
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
  /** Partial mode: the walk reached the end of the data set (not just of the bytes so far). */
  complete: boolean;
  /** Where the walk stopped: the file's end, or (meta mode) the first element after group 0002. */
  end: number;
  /**
   * The Transfer Syntax UID (0002,0010) of the top level as dicom-parser reads it (up to the first
   * NUL, not trimmed, the last one met), or null.
   */
  transferSyntax: string | null;
}

export interface WalkOptions {
  /** A deflated data set still being inflated: stop quietly where the bytes end. */
  partial?: boolean;
  /**
   * The file meta group, as dicom-parser's readPart10Header reads it: elements (each read whole,
   * sequences included) until one of a group above 0002, which is left unread.
   */
  meta?: boolean;
}

const UNDEFINED = 0xffffffff;
const ITEM = 0xfffee000;
const ITEM_END = 0xfffee00d;
const SEQUENCE_END = 0xfffee0dd;
const PIXEL_DATA = 0x7fe00010;
/** dicom-parser's VRs with two reserved bytes and a 32-bit length (getDataLengthSizeInBytesForVR). */
const LONG_VRS = new Set(['OB', 'OD', 'OL', 'OW', 'SQ', 'OF', 'UC', 'UR', 'UT', 'UN']);

/** The bytes ended (partial mode stops here; a whole file is TRUNCATED). */
class OutOfBytes extends Error {}

function tooLarge(what: string, limit: number): never {
  throw new TriageError(
    'TOO_LARGE',
    `The DICOM data set has more than ${limit.toLocaleString('en')} ${what}; a radiograph's header has a few hundred. It is not read.`,
  );
}

function malformed(what: string): never {
  throw new TriageError('MALFORMED', `The DICOM structure is corrupt (${what}).`);
}

export function walkStructure(
  bytes: Uint8Array,
  start: number,
  encoding: Encoding,
  options: WalkOptions = {},
): Structure {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const le = encoding.littleEndian;
  const length = bytes.length;
  const result: Structure = {
    elements: 0,
    items: 0,
    fragments: 0,
    pixelData: null,
    image: { rows: null, columns: null, bitsAllocated: null, samplesPerPixel: null, frames: null },
    complete: true,
    end: start,
    transferSyntax: null,
  };
  let p = start;

  // The byte stream's reads: each advances p, and reading past the end is dicom-parser's error.
  const need = (count: number) => {
    if (p + count > length) throw new OutOfBytes();
  };
  const u16 = () => {
    need(2);
    const value = view.getUint16(p, le);
    p += 2;
    return value;
  };
  const u32 = () => {
    need(4);
    const value = view.getUint32(p, le);
    p += 4;
    return value;
  };
  const tag = () => ((u16() << 16) | u16()) >>> 0;
  const peekTag = () => {
    const tagged = tag();
    p -= 4;
    return tagged;
  };
  const vrString = () => {
    need(2);
    const vr = String.fromCharCode(bytes[p], bytes[p + 1]);
    p += 2;
    return vr;
  };

  const countElement = () => {
    if (++result.elements > MAX_ELEMENTS) tooLarge('elements', MAX_ELEMENTS);
  };
  const countItem = () => {
    if (++result.items > MAX_SEQUENCE_ITEMS) tooLarge('sequence items', MAX_SEQUENCE_ITEMS);
  };
  const countFragments = (count: number) => {
    result.fragments += count;
    if (result.fragments > MAX_FRAGMENTS) tooLarge('pixel data fragments and offsets', MAX_FRAGMENTS);
  };
  /** `level`: how many sequences deep (the top level's sequences are level 1). */
  const enter = (level: number) => {
    if (level > MAX_NESTING_DEPTH) tooLarge('levels of nested sequences', MAX_NESTING_DEPTH);
  };

  /** findItemDelimitationItemAndSetElementLength. */
  const findItemDelimiter = () => {
    const max = length - 8;
    while (p <= max) {
      if (u16() === 0xfffe && u16() === 0xe00d) {
        u32();
        return;
      }
    }
    p = length; // no delimiter: dicom-parser runs to the end of the buffer
  };

  /** findEndOfEncapsulatedElement. */
  const encapsulated = () => {
    if (tag() !== ITEM) malformed('the encapsulated pixel data has no basic offset table');
    const offsets = Math.ceil(u32() / 4); // dicom-parser reads while i < length / 4
    countFragments(offsets);
    for (let i = 0; i < offsets; i++) u32();
    while (p < length) {
      const tagged = tag();
      const itemLength = u32();
      if (tagged === SEQUENCE_END) {
        p += itemLength;
        return;
      }
      countFragments(1);
      if (tagged !== ITEM) {
        p += Math.min(itemLength, length - p);
        return;
      }
      p += itemLength;
    }
  };

  /** parseDicomDataSetExplicit / parseDicomDataSetImplicit up to `max`. */
  function dataSet(max: number, explicit: boolean, depth: number): void {
    // Still inflating: the item's end may be in bytes not inflated yet.
    if (options.partial && max > length) throw new OutOfBytes();
    if (max < p || max > length) malformed('an item runs past its sequence or the file');
    while (p < max) element(explicit, depth);
    if (p > max) throw new OutOfBytes(); // dicom-parser's "buffer overrun"
  }

  /** readDicomDataSet...UndefinedLength: elements up to an item delimiter, or the end. */
  function dataSetUndefined(explicit: boolean, depth: number): void {
    while (p < length) {
      if (element(explicit, depth) === ITEM_END) return;
    }
  }

  /** readSequenceItem + its data set. */
  function item(explicit: boolean, depth: number): void {
    if (tag() !== ITEM) malformed('a sequence holds something that is not an item');
    const itemLength = u32();
    countItem();
    if (itemLength === UNDEFINED) dataSetUndefined(explicit, depth);
    else dataSet(p + itemLength, explicit, depth);
  }

  /** readSequenceItemsExplicit / readSequenceItemsImplicit. */
  function sequence(valueOffset: number, valueLength: number, explicit: boolean, depth: number): void {
    enter(depth);
    if (valueLength === UNDEFINED) {
      while (p + 4 <= length) {
        if (peekTag() === SEQUENCE_END) {
          p += 8;
          return;
        }
        item(explicit, depth);
      }
      return;
    }
    const max = valueOffset + valueLength;
    while (p < max) item(explicit, depth);
  }

  /** readDicomElementExplicit / readDicomElementImplicit; returns the element's tag. */
  function element(explicit: boolean, depth: number): number {
    countElement();
    const tagged = tag();
    let vr: string | null = null;
    let valueLength: number;
    if (explicit) {
      vr = vrString();
      if (LONG_VRS.has(vr)) {
        p += 2;
        valueLength = u32();
      } else valueLength = u16();
    } else valueLength = u32();
    const valueOffset = p;
    if (depth === 0) noteTopLevel(tagged, vr, valueOffset, valueLength);
    if (depth === 0 && tagged === PIXEL_DATA)
      result.pixelData = { valueOffset, length: valueLength === UNDEFINED ? -1 : valueLength };

    if (explicit) {
      if (vr === 'SQ') sequence(valueOffset, valueLength, true, depth + 1);
      else if (valueLength === UNDEFINED) {
        if (tagged === PIXEL_DATA) encapsulated();
        else if (vr === 'UN') sequence(valueOffset, valueLength, false, depth + 1);
        else findItemDelimiter();
      } else p += valueLength;
      return tagged;
    }
    // Implicit VR: a value that starts with an item tag (or ends at once) is a sequence.
    const isPrivate = ((tagged >>> 16) & 1) === 1;
    const peeksSequence = p + 4 <= length && [ITEM, SEQUENCE_END].includes(peekTag());
    if (peeksSequence && (!isPrivate || valueLength === UNDEFINED))
      sequence(valueOffset, valueLength, false, depth + 1);
    else if (valueLength === UNDEFINED) findItemDelimiter();
    else p += valueLength;
    return tagged;
  }

  function noteTopLevel(tagged: number, vr: string | null, value: number, valueLength: number): void {
    const key = (
      { 0x00280010: 'rows', 0x00280011: 'columns', 0x00280100: 'bitsAllocated', 0x00280002: 'samplesPerPixel' } as const
    )[tagged];
    if (key && (vr === null || vr === 'US') && valueLength === 2 && value + 2 <= length) {
      result.image[key] = view.getUint16(value, le);
    }
    if (tagged === 0x00020010 && value + valueLength <= length) {
      // As dicom-parser's readFixedString reads it: up to the first NUL, untrimmed; the last
      // occurrence wins (it keeps elements by tag). Past 64 characters (a UID's most) no value
      // names a transfer syntax, so 65 are enough to tell.
      let end = value;
      const stop = Math.min(value + valueLength, value + 65);
      while (end < stop && bytes[end] !== 0) end++;
      result.transferSyntax = Buffer.from(bytes.buffer, bytes.byteOffset + value, end - value).toString('latin1');
    }
    if (tagged === 0x00280008 && valueLength > 0 && valueLength < 16 && value + valueLength <= length) {
      const frames = Number.parseInt(String.fromCharCode(...bytes.subarray(value, value + valueLength)).trim(), 10);
      if (Number.isInteger(frames)) result.image.frames = frames;
    }
  }

  try {
    // The top level: parseDicomDataSet{Explicit,Implicit} over the whole buffer, or the meta group.
    while (p < length) {
      const at = p;
      const tagged = element(encoding.explicit, 0);
      if (options.meta && tagged > 0x0002ffff) {
        p = at;
        break;
      }
    }
    if (p > length) throw new OutOfBytes();
  } catch (error) {
    if (!(error instanceof OutOfBytes)) throw error;
    if (!options.partial) {
      throw new TriageError(
        'TRUNCATED',
        'The DICOM file ends before the data it announces (an element runs past its end).',
      );
    }
    result.complete = false;
  }
  result.end = p;
  return result;
}
