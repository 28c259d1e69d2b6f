/**
 * The entropy decoding of JPEG lossless (ITU-T T.81 H.1.2.2 with the Huffman procedures of
 * annex F): Huffman tables with a lookahead table, and a bit reader over the entropy-coded data
 * that takes out stuffed zero bytes and stops at markers. One call decodes the differences of one
 * row of samples; prediction is the caller's.
 *
 * Speed comes from the lookahead table: LOOKAHEAD bits index an entry that holds, for codes and
 * their additional bits that fit together in LOOKAHEAD bits (most of a radiograph's), the
 * difference itself; longer codes fall back to the canonical decoding of annex F.2.2.3.
 */
import { TriageError } from '../../errors/index.js';

/** Bits of lookahead: 4,096 entries (16 KiB) a table, within a core's first-level cache. */
const LOOKAHEAD = 12;
const LOOKAHEAD_MASK = (1 << LOOKAHEAD) - 1;
/** Entry flags, in the low byte beside the length (1 to 16, 5 bits). */
const NEEDS_EXTRA_BITS = 0x80;
const LONGER_CODE = 0x40;
const LENGTH_MASK = 0x1f;

/** A DHT's table as it was defined: code counts by length and the symbols in code order. */
export interface HuffmanSpec {
  counts: Uint8Array; // 16 entries: number of codes of length 1..16
  symbols: Uint8Array;
}

export interface HuffmanTable {
  /**
   * By the next LOOKAHEAD bits: (difference << 8) | bits to consume, where the code and its
   * additional bits fit; (category << 8) | NEEDS_EXTRA_BITS | code length where the code fits but
   * its bits do not; LONGER_CODE where the code is longer than LOOKAHEAD bits (or invalid).
   */
  fast: Int32Array;
  /** Canonical decoding for longer codes: the largest code of each length (-1: none). */
  maxCode: Int32Array;
  /** Index into symbols of the first code of each length, less that code. */
  offset: Int32Array;
  symbols: Uint8Array;
}

function malformed(what: string): never {
  throw new TriageError('MALFORMED', `The JPEG lossless frame is corrupt: ${what}.`);
}

/** The difference that `extra` additional bits encode in category t (T.81 F.2.2.1, EXTEND). */
function extend(extra: number, t: number): number {
  return extra < 1 << (t - 1) ? extra - (1 << t) + 1 : extra;
}

/**
 * Builds the decoding tables of a DHT table. Categories above 16 do not exist in lossless coding,
 * and code counts that overflow their lengths make no prefix code: both are corrupt.
 */
export function buildHuffmanTable(spec: HuffmanSpec): HuffmanTable {
  const fast = new Int32Array(1 << LOOKAHEAD).fill(LONGER_CODE);
  const maxCode = new Int32Array(17).fill(-1);
  const offset = new Int32Array(17);
  const { counts, symbols } = spec;
  let code = 0;
  let k = 0;
  for (let length = 1; length <= 16; length++) {
    const count = counts[length - 1];
    offset[length] = k - code;
    for (let i = 0; i < count; i++, k++, code++) {
      const t = symbols[k];
      if (t > 16) malformed(`a Huffman table codes difference category ${t} (at most 16)`);
      if (length > LOOKAHEAD) continue;
      // Every lookahead value that starts with this code.
      const free = LOOKAHEAD - length;
      const first = code << free;
      for (let rest = 0; rest < 1 << free; rest++) {
        let entry: number;
        if (t === 0) entry = length;
        else if (t === 16) entry = (32768 << 8) | length;
        else if (length + t <= LOOKAHEAD) {
          const extra = (rest >> (free - t)) & ((1 << t) - 1);
          entry = (extend(extra, t) << 8) | (length + t);
        } else entry = (t << 8) | NEEDS_EXTRA_BITS | length;
        fast[first | rest] = entry;
      }
    }
    if (count > 0) maxCode[length] = code - 1;
    if (code > 1 << length) malformed('a Huffman table has more codes than its code lengths allow');
    code <<= 1;
  }
  return { fast, maxCode, offset, symbols };
}

/**
 * Reads the entropy-coded data of one scan or restart interval. Past its end (a marker, or the
 * end of the frame) it reads zero bits and counts them, so that decoding never stalls and a frame
 * that ends early is seen by `overrun` instead of read past.
 */
export class BitReader {
  /** Bits in `buffer` not yet consumed: its low `bits` bits (the bits above are stale). */
  buffer = 0;
  bits = 0;
  /** Zero bits fed past the end of the data; the last of the bits read. */
  padding = 0;
  /** Where the next byte is read: the marker that ends the data once it is reached. */
  position: number;
  /** The end of the data: bytes from here on read as zero bits. */
  readonly end: number;

  constructor(
    readonly data: Uint8Array,
    start: number,
  ) {
    this.position = start;
    this.end = data.length;
  }

  /** More bits consumed than the data holds: the data ended (or a marker came) before the samples did. */
  overrun(): boolean {
    return this.padding > this.bits;
  }

  /** Drops the bits left in the buffer: the end of a restart interval, whose last byte is padded. */
  align(): void {
    this.buffer = 0;
    this.bits = 0;
    this.padding = 0;
  }
}

/**
 * Decodes `count` differences into `out`, sample i with `tables[i % tables.length]` (the
 * components of an interleaved scan take turns). Each iteration consumes at least one bit and does
 * a bounded amount of work, whatever the data.
 */
export function decodeDifferences(reader: BitReader, tables: HuffmanTable[], out: Int32Array, count: number): void {
  const data = reader.data;
  const end = reader.end;
  const components = tables.length;
  let buffer = reader.buffer;
  let bits = reader.bits;
  let padding = reader.padding;
  let position = reader.position;
  let component = 0;
  let table = tables[0];
  let fast = table.fast;
  for (let i = 0; i < count; i++) {
    if (components > 1) {
      table = tables[component];
      fast = table.fast;
      if (++component === components) component = 0;
    }
    // At least 25 bits: a code of up to 16 bits, or a code and its bits within LOOKAHEAD.
    while (bits <= 24) {
      let byte = 0;
      if (position < end) {
        byte = data[position];
        if (byte !== 0xff) position++;
        else if (data[position + 1] === 0)
          position += 2; // a stuffed zero byte
        else {
          byte = 0; // a marker: the data ends here
          padding += 8;
        }
      } else padding += 8;
      buffer = (buffer << 8) | byte;
      bits += 8;
    }
    const entry = fast[(buffer >>> (bits - LOOKAHEAD)) & LOOKAHEAD_MASK];
    if ((entry & (NEEDS_EXTRA_BITS | LONGER_CODE)) === 0) {
      bits -= entry & LENGTH_MASK;
      out[i] = entry >> 8;
      continue;
    }
    let length: number;
    let t: number;
    if ((entry & NEEDS_EXTRA_BITS) !== 0) {
      length = entry & LENGTH_MASK;
      t = entry >> 8;
    } else {
      // A code longer than LOOKAHEAD bits: canonical decoding (T.81 F.2.2.3).
      const code16 = (buffer >>> (bits - 16)) & 0xffff;
      const maxCode = table.maxCode;
      length = LOOKAHEAD + 1;
      while (length <= 16 && code16 >>> (16 - length) > maxCode[length]) length++;
      if (length > 16) {
        // Near the end of the data, the padding's 1 bits read as an undefined code: the data ended early.
        if (padding > 0) throw new TriageError('TRUNCATED', 'The JPEG lossless frame ends before its last sample.');
        malformed('a Huffman code that its table does not define');
      }
      t = table.symbols[table.offset[length] + (code16 >>> (16 - length))];
    }
    bits -= length;
    if (t === 0) out[i] = 0;
    else if (t === 16)
      out[i] = 32768; // no additional bits (T.81 H.1.2.2)
    else {
      while (bits < t) {
        let byte = 0;
        if (position < end) {
          byte = data[position];
          if (byte !== 0xff) position++;
          else if (data[position + 1] === 0) position += 2;
          else {
            byte = 0;
            padding += 8;
          }
        } else padding += 8;
        buffer = (buffer << 8) | byte;
        bits += 8;
      }
      bits -= t;
      out[i] = extend((buffer >>> bits) & ((1 << t) - 1), t);
    }
  }
  reader.buffer = buffer;
  reader.bits = bits;
  reader.padding = padding;
  reader.position = position;
}
